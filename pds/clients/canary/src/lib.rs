//! The canary: a page of a PD that no device may reach. It is filled
//! with a known pattern at start; when told to look, the canary counts
//! the bytes that no longer hold it. (`systems/rogue-pci*.xml`: the
//! rogue driver points its device at this page.)
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use sevio_sharedmem::SharedMemory;

/// The byte every position of the page holds, when nothing wrote it.
/// Not 0: a disk of zeros read over the page shows.
pub const PATTERN: u8 = 0xa5;

/// The canary page.
pub struct Canary {
    page: SharedMemory,
}

/// What a look found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every byte still holds [`PATTERN`].
    Intact,
    /// This many bytes changed; the first at this offset.
    Changed {
        /// Bytes that differ.
        bytes: usize,
        /// Offset of the first.
        first: usize,
    },
}

impl Canary {
    /// Fill `page` with the pattern.
    pub fn new(page: SharedMemory) -> Canary {
        let _ = page.fill(0, page.len(), PATTERN);
        Canary { page }
    }

    /// Look at the page.
    pub fn check(&self) -> Verdict {
        let mut chunk = [0u8; 256];
        let (mut bytes, mut first) = (0, None);
        let mut at = 0;
        while at < self.page.len() {
            let n = chunk.len().min(self.page.len() - at);
            if self.page.copy_out(at, &mut chunk[..n]).is_err() {
                break;
            }
            for (i, b) in chunk[..n].iter().enumerate() {
                if *b != PATTERN {
                    bytes += 1;
                    first.get_or_insert(at + i);
                }
            }
            at += n;
        }
        match first {
            None => Verdict::Intact,
            Some(first) => Verdict::Changed { bytes, first },
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn a_written_byte_anywhere_shows() {
        let page = HeapRegion::new(4096);
        page.memory().fill(0, 4096, 0).unwrap();
        let canary = Canary::new(page.memory());
        assert_eq!(canary.check(), Verdict::Intact);
        page.memory().write::<u8>(4095, 0).unwrap();
        assert_eq!(canary.check(), Verdict::Changed { bytes: 1, first: 4095 });
        page.memory().fill(0, 512, 0).unwrap();
        assert_eq!(canary.check(), Verdict::Changed { bytes: 513, first: 0 });
    }
}
