//! Host tests of template drivers (feature `test-utils`): the driver PD,
//! the real transport core and a mock device, in one process.
//!
//! [`Harness`] builds a [`DriverPd`] around a [`VirtioDriver`] over host
//! memory. Its transport line ([`InProcess`]) calls the real
//! `sevio_transport_core::Transport` (`handle` for each request, `kick`
//! for the doorbell notification), which drives a [`MockDevice`]: the
//! requests, the DMA-window checks, the doorbell page and the interrupt
//! forwarding are the ones the transport PDs run. The test plays the
//! device's part of the queues through [`Harness::device`] and delivers
//! events the way the PDs' channels would ([`Harness::bind`],
//! [`Harness::client_notifies`], [`Harness::interrupt`]). A harness made
//! with [`Harness::new_timed`] gives the driver a timer channel
//! ([`TIMER`]) over a [`FakeTimer`] whose clock the test moves
//! ([`Harness::advance_time`]).
//!
//! Test code: it panics on a misuse by the test.

use crate::pd::{DriverPd, DriverPdConfig};
use crate::setvars::{DmaSetvars, PAGE_SIZE, PdSetvars, RegionSetvars, SystemMaps};
use crate::shell::{Driver, DriverStatus, Shell};
use crate::template::VirtioDriver;
use crate::transport::{Transport, TransportNotify};
use crate::watchdog::{RequestTimer, Watchdog};
use crate::{BindingWatch, Virtio};
use sevio_bus_protocol::{Binding, DriverId, TableWriter, TransportId};
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use sevio_timer_protocol::Timer;
use sevio_timer_protocol::fake::FakeTimer;
use sevio_transport_core::mock::MockDevice;
use sevio_transport_core::{DriverPort, Transport as TransportCore};
use sevio_transport_protocol::{DMA_WINDOW_SIZE, Location, Reply, Request, TransportDoorbell};
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;

/// The device's index at the transport (an mmio slot).
pub const SLOT: u32 = 5;
/// Device address of the driver's DMA region.
pub const DMA_PADDR: u64 = 0x4100_0000;
/// The driver's id at the bus and its port at the transport.
pub const DRIVER: DriverId = DriverId(3);

/// The timer channel of a harness made with [`Harness::new_timed`].
pub const TIMER: Channel = Channel::new(3);

/// The driver PD's channels in the harness (no timer).
pub const fn config(name: &'static str, device: sevio_virtio::DeviceId) -> DriverPdConfig {
    DriverPdConfig {
        name,
        device,
        fallback_id: DRIVER,
        bus: Channel::new(0),
        transport: Channel::new(1),
        client: Some(Channel::new(2)),
        timer: None,
    }
}

/// The test's clock, shared with the driver's watchdog.
#[derive(Clone, Default)]
pub struct SharedTimer(Rc<RefCell<FakeTimer>>);

impl Timer for SharedTimer {
    fn now_ns(&mut self) -> u64 {
        self.0.borrow_mut().now_ns()
    }
    fn set_timeout(&mut self, relative_ns: u64) {
        self.0.borrow_mut().set_timeout(relative_ns)
    }
}

/// The real transport core, shared by the driver's line and the test.
type Shared = Rc<RefCell<TransportCore<MockDevice, 32>>>;

/// The driver's line to the transport in-process: each request is the
/// transport's `handle`, the doorbell notification its `kick`.
#[derive(Clone)]
pub struct InProcess {
    transport: Shared,
    driver: usize,
}

impl Transport for InProcess {
    fn call(&mut self, request: Request) -> Reply {
        self.transport.borrow_mut().handle(self.driver, request)
    }
}

impl TransportNotify for InProcess {
    fn notify(&mut self) {
        self.transport.borrow_mut().kick(self.driver);
    }
}

/// Host memory for the driver's regions; keeps it alive.
#[derive(Default)]
pub struct Memory {
    regions: Vec<HeapRegion>,
    device: Option<MockDevice>,
}

impl Memory {
    /// A region of `len` bytes named `region`, filled with `fill`.
    pub fn region(&mut self, region: &'static str, len: usize, fill: u8) -> RegionSetvars {
        let heap = HeapRegion::new(len);
        heap.memory().fill(0, len, fill).expect("inside");
        let vars = RegionSetvars { region, vaddr: heap.memory().addr() as u64, size: len as u64 };
        self.regions.push(heap);
        vars
    }

    /// A region the device also reaches, at device address `paddr`.
    pub fn device_region(&mut self, region: &'static str, len: usize, fill: u8, paddr: u64) -> RegionSetvars {
        let vars = self.region(region, len, fill);
        let device = self.device.as_ref().expect("the harness sets the device");
        device.map(paddr, self.memory(vars));
        vars
    }

    /// The memory a region's setvars describe.
    pub fn memory(&self, vars: RegionSetvars) -> SharedMemory {
        let heap = self.regions.iter().find(|h| h.memory().addr() as u64 == vars.vaddr).expect("a harness region");
        heap.memory()
    }
}

