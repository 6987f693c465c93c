//! `sevio-sim`: runs a Microkit system.xml on Linux. Each PD is a process
//! running its host build; QEMU arm virt, parked and driven over qtest,
//! provides the real virtio devices. See README.md.
//!
//! - [`config`]: the sim description (which devices, which PDs must pass).
//! - [`layout`]: physical addresses, maps and setvars of every PD.
//! - [`router`]: Microkit's event semantics, without I/O.
//! - [`qemu`] / [`qtest`]: the device machine.
//! - [`timer`]: the simulated generic timer (INTID 30).
//! - [`procs`]: PD processes; [`run`]: one run, start to cleanup.

mod config;
mod console;
mod layout;
mod procs;
mod qemu;
mod qtest;
mod router;
mod run;
mod sections;
mod timer;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: sevio-sim run <system.xml> [--sim <sim.toml>] [--pd-dir DIR] [--timeout SECS] [--qemu PATH] [--fault PD=TEXT]... [--fault-random PD=N[@SEED]] [--hold-irq PD_OR_INTID[=TEXT]]... [--linger SECS] [--profile]

Runs every PD of system.xml as a process (its host build, found by its
program_image name in --pd-dir, default: the directory of sevio-sim itself)
against QEMU arm virt's devices as the sim description lists them (default:
<stem>.sim.toml beside system.xml, if present; none -> no devices).
--fault PD=TEXT kills PD, as if it had faulted, when it prints a line
containing TEXT (fault injection; the fault reaches its parent PD). Each
rule fires once; give it n times to fault on n such lines (a parent that
restarts PD sees it print its lines again).
--fault-random PD=N[@SEED] kills PD N times, each at a random moment
40 to 120 ms after its (re)start, whatever it is doing (the seed, random
unless given, is printed).
--hold-irq PD_OR_INTID[=TEXT] stops delivering that interrupt (every one
of PD's, or the line INTID) from the start, or from when any PD prints a
line containing TEXT: the device's completions are never signalled.
--linger SECS keeps the system running that long after it passed.
--profile prints, at the end, every notification count by sender and
receiver and every IRQ count by line, most first.
Exit status: 0 PASS, 1 FAIL (or timeout, default 30 s), 2 bad input.";

fn parse_args(args: &[String]) -> Result<run::Options, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("run") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command '{other}'")),
    }
    let mut system = None;
    let mut sim = None;
    let mut pd_dir = None;
    let mut timeout = Duration::from_secs(30);
    let mut qemu = PathBuf::from("qemu-system-aarch64");
    let mut faults = Vec::new();
    let mut linger = Duration::ZERO;
    let mut holds = Vec::new();
    let mut random_faults = None;
    let mut profile = false;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--sim" => sim = Some(PathBuf::from(value("--sim")?)),
            "--pd-dir" => pd_dir = Some(PathBuf::from(value("--pd-dir")?)),
            "--qemu" => qemu = PathBuf::from(value("--qemu")?),
            "--linger" => {
                let v = value("--linger")?;
                let secs: f64 =
                    v.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0).ok_or(format!("bad --linger '{v}'"))?;
                linger = Duration::from_secs_f64(secs);
            }
            "--fault" => {
                let v = value("--fault")?;
                let (pd, text) = v
                    .split_once('=')
                    .filter(|(pd, text)| !pd.is_empty() && !text.is_empty())
                    .ok_or(format!("bad --fault '{v}': want PD=TEXT"))?;
                faults.push((pd.to_string(), text.to_string()));
            }
            "--fault-random" => random_faults = Some(parse_random_faults(&value("--fault-random")?)?),
            "--hold-irq" => {
                let v = value("--hold-irq")?;
                let (who, text) = match v.split_once('=') {
                    Some((who, text)) => (who, Some(text.to_string()).filter(|t| !t.is_empty())),
                    None => (v.as_str(), None),
                };
                if who.is_empty() || (v.contains('=') && text.is_none()) {
                    return Err(format!("bad --hold-irq '{v}': want PD_OR_INTID[=TEXT]"));
                }
                holds.push(run::Hold { who: who.to_string(), after: text });
            }
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: f64 =
                    v.parse().ok().filter(|s: &f64| s.is_finite() && *s > 0.0).ok_or(format!("bad --timeout '{v}'"))?;
                timeout = Duration::from_secs_f64(secs);
            }
            "--profile" => profile = true,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option '{flag}'")),
            path if system.is_none() => system = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument '{extra}'")),
        }
    }
    let system = system.ok_or("no system.xml given")?;
    let pd_dir = match pd_dir {
        Some(d) => d,
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(PathBuf::from))
            .ok_or("cannot tell where sevio-sim is; give --pd-dir")?,
    };
    Ok(run::Options { system, sim, pd_dir, timeout, qemu, faults, random_faults, holds, linger, profile })
}

