//! 9p end to end: bus, mmio transport, the 9p driver and its test client
//! under sim, against QEMU's virtio-9p exporting a host directory. The
//! host prepares `host.txt`; afterwards it checks that the directory
//! holds exactly the files and bytes the client wrote (and not the one it
//! removed), and that the client read `host.txt` exactly.

use sevio_e2e::{TempDir, sim};
use std::path::Path;

/// Byte `i` of `out/sub/big.bin`, as the client makes it.
fn big_byte(i: u32) -> u8 {
    (i.wrapping_mul(7).wrapping_add(i >> 8).wrapping_add(3) % 251) as u8
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Every file and directory under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                todo.push(p);
                out.push(format!("{rel}/"));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

fn passes_over(device: &str, placement: &str, system: &str, bound: &str) {
    let dir = TempDir::new(&format!("9p-{device}"));
    // mount_tag joins the placement's own properties, if any.
    let (placement, props) = match placement.split_once("properties = { ") {
        Some((before, rest)) => (before.to_string(), format!("properties = {{ mount_tag = \"sevio-e2e\", {rest}")),
        None => (placement.to_string(), "properties = { mount_tag = \"sevio-e2e\" }".to_string()),
    };
    let export = dir.0.join("export");
    std::fs::create_dir(&export).unwrap();
    let host_text: Vec<u8> = (0..3000u32).map(|i| b"the host wrote this\n"[(i % 20) as usize]).collect();
    std::fs::write(export.join("host.txt"), &host_text).unwrap();
    let desc = dir.file(
        "9p.sim.toml",
        &format!(
            "expect_pass = [\"p9_client\"]\n[[device]]\ndriver = \"{device}\"\n{placement}\n\
             fsdev = {{ type = \"local\", path = \"export\", security_model = \"none\" }}\n\
             {props}\n"
        ),
    );
    let system = sevio_e2e::workspace().join("systems").join(system);
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(0);
    run.assert_lines(&[
        &format!("bus: 9p0 <- virtio-9p at {bound}"),
        "p9: mount tag \"sevio-e2e\"",
        "p9: device ready",
        "listed 3 names, as made",
        &format!("host.txt: 3000 bytes, fnv1a {:016x}", fnv1a(&host_text)),
        "p9_client: PASS",
        "sim: PASS",
    ]);
    assert_eq!(
        tree(&export),
        ["host.txt", "out/", "out/a.txt", "out/sub/", "out/sub/big.bin"],
        "exactly the files made"
    );
    assert_eq!(std::fs::read(export.join("out/a.txt")).unwrap(), b"hello from a sevio 9p client\n");
    let big = std::fs::read(export.join("out/sub/big.bin")).unwrap();
    assert_eq!(big.len(), 20_000);
    assert!(big.iter().enumerate().all(|(i, b)| *b == big_byte(i as u32)), "big.bin holds the bytes written");
    assert_eq!(std::fs::read(export.join("host.txt")).unwrap(), host_text, "the host's file untouched");
    assert!(run.out.contains("p9: 25 ok, 2 invalid, 0 io, 1 errno"), "the driver's count\n{}", run.out);
}

#[test]
fn a_tree_written_over_mmio_is_on_the_host_exactly() {
    passes_over("virtio-9p-device", "slot = 5", "9p.xml", "mmio slot 5");
}

#[test]
fn the_same_tree_over_pci_modern_and_transitional() {
    passes_over(
        "virtio-9p-pci",
        "pci_addr = \"2\"\nproperties = { disable-legacy = \"on\" }",
        "9p-pci.xml",
        "pci 00:02.0",
    );
    passes_over("virtio-9p-pci-transitional", "pci_addr = \"3\"", "9p-pci.xml", "pci 00:03.0");
}