/// A template driver PD, the real transport core and a mock device.
pub struct Harness<D: VirtioDriver> {
    /// The PD under test.
    pub pd: DriverPd<Virtio<D, InProcess, SharedTimer>>,
    /// The device (the transport owns a clone).
    pub device: MockDevice,
    /// The driver's own regions, as the test made them.
    pub vars: D::Setvars,
    transport: Shared,
    table: TableWriter,
    binding: Binding,
    config: DriverPdConfig,
    timer: SharedTimer,
    setvars: PdSetvars<D::Setvars>,
    name: &'static str,
    /// Last: the memory outlives the PD.
    memory: Memory,
}

impl<D: VirtioDriver> Harness<D>
where
    D::Setvars: Copy,
{
    /// The driver PD named `name` with the regions `regions` makes, the
    /// transport holding `device` at [`SLOT`], no binding yet.
    pub fn new(name: &'static str, device: MockDevice, regions: impl FnOnce(&mut Memory) -> D::Setvars) -> Self {
        Self::new_at(name, device, Location::Mmio { slot: SLOT }, regions)
    }

    /// [`new`](Self::new) with the device at `location` (e.g. a PCI
    /// function: a legacy one fixes its queue sizes).
    pub fn new_at(
        name: &'static str,
        device: MockDevice,
        location: Location,
        regions: impl FnOnce(&mut Memory) -> D::Setvars,
    ) -> Self {
        Self::build(name, device, location, None, regions)
    }

    /// [`new_at`](Self::new_at) with a timer channel ([`TIMER`]) and
    /// requests outstanding for at most `deadline_ns`; the clock starts
    /// at 0 and moves only by [`advance_time`](Self::advance_time).
    pub fn new_timed(
        name: &'static str,
        device: MockDevice,
        location: Location,
        deadline_ns: u64,
        regions: impl FnOnce(&mut Memory) -> D::Setvars,
    ) -> Self {
        Self::build(name, device, location, Some(RequestTimer { channel: TIMER, deadline_ns }), regions)
    }

    fn build(
        name: &'static str,
        device: MockDevice,
        location: Location,
        timer: Option<RequestTimer>,
        regions: impl FnOnce(&mut Memory) -> D::Setvars,
    ) -> Self {
        let mut memory = Memory { regions: Vec::new(), device: Some(device.clone()) };
        let dma = memory.region("test_dma", DMA_WINDOW_SIZE as usize, 0);
        device.map(DMA_PADDR, memory.memory(dma));
        let doorbell = memory.region("test_doorbell", PAGE_SIZE as usize, 0);
        let bindings = memory.region("bus_bindings", PAGE_SIZE as usize, 0);
        let vars = regions(&mut memory);
        let table = TableWriter::init(memory.memory(bindings), 8).expect("a page holds a table");
        let mut core = TransportCore::new();
        assert!(core.insert(SLOT as usize, location, device.clone()).is_ok());
        let port_doorbell = TransportDoorbell::init(memory.memory(doorbell)).expect("a page");
        core.attach_driver(
            DRIVER.0 as usize,
            DriverPort { doorbell: port_doorbell, dma_window: (DMA_PADDR, DMA_WINDOW_SIZE) },
        );
        let transport: Shared = Rc::new(RefCell::new(core));
        let line = InProcess { transport: transport.clone(), driver: DRIVER.0 as usize };
        let setvars = PdSetvars {
            bindings,
            doorbell,
            dma: DmaSetvars { region: "test_dma", vaddr: dma.vaddr, size: dma.size, paddr: DMA_PADDR },
            driver: vars,
        };
        let config = DriverPdConfig { timer, ..config(name, D::DEVICE) };
        let clock = SharedTimer::default();
        let pd = Self::start_pd(name, &config, line, &clock, setvars);
        let binding = Binding {
            driver: DRIVER,
            transport: TransportId(0),
            location,
            device_id: D::DEVICE.0,
            vendor_id: device.state().vendor_id,
        };
        Harness { pd, device, vars, transport, table, binding, config, timer: clock, setvars, name, memory }
    }

    /// A fresh PD over the regions `setvars` names: what a PD's start, or
    /// its restart, builds.
    fn start_pd(
        name: &'static str,
        config: &DriverPdConfig,
        line: InProcess,
        clock: &SharedTimer,
        setvars: PdSetvars<D::Setvars>,
    ) -> DriverPd<Virtio<D, InProcess, SharedTimer>> {
        let watchdog = match config.timer {
            Some(t) => Watchdog::new(clock.clone(), t.deadline_ns),
            None => Watchdog::off(),
        };
        // SAFETY: every region handed over is a heap region in the
        // harness's `memory`, which it keeps until after the PD is dropped;
        // the driver reaches it only through SharedMemory.
        #[allow(unsafe_code)]
        let maps = unsafe { SystemMaps::vouched() };
        let (virtio, bindings_page) = match Virtio::new(name, line, watchdog, &maps, setvars) {
            Ok(v) => v,
            Err(why) => panic!("{name}: {why}"),
        };
        let shell = Shell::new(name, virtio, BindingWatch::new(bindings_page, DRIVER));
        DriverPd::with_shell(config, shell)
    }

    /// The PD faulted and its parent restarts it, as the bus and the
    /// runtime do: the binding goes (the transport resets the device),
    /// and a new PD starts over the same regions. Only the regions'
    /// contents survive; the device holds nothing of the old PD's. The
    /// test binds again.
    pub fn restart(&mut self) {
        assert!(self.transport.borrow_mut().set_binding(DRIVER.0 as usize, None));
        self.table.write([].into_iter()).expect("empty");
        let line = InProcess { transport: self.transport.clone(), driver: DRIVER.0 as usize };
        self.pd = Self::start_pd(self.name, &self.config, line, &self.timer, self.setvars);
    }

    /// The memory of one of the driver's regions.
    pub fn memory(&self, vars: RegionSetvars) -> SharedMemory {
        self.memory.memory(vars)
    }

    fn notify(&mut self, channel: Channel) {
        self.pd.notified(ChannelSet::from_badge(1 << channel.index()));
    }

    /// The bus binds the device: the transport learns it, the table says
    /// it, the driver is notified.
    pub fn bind(&mut self) {
        self.transport_sees_binding();
        self.publish_binding();
    }

    /// Only the table says it (the transport has not caught up): the
    /// driver's bring-up is refused `NotBound`.
    pub fn publish_binding(&mut self) {
        self.table.write([self.binding].into_iter()).expect("one binding fits");
        self.notify(self.config.bus);
    }

    /// The transport learns the binding (no notification: the driver
    /// retries at its next event).
    pub fn transport_sees_binding(&mut self) {
        let location = self.binding.location;
        assert!(self.transport.borrow_mut().set_binding(DRIVER.0 as usize, Some(location)));
    }

    /// The bus unbinds the device (the transport resets it).
    pub fn unbind(&mut self) {
        assert!(self.transport.borrow_mut().set_binding(DRIVER.0 as usize, None));
        self.table.write([].into_iter()).expect("empty");
        self.notify(self.config.bus);
    }

    /// The client (of the fixed wiring, channel 2) notifies the driver.
    pub fn client_notifies(&mut self) {
        self.notify(self.config.client.expect("the harness wires a client"));
    }

    /// A peer notifies the driver on `channel` (one its config names).
    pub fn peer_notifies(&mut self, channel: Channel) {
        self.notify(channel);
    }

    /// The device interrupts if the used elements it published on queue
    /// `q` call for it, through the transport to the driver. Returns
    /// whether it did.
    pub fn interrupt(&mut self, q: u16) -> bool {
        self.device.interrupt_if_due(q) && self.deliver_interrupt()
    }

    /// The transport takes the device's interrupt causes and notifies the
    /// driver if there were any.
    pub fn deliver_interrupt(&mut self) -> bool {
        let driver = self.transport.borrow_mut().interrupt(SLOT as usize);
        if driver.is_some() {
            self.notify(self.config.transport);
        }
        driver.is_some()
    }

    /// Whether the driver notified its client (of the fixed wiring)
    /// since the last call.
    pub fn take_client_notify(&mut self) -> bool {
        let client = self.config.client.expect("the harness wires a client");
        self.pd.take_deferred_action() == Some(DeferredAction::Notify(client))
    }

    /// The channels the driver notified since the last call.
    pub fn take_notifications(&mut self) -> ChannelSet {
        self.pd.take_notifications()
    }

    fn virtio(&mut self) -> &mut Virtio<D, InProcess, SharedTimer> {
        &mut self.pd.shell().expect("the harness's PD is never idle").driver
    }

    /// Move the test's clock on by `ns`; if the driver's timeout expired,
    /// the timer notifies it. Returns whether it did.
    pub fn advance_time(&mut self, ns: u64) -> bool {
        let fired = {
            let mut clock = self.timer.0.borrow_mut();
            let now = clock.now.saturating_add(ns);
            clock.advance_to(now)
        };
        if fired {
            self.notify(self.config.timer.expect("a timed harness").channel);
        }
        fired
    }

    /// The test's clock: its time, the timeout pending, how many were set.
    pub fn clock(&self) -> FakeTimer {
        self.timer.0.borrow().clone()
    }

    /// The driver.
    pub fn driver(&mut self) -> &mut D {
        self.virtio().driver()
    }

    /// The status the PD logs.
    pub fn status(&mut self) -> DriverStatus {
        self.virtio().status()
    }

    /// The error the device failed with.
    pub fn last_error(&mut self) -> Option<D::Error> {
        self.virtio().last_error()
    }
}
