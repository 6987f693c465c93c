//! The entropy device: every writable buffer filled from one
//! deterministic byte stream, so a test can tell exactly which bytes the
//! driver got (this is a test device, not a source of randomness).

use sevio_virtio::queue::DescChain;

/// Byte `i` of the stream: byte `i % 8` of splitmix64's output for
/// `i / 8`.
pub fn stream_byte(i: u64) -> u8 {
    let mut z = (i / 8).wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> (8 * (i % 8))) as u8
}

/// The device's position in the stream.
#[derive(Default)]
pub struct Entropy {
    /// Bytes handed out so far.
    pub position: u64,
}

impl Entropy {
    /// Fill every writable buffer of `chain`; the bytes written.
    pub fn fill(&mut self, chain: &DescChain) -> u32 {
        let mut written = 0u32;
        for buf in chain.buffers().filter(|b| b.writable) {
            let mut chunk = [0u8; 64];
            let mut done = 0;
            while done < buf.mem.len() {
                let n = (buf.mem.len() - done).min(chunk.len());
                for (k, b) in chunk[..n].iter_mut().enumerate() {
                    *b = stream_byte(self.position + k as u64);
                }
                // The window is exactly the buffer: in bounds.
                if buf.mem.copy_in(done, &chunk[..n]).is_err() {
                    return written;
                }
                self.position += n as u64;
                done += n;
                written = written.saturating_add(n as u32);
            }
        }
        written
    }
}
