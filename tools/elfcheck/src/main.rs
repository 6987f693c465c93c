//! `sevio-elfcheck [--setvar SYMBOL]... IMAGE...`: check PD images before
//! the microkit tool sees them. `--setvar` applies to every image that
//! follows it up to the next `--` (use one invocation per PD, or list the
//! setvars of all PDs: an image missing one is reported).
//!
//! `sevio-elfcheck --system system.xml DIR` checks the image of every PD
//! in system.xml under DIR with that PD's own setvars.

use std::path::Path;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: sevio-elfcheck [--setvar SYMBOL]... IMAGE...");
    eprintln!("       sevio-elfcheck --system SYSTEM.XML DIR");
    ExitCode::from(2)
}

fn check_one(path: &Path, setvars: &[&str]) -> bool {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", path.display());
            return false;
        }
    };
    let problems = sevio_elfcheck::check(&bytes, setvars);
    for p in &problems {
        eprintln!("{}: {p}", path.display());
    }
    if problems.is_empty() {
        println!("ok: {}", path.display());
    }
    problems.is_empty()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return usage();
    }
    if args[0] == "--system" {
        let [_, system, dir] = args.as_slice() else { return usage() };
        return match sevio_elfcheck::system::images(Path::new(system)) {
            Ok(pds) => {
                let mut ok = true;
                for (image, setvars) in pds {
                    let refs: Vec<&str> = setvars.iter().map(String::as_str).collect();
                    ok &= check_one(&Path::new(dir).join(&image), &refs);
                }
                if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Err(e) => {
                eprintln!("{system}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut setvars: Vec<String> = Vec::new();
    let mut ok = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--setvar" {
            let Some(s) = it.next() else { return usage() };
            setvars.push(s.clone());
        } else {
            let refs: Vec<&str> = setvars.iter().map(String::as_str).collect();
            ok &= check_one(Path::new(a), &refs);
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
