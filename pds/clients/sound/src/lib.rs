//! Sound clients over sDDF's sound protocol (`sevio_queue::sound`): one
//! [`Session`] logic, two roles.
//!
//! - `tone` ([`Role::Play`]): takes an output stream (mono, S16,
//!   48000 Hz), prepares it, queues periods of a generated sine
//!   ([`tone::sample`]) from its data region, starts it, keeps the queue
//!   fed until every frame was played, stops and releases it; passes when
//!   the driver confirmed every frame.
//! - `recorder` ([`Role::Record`]): the same with an input stream,
//!   asking for a number of frames; passes when exactly that many came
//!   back.
//!
//! Any status other than OK, an answer for a request not made, or a
//! stream the driver does not describe fails the client with a line
//! naming it. The host checks what was played, the WAV file QEMU
//! records ([`host`], feature `host`).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

#[cfg(feature = "host")]
pub mod host;
pub mod pd;
pub mod session;
pub mod tone;

pub use session::{Role, Session};

/// The format both clients ask for (VIRTIO / sDDF `S16`).
pub const FORMAT_S16: u8 = 5;
/// The rate both clients ask for (VIRTIO / sDDF `RATE_48000`).
pub const RATE_48000: u8 = 7;
/// Frames per second at that rate.
pub const FRAMES_PER_SECOND: u32 = 48_000;
/// Bytes of one mono S16 frame.
pub const FRAME_BYTES: u32 = 2;
/// Frames of one full transfer (sDDF's 4096-byte buffer).
pub const PERIOD_FRAMES: u32 = sevio_queue::sound::PCM_BUFFER_SIZE / FRAME_BYTES;
/// Transfers a client keeps queued (one data-region slot each).
pub const SLOTS: u32 = 8;
/// The data region a client needs: one buffer per slot.
pub const DATA_NEEDED: u64 = SLOTS as u64 * sevio_queue::sound::PCM_BUFFER_SIZE as u64;
/// The tone's frequency.
pub const TONE_HZ: u32 = 440;
/// The tone's length in frames (one second).
pub const TONE_FRAMES: u32 = FRAMES_PER_SECOND;
/// Frames the recorder asks for: twelve whole periods (QEMU completes a
/// capture buffer when a period is full).
pub const RECORD_FRAMES: u32 = 12 * PERIOD_FRAMES;
