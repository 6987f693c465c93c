//! Request latencies without a heap: a log-linear histogram whose median
//! is within 1/16 (6.25 %) of the true median.
//!
//! A latency of `v` nanoseconds falls in a bucket of width 1 below 16 ns
//! and, above, of width `2^(e - 4)` where `2^e <= v < 2^(e + 1)`: sixteen
//! buckets per power of two. Latencies of 2^36 ns (about 69 s) or more all
//! land in the last bucket. A bucket reports its midpoint, so the median
//! read back is off by at most half a bucket's width: 1/32 of the value.

/// Sub-buckets per power of two (as a shift: 16).
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Latencies at or above 2^MAX_EXP ns share the last bucket.
const MAX_EXP: u32 = 36;
/// Buckets: the 16 exact ones, then 16 for each power 4..MAX_EXP.
const BUCKETS: usize = SUB + (MAX_EXP - SUB_BITS) as usize * SUB;

/// A histogram of latencies in nanoseconds.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: [u16; BUCKETS],
    total: u32,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram { counts: [0; BUCKETS], total: 0 }
    }
}

fn bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let mantissa = (ns >> (exp - SUB_BITS)) as usize & (SUB - 1);
    SUB + (exp - SUB_BITS) as usize * SUB + mantissa
}

/// The midpoint of bucket `b`, in nanoseconds.
fn midpoint(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let exp = (b - SUB) / SUB + SUB_BITS as usize;
    let mantissa = ((b - SUB) % SUB) as u64;
    let width = 1u64 << (exp - SUB_BITS as usize);
    (1u64 << exp) + mantissa * width + width / 2
}

impl LatencyHistogram {
    /// Count one latency. Counts saturate (at 65535 per bucket), which
    /// no benchmark phase here comes near.
    pub fn record(&mut self, ns: u64) {
        let count = &mut self.counts[bucket(ns)];
        if *count < u16::MAX {
            *count += 1;
            self.total += 1;
        }
    }

    /// Latencies counted.
    pub fn len(&self) -> u32 {
        self.total
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The median (the lower median for an even count), in nanoseconds;
    /// `None` when nothing was counted.
    pub fn median_ns(&self) -> Option<u64> {
        let rank = self.total.checked_sub(1)? / 2;
        let mut seen = 0u32;
        self.counts.iter().enumerate().find_map(|(b, &count)| {
            seen += u32::from(count);
            (seen > rank).then(|| midpoint(b))
        })
    }

    /// Forget every latency.
    pub fn clear(&mut self) {
        *self = LatencyHistogram::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_within_a_thirty_second_of_the_true_one() {
        for true_median in [1u64, 15, 16, 17, 100, 999, 51_000, 1_234_567, 20_000_000, 3_999_999_999] {
            let mut h = LatencyHistogram::default();
            // Below, at and above the median: the median is the middle one.
            for v in [true_median / 3, true_median, true_median * 5] {
                h.record(v);
            }
            let got = h.median_ns().unwrap();
            let err = got.abs_diff(true_median);
            assert!(err * 32 <= true_median.max(1), "median {true_median}: got {got}");
        }
    }

    #[test]
    fn an_even_count_gives_the_lower_median_and_an_empty_one_none() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.median_ns(), None);
        for v in [10, 11, 1000, 2000] {
            h.record(v);
        }
        assert_eq!(h.median_ns(), Some(11));
        assert_eq!(h.len(), 4);
        h.clear();
        assert!(h.is_empty());
    }

    #[test]
    fn huge_latencies_share_the_last_bucket_and_buckets_are_ordered() {
        let mut h = LatencyHistogram::default();
        h.record(u64::MAX);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert!(h.median_ns().unwrap() >= 1 << (MAX_EXP - 1));
        let mut last = 0;
        for ns in (0..40).flat_map(|e| [1u64 << e, (1u64 << e) + (1u64 << e) / 3]) {
            let b = bucket(ns);
            assert!(b >= last, "bucket of {ns} went backwards");
            last = b;
        }
    }
}
