//! Reading several bytes of device config consistently.
//!
//! VIRTIO 1.2 §2.5.1 (Driver Requirements: Device Configuration Space):
//! "Drivers MUST NOT assume reads from fields greater than 32 bits wide
//! are atomic, nor are reads from multiple fields: drivers SHOULD read
//! device configuration space fields like so: do { before =
//! get_config_generation(device); read_config(...); after =
//! get_config_generation(device); } while (after != before);"
//!
//! Here every [`Reply::ConfigValue`] carries the generation the transport
//! read before the value, and one [`Request::ConfigGeneration`] closes the
//! run: all equal means the bytes are one consistent snapshot.

use crate::wire::{Reply, Request, TransportError, Width};

/// Why a consistent config read failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConfigReadError<E> {
    /// The call itself failed (IPC error of the caller's making).
    Call(E),
    /// The transport refused a read.
    Transport(TransportError),
    /// The transport answered with a reply of the wrong kind.
    UnexpectedReply(Reply),
    /// The generation kept changing for `attempts` attempts.
    Unstable {
        /// Attempts made.
        attempts: u32,
    },
}

/// The widest access (8, 4, 2 or 1 bytes) that is naturally aligned at
/// `offset` and no longer than `remaining`.
pub fn chunk_width(offset: u64, remaining: usize) -> Width {
    for w in [Width::W8, Width::W4, Width::W2] {
        if remaining >= w.bytes() && offset.is_multiple_of(w.bytes() as u64) {
            return w;
        }
    }
    Width::W1
}

/// Read `out.len()` bytes of device config from `offset` as one
/// consistent snapshot, using `call` to send each request. Retries up to
/// `max_attempts` times while the generation changes. Returns the
/// generation of the snapshot. Caller: a driver.
pub fn read_config<E>(
    call: &mut impl FnMut(Request) -> Result<Reply, E>,
    offset: u32,
    out: &mut [u8],
    max_attempts: u32,
) -> Result<u32, ConfigReadError<E>> {
    for _ in 0..max_attempts {
        let mut first: Option<u32> = None;
        let mut stable = true;
        let mut pos = 0usize;
        while pos < out.len() {
            let off = u64::from(offset) + pos as u64;
            let width = chunk_width(off, out.len() - pos);
            let off = u32::try_from(off).map_err(|_| ConfigReadError::Transport(TransportError::ConfigOutOfRange))?;
            let (value, generation) =
                match call(Request::ConfigRead { offset: off, width }).map_err(ConfigReadError::Call)? {
                    Reply::ConfigValue { value, generation } => (value, generation),
                    Reply::Error(e) => return Err(ConfigReadError::Transport(e)),
                    other => return Err(ConfigReadError::UnexpectedReply(other)),
                };
            let n = width.bytes();
            out[pos..pos + n].copy_from_slice(&value.to_le_bytes()[..n]);
            pos += n;
            match first {
                None => first = Some(generation),
                Some(g) if g != generation => stable = false,
                Some(_) => {}
            }
        }
        let after = match call(Request::ConfigGeneration).map_err(ConfigReadError::Call)? {
            Reply::Generation(g) => g,
            Reply::Error(e) => return Err(ConfigReadError::Transport(e)),
            other => return Err(ConfigReadError::UnexpectedReply(other)),
        };
        if stable && first.is_none_or(|g| g == after) {
            return Ok(after);
        }
    }
    Err(ConfigReadError::Unstable { attempts: max_attempts })
}
