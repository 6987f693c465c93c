//! `sevio-qemu-test run --sdk DIR --images DIR [--board B] [--config debug|release]
//!  [--timeout SECS] [--qemu BIN] [--only NAME]... [--no-self-test]`:
//! boot every seL4 system and check it, one line each, then a summary
//! `N passed, M failed`; then the broken variants, each of which must
//! fail. Exit status 1 if any system failed or any broken variant passed.
//!
//! `sevio-qemu-test bench --sdk DIR --images DIR --guest DIR [--board B]
//!  [--config debug|release] [--rounds N] [--workloads blk,net,msix] [--timeout SECS] [--qemu BIN]`:
//! `make bench-qemu`: N rounds of blk-bench on seL4 and fio on the Linux
//! guest, and of net-bench (stream and request/response) and the guest's
//! udp-bench against an echo peer, alternating, then the medians and
//! `RATIO <metric>_sel4_vs_linux` lines; and blk-bench over virtio-pci
//! with MSI-X against INTx (`RATIO <metric>_msix_vs_intx`; see
//! `sevio_qemu_test::bench_run`).
//!
//! `sevio-qemu-test restart-bench --sdk DIR --images DIR [--board B]
//!  [--config debug|release] [--rounds N] [--timeout SECS] [--qemu BIN]`:
//! part of `make bench-qemu`: N boots of the `journal` system (blk
//! faulted ten times under load), then `BENCH` lines of the time from a
//! fault to the restarted driver's first answer, on the runtime's clock.
//!
//! `sevio-qemu-test list`: the systems and broken variants.
//!
//! `sevio-qemu-test readme-table [--write README.md]`: print the README's
//! "what works" table, or write it into the README.

use sevio_qemu_test::bench::{Rounds, compare, report};
use sevio_qemu_test::bench_run::{
    BLK_PCI_BENCH, BLK_PCI_MSIX_BENCH, NET_BENCH_RR, NET_BENCH_STREAM, cache_mode, run_linux, run_linux_net, run_sel4,
    run_sel4_net, run_sel4_pci,
};
use sevio_qemu_test::readme;
use sevio_qemu_test::run::{Setup, run};
use sevio_qemu_test::systems::{BROKEN, SYSTEMS, System, find};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: sevio-qemu-test run --sdk DIR --images DIR [--board B] [--config debug|release] \
                     [--timeout SECS] [--qemu BIN] [--only NAME]... [--no-self-test]\n       \
                     sevio-qemu-test bench --sdk DIR --images DIR --guest DIR [--board B] [--config debug|release] \
                     [--rounds N] [--workloads blk,net,msix] [--timeout SECS] [--qemu BIN]\n       \
                     sevio-qemu-test restart-bench --sdk DIR --images DIR [--board B] [--config debug|release] \
                     [--rounds N] [--timeout SECS] [--qemu BIN]\n       sevio-qemu-test list\n       sevio-qemu-test readme-table [--write README.md]";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_all(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("restart-bench") => restart_bench(&args[1..]),
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

