//! The driver template: what a device driver says and does, and the
//! handles the framework gives it.
//!
//! The counterpart of NuttX's `struct virtio_driver`: a driver is a type
//! implementing [`VirtioDriver`]. It names its device ([`DEVICE`]), its
//! features and its queues ([`QUEUES`]), and reacts to four things:
//! [`probe`] (features negotiated, queues set up, DRIVER_OK not yet set:
//! read the config, fill receive queues), [`remove`] (the device is gone),
//! [`interrupt`] and [`client_notified`]. Everything else is the
//! framework's ([`Virtio`](crate::Virtio)): bus registration and
//! bindings, bring-up in VIRTIO 1.2 §3.1.1 order, queue memory, kicks,
//! the device state, failure and the status log.
//!
//! At run time the driver sees the device through a [`Ctx`]: the
//! [`Device`] (its queues) while one is up, [`Ctx::fail`] for a device
//! that broke a rule, [`Ctx::notify_client`] (the client of a fixed
//! wiring) and [`Ctx::notify`] (a channel its configuration names), and
//! [`Ctx::watch`] / [`Ctx::unwatch`] to put a deadline on a request it
//! posted (see [`crate::watchdog`]). It never kicks: the
//! framework asks every queue after each event whether the device wants
//! to hear about new buffers (see `Virtio::end_of_event`).
//!
//! [`DEVICE`]: VirtioDriver::DEVICE
//! [`QUEUES`]: VirtioDriver::QUEUES
//! [`probe`]: VirtioDriver::probe
//! [`remove`]: VirtioDriver::remove
//! [`interrupt`]: VirtioDriver::interrupt
//! [`client_notified`]: VirtioDriver::client_notified

use crate::DriverError;
use crate::dma::DmaCarver;
use crate::init::{Configuring, InitError, Negotiated, QueueParams};
use crate::queue::DriverQueue;
use crate::setvars::{SystemMaps, Unusable};
use crate::shell::DriverStatus;
use crate::state::DeviceState;
use crate::transport::Transport;
use crate::watchdog::{RequestKey, RequestWatch};
use sevio_runtime::{Channel, ChannelSet};
use sevio_transport_protocol::{DeviceInfo, DriverDoorbell, Request, Width};
use sevio_virtio::{DeviceId, Features};

/// One queue a driver needs: its index on the device and how to size it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue's index (e.g. VIRTIO 1.2 §5.4.2: requestq 0).
    pub index: u16,
    /// Sizes and indirect descriptors.
    pub params: QueueParams,
}

/// The queues of a driver, as the framework sets them up: one
/// [`DriverQueue`], or a tuple of two to four of them.
pub trait QueueSet: Sized {
    /// What describes them: one [`QueueSpec`] per queue.
    type Specs: Copy;
    /// Set every queue up in order on `config` (QueueMaxSize, memory from
    /// `dma`, QueueSetup, QueueReady).
    fn set_up(
        specs: Self::Specs,
        config: &mut Configuring<'_, dyn Transport + '_>,
        dma: &mut DmaCarver,
    ) -> Result<Self, InitError>;
    /// Bit q for each queue q the device wants to be told has new
    /// buffers (VIRTIO 1.2 §2.7.13.4, see [`DriverQueue::needs_kick`]).
    fn kicks(&mut self) -> Result<u32, sevio_virtio::Error>;
}

fn kick_bit<const N: usize>(queue: &mut DriverQueue<N>) -> Result<u32, sevio_virtio::Error> {
    Ok(if queue.needs_kick()? { DriverDoorbell::queue_bit(queue.index()) } else { 0 })
}

impl<const N: usize> QueueSet for DriverQueue<N> {
    type Specs = QueueSpec;
    fn set_up(
        spec: QueueSpec,
        config: &mut Configuring<'_, dyn Transport + '_>,
        dma: &mut DmaCarver,
    ) -> Result<Self, InitError> {
        config.queue(spec.index, spec.params, dma)
    }
    fn kicks(&mut self) -> Result<u32, sevio_virtio::Error> {
        kick_bit(self)
    }
}

impl<const A: usize, const B: usize> QueueSet for (DriverQueue<A>, DriverQueue<B>) {
    type Specs = [QueueSpec; 2];
    fn set_up(
        [a, b]: [QueueSpec; 2],
        config: &mut Configuring<'_, dyn Transport + '_>,
        dma: &mut DmaCarver,
    ) -> Result<Self, InitError> {
        Ok((config.queue(a.index, a.params, dma)?, config.queue(b.index, b.params, dma)?))
    }
    fn kicks(&mut self) -> Result<u32, sevio_virtio::Error> {
        Ok(kick_bit(&mut self.0)? | kick_bit(&mut self.1)?)
    }
}

