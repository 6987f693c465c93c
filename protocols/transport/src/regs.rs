//! Small helpers for message-register encodings, shared with the bus
//! protocol.

use crate::DecodeError;

/// Copy `words` into `mr` (as many as fit); returns `words.len()`, the
/// message length to send.
pub fn put(mr: &mut [u64], words: &[u64]) -> usize {
    for (d, s) in mr.iter_mut().zip(words) {
        *d = *s;
    }
    words.len()
}

/// Exactly `N` words, or [`DecodeError::WrongLength`].
pub fn expect<const N: usize>(label: u64, mr: &[u64]) -> Result<[u64; N], DecodeError> {
    mr.try_into().map_err(|_| DecodeError::WrongLength { label, expected: N, got: mr.len() })
}

/// A word narrowed to `T`, or [`DecodeError::BadValue`].
pub fn narrow<T: TryFrom<u64>>(label: u64, v: u64) -> Result<T, DecodeError> {
    T::try_from(v).map_err(|_| DecodeError::BadValue { label, value: v })
}
