//! What several end-to-end test files share: disk images the block tests
//! create and check from the host.
#![allow(dead_code)]

use sevio_client_blk::pattern::{DEFAULT_SEED, pattern_byte};
use sevio_e2e::TempDir;
use std::path::{Path, PathBuf};

pub const BLOCK: usize = 4096;
pub const DISK_BYTES: usize = 16 << 20;

/// The blocks the test client writes: 0..64 and the last four.
pub fn written_blocks() -> impl Iterator<Item = u64> {
    let blocks = (DISK_BYTES / BLOCK) as u64;
    (0..64).chain(blocks - 4..blocks)
}

pub fn pattern_block(block: u64) -> Vec<u8> {
    pattern_block_of(DEFAULT_SEED, block)
}

/// Block `block` of the pattern with seed `seed`.
pub fn pattern_block_of(seed: u64, block: u64) -> Vec<u8> {
    (0..BLOCK).map(|o| pattern_byte(seed, block, o)).collect()
}

/// A zeroed 16 MiB disk image `name` in `dir`.
pub fn fresh_disk(dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.0.join(name);
    std::fs::write(&path, vec![0u8; DISK_BYTES]).unwrap();
    path
}

/// Every written block holds the pattern; every other block is still zero.
pub fn assert_disk_holds_the_pattern(disk: &Path) {
    assert_disk_holds_the_pattern_of(disk, DEFAULT_SEED);
}

/// [`assert_disk_holds_the_pattern`] for the pattern with seed `seed`.
pub fn assert_disk_holds_the_pattern_of(disk: &Path, seed: u64) {
    let image = std::fs::read(disk).unwrap();
    assert_eq!(image.len(), DISK_BYTES);
    let written: Vec<u64> = written_blocks().collect();
    for (i, chunk) in image.chunks(BLOCK).enumerate() {
        let block = i as u64;
        if written.contains(&block) {
            assert!(
                chunk == pattern_block_of(seed, block).as_slice(),
                "{}: block {block} does not hold its pattern",
                disk.display()
            );
        } else {
            assert!(
                chunk.iter().all(|b| *b == 0),
                "{}: block {block} was written but should not have been",
                disk.display()
            );
        }
    }
}

/// Run `system` (a committed system with an IOMMU) with its committed sim
/// description, but with every line naming `setvar` removed: the IOMMU
/// PD is then given one region fewer than system.xml grants the driver.
pub fn run_without_confined_region(system: &str, setvar: &str, dir: &TempDir) -> sevio_e2e::Run {
    let root = sevio_e2e::workspace();
    let text = std::fs::read_to_string(root.join(system)).unwrap();
    let trimmed: String = text.lines().filter(|l| !l.contains(setvar)).map(|l| format!("{l}\n")).collect();
    assert_ne!(trimmed.len(), text.len(), "{system} names no {setvar}");
    let trimmed = dir.file("system.xml", &trimmed);
    let desc = std::fs::read_to_string(root.join(system.replace(".xml", ".sim.toml"))).unwrap();
    let desc = dir.file("run.sim.toml", &desc);
    sevio_e2e::sim(trimmed.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"])
}
