//! The doorbell page shared by a driver and its transport.
//!
//! Layout (bytes, little-endian u32 words; the page is 4 KiB, the rest is
//! reserved and zero):
//!
//! | offset | field | written by | how |
//! |---|---|---|---|
//! | 0 | magic [`DOORBELL_MAGIC`] | transport, at init | release store (last) |
//! | 4 | version [`DOORBELL_VERSION`] | transport, at init | plain, before magic |
//! | 8 | doorbell: bit q = "queue q has new buffers" | driver sets, transport takes | fetch_or (release) / swap 0 (acquire) |
//! | 12 | interrupt status: [`INT_USED_BUFFER`], [`INT_CONFIG_CHANGE`] | transport sets, driver takes | fetch_or (release) / swap 0 (acquire) |
//!
//! Kick: the driver fills its avail ring, calls [`DriverDoorbell::ring`]
//! and notifies the transport; the transport calls
//! [`TransportDoorbell::take_kicks`] and writes QueueNotify for each bit.
//! Interrupt: the transport reads and acks InterruptStatus, calls
//! [`TransportDoorbell::raise`] and notifies the driver, which calls
//! [`DriverDoorbell::take_interrupts`]. Bits only accumulate until taken,
//! so a notification that finds them already taken is harmless and a bit
//! set before a notification is never lost. Queues 0..32 only.

use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use sevio_sharedmem::SharedMemory;

/// "sevD" little-endian: marks an initialised doorbell page.
pub const DOORBELL_MAGIC: u32 = u32::from_le_bytes(*b"sevD");
/// Layout version.
pub const DOORBELL_VERSION: u32 = 1;
/// Bytes of the page in use.
pub const DOORBELL_SIZE: usize = 16;
/// Interrupt status: the device used buffers (VIRTIO "used buffer
/// notification").
pub const INT_USED_BUFFER: u32 = 1 << 0;
/// Interrupt status: the device's config changed.
pub const INT_CONFIG_CHANGE: u32 = 1 << 1;

const MAGIC: usize = 0;
const VERSION: usize = 4;
const DOORBELL: usize = 8;
const INTERRUPT: usize = 12;

/// Why a doorbell page cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DoorbellError {
    /// The region is smaller than [`DOORBELL_SIZE`] (or misaligned).
    TooSmall,
    /// The magic is missing: the transport has not initialised the page.
    NotInitialised(u32),
    /// The page has another layout version.
    Version(u32),
}

/// The driver's view of its doorbell page.
#[derive(Copy, Clone, Debug)]
pub struct DriverDoorbell {
    mem: SharedMemory,
}

/// The transport's view of one driver's doorbell page.
#[derive(Copy, Clone, Debug)]
pub struct TransportDoorbell {
    mem: SharedMemory,
}

fn check_size(mem: &SharedMemory) -> Result<(), DoorbellError> {
    if mem.len() < DOORBELL_SIZE || !mem.addr().is_multiple_of(4) {
        return Err(DoorbellError::TooSmall);
    }
    Ok(())
}

impl TransportDoorbell {
    /// Initialise the page: clear both bit words, write the version, then
    /// the magic (release; pairs with [`DriverDoorbell::open`]'s acquire).
    /// Caller: the transport, before it answers the driver's first call.
    pub fn init(mem: SharedMemory) -> Result<Self, DoorbellError> {
        check_size(&mem)?;
        let t = TransportDoorbell { mem };
        let w = |off, v, o| t.mem.store_u32(off, v, o).map_err(|_| DoorbellError::TooSmall);
        w(DOORBELL, 0, Relaxed)?;
        w(INTERRUPT, 0, Relaxed)?;
        w(VERSION, DOORBELL_VERSION, Relaxed)?;
        w(MAGIC, DOORBELL_MAGIC, Release)?;
        Ok(t)
    }

    /// Take every queue bit the driver set (swap to 0, acquire: pairs with
    /// [`DriverDoorbell::ring`]'s release, so the driver's ring writes are
    /// visible). Caller: transport, on the driver's notification.
    pub fn take_kicks(&self) -> u32 {
        self.mem.swap_u32(DOORBELL, 0, Acquire).unwrap_or(0)
    }

    /// Record interrupt causes for the driver (fetch_or, release). Caller:
    /// transport, after acking the device, before notifying the driver.
    pub fn raise(&self, bits: u32) {
        let _ = self.mem.fetch_or_u32(INTERRUPT, bits, Release);
    }
}

impl DriverDoorbell {
    /// Open a page the transport initialised: checks magic (acquire) and
    /// version. Caller: the driver, after it is bound.
    pub fn open(mem: SharedMemory) -> Result<Self, DoorbellError> {
        check_size(&mem)?;
        let magic = mem.load_u32(MAGIC, Acquire).ok_or(DoorbellError::TooSmall)?;
        if magic != DOORBELL_MAGIC {
            return Err(DoorbellError::NotInitialised(magic));
        }
        let version = mem.load_u32(VERSION, Relaxed).ok_or(DoorbellError::TooSmall)?;
        if version != DOORBELL_VERSION {
            return Err(DoorbellError::Version(version));
        }
        Ok(DriverDoorbell { mem })
    }

    /// Mark queues (bit q = queue q) as having new buffers (fetch_or,
    /// release; pairs with [`TransportDoorbell::take_kicks`]). Returns the
    /// bits that were already set. Caller: driver, then it notifies the
    /// transport.
    pub fn ring(&self, queues: u32) -> u32 {
        self.mem.fetch_or_u32(DOORBELL, queues, Release).unwrap_or(0)
    }

    /// Bit for queue `q` (0 if `q >= 32`, which this page cannot signal).
    pub fn queue_bit(q: u16) -> u32 {
        1u32.checked_shl(u32::from(q)).unwrap_or(0)
    }

    /// Take the interrupt causes the transport recorded (swap to 0,
    /// acq-rel; pairs with [`TransportDoorbell::raise`]). Caller: driver,
    /// on the transport's notification.
    pub fn take_interrupts(&self) -> u32 {
        self.mem.swap_u32(INTERRUPT, 0, AcqRel).unwrap_or(0)
    }
}
