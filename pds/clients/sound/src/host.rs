//! The host's side of the tone check (feature `host`, std): the WAV file
//! QEMU's wav audiodev wrote must hold the tone the `tone` client
//! generated. Used by the simulator's end-to-end test and by
//! `make qemu-test`, so the rule is written once.
//!
//! Checked: a whole RIFF/WAVE file (its sizes filled in, as QEMU does
//! when it shuts down cleanly) of PCM, one channel, 48000 Hz, 16 bits;
//! the sound (first to last non-zero sample) lasts the tone's frames to
//! within 0.1%; its strongest frequency (a DFT over 50..=4000 Hz in 10 Hz
//! steps) is the tone's; its zero crossings give the same frequency to
//! within 1%. The amplitude is not checked: QEMU's mixer sums a mono
//! stream's two internal channels back into one, doubling it.

extern crate std;

use crate::{FRAMES_PER_SECOND, TONE_FRAMES, TONE_HZ};
use core::f64::consts::PI;
use std::format;
use std::path::Path;
use std::string::String;
use std::vec::Vec;

/// What a WAV file says and holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Wav {
    /// `fmt ` audio format (1: PCM).
    pub format: u16,
    /// Channels.
    pub channels: u16,
    /// Frames per second.
    pub rate: u32,
    /// Bits per sample.
    pub bits: u16,
    /// The samples (16-bit files only).
    pub samples: Vec<i16>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parse a WAV file's bytes: the RIFF size must be the file's, every
/// chunk whole, `fmt ` before `data`.
pub fn parse(bytes: &[u8]) -> Result<Wav, String> {
    if bytes.get(..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err("not a RIFF/WAVE file".into());
    }
    let riff = u32_at(bytes, 4).ok_or("no RIFF size")? as usize;
    if riff + 8 != bytes.len() {
        return Err(format!("RIFF size {riff} + 8 is not the file's {} bytes (never finished?)", bytes.len()));
    }
    let mut at = 12;
    let mut fmt = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(bytes, at + 4).ok_or("chunk size")? as usize;
        let body = bytes.get(at + 8..at + 8 + size).ok_or_else(|| format!("chunk at {at} runs past the file"))?;
        match id {
            b"fmt " => {
                let field = |o| u16_at(body, o).ok_or("fmt chunk too short");
                fmt = Some((field(0)?, field(2)?, u32_at(body, 4).ok_or("fmt chunk too short")?, field(14)?));
            }
            b"data" => {
                let (format, channels, rate, bits) = fmt.ok_or("data before fmt")?;
                if bits != 16 || !size.is_multiple_of(2) {
                    return Err(format!("{bits}-bit samples, {size} data bytes: not 16-bit"));
                }
                let samples = body.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
                return Ok(Wav { format, channels, rate, bits, samples });
            }
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    Err("no data chunk".into())
}

/// The power of `samples` at `hz` (one DFT bin, Goertzel's recurrence).
fn power_at(samples: &[i16], hz: f64, rate: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// What [`check_tone`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ToneSeen {
    /// Frames from the first to the last non-zero sample.
    pub frames: usize,
    /// The strongest frequency of the DFT grid.
    pub peak_hz: u32,
    /// The frequency the zero crossings give.
    pub crossing_hz: f64,
}

/// Check `file` holds the tone client's tone; what was measured, or why not.
pub fn check_tone(file: &Path) -> Result<ToneSeen, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let wav = parse(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    if (wav.format, wav.channels, wav.rate, wav.bits) != (1, 1, FRAMES_PER_SECOND, 16) {
        return Err(format!(
            "format {} with {} channel(s) at {} Hz, {} bits: not PCM mono 48000 Hz 16-bit",
            wav.format, wav.channels, wav.rate, wav.bits
        ));
    }
    let first = wav.samples.iter().position(|s| *s != 0).ok_or("only silence")?;
    let last = wav.samples.iter().rposition(|s| *s != 0).ok_or("only silence")?;
    let sound = &wav.samples[first..=last];
    let expected = TONE_FRAMES as usize;
    if sound.len().abs_diff(expected) > expected / 1000 {
        return Err(format!("the sound lasts {} frames, the tone {expected}", sound.len()));
    }
    let rate = f64::from(wav.rate);
    let peak_hz = (5..=400u32)
        .map(|tenth| tenth * 10)
        .max_by(|a, b| power_at(sound, f64::from(*a), rate).total_cmp(&power_at(sound, f64::from(*b), rate)))
        .unwrap_or(0);
    let crossings = sound.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    let crossing_hz = crossings as f64 / 2.0 / (sound.len() as f64 / rate);
    let seen = ToneSeen { frames: sound.len(), peak_hz, crossing_hz };
    if peak_hz != TONE_HZ || (crossing_hz - f64::from(TONE_HZ)).abs() > f64::from(TONE_HZ) / 100.0 {
        return Err(format!("the sound is not {TONE_HZ} Hz: {seen:?}"));
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::sample;

    fn wav_bytes(samples: &[i16], channels: u16) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut b = Vec::new();
        b.extend(b"RIFF");
        b.extend((36 + data.len() as u32).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(48_000u32.to_le_bytes());
        b.extend((96_000u32 * u32::from(channels)).to_le_bytes());
        b.extend((2 * channels).to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b
    }

    fn check(samples: &[i16], channels: u16) -> Result<ToneSeen, String> {
        let dir = std::env::temp_dir().join(format!("sevio-wav-test.{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{}-{channels}.wav", samples.len()));
        std::fs::write(&file, wav_bytes(samples, channels)).unwrap();
        let r = check_tone(&file);
        let _ = std::fs::remove_file(&file);
        r
    }

    fn tone(hz: u32, frames: u32) -> Vec<i16> {
        let mut v = std::vec![0i16; 300];
        v.extend((0..frames).map(|i| sample(i, hz, 48_000).saturating_mul(2)));
        v.extend(std::vec![0i16; 2048]);
        v
    }

    #[test]
    fn the_tone_passes_and_other_sounds_do_not() {
        let seen = check(&tone(440, 48_000), 1).unwrap();
        assert_eq!(seen.peak_hz, 440);
        assert!(seen.frames.abs_diff(48_000) <= 1);
        assert!(check(&tone(450, 48_000), 1).unwrap_err().contains("not 440 Hz"));
        assert!(check(&tone(440, 40_000), 1).unwrap_err().contains("lasts"));
        assert!(check(&tone(440, 48_000), 2).unwrap_err().contains("2 channel"));
        assert!(check(&[0; 1000], 1).unwrap_err().contains("silence"));
    }

    #[test]
    fn an_unfinished_or_cut_file_is_refused() {
        let mut b = wav_bytes(&tone(440, 1000), 1);
        assert!(parse(&b).is_ok());
        b[4..8].copy_from_slice(&0u32.to_le_bytes());
        assert!(parse(&b).unwrap_err().contains("never finished"));
        let mut b = wav_bytes(&tone(440, 1000), 1);
        let n = b.len();
        b[40..44].copy_from_slice(&(n as u32).to_le_bytes());
        assert!(parse(&b).unwrap_err().contains("runs past"));
    }
}