fn bench(args: &[String]) -> Result<bool, String> {
    let mut guest = None;
    let mut rounds = 3usize;
    let (mut blk, mut net, mut msix) = (true, true, true);
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--guest" => guest = Some(PathBuf::from(it.next().ok_or(format!("--guest needs a value\n{USAGE}"))?)),
            "--rounds" => {
                let value = it.next().ok_or(format!("--rounds needs a value\n{USAGE}"))?;
                rounds = value.parse().ok().filter(|&n| n > 0).ok_or(format!("--rounds {value}"))?;
            }
            "--workloads" => {
                let value = it.next().ok_or(format!("--workloads needs a value\n{USAGE}"))?;
                (blk, net, msix) = (false, false, false);
                for w in value.split(',') {
                    match w {
                        "blk" => blk = true,
                        "net" => net = true,
                        "msix" => msix = true,
                        _ => return Err(format!("--workloads {value}: {w} is not blk, net or msix")),
                    }
                }
            }
            _ => rest.push(flag.clone()),
        }
    }
    let guest = guest.ok_or(format!("--guest is required\n{USAGE}"))?;
    let (mut setup, _, _) = parse_setup(&rest, Duration::from_secs(900))?;
    setup.logs = setup.images.join("bench-qemu");
    let cache = cache_mode(&std::env::temp_dir());
    let label = if setup.config == "release" { "sel4".to_string() } else { format!("sel4_{}", setup.config) };
    let workloads: Vec<&str> =
        [("blk", blk), ("net", net), ("msix", msix)].iter().filter(|w| w.1).map(|w| w.0).collect();
    let workloads = workloads.join(", ");
    println!(
        "bench-qemu: {workloads}, {rounds} round(s), seL4 ({} kernel) and Linux alternating; disk cache={cache}; logs in {}",
        setup.config,
        setup.logs.display()
    );
    let (mut sel4, mut linux) = (Rounds::default(), Rounds::default());
    let (mut on_msix, mut on_intx) = (Rounds::default(), Rounds::default());
    let add = |what: &str, rounds: &mut Rounds, figures: Result<Vec<_>, String>| -> Result<(), String> {
        let figures = figures?;
        println!("{what}: {} figures", figures.len());
        rounds.add(&figures);
        Ok(())
    };
    for round in 1..=rounds {
        if blk {
            add(&format!("round {round}: blk: seL4"), &mut sel4, run_sel4(&setup, cache, round))?;
            add(&format!("round {round}: blk: Linux"), &mut linux, run_linux(&setup, &guest, cache, round))?;
        }
        if net {
            for system in [&NET_BENCH_RR, &NET_BENCH_STREAM] {
                add(&format!("round {round}: {}: seL4", system.name), &mut sel4, run_sel4_net(&setup, system, round))?;
            }
            add(&format!("round {round}: net: Linux"), &mut linux, run_linux_net(&setup, &guest, round))?;
        }
        if msix {
            let intx = run_sel4_pci(&setup, &BLK_PCI_BENCH, cache, round);
            add(&format!("round {round}: blk over PCI, INTx"), &mut on_intx, intx)?;
            let msi = run_sel4_pci(&setup, &BLK_PCI_MSIX_BENCH, cache, round);
            add(&format!("round {round}: blk over PCI, MSI-X"), &mut on_msix, msi)?;
        }
    }
    println!("bench-qemu: medians of {rounds} round(s), {} kernel, cache={cache}", setup.config);
    for line in report(&label, &sel4, &linux) {
        println!("{line}");
    }
    let suffix = label.strip_prefix("sel4").unwrap_or("");
    let ratio = format!("msix_vs_intx{suffix}");
    for line in compare(&format!("{label}_msix"), &on_msix, &format!("{label}_intx"), &on_intx, &ratio) {
        println!("{line}");
    }
    Ok(true)
}

/// `restart-bench`: the `journal` system booted `--rounds` times (3 by
/// default); each restart's fault-to-first-answer time, from the bus's and
/// blk's lines; their median and maximum as `BENCH` lines.
fn restart_bench(args: &[String]) -> Result<bool, String> {
    let (rounds, rest) = match args.iter().position(|a| a == "--rounds") {
        Some(i) => {
            let value = args.get(i + 1).ok_or(format!("--rounds needs a value\n{USAGE}"))?;
            let n: usize = value.parse().ok().filter(|&n| n > 0).ok_or(format!("--rounds {value}"))?;
            (n, [&args[..i], &args[(i + 2).min(args.len())..]].concat())
        }
        None => (3, args.to_vec()),
    };
    let (mut setup, _, _) = parse_setup(&rest, Duration::from_secs(300))?;
    setup.logs = setup.images.join("restart-bench");
    let journal = find("journal").ok_or("no system named journal")?;
    let label = if setup.config == "release" { "sel4".to_string() } else { format!("sel4_{}", setup.config) };
    let mut times = Vec::new();
    for round in 1..=rounds {
        run(&setup, journal).map_err(|why| format!("round {round}: {why}"))?;
        let log = setup.logs.join("journal.log");
        let console = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        times.extend(sevio_e2e::restart::fault_to_first_answer_us(&console, "blk0", "blk"));
    }
    let (Some(median), Some(max)) = (sevio_e2e::restart::median(&times), times.iter().max()) else {
        return Err("no restart answered before the next fault".into());
    };
    println!("BENCH blk_restart_fault_to_first_answer_median_{label} {median} us");
    println!("BENCH blk_restart_fault_to_first_answer_max_{label} {max} us");
    println!("BENCH blk_restart_samples_{label} {} restarts", times.len());
    Ok(true)
}

/// The options `run` and `bench` share: the setup, the systems named by
/// `--only`, and whether the broken variants run.
fn parse_setup(args: &[String], timeout: Duration) -> Result<(Setup, Vec<&'static System>, bool), String> {
    let mut sdk = None;
    let mut images = None;
    let mut board = "qemu_virt_aarch64".to_string();
    let mut config = "debug".to_string();
    let mut timeout = timeout;
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
    setup.check()?;
    Ok((setup, only, self_test))
}

fn run_all(args: &[String]) -> Result<bool, String> {
    let (setup, only, self_test) = parse_setup(args, Duration::from_secs(120))?;
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