/// Three and four queues (virtio-vsock: rx, tx, event; virtio-sound:
/// control, event, tx, rx), set up in the order given.
macro_rules! queue_tuple {
    ($n:literal: $($q:ident $size:ident),+) => {
        impl<$(const $size: usize),+> QueueSet for ($(DriverQueue<$size>,)+) {
            type Specs = [QueueSpec; $n];
            fn set_up(
                [$($q),+]: [QueueSpec; $n],
                config: &mut Configuring<'_, dyn Transport + '_>,
                dma: &mut DmaCarver,
            ) -> Result<Self, InitError> {
                Ok(($(config.queue($q.index, $q.params, dma)?,)+))
            }
            fn kicks(&mut self) -> Result<u32, sevio_virtio::Error> {
                #[allow(non_snake_case)]
                let ($($q,)+) = self;
                Ok(0 $(| kick_bit($q)?)+)
            }
        }
    };
}
queue_tuple!(3: a A, b B, c C);
queue_tuple!(4: a A, b B, c C, d D);

/// A virtio device driver: what it needs and how it reacts. See the
/// module docs.
pub trait VirtioDriver: Sized {
    /// The device it drives (and registers for at the bus).
    const DEVICE: DeviceId;
    /// Its queues.
    type Queues: QueueSet;
    /// How to set them up.
    const QUEUES: <Self::Queues as QueueSet>::Specs;
    /// Why the device failed, for the log: the shared errors and any of
    /// the driver's own.
    type Error: From<DriverError> + Copy + core::fmt::Debug;
    /// The driver's own regions, as its `config.rs` reads them.
    type Setvars;

    /// The driver, over its regions (mapped through `maps`) and the front
    /// of the DMA region (`dma`: bounce buffers, headers; the framework
    /// carves the queues from what is left). No device yet.
    fn new(vars: Self::Setvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable>;

    /// Whether the framework accepts VIRTIO_F_RING_PACKED when the device
    /// offers it (VIRTIO 1.2 §2.8): every queue is then packed, behind the
    /// same [`DriverQueue`] API. On by default; a driver whose device must
    /// keep split rings says false.
    const RING_PACKED: bool = true;

    /// `(wanted, required)`: the features accepted when offered, and those
    /// without which the device is refused. VERSION_1 is the framework's
    /// business (required of modern devices, never of legacy ones), and so
    /// is RING_PACKED ([`RING_PACKED`](Self::RING_PACKED)).
    fn features(&self) -> (Features, Features);

    /// The device is negotiated and its queues are set up, DRIVER_OK is
    /// not set yet (VIRTIO 1.2 §3.1.1 step 7): read and write the config,
    /// fill receive queues. An error resets the device and fails it.
    /// Default: nothing device-specific.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), Self::Error> {
        let _ = device;
        Ok(())
    }

    /// The device this driver probed is gone (unbound, replaced, failed):
    /// forget every buffer it held. Called once per successful probe.
    fn remove(&mut self);

    /// The device interrupted; `causes` as the transport recorded them
    /// (`doorbell::INT_USED_BUFFER`, `INT_CONFIG_CHANGE`; 0 when no device
    /// is up).
    fn interrupt(&mut self, ctx: &mut Ctx<'_, Self>, causes: u32);

    /// The client notified: requests or room to look at.
    fn client_notified(&mut self, ctx: &mut Ctx<'_, Self>);

    /// The binding changed: a bind attempt settled (device up, failed, or
    /// waiting for the transport) or the device was unbound (after
    /// [`remove`](Self::remove)): serve, refuse or answer what waited.
    /// Default: as if the client had notified.
    fn after_bind(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.client_notified(ctx);
    }

    /// The framework failed the device (a request outstanding past its
    /// deadline) after [`remove`](Self::remove): answer or refuse what
    /// waited, tell the client. Default: as if the client had notified.
    fn after_failure(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.client_notified(ctx);
    }

    /// The status to log, given the device's (`Unbound`, `Ready`,
    /// `Failed`). Default: the device's.
    fn status(&self, device: DriverStatus) -> DriverStatus {
        device
    }

    /// After every event, once the status is logged: the driver's own
    /// log lines (e.g. counters), under `name`. Default: none.
    fn report(&mut self, name: &str) {
        let _ = name;
    }

    /// The client channels the driver's configuration names (an sDDF
    /// config gives them at run time, checked by
    /// [`client_channels`](crate::sddf::client_channels)): a notification
    /// on any of them reaches [`client_notified`](Self::client_notified),
    /// and [`Ctx::notify`] signals them. Default: none (the PD's fixed
    /// client channel only).
    fn client_channels(&self) -> ChannelSet {
        ChannelSet::default()
    }
}

/// A live device: its queues and what was negotiated.
pub struct Device<Q> {
    /// The queues, as [`VirtioDriver::QUEUES`] asked.
    pub queues: Q,
    negotiated: Negotiated,
    pub(crate) doorbell: DriverDoorbell,
}

impl<Q> Device<Q> {
    pub(crate) fn new(queues: Q, negotiated: Negotiated, doorbell: DriverDoorbell) -> Self {
        Device { queues, negotiated, doorbell }
    }

    /// The device, its offer and the features in force.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }
}

/// The device during [`VirtioDriver::probe`].
pub struct Probe<'a, 't, D: VirtioDriver> {
    pub(crate) config: &'a mut Configuring<'t, dyn Transport + 't>,
    /// The queues, set up, not live until DRIVER_OK (filling them is fine;
    /// the framework kicks after DRIVER_OK).
    pub queues: &'a mut D::Queues,
}

impl<D: VirtioDriver> Probe<'_, '_, D> {
    /// The device.
    pub fn info(&self) -> DeviceInfo {
        self.config.info()
    }

    /// The features in force.
    pub fn features(&self) -> Features {
        self.config.features()
    }

    /// Whether the device is a legacy one.
    pub fn legacy(&self) -> bool {
        self.config.legacy()
    }

    /// Read `out.len()` bytes of config at `offset` as one consistent
    /// snapshot (generation-checked).
    pub fn read_config(&mut self, offset: u32, out: &mut [u8]) -> Result<(), DriverError> {
        self.config.read_config(offset, out).map_err(DriverError::Init)
    }

    /// Write `value` (`width` bytes) to config at `offset`.
    pub fn write_config(&mut self, offset: u32, width: Width, value: u64) -> Result<(), DriverError> {
        self.config.write_config(offset, width, value).map_err(DriverError::Init)
    }
}

/// The request deadlines, beside the device ([`Ctx::device_and_watch`]).
pub struct Watch<'a>(&'a mut dyn RequestWatch);

impl Watch<'_> {
    /// As [`Ctx::watch`].
    pub fn watch(&mut self, key: RequestKey) {
        self.0.watch(key);
    }
}