/// `PD=N` or `PD=N@SEED` (SEED decimal or 0x-hex).
fn parse_random_faults(v: &str) -> Result<run::RandomFaults, String> {
    let bad = || format!("bad --fault-random '{v}': want PD=N or PD=N@SEED (N from 1)");
    let (pd, rest) = v.split_once('=').filter(|(pd, _)| !pd.is_empty()).ok_or_else(bad)?;
    let (count, seed) = match rest.split_once('@') {
        Some((n, seed)) => {
            let seed = match seed.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => seed.parse(),
            };
            (n, Some(seed.map_err(|_| bad())?))
        }
        None => (rest, None),
    };
    let count: u32 = count.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?;
    Ok(run::RandomFaults { pd: pd.to_string(), count, seed })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sevio-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run::run(&opts) {
        Ok(run::Outcome::Pass(why)) => {
            console::sim(&format!("PASS: {why}"));
            ExitCode::SUCCESS
        }
        Ok(run::Outcome::Fail(why)) => {
            console::sim(&format!("FAIL: {why}"));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("sevio-sim: error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<run::Options, String> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        let o = parse(&["run", "s.xml", "--timeout", "2.5", "--pd-dir", "/pds", "--qemu", "/q", "--sim", "x.toml"])
            .unwrap();
        assert_eq!(o.system, PathBuf::from("s.xml"));
        assert_eq!(o.timeout, Duration::from_millis(2500));
        assert_eq!(o.pd_dir, PathBuf::from("/pds"));
        assert_eq!(o.qemu, PathBuf::from("/q"));
        assert_eq!(o.sim, Some(PathBuf::from("x.toml")));
        assert!(parse(&["run"]).unwrap_err().contains("no system.xml"));
        assert!(parse(&["run", "a", "b"]).unwrap_err().contains("unexpected argument 'b'"));
        assert!(parse(&["run", "a", "--timeout", "-1"]).unwrap_err().contains("bad --timeout"));
        assert!(parse(&["run", "a", "--qemu"]).unwrap_err().contains("--qemu needs a value"));
        assert!(parse(&["go"]).unwrap_err().contains("unknown command"));
    }

    #[test]
    fn fault_rules() {
        let o =
            parse(&["run", "s.xml", "--fault", "blk=device ready", "--fault", "net=a=b", "--linger", "0.5"]).unwrap();
        assert_eq!(o.linger, Duration::from_millis(500));
        assert!(!o.profile);
        assert!(parse(&["run", "s.xml", "--profile"]).unwrap().profile);
        assert!(parse(&["run", "s.xml", "--linger", "x"]).unwrap_err().contains("bad --linger"));
        let held = parse(&["run", "s.xml", "--hold-irq", "79=wrote 68", "--hold-irq", "mmio"]).unwrap();
        assert_eq!(
            held.holds,
            [
                run::Hold { who: "79".into(), after: Some("wrote 68".into()) },
                run::Hold { who: "mmio".into(), after: None }
            ]
        );
        for bad in ["=x", "79=", ""] {
            assert!(parse(&["run", "s.xml", "--hold-irq", bad]).unwrap_err().contains("want PD_OR_INTID"), "{bad}");
        }
        assert_eq!(o.faults, [("blk".into(), "device ready".into()), ("net".into(), "a=b".into())]);
        for bad in ["blk", "=x", "blk="] {
            assert!(parse(&["run", "s.xml", "--fault", bad]).unwrap_err().contains("want PD=TEXT"), "{bad}");
        }
        let r = parse(&["run", "s.xml", "--fault-random", "blk=10@0x2a"]).unwrap().random_faults.unwrap();
        assert_eq!((r.pd.as_str(), r.count, r.seed), ("blk", 10, Some(42)));
        let r = parse(&["run", "s.xml", "--fault-random", "blk=3"]).unwrap().random_faults.unwrap();
        assert_eq!((r.count, r.seed), (3, None));
        for bad in ["blk", "blk=0", "=3", "blk=x", "blk=3@zz"] {
            let err = parse(&["run", "s.xml", "--fault-random", bad]).unwrap_err();
            assert!(err.contains("want PD=N or PD=N@SEED"), "{bad}: {err}");
        }
    }
}
