//! The log line protocol: how a PD hands one whole output line to the
//! `uart` PD, in one protected procedure call.
//!
//! Every PD that prints has channel [`LOG_CHANNEL`] to `uart` (its end
//! `pp="true"`; `uart` has the highest priority in the system and is
//! passive). Request: label = the line's length in bytes, at most
//! [`MAX_LINE_BYTES`]; message registers `0..` = its bytes, eight per
//! register, little-endian, as many registers as the length needs (the
//! last one zero-padded). No newline: the receiver ends the line. Reply,
//! without message registers: label [`WRITTEN`]; a [`LineError::code`]
//! for a request it refused; [`NOT_WRITTEN`] when the device did not take
//! the line (the caller may print it another way).
//!
//! The sender is another PD: [`decode`] checks its length and register
//! count before a byte is used, and never panics.

use crate::{Channel, MessageInfo};

/// The channel id every PD uses for its log line calls to `uart` (the
/// highest id Microkit accepts, so it collides with no device or driver
/// wiring).
pub const LOG_CHANNEL: Channel = Channel::new(Channel::MAX_ID);

/// The longest line one call carries (60 message registers). The printing
/// side continues a longer line on a new line.
pub const MAX_LINE_BYTES: usize = 480;

/// Message registers a line of [`MAX_LINE_BYTES`] fills.
pub const MAX_LINE_REGISTERS: usize = MAX_LINE_BYTES / 8;

/// Reply label: the line was written.
pub const WRITTEN: u64 = 0;
/// Reply label: the request was sound but the device did not take the
/// line (no device, or it stayed busy).
pub const NOT_WRITTEN: u64 = 3;

/// Why a line was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The label claims more than [`MAX_LINE_BYTES`] bytes.
    TooLong {
        /// The claimed length.
        bytes: u64,
    },
    /// The message does not carry exactly the registers its length needs.
    WrongRegisterCount {
        /// The length in bytes.
        bytes: usize,
        /// The registers the message carries.
        registers: usize,
    },
}

impl LineError {
    /// The reply label that reports this error.
    pub const fn code(self) -> u64 {
        match self {
            LineError::TooLong { .. } => 1,
            LineError::WrongRegisterCount { .. } => 2,
        }
    }
}

/// Pack `line` (at most [`MAX_LINE_BYTES`]; the rest is left out) into
/// `words`; returns `(label, words used)`, the shape
/// [`PpcMessage::encode`](crate::PpcMessage::encode) takes, which alone
/// puts words into message registers.
pub fn encode(line: &[u8], words: &mut [u64; MAX_LINE_REGISTERS]) -> (u64, usize) {
    let line = &line[..line.len().min(MAX_LINE_BYTES)];
    let mut used = 0;
    for (word, chunk) in words.iter_mut().zip(line.chunks(8)) {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_le_bytes(bytes);
        used += 1;
    }
    (line.len() as u64, used)
}

/// The line a request carries, read through `get` into `out`.
pub fn decode(
    info: MessageInfo,
    mut get: impl FnMut(usize) -> u64,
    out: &mut [u8; MAX_LINE_BYTES],
) -> Result<&[u8], LineError> {
    let claimed = info.label();
    if claimed > MAX_LINE_BYTES as u64 {
        return Err(LineError::TooLong { bytes: claimed });
    }
    let bytes = claimed as usize;
    if info.length() != bytes.div_ceil(8) {
        return Err(LineError::WrongRegisterCount { bytes, registers: info.length() });
    }
    for (i, chunk) in out[..bytes].chunks_mut(8).enumerate() {
        let word = get(i).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    Ok(&out[..bytes])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(line: &[u8]) -> (MessageInfo, std::vec::Vec<u8>) {
        let mut words = [0u64; MAX_LINE_REGISTERS];
        let (label, used) = encode(line, &mut words);
        let info = MessageInfo::new(label, used);
        let mut out = [0; MAX_LINE_BYTES];
        let got = decode(info, |i| words[i], &mut out).expect("own encoding decodes").to_vec();
        (info, got)
    }

    #[test]
    fn lines_of_every_length_class_round_trip() {
        let long: std::vec::Vec<u8> = (0..MAX_LINE_BYTES).map(|i| b'a' + (i % 26) as u8).collect();
        for len in [0, 1, 7, 8, 9, 100, MAX_LINE_BYTES] {
            let (info, got) = round_trip(&long[..len]);
            assert_eq!(got, &long[..len]);
            assert_eq!((info.label(), info.length()), (len as u64, len.div_ceil(8)));
        }
    }

    #[test]
    fn bytes_are_packed_little_endian() {
        let mut words = [0u64; MAX_LINE_REGISTERS];
        assert_eq!(encode(b"blk: PASS", &mut words), (9, 2));
        assert_eq!(words[..2], [u64::from_le_bytes(*b"blk: PAS"), u64::from(b'S')]);
    }

    #[test]
    fn encode_leaves_out_what_does_not_fit() {
        let long = [b'x'; MAX_LINE_BYTES + 9];
        let (info, got) = round_trip(&long);
        assert_eq!(info.label(), MAX_LINE_BYTES as u64);
        assert_eq!(got.len(), MAX_LINE_BYTES);
    }

    #[test]
    fn a_length_past_the_limit_is_refused() {
        let mut out = [0; MAX_LINE_BYTES];
        let info = MessageInfo::new(MAX_LINE_BYTES as u64 + 1, MAX_LINE_REGISTERS + 1);
        assert_eq!(decode(info, |_| 0, &mut out), Err(LineError::TooLong { bytes: 481 }));
        let huge = MessageInfo::new(u64::MAX >> 12, 1);
        assert!(matches!(decode(huge, |_| 0, &mut out), Err(LineError::TooLong { .. })));
    }

    #[test]
    fn a_register_count_that_does_not_match_the_length_is_refused() {
        let mut out = [0; MAX_LINE_BYTES];
        for (bytes, registers) in [(9, 1), (8, 2), (0, 1), (1, 0)] {
            let info = MessageInfo::new(bytes, registers);
            assert_eq!(
                decode(info, |_| 0, &mut out),
                Err(LineError::WrongRegisterCount { bytes: bytes as usize, registers }),
                "{bytes} bytes in {registers} registers"
            );
        }
    }
}