/// What a driver reaches during an event.
pub struct Ctx<'a, D: VirtioDriver> {
    pub(crate) state: &'a mut DeviceState<Device<D::Queues>>,
    pub(crate) transport: &'a mut (dyn Transport + 'a),
    pub(crate) last_error: &'a mut Option<D::Error>,
    pub(crate) notify_client: &'a mut bool,
    pub(crate) notify: &'a mut ChannelSet,
    pub(crate) watchdog: &'a mut dyn RequestWatch,
}

impl<D: VirtioDriver> Ctx<'_, D> {
    /// The device, if one is up.
    pub fn device(&mut self) -> Option<&mut Device<D::Queues>> {
        self.state.device()
    }

    /// The device, if one is up, and the request deadlines: to watch
    /// each request as it is posted to the queues.
    pub fn device_and_watch(&mut self) -> Option<(&mut Device<D::Queues>, Watch<'_>)> {
        let device = self.state.device()?;
        Some((device, Watch(&mut *self.watchdog)))
    }

    /// `key` was posted to the device: its deadline starts now (nothing
    /// happens if the driver has no timer). See [`crate::watchdog`].
    pub fn watch(&mut self, key: RequestKey) {
        self.watchdog.watch(key);
    }

    /// `key` completed: its deadline is off. True if it had one.
    pub fn unwatch(&mut self, key: RequestKey) -> bool {
        self.watchdog.unwatch(key)
    }

    /// Whether the device failed (until a new binding).
    pub fn failed(&self) -> bool {
        matches!(self.state, DeviceState::Failed)
    }

    /// The device broke a rule (or a queue refused a chain): record `e`
    /// for the log, reset the device and hold it failed until the bus
    /// binds one again. The framework calls [`VirtioDriver::remove`] once
    /// the event is over.
    ///
    /// "If any of these steps go irrecoverably wrong, the driver SHOULD
    /// set the FAILED status bit" (VIRTIO 1.2 §3.1.1): the transport
    /// protocol has no FAILED request, so the device is reset instead,
    /// which also stops it from using the driver's memory.
    pub fn fail(&mut self, e: D::Error) {
        *self.last_error = Some(e);
        let _ = self.transport.call(Request::Reset);
        *self.state = DeviceState::Failed;
    }

    /// Record `e` for the log without touching the device: a failure
    /// that is the driver's own (e.g. a client that broke its queue),
    /// logged when [`VirtioDriver::status`] says `Failed`.
    pub fn record_error(&mut self, e: D::Error) {
        *self.last_error = Some(e);
    }

    /// Notify the client (of the PD's fixed wiring) once this event is
    /// over.
    pub fn notify_client(&mut self) {
        *self.notify_client = true;
    }

    /// Notify `channel`, one of [`VirtioDriver::client_channels`], once
    /// this event is over (each channel once per event).
    pub fn notify(&mut self, channel: Channel) {
        *self.notify = ChannelSet::from_badge(self.notify.bits() | 1 << channel.index());
    }

    /// The transport, for device-specific requests (e.g. a config write
    /// while running).
    pub fn transport(&mut self) -> &mut (dyn Transport + '_) {
        self.transport
    }
}
