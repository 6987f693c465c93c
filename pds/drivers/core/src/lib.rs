//! The sevio driver framework: what every virtio driver PD shares. A
//! driver PD never maps device registers: it talks to its transport PD
//! by PPC and its doorbell page, and owns only its DMA region.
//!
//! A device driver is a type implementing [`VirtioDriver`] (the
//! template: device id, features, queues; `probe`, `remove`, interrupt
//! and client events); [`Virtio`] is everything else, and a driver PD's
//! `main.rs` is `Virtio::<MyDriver, _>::start(...)`.
//!
//! - [`template`]: [`VirtioDriver`], [`QueueSpec`], and what the driver
//!   sees of the device ([`Probe`], [`Ctx`], [`Device`]);
//! - [`virtio`]: [`Virtio`], the framework's half: device state,
//!   bring-up, queues, the one kick path, failure, client notify;
//! - [`setvars`]: what system.xml gives a PD, [`SystemMaps`] (the one
//!   unsafe step: the setvars describe mappings) and [`Unusable`] (the
//!   one way to say a setvar is missing);
//! - [`sddf`]: a driver configured by sdfgen's config sections: an
//!   unfilled section, and the one check of configured channel ids;
//! - [`client`]: [`ClientRegion`] and [`DataRegions`], the one check of a client's buffer
//!   (inside its region; where the device sees it);
//! - [`transport`]: the [`Transport`] trait (one request, one reply), its
//!   PPC implementation [`PpcTransport`], and [`CallError`] for replies
//!   that are refusals or of the wrong kind;
//! - [`init`]: device bring-up in the order of VIRTIO 1.2 §3.1.1 as a
//!   short typestate ([`Bringup`] -> [`Configuring`] -> [`Negotiated`]),
//!   with one [`InitError`] variant per step;
//! - [`queue`]: [`DriverQueue`], a [`SplitQueue`](sevio_virtio::SplitQueue)
//!   plus the EVENT_IDX bookkeeping that lets a driver ask for one
//!   interrupt per batch ([`DriverQueue::arm`]);
//! - [`dma`]: the driver's DMA region (vaddr and paddr from setvars),
//!   carved into queue memory, an indirect pool and per-request slots;
//! - [`bus`]: registering with the bus PD and watching the binding table
//!   for this driver's device;
//! - [`shell`]: the device-independent part of a driver PD's shell
//!   ([`Driver`] trait, [`Shell`]: follow bindings, log status);
//! - [`pd`]: the whole event side of a driver PD ([`DriverPd`]: init
//!   sequence and `Handler` dispatch, generic over [`DriverEvents`]);
//! - [`state`]: [`DeviceState`], unbound / up / failed, with the retry of
//!   a bring-up the transport was not ready for;
//! - [`watchdog`]: [`Watchdog`], a deadline on each request a driver
//!   posts (its optional timer channel, [`RequestTimer`]); a request
//!   overdue fails the device with [`DriverError::DeviceTimeout`];
//! - [`heartbeat`]: the word a driver PD writes around each event, for
//!   the bus to tell a hung driver from an idle one;
//! - `harness` (feature `test-utils`): host tests of template drivers
//!   against the real transport core (`transports/core`) and its mock
//!   device.
//!
//! Panic contract: nothing here panics on anything a transport, device,
//! bus or binding table says; bad input is an error value.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "test-utils")]
extern crate std;

pub mod bus;
pub mod client;
pub mod dma;
pub mod drill;
pub mod heartbeat;
pub mod init;
pub mod pd;
pub mod queue;
pub mod sddf;
pub mod setvars;
pub mod shell;
pub mod state;
pub mod template;
pub mod transport;
pub mod virtio;
pub mod watchdog;

#[cfg(feature = "test-utils")]
pub mod harness;

/// Why a driver PD could not bring its device up or serve it: the
/// errors every driver shares (kept for the PD's log; a device-specific
/// driver may wrap this in its own type).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DriverError {
    /// Bring-up failed at this step.
    Init(InitError),
    /// The doorbell page is not usable.
    Doorbell(sevio_transport_protocol::DoorbellError),
    /// The DMA region is too small for what the driver carves.
    Dma(DmaError),
    /// The device broke a virtqueue rule (or the queue refused a chain).
    Queue(sevio_virtio::Error),
    /// The transport refused a kick or a config access.
    Transport(CallError),
    /// A client queue is unusable (bad geometry or indices).
    Client(sevio_queue::QueueError),
    /// The device did not answer a request within the driver's deadline
    /// ([`watchdog`]): it is treated as failed.
    DeviceTimeout(Overdue),
}

pub use bus::{BindingChange, BindingWatch, BusCall, PpcBus, RegisterError};
pub use client::{ClientRangeError, ClientRegion, ClientSpan, DataRegions, MAX_DATA_REGIONS, TooManyDataRegions};
pub use dma::{DmaCarver, DmaError, DmaRegion, DmaSlice, DmaSlots};
pub use init::{Bringup, Configuring, InitError, Negotiated, QueueParams};
pub use pd::{DriverEvents, DriverPd, DriverPdConfig};
pub use queue::DriverQueue;
pub use sddf::{
    ChannelRefusal, DATA_REGIONS_SECTION, DataRegionSetvars, client_channels, data_regions_from_setvars,
    data_regions_section, sddf_section,
};
pub use setvars::{DmaSetvars, PdSetvars, RegionSetvars, SystemMaps, Unusable, map_dma};
pub use shell::{Driver, DriverStatus, Shell, register_with_bus};
pub use state::DeviceState;
pub use template::{Ctx, Device, Probe, QueueSet, QueueSpec, VirtioDriver, Watch};
pub use transport::{CallError, PpcTransport, Transport, TransportNotify};
pub use virtio::Virtio;
pub use watchdog::{Overdue, RequestKey, RequestTimer, RequestWatch, RuntimeClock, Watchdog};
