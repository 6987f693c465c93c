//! The virtio-sound driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`check`]: the one check of each client request (command,
//!   transfer) and of each device answer (control status, stream
//!   information, transfer status);
//! - [`driver`]: [`SoundDriver`]: sDDF's sound queues on one side, the
//!   controlq, eventq, txq and rxq (VIRTIO 1.2 §5.14.2) on the other.
//!
//! The client protocol is `sevio_queue::sound` (sDDF 0.7.0's). Bring-up,
//! bus registration, binding, kicks and the status log are the
//! framework's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a misbehaving device
//! is a failed device whose requests are answered `IoErr`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod driver;

pub use check::{AnswerFault, Direction, Streams};
pub use driver::{SoundDriver, SoundError, SoundSetvars, Stats};

/// The controlq's size (and control requests in flight at most).
pub const CONTROL_QUEUE_SIZE: usize = 8;
/// The eventq's size (and event buffers posted).
pub const EVENT_QUEUE_SIZE: usize = 4;
/// The txq's and the rxq's size: three descriptors a transfer.
pub const PCM_QUEUE_SIZE: usize = 64;
/// Transfers in flight on each of txq and rxq at most.
pub const TRANSFERS_PER_QUEUE: usize = 16;
/// Bytes of DMA per control request: the request at 0, the answer at
/// [`ANSWER_AT`] (a PCM_INFO answer for 32 streams is 4 + 32 x 32).
pub const CONTROL_SLOT_SIZE: usize = 2048;
/// Where a control answer goes in its slot.
pub const ANSWER_AT: usize = 64;
/// Bytes of DMA per transfer: the `virtio_snd_pcm_xfer` at 0, the
/// status at [`STATUS_AT`].
pub const TRANSFER_SLOT_SIZE: usize = 32;
/// Where a transfer's status goes in its slot.
pub const STATUS_AT: usize = 16;
/// Streams the driver describes to its client (sDDF's maximum).
pub const MAX_STREAMS: usize = sevio_queue::sound::MAX_STREAM_COUNT;
