//! [`Virtio`]: the framework's half of every template driver PD.
//!
//! It owns what is the same for every device: the device state (no
//! device / up / failed, with the retry of a bring-up the transport was
//! not ready for), bring-up in VIRTIO 1.2 §3.1.1 order with the driver's
//! features and queues, the queue memory (carved from the DMA region
//! after the driver's own buffers), the one kick path
//! ([`TransportNotify`]), failure (reset, failed, the error kept for the
//! log), the deadlines of the requests the device holds (a request
//! overdue fails the device, see [`crate::watchdog`]), and the deferred
//! client notification. It is the
//! [`Driver`] + [`DriverEvents`] of a [`DriverPd`], which adds bus
//! registration, the binding table and the status log; so a driver PD is
//! `DriverPd<Virtio<MyDriver, PpcTransport>>`, made by [`Virtio::start`].

use crate::DriverError;
use crate::dma::DmaCarver;
use crate::init::{Bringup, InitError};
use crate::pd::{DriverEvents, DriverPd, DriverPdConfig};
use crate::setvars::{PdSetvars, SystemMaps, Unusable};
use crate::shell::{Driver, DriverStatus};
use crate::state::{DeviceState, not_bound_yet};
use crate::template::{Ctx, Device, Probe, QueueSet, VirtioDriver};
use crate::transport::{PpcTransport, Transport, TransportNotify};
use crate::watchdog::{RuntimeClock, Watchdog};
use sevio_runtime::{ChannelSet, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_timer_protocol::Timer;
use sevio_transport_protocol::{DMA_WINDOW_SIZE, DriverDoorbell, Request};
use sevio_virtio::features::general;

/// How a bring-up ended without a live device.
enum NotUp<E> {
    /// The transport has not seen the binding yet: retry at the next
    /// event.
    NotBoundYet(E),
    /// The device failed.
    Failed(E),
}

/// A template driver `D` and everything the framework keeps for it,
/// talking to its transport through `T`, its request deadlines on `C`.
pub struct Virtio<D: VirtioDriver, T, C = RuntimeClock> {
    driver: D,
    transport: T,
    doorbell_page: SharedMemory,
    /// The DMA region after the driver's own buffers: queue memory.
    queue_memory: DmaCarver,
    state: DeviceState<Device<D::Queues>>,
    /// `probe` was called for the device held: `remove` is owed.
    probed: bool,
    last_error: Option<D::Error>,
    notify_client: bool,
    /// The driver's own client channels to notify.
    notify: ChannelSet,
    /// The deadlines of the requests the device holds.
    watchdog: Watchdog<C>,
    name: &'static str,
}

impl<D: VirtioDriver> Virtio<D, PpcTransport> {
    /// The driver PD: map the regions `vars` names (through `maps`),
    /// build the driver, register with the bus and bind if the binding
    /// table already names a device ([`DriverPd::start`], for `D::DEVICE`
    /// whatever `config.device` says). With an unusable
    /// configuration the PD logs why and does nothing.
    pub fn start(config: &DriverPdConfig, maps: &SystemMaps, vars: PdSetvars<D::Setvars>) -> DriverPd<Self> {
        let watchdog = match config.timer {
            Some(t) => Watchdog::new(RuntimeClock::new(t.channel), t.deadline_ns),
            None => Watchdog::off(),
        };
        match Self::new(config.name, PpcTransport::new(config.transport), watchdog, maps, vars) {
            Ok((virtio, bindings)) => {
                DriverPd::start(&DriverPdConfig { device: D::DEVICE, ..*config }, virtio, bindings)
            }
            Err(why) => {
                debug_println!("{}: {}; not serving", config.name, why);
                DriverPd::idle()
            }
        }
    }
}

impl<D: VirtioDriver, T: Transport + TransportNotify, C: Timer> Virtio<D, T, C> {
    /// The driver named `name` (log prefix) over the regions `vars`
    /// names, with no device yet, and the binding table page; its
    /// requests' deadlines kept by `watchdog`.
    pub fn new(
        name: &'static str,
        transport: T,
        watchdog: Watchdog<C>,
        maps: &SystemMaps,
        vars: PdSetvars<D::Setvars>,
    ) -> Result<(Self, SharedMemory), Unusable> {
        let dma = maps.dma(name, vars.dma, DMA_WINDOW_SIZE)?;
        let mut carver = dma.carver();
        let driver = D::new(vars.driver, maps, &mut carver)?;
        let doorbell_page = maps.region(vars.doorbell)?;
        let bindings = maps.region(vars.bindings)?;
        let virtio = Virtio {
            driver,
            transport,
            doorbell_page,
            queue_memory: carver,
            state: DeviceState::default(),
            probed: false,
            last_error: None,
            notify_client: false,
            notify: ChannelSet::default(),
            watchdog,
            name,
        };
        Ok((virtio, bindings))
    }

    /// The driver.
    pub fn driver(&mut self) -> &mut D {
        &mut self.driver
    }

    /// The line to the transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Run one of the driver's reactions; if the device went away during
    /// it (the driver failed it), the driver forgets it.
    fn event(&mut self, reaction: impl FnOnce(&mut D, &mut Ctx<'_, D>)) {
        let mut ctx = Ctx {
            state: &mut self.state,
            transport: &mut self.transport,
            last_error: &mut self.last_error,
            notify_client: &mut self.notify_client,
            notify: &mut self.notify,
            watchdog: &mut self.watchdog,
        };
        reaction(&mut self.driver, &mut ctx);
        self.forget_if_gone();
    }

    fn forget_if_gone(&mut self) {
        if self.probed && self.state.device().is_none() {
            self.probed = false;
            self.watchdog.clear();
            self.driver.remove();
        }
    }

    /// Forget the device (unbound, nothing to retry); the driver forgets
    /// it too.
    fn let_go(&mut self) {
        self.state.unbind();
        self.forget_if_gone();
    }

    fn retry_bind(&mut self) {
        if self.state.retry_due() {
            // Still not bound: retried at the next event; any other
            // outcome is in the status log.
            let _ = Driver::bind(self);
        }
    }

    /// VIRTIO 1.2 §3.1.1, steps 1-8; the driver's part is step 7
    /// ([`VirtioDriver::probe`]). Every failure after the reset resets
    /// the device again.
    fn bring_up(&mut self) -> Result<Device<D::Queues>, NotUp<D::Error>> {
        let failed = |e: DriverError| NotUp::Failed(D::Error::from(e));
        let init = |e: InitError| {
            let e = DriverError::Init(e);
            if not_bound_yet(&e) { NotUp::NotBoundYet(D::Error::from(e)) } else { NotUp::Failed(D::Error::from(e)) }
        };
        let doorbell = DriverDoorbell::open(self.doorbell_page).map_err(|e| failed(DriverError::Doorbell(e)))?;
        let mut carver = self.queue_memory.clone();
        let (wanted, required) = self.driver.features();
        let wanted = if D::RING_PACKED { wanted.with(general::RING_PACKED) } else { wanted };
        let transport: &mut dyn Transport = &mut self.transport;
        let mut config =
            Bringup::start(transport, D::DEVICE).and_then(|b| b.negotiate(wanted, required)).map_err(init)?;
        let mut queues = D::Queues::set_up(D::QUEUES, &mut config, &mut carver).map_err(init)?;
        let probed = self.driver.probe(&mut Probe { config: &mut config, queues: &mut queues });
        if let Err(e) = probed {
            let _ = config.transport().call(Request::Reset);
            self.driver.remove();
            return Err(NotUp::Failed(e));
        }
        match config.driver_ok() {
            Ok(negotiated) => {
                self.probed = true;
                if negotiated.features.has(general::RING_PACKED) {
                    debug_println!("{}: packed virtqueues (VIRTIO_F_RING_PACKED)", self.name);
                }
                Ok(Device::new(queues, negotiated, doorbell))
            }
            Err(e) => {
                self.driver.remove();
                Err(init(e))
            }
        }
    }
}

impl<D: VirtioDriver, T: Transport + TransportNotify, C: Timer> Driver for Virtio<D, T, C> {
    type Error = D::Error;

    /// The bus bound a device (or another one): let go of the old one,
    /// bring the new one up, then let the driver serve or refuse what
    /// waited.
    fn bind(&mut self) -> Result<(), D::Error> {
        if self.state.holds_device() {
            self.let_go();
        }
        let result = match self.bring_up() {
            Ok(device) => {
                self.state = DeviceState::Up(device);
                Ok(())
            }
            Err(NotUp::NotBoundYet(e)) => {
                self.state = DeviceState::Unbound { retry: true };
                Err(e)
            }
            Err(NotUp::Failed(e)) => {
                self.state = DeviceState::Failed;
                self.last_error = Some(e);
                Err(e)
            }
        };
        self.event(|driver, ctx| driver.after_bind(ctx));
        result
    }

    /// The device is gone: the driver forgets it, then hears of the
    /// change ([`VirtioDriver::after_bind`]) so that what `remove`
    /// answered reaches its client in this event.
    fn unbind(&mut self) {
        self.let_go();
        self.event(|driver, ctx| driver.after_bind(ctx));
    }

    fn status(&self) -> DriverStatus {
        self.driver.status(self.state.status())
    }

    fn last_error(&self) -> Option<D::Error> {
        self.last_error
    }
}

impl<D: VirtioDriver, T: Transport + TransportNotify, C: Timer> DriverEvents for Virtio<D, T, C> {
    fn interrupt(&mut self) {
        self.retry_bind();
        let causes = self.state.device().map_or(0, |device| device.doorbell.take_interrupts());
        self.event(|driver, ctx| driver.interrupt(ctx, causes));
    }

    fn client_notified(&mut self) {
        self.retry_bind();
        self.event(|driver, ctx| driver.client_notified(ctx));
    }

    /// A request outstanding past its deadline: the device is not
    /// answering. Log the request, fail the device (the driver's `remove`
    /// answers what it held), then let the driver answer what waited.
    /// Once: failing clears every deadline.
    fn timer_fired(&mut self) {
        let Some(overdue) = self.watchdog.take_overdue() else { return };
        if self.state.device().is_none() {
            return;
        }
        debug_println!(
            "{}: request {} outstanding for {} ms: device not answering",
            self.name,
            overdue.request,
            overdue.waited_ms
        );
        self.event(|_, ctx| ctx.fail(D::Error::from(DriverError::DeviceTimeout(overdue))));
        self.event(|driver, ctx| driver.after_failure(ctx));
    }

    fn take_client_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify_client)
    }

    fn client_channels(&self) -> ChannelSet {
        self.driver.client_channels()
    }

    fn take_notifications(&mut self) -> ChannelSet {
        core::mem::take(&mut self.notify)
    }

    /// The one kick path: every queue the device wants to hear about gets
    /// its doorbell bit, and the transport one notification. A queue that
    /// faulted fails the device (the driver learns of it at the next
    /// event).
    fn end_of_event(&mut self) {
        if let Some(device) = self.state.device() {
            match device.queues.kicks() {
                Ok(0) => {}
                Ok(queues) => {
                    device.doorbell.ring(queues);
                    self.transport.notify();
                }
                Err(e) => self.event(|_, ctx| ctx.fail(D::Error::from(DriverError::Queue(e)))),
            }
        }
        // After the kicks: the requests just posted have their deadlines.
        self.watchdog.end_of_event();
    }

    fn after_status_log(&mut self) {
        self.driver.report(self.name);
    }
}
