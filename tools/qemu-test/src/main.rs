//! `sevio-qemu-test run --sdk DIR --images DIR [--board B] [--config debug|release]
//!  [--timeout SECS] [--qemu BIN] [--only NAME]... [--no-self-test]`:
//! boot every seL4 system and check it, one line each, then a summary
//! `N passed, M failed`; then the broken variants, each of which must
//! fail. Exit status 1 if any system failed or any broken variant passed.
//!
//! `sevio-qemu-test list`: the systems and broken variants.
//!
//! `sevio-qemu-test readme-table [--write README.md]`: print the README's
//! "what works" table, or write it into the README.

use sevio_qemu_test::readme;
use sevio_qemu_test::run::{Setup, run};
use sevio_qemu_test::systems::{BROKEN, SYSTEMS, System, find};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: sevio-qemu-test run --sdk DIR --images DIR [--board B] [--config debug|release] \
                     [--timeout SECS] [--qemu BIN] [--only NAME]... [--no-self-test]\n       \
                     sevio-qemu-test list\n       sevio-qemu-test readme-table [--write README.md]";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_all(&args[1..]),
        Some("list") => {
            for s in SYSTEMS.iter().chain(BROKEN) {
                let broken = s.broken.map(|b| format!(" (broken: {})", b.how)).unwrap_or_default();
                println!("{:<22} {}{broken}", s.name, s.file);
            }
            Ok(true)
        }
        Some("readme-table") => readme_table(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("sevio-qemu-test: {why}");
            ExitCode::from(2)
        }
    }
}

fn readme_table(args: &[String]) -> Result<bool, String> {
    let table = readme::table(&readme::tests(&workspace())?)?;
    match args {
        [] => print!("{table}"),
        [flag, path] if flag == "--write" => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            std::fs::write(path, readme::splice(&text, &table)?).map_err(|e| format!("{path}: {e}"))?;
        }
        _ => return Err(USAGE.to_string()),
    }
    Ok(true)
}

fn run_all(args: &[String]) -> Result<bool, String> {
    let mut sdk = None;
    let mut images = None;
    let mut board = "qemu_virt_aarch64".to_string();
    let mut config = "debug".to_string();
    let mut timeout = Duration::from_secs(120);
    let mut qemu = "qemu-system-aarch64".to_string();
    let mut only: Vec<&'static System> = Vec::new();
    let mut self_test = true;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--no-self-test" {
            self_test = false;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--sdk" => sdk = Some(PathBuf::from(value)),
            "--images" => images = Some(PathBuf::from(value)),
            "--board" => board = value.clone(),
            "--config" => config = value.clone(),
            "--qemu" => qemu = value.clone(),
            "--timeout" => timeout = Duration::from_secs(value.parse().map_err(|_| format!("--timeout {value}"))?),
            "--only" => only.push(find(value).ok_or(format!("no system named {value} (see `list`)"))?),
            _ => return Err(USAGE.to_string()),
        }
    }
    let images = images.ok_or(format!("--images is required\n{USAGE}"))?;
    let setup = Setup {
        workspace: workspace(),
        sdk: sdk.ok_or(format!("--sdk is required\n{USAGE}"))?,
        logs: images.join("qemu-test"),
        images,
        board,
        config,
        qemu,
        timeout,
    };
    let (systems, broken): (Vec<&System>, Vec<&System>) = if only.is_empty() {
        (SYSTEMS.iter().collect(), if self_test { BROKEN.iter().collect() } else { Vec::new() })
    } else {
        only.into_iter().partition(|s| s.broken.is_none())
    };
    println!(
        "qemu-test: {} kernel, {}: {} system(s), {} broken variant(s); console logs in {}",
        setup.config,
        setup.board,
        systems.len(),
        broken.len(),
        setup.logs.display()
    );
    let mut failed = 0;
    for system in &systems {
        match run(&setup, system) {
            Ok(took) => println!("PASS  {:<18} {} ({:.1} s)", system.name, system.file, took.as_secs_f64()),
            Err(why) => {
                failed += 1;
                println!("FAIL  {:<18} {}: {why}", system.name, system.file);
            }
        }
    }
    println!("{} passed, {failed} failed", systems.len() - failed);
    let mut missed = 0;
    for system in &broken {
        let b = system.broken.expect("broken variants say how");
        match run(&setup, system) {
            Err(why) if why.contains(b.reason) => println!("caught  {:<22} ({}): {why}", system.name, b.how),
            Err(why) => {
                missed += 1;
                println!("MISSED  {:<22} ({}): failed, but not with `{}`: {why}", system.name, b.how, b.reason);
            }
            Ok(_) => {
                missed += 1;
                println!("MISSED  {:<22} ({}): passed", system.name, b.how);
            }
        }
    }
    if !broken.is_empty() {
        println!("self-test: {} of {} broken variants failed as they must", broken.len() - missed, broken.len());
    }
    Ok(failed == 0 && missed == 0)
}
