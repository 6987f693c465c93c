//! The system's output: every system meant for seL4 gives every PD the
//! log channel to the `uart` PD (so its lines appear on release kernels
//! too, whole), and under sim every line of the reference system names
//! the PD that wrote it.

use sevio_e2e::{sim, systems, workspace};
use sevio_runtime::line::LOG_CHANNEL;
use std::path::PathBuf;

/// system.xml, systems/*.xml and this crate's systems: all boot on seL4.
fn sel4_systems() -> Vec<PathBuf> {
    let mut files = vec![workspace().join("system.xml")];
    for dir in [workspace().join("systems"), systems()] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "xml") {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_pd_of_every_sel4_system_has_the_log_channel_to_a_uart_above_it() {
    let files = sel4_systems();
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let name = file.display();
        let sys = sevio_sdf::load(&file).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let uart = sys.pd_index("uart").unwrap_or_else(|| panic!("{name}: no uart PD"));
        let pd = &sys.pds[uart];
        assert!(pd.passive, "{name}: uart must be passive (it runs on its callers' budgets)");
        let regs = pd.maps.iter().find(|m| m.setvar_vaddr.as_deref() == Some("uart_regs_vaddr"));
        let regs = regs.unwrap_or_else(|| panic!("{name}: uart maps no registers"));
        assert!(!regs.cached, "{name}: the PL011 must be mapped uncached");
        let region = sys.memory_region(&regs.mr).unwrap();
        assert_eq!(region.phys_addr, Some(0x0900_0000), "{name}: the PL011 of QEMU arm virt");
        for (i, other) in sys.pds.iter().enumerate().filter(|(i, _)| *i != uart) {
            assert!(pd.priority > other.priority, "{name}: uart must be above {} to be called", other.name);
            let log = sys.channels_of(i).find(|(own, _)| own.id == LOG_CHANNEL.index());
            let (own, peer) =
                log.unwrap_or_else(|| panic!("{name}: {} has no channel {}", other.name, LOG_CHANNEL.index()));
            assert!(own.pp && peer.pd == uart, "{name}: {}'s channel {} is not a PPC to uart", other.name, own.id);
        }
    }
}

#[test]
fn every_line_of_the_reference_system_is_whole_and_names_its_pd() {
    let system = workspace().join("system.xml");
    let pds: Vec<String> = sevio_sdf::load(&system).unwrap().pds.into_iter().map(|pd| pd.name).collect();
    let run = sim(system.to_str().unwrap(), &["--timeout", "60"]);
    run.assert_code(0);
    for client in ["blk_client", "net_client", "console_client", "rng_client"] {
        assert_eq!(run.lines_with(&format!("{client}: PASS")).len(), 1, "{}", run.out);
    }
    for line in run.out.lines() {
        let named = line.starts_with("sim: ") || pds.iter().any(|pd| line.starts_with(&format!("{pd}: ")));
        assert!(named, "a line that names no PD (or a PD's line sim had to mark): `{line}`\n{}", run.out);
    }
}
