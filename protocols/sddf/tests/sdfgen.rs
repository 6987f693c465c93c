//! sdfgen's real output, parsed, and every value checked against the
//! system file sdfgen rendered with it: each region is one of the PD's
//! maps (same vaddr, same size), each id the PD's end of a channel to the
//! right peer, each IRQ id one of the PD's IRQs.
//!
//! Two sources: files sdfgen 0.35.1 wrote for sDDF 0.7.0's own examples
//! (`tests/sdfgen/`), and the installed sdfgen run now on equivalent
//! systems (`tools/sdfgen/sddf_examples.py`). Every driver-side file
//! present must be one the table below expects, so none goes unchecked.

use sevio_sddf::{
    BlkDriverConfig, DeviceResources, NetConnection, NetDriverConfig, Region, SerialConnection, SerialDriverConfig,
    TimerClientConfig,
};
use sevio_sdf::System;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a driver-side file is and whom it wires to whom.
enum Expect {
    Blk { pd: &'static str, virt: &'static str },
    Net { pd: &'static str, rx: &'static str, tx: &'static str },
    Serial { pd: &'static str, rx: Option<&'static str>, tx: &'static str },
    Timer { pd: &'static str, driver: &'static str },
    Device { pd: &'static str },
}

/// (example, file, what it is, present in the fixtures too).
const FILES: &[(&str, &str, Expect, bool)] = &[
    ("blk", "blk_driver.data", Expect::Blk { pd: "blk_driver", virt: "blk_virt" }, true),
    ("blk", "blk_driver_device_resources.data", Expect::Device { pd: "blk_driver" }, true),
    ("blk", "serial_driver_config.data", Expect::Serial { pd: "serial_driver", rx: None, tx: "serial_virt_tx" }, true),
    ("blk", "serial_driver_device_resources.data", Expect::Device { pd: "serial_driver" }, true),
    ("blk", "timer_client_blk_driver.data", Expect::Timer { pd: "blk_driver", driver: "timer_driver" }, false),
    ("blk", "timer_driver_device_resources.data", Expect::Device { pd: "timer_driver" }, false),
    (
        "serial",
        "serial_driver_config.data",
        Expect::Serial { pd: "serial_driver", rx: Some("serial_virt_rx"), tx: "serial_virt_tx" },
        true,
    ),
    ("serial", "serial_driver_device_resources.data", Expect::Device { pd: "serial_driver" }, true),
    (
        "echo_server",
        "net_driver.data",
        Expect::Net { pd: "ethernet_driver", rx: "net_virt_rx", tx: "net_virt_tx" },
        true,
    ),
    ("echo_server", "ethernet_driver_device_resources.data", Expect::Device { pd: "ethernet_driver" }, true),
    (
        "echo_server",
        "serial_driver_config.data",
        Expect::Serial { pd: "serial_driver", rx: None, tx: "serial_virt_tx" },
        true,
    ),
    ("echo_server", "serial_driver_device_resources.data", Expect::Device { pd: "serial_driver" }, true),
    ("echo_server", "timer_driver_device_resources.data", Expect::Device { pd: "timer_driver" }, true),
    ("echo_server", "timer_client_client0.data", Expect::Timer { pd: "client0", driver: "timer_driver" }, true),
    ("echo_server", "timer_client_client1.data", Expect::Timer { pd: "client1", driver: "timer_driver" }, true),
];

/// Is `file` one a driver (or a timer client) reads?
fn driver_side(file: &str) -> bool {
    file.ends_with("_device_resources.data")
        || file.starts_with("timer_client_")
        || file == "blk_driver.data"
        || file == "net_driver.data"
        || file == "serial_driver_config.data"
}

struct Checker<'a> {
    system: &'a System,
    file: &'a str,
}

impl Checker<'_> {
    fn pd(&self, name: &str) -> usize {
        self.system.pd_index(name).unwrap_or_else(|| panic!("{}: no PD {name}", self.file))
    }

    /// `region` is a map of `pd` with the region's vaddr and the MR's size.
    fn mapped(&self, pd: &str, region: Region, what: &str) {
        let p = &self.system.pds[self.pd(pd)];
        let map = p
            .maps
            .iter()
            .find(|m| m.vaddr == region.vaddr)
            .unwrap_or_else(|| panic!("{}: {what} at {:#x} is not a map of {pd}", self.file, region.vaddr));
        let mr = self.system.memory_region(&map.mr).unwrap();
        assert_eq!(mr.size, region.size, "{}: {what}: size of {}", self.file, map.mr);
    }

    /// `pd`'s channel `id` leads to `peer`.
    fn channel(&self, pd: &str, id: u8, peer: &str) {
        let (p, q) = (self.pd(pd), self.pd(peer));
        assert!(
            self.system.channels_of(p).any(|(mine, theirs)| mine.id == id && theirs.pd == q),
            "{}: {pd}'s channel {id} does not lead to {peer}",
            self.file
        );
    }

    fn net(&self, pd: &str, c: &NetConnection, peer: &str) {
        self.mapped(pd, c.free_queue, "free queue");
        self.mapped(pd, c.active_queue, "active queue");
        assert!(c.num_buffers.is_power_of_two(), "{}: num_buffers {}", self.file, c.num_buffers);
        self.channel(pd, c.id, peer);
    }

    fn serial(&self, pd: &str, c: &SerialConnection, peer: &str) {
        self.mapped(pd, c.queue, "serial queue");
        self.mapped(pd, c.data, "serial data");
        self.channel(pd, c.id, peer);
    }

    fn check(&self, bytes: &[u8], expect: &Expect) {
        let file = self.file;
        match *expect {
            Expect::Blk { pd, virt } => {
                let c = BlkDriverConfig::parse(bytes).unwrap_or_else(|e| panic!("{file}: {e}")).virt;
                self.mapped(pd, c.storage_info, "storage info");
                self.mapped(pd, c.req_queue, "request queue");
                self.mapped(pd, c.resp_queue, "response queue");
                assert!(c.num_buffers > 0, "{file}: no buffers");
                self.channel(pd, c.id, virt);
            }
            Expect::Net { pd, rx, tx } => {
                let c = NetDriverConfig::parse(bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
                self.net(pd, &c.virt_rx, rx);
                self.net(pd, &c.virt_tx, tx);
            }
            Expect::Serial { pd, rx, tx } => {
                let c = SerialDriverConfig::parse(bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(c.rx.is_some(), rx.is_some(), "{file}: rx");
                if let (Some(conn), Some(peer)) = (&c.rx, rx) {
                    self.serial(pd, conn, peer);
                }
                self.serial(pd, &c.tx, tx);
            }
            Expect::Timer { pd, driver } => {
                let c = TimerClientConfig::parse(bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
                self.channel(pd, c.driver_id, driver);
            }
            Expect::Device { pd } => {
                let d = DeviceResources::parse(bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
                let p = &self.system.pds[self.pd(pd)];
                for r in d.regions() {
                    // sdfgen gives a register region the device's offset in
                    // its page: the map holds the page.
                    let page = r.region.vaddr & !0xfff;
                    assert!(p.maps.iter().any(|m| m.vaddr == page), "{file}: region {r:?} is not mapped in {pd}");
                }
                for id in d.irqs() {
                    assert!(p.irqs.iter().any(|irq| irq.id == *id), "{file}: irq id {id} is not one of {pd}'s");
                }
            }
        }
    }
}

/// Checks every expected file of every example under `root`; returns how
/// many files were parsed.
fn check_tree(root: &Path, fresh: bool) -> usize {
    let mut checked = 0;
    for example in ["blk", "serial", "echo_server"] {
        let dir = root.join(example);
        let system_file = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "system"))
            .unwrap_or_else(|| panic!("{}: no .system file", dir.display()));
        let system = sevio_sdf::load(&system_file).unwrap_or_else(|e| panic!("{}: {e}", system_file.display()));
        let expected: Vec<_> =
            FILES.iter().filter(|(ex, _, _, in_fixtures)| *ex == example && (fresh || *in_fixtures)).collect();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if driver_side(&name) {
                assert!(expected.iter().any(|(_, f, _, _)| *f == name), "{example}/{name}: not in the table");
            }
        }
        for (_, file, expect, _) in expected {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let label = format!("{example}/{file}");
            Checker { system: &system, file: &label }.check(&bytes, expect);
            checked += 1;
        }
    }
    checked
}

#[test]
fn sdfgen_output_for_sddf_examples_parses_and_matches_its_system() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdfgen");
    assert_eq!(check_tree(&fixtures, false), 13);
}

#[test]
fn fixture_values_are_the_examples_own() {
    // Spot values read off the examples' system files by hand, so a
    // checker that accepted anything would still fail here.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdfgen");
    let blk = BlkDriverConfig::parse(&std::fs::read(dir.join("blk/blk_driver.data")).unwrap()).unwrap();
    assert_eq!(blk.virt.req_queue, Region { vaddr: 0x2040_1000, size: 0x4000 });
    assert_eq!((blk.virt.num_buffers, blk.virt.id), (128, 1));
    let net = NetDriverConfig::parse(&std::fs::read(dir.join("echo_server/net_driver.data")).unwrap()).unwrap();
    assert_eq!((net.virt_rx.id, net.virt_tx.id, net.virt_tx.num_buffers), (1, 2, 1024));
    let dev =
        DeviceResources::parse(&std::fs::read(dir.join("blk/blk_driver_device_resources.data")).unwrap()).unwrap();
    assert_eq!(dev.regions()[1].io_addr, 0x5fff_0000);
    assert_eq!(dev.irqs(), &[0]);
}

/// The interpreter with sdfgen installed: `SEVIO_SDFGEN_PYTHON`, else the
/// venv `scripts/install-deps.sh` makes.
fn sdfgen_python(workspace: &Path) -> PathBuf {
    match std::env::var_os("SEVIO_SDFGEN_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace.join("build/sdfgen-venv/bin/python3"),
    }
}

#[test]
fn installed_sdfgen_output_parses_and_matches_its_system() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = sdfgen_python(&workspace);
    assert!(
        python.exists(),
        "{} not found: run scripts/install-deps.sh (make deps) to install sdfgen, or set SEVIO_SDFGEN_PYTHON",
        python.display()
    );
    let out = std::env::temp_dir().join(format!("sevio-sddf-sdfgen.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(&python)
        .arg(workspace.join("tools/sdfgen/sddf_examples.py"))
        .arg(&out)
        .output()
        .expect("cannot run python");
    assert!(run.status.success(), "sddf_examples.py failed: {}", String::from_utf8_lossy(&run.stderr));
    let checked = check_tree(&out, true);
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(checked, 15);
}
