//! The tone: a sine at half of full scale, as signed 16-bit samples.
//! `core` has no `sin`, so [`sine`] is a Taylor series after reducing
//! the angle to [-pi/2, pi/2] (error below 1e-9 there: far under one
//! 16-bit step).

use core::f64::consts::PI;

/// sin(x) for any finite x.
pub fn sine(x: f64) -> f64 {
    // Reduce to [-pi, pi], then fold into [-pi/2, pi/2] (sin(pi - x) = sin x).
    let q = (x + PI) / (2.0 * PI);
    let mut turns = q as i64;
    if turns as f64 > q {
        turns -= 1;
    }
    let mut r = x - turns as f64 * 2.0 * PI;
    if r > PI / 2.0 {
        r = PI - r;
    } else if r < -PI / 2.0 {
        r = -PI - r;
    }
    let r2 = r * r;
    // r - r^3/3! + r^5/5! - ... up to r^15.
    let mut term = r;
    let mut sum = r;
    for k in 1..8 {
        term *= -r2 / ((2 * k) * (2 * k + 1)) as f64;
        sum += term;
    }
    sum
}

/// Sample `frame` of a `hz` tone at `rate` frames per second.
pub fn sample(frame: u32, hz: u32, rate: u32) -> i16 {
    // The phase from the frame index modulo one cycle's worth of frames
    // times hz, so large indices lose no precision.
    let cycle = u64::from(frame) * u64::from(hz) % u64::from(rate);
    let phase = 2.0 * PI * cycle as f64 / f64::from(rate);
    (sine(phase) * 16383.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_matches_std_everywhere() {
        let mut x = -20.0;
        while x < 20.0 {
            assert!((sine(x) - std::primitive::f64::sin(x)).abs() < 1e-9, "sin({x})");
            x += 0.001;
        }
    }

    #[test]
    fn one_second_at_440_hz_crosses_zero_880_times() {
        let samples: std::vec::Vec<i16> = (0..48_000).map(|i| sample(i, 440, 48_000)).collect();
        let crossings = samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((879..=881).contains(&crossings), "{crossings}");
        assert!(samples.iter().max().is_some_and(|m| (16380..=16383).contains(m)), "half of full scale");
        assert_eq!(sample(0, 440, 48_000), 0);
        assert_eq!(sample(48_000 * 1000, 440, 48_000), 0, "no drift at large indices");
    }
}
