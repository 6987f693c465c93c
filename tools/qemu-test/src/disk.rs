//! The host's own look at a disk after a run: does the image hold what the
//! blk test client wrote, and nothing else?
//!
//! The client (`sevio-client-blk`, test mode, default configuration)
//! writes its pattern over the blocks of its plan: the first 64 and the
//! last 4 of the disk. Afterwards those blocks hold the pattern and every
//! other block of a disk that started zeroed is still zero.

use sevio_client_blk::pattern::pattern_byte;
use sevio_client_blk::test_mode::Plan;
use sevio_client_blk::{DEFAULT_SEED, SOAK_ROUNDS, TestConfig, round_seed};
use sevio_queue::blk::BLK_TRANSFER_SIZE as BLOCK;

/// The size of the scratch disks the systems get: 16 MiB.
pub const DISK_BYTES: usize = 16 << 20;

/// What a disk must hold after a run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DiskCheck {
    /// The client's pattern over its plan, zero elsewhere; the PD named
    /// is the blk test client that writes it.
    Pattern(&'static str),
    /// The pattern of the last of `blk-soak`'s rounds over the same plan,
    /// zero elsewhere; the PD named is the soak client.
    SoakPattern(&'static str),
    /// Not checked (the system is not expected to leave it in any
    /// particular state).
    Scratch,
}

impl DiskCheck {
    /// The pattern seed the disk must hold, if it is checked.
    pub fn seed(self) -> Option<u64> {
        match self {
            DiskCheck::Pattern(_) => Some(DEFAULT_SEED),
            DiskCheck::SoakPattern(_) => Some(round_seed(DEFAULT_SEED, SOAK_ROUNDS - 1)),
            DiskCheck::Scratch => None,
        }
    }
}

/// The first place a disk image differs from what the client wrote.
pub fn check_pattern(image: &[u8]) -> Result<(), String> {
    check_pattern_of(image, DEFAULT_SEED)
}

/// [`check_pattern`] for the pattern with seed `seed`.
pub fn check_pattern_of(image: &[u8], seed: u64) -> Result<(), String> {
    if image.len() != DISK_BYTES {
        return Err(format!("{} bytes, not {DISK_BYTES}", image.len()));
    }
    let cfg = TestConfig::default();
    let plan = Plan::new((DISK_BYTES / BLOCK) as u64, cfg.head_blocks, cfg.tail_blocks);
    let written: Vec<u64> = plan.blocks().collect();
    for (i, chunk) in image.chunks(BLOCK).enumerate() {
        let block = i as u64;
        if written.contains(&block) {
            if let Some(at) = (0..BLOCK).find(|&o| chunk[o] != pattern_byte(seed, block, o)) {
                return Err(format!(
                    "block {block} byte {at} is {:#04x}, the client wrote {:#04x}",
                    chunk[at],
                    pattern_byte(seed, block, at)
                ));
            }
        } else if let Some(at) = chunk.iter().position(|b| *b != 0) {
            return Err(format!("block {block} byte {at} is {:#04x}: the client never wrote there", chunk[at]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written_image() -> Vec<u8> {
        let mut image = vec![0u8; DISK_BYTES];
        let blocks = (DISK_BYTES / BLOCK) as u64;
        for block in (0..64).chain(blocks - 4..blocks) {
            for o in 0..BLOCK {
                image[block as usize * BLOCK + o] = pattern_byte(DEFAULT_SEED, block, o);
            }
        }
        image
    }

    #[test]
    fn the_written_image_passes() {
        assert_eq!(check_pattern(&written_image()), Ok(()));
    }

    #[test]
    fn a_flipped_byte_in_a_written_block_is_named() {
        let mut image = written_image();
        let at = (DISK_BYTES / BLOCK - 1) * BLOCK + 17;
        image[at] ^= 0xff;
        let err = check_pattern(&image).unwrap_err();
        assert!(err.starts_with("block 4095 byte 17 is "), "{err}");
    }

    #[test]
    fn an_untouched_disk_and_a_stray_write_fail() {
        let err = check_pattern(&vec![0u8; DISK_BYTES]).unwrap_err();
        assert!(err.starts_with("block 0 byte "), "{err}");
        let mut image = written_image();
        image[100 * BLOCK + 5] = 1;
        assert_eq!(check_pattern(&image), Err("block 100 byte 5 is 0x01: the client never wrote there".into()));
        assert_eq!(check_pattern(&image[..BLOCK]), Err(format!("4096 bytes, not {DISK_BYTES}")));
    }
}
