//! Fuzz entry points (feature `fuzzing`): message decoding from arbitrary
//! labels and words. Used by `fuzz/` (cargo-fuzz) and by this crate's
//! tests on random input. Panics only if an invariant breaks.

use crate::wire::{MAX_WORDS, Reply, Request};

/// Split `data` into a label (first byte, kept small so real labels come
/// up often) and up to [`MAX_WORDS`] + 1 little-endian words.
pub fn message(data: &[u8]) -> (u64, std::vec::Vec<u64>) {
    let Some((&l, rest)) = data.split_first() else { return (0, std::vec::Vec::new()) };
    let words = rest
        .chunks(8)
        .take(MAX_WORDS + 1)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            // Small values are the interesting ones (widths, sizes, kinds).
            if c.len() < 8 { u64::from(c[0]) } else { u64::from_le_bytes(w) }
        })
        .collect();
    (u64::from(l % 20), words)
}

/// Decode as a request and as a reply; whatever decodes must re-encode to
/// exactly the same label and words (decoding is strict and canonical).
pub fn decode(data: &[u8]) {
    let (label, words) = message(data);
    let mut mr = [0u64; MAX_WORDS];
    if let Ok(r) = Request::decode(label, &words) {
        let (l, n) = r.encode(&mut mr);
        assert_eq!((l, &mr[..n]), (label, &words[..]), "request {r:?} not canonical");
    }
    if let Ok(r) = Reply::decode(label, &words) {
        let (l, n) = r.encode(&mut mr);
        assert_eq!((l, &mr[..n]), (label, &words[..]), "reply {r:?} not canonical");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn decode_survives_random_bytes(data in prop::collection::vec(any::<u8>(), 0..80)) {
            super::decode(&data);
        }
    }
}
