//! The data pattern the test client writes, public so that a host-side
//! check can recompute it over the disk image.
//!
//! Each 4096-byte block is 512 little-endian u64 words; word `w` of block
//! `b` under seed `s` is
//!
//! ```text
//! pattern_word(s, b, w) = splitmix64_finalizer(s ^ (b * 0x9E37_79B9_7F4A_7C15) ^ (w * 0xD1B5_4A32_D192_ED03))
//! ```
//!
//! (wrapping multiplications; the finalizer is `z = (z ^ z>>30) *
//! 0xBF58_476D_1CE4_E5B9; z = (z ^ z>>27) * 0x94D0_49BB_1331_11EB; z ^ z>>31`).
//! Byte `o` of the block is byte `o % 8` of word `o / 8`. Every block
//! differs from every other, so a block written to or read from the wrong
//! place is caught, and the seed separates one run's data from another's.

use sevio_queue::blk::BLK_TRANSFER_SIZE;
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// The seed the client uses unless the `pattern_seed` setvar overrides it.
pub const DEFAULT_SEED: u64 = 0x5e71_0b1c_0000_0001;

/// u64 words per transfer block.
pub const WORDS_PER_BLOCK: usize = BLK_TRANSFER_SIZE / 8;

const BLOCK_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const WORD_MUL: u64 = 0xD1B5_4A32_D192_ED03;

/// Word `word` (0..512) of block `block` under `seed`.
pub const fn pattern_word(seed: u64, block: u64, word: usize) -> u64 {
    let mut z = seed ^ block.wrapping_mul(BLOCK_MUL) ^ (word as u64).wrapping_mul(WORD_MUL);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Byte `offset` (0..4096) of block `block` under `seed`.
pub const fn pattern_byte(seed: u64, block: u64, offset: usize) -> u8 {
    let word = pattern_word(seed, block, offset / 8);
    (word >> ((offset % 8) * 8)) as u8
}

/// Fill the 4096 bytes at `offset` in `mem` with block `block`'s pattern.
pub fn fill_block(mem: &SharedMemory, offset: usize, seed: u64, block: u64) -> Result<(), OutOfBounds> {
    for w in 0..WORDS_PER_BLOCK {
        mem.write::<u64>(offset + w * 8, pattern_word(seed, block, w).to_le())?;
    }
    Ok(())
}

/// Where a block's data differs from its pattern: the first differing
/// byte.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Byte offset in the block.
    pub offset: usize,
    /// The pattern's byte.
    pub expected: u8,
    /// The byte found.
    pub found: u8,
    /// Another block whose pattern the data's first word matches (the
    /// data landed in, or came from, the wrong place).
    pub looks_like: Option<u64>,
    /// The buffer lies outside the memory (a client bug, reported rather
    /// than panicking).
    pub unreadable: bool,
}

/// Check the 4096 bytes at `offset` in `mem` against block `block`'s
/// pattern. `candidates` are blocks whose pattern is worth naming when
/// the data is someone else's.
pub fn check_block(
    mem: &SharedMemory,
    offset: usize,
    seed: u64,
    block: u64,
    candidates: impl Iterator<Item = u64>,
) -> Result<(), Mismatch> {
    for w in 0..WORDS_PER_BLOCK {
        let Some(found) = mem.read::<u64>(offset + w * 8).map(u64::from_le) else {
            return Err(Mismatch { offset: w * 8, expected: 0, found: 0, looks_like: None, unreadable: true });
        };
        let expected = pattern_word(seed, block, w);
        if found != expected {
            let lane = ((found ^ expected).trailing_zeros() / 8) as usize;
            let first = mem.read::<u64>(offset).map(u64::from_le);
            let looks_like = candidates.into_iter().find(|&b| b != block && Some(pattern_word(seed, b, 0)) == first);
            return Err(Mismatch {
                offset: w * 8 + lane,
                expected: (expected >> (lane * 8)) as u8,
                found: (found >> (lane * 8)) as u8,
                looks_like,
                unreadable: false,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn bytes_are_the_words_little_endian() {
        for off in [0, 1, 7, 8, 4095] {
            let w = pattern_word(3, 17, off / 8).to_le_bytes();
            assert_eq!(pattern_byte(3, 17, off), w[off % 8]);
        }
    }

    #[test]
    fn blocks_and_seeds_differ() {
        assert_ne!(pattern_word(1, 0, 0), pattern_word(1, 1, 0));
        assert_ne!(pattern_word(1, 0, 0), pattern_word(2, 0, 0));
        assert_ne!(pattern_word(1, 0, 0), pattern_word(1, 0, 1));
    }

    #[test]
    fn fill_then_check_and_a_flipped_byte_is_found() {
        let heap = HeapRegion::new(8192);
        let mem = heap.memory();
        fill_block(&mem, 4096, 9, 5).unwrap();
        for off in [0, 100, 4095] {
            assert_eq!(mem.read::<u8>(4096 + off), Some(pattern_byte(9, 5, off)));
        }
        assert_eq!(check_block(&mem, 4096, 9, 5, 0..10), Ok(()));
        let b = mem.read::<u8>(4096 + 1234).unwrap();
        mem.write::<u8>(4096 + 1234, !b).unwrap();
        let m = check_block(&mem, 4096, 9, 5, 0..10).unwrap_err();
        assert_eq!((m.offset, m.expected, m.found, m.looks_like), (1234, b, !b, None));
    }

    #[test]
    fn a_misplaced_block_is_named() {
        let heap = HeapRegion::new(4096);
        let mem = heap.memory();
        fill_block(&mem, 0, 9, 6).unwrap();
        let m = check_block(&mem, 0, 9, 5, 0..10).unwrap_err();
        assert_eq!(m.looks_like, Some(6));
        assert_eq!(m.offset / 8, 0);
    }
}
