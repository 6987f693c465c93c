//! Formatting without a heap: a fixed line buffer and fixed-point numbers.

use core::fmt;

/// A `fmt::Write` into a fixed buffer that keeps what fits and drops the
/// rest (cut at a character boundary).
pub struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        LineBuf { buf: [0; N], len: 0 }
    }

    /// What was written (and fitted).
    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in (see write_str).
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// A non-negative number held in thousandths, shown with `decimals`
/// (0..=3) digits after the point, truncated.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// The value times 1000.
    pub milli: u64,
    /// Digits shown after the point.
    pub decimals: u8,
}

impl Fixed {
    /// `num / den` in thousandths (`den` 0 reads as 1).
    pub fn ratio(num: u128, den: u128, decimals: u8) -> Fixed {
        let milli = num.saturating_mul(1000) / den.max(1);
        Fixed { milli: u64::try_from(milli).unwrap_or(u64::MAX), decimals: decimals.min(3) }
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.milli / 1000;
        match self.decimals {
            0 => write!(f, "{whole}"),
            1 => write!(f, "{whole}.{}", self.milli % 1000 / 100),
            2 => write!(f, "{whole}.{:02}", self.milli % 1000 / 10),
            _ => write!(f, "{whole}.{:03}", self.milli % 1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::string::ToString;

    #[test]
    fn fixed_point_digits() {
        assert_eq!(Fixed::ratio(1, 8, 3).to_string(), "0.125");
        assert_eq!(Fixed::ratio(1, 8, 1).to_string(), "0.1");
        assert_eq!(Fixed::ratio(2000, 1, 0).to_string(), "2000");
        assert_eq!(Fixed::ratio(5, 0, 2).to_string(), "5.00");
        assert_eq!(Fixed::ratio(123_456, 100, 2).to_string(), "1234.56");
    }

    #[test]
    fn line_buffer_truncates_at_char_boundary() {
        let mut b = LineBuf::<5>::new();
        b.write_str("abcdé").unwrap();
        assert_eq!(b.as_str(), "abcd");
        let mut b = LineBuf::<16>::new();
        write!(b, "x={}", 42).unwrap();
        assert_eq!(b.as_str(), "x=42");
    }
}
