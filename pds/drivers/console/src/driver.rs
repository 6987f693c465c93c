//! [`ConsoleDriver`]: the virtio-console driver as a plain type. The PD
//! shell (`main.rs`) feeds it events; tests feed it the same events with
//! a fake transport and device.
//!
//! One port, port 0, without VIRTIO_CONSOLE_F_MULTIPORT: receiveq 0 and
//! transmitq 1 (VIRTIO 1.2 §5.3.2). Features accepted: EVENT_IDX (and
//! VERSION_1 on a modern device); no SIZE, MULTIPORT or EMERG_WRITE.
//!
//! Events:
//! - [`bind`](ConsoleDriver::bind): bring the device up, post the free RX
//!   buffers (§5.3.5: "The receiveq for each port is populated with one
//!   or more receive buffers"), post TX buffers still pending from an
//!   earlier device, serve the client's output;
//! - [`interrupt`](ConsoleDriver::interrupt) and
//!   [`client_notified`](ConsoleDriver::client_notified): harvest both
//!   queues, drain input to the client, repost drained RX buffers, take
//!   the client's output, kick (QueueNotify PPC, only when the device
//!   asks), arm the interrupts again;
//! - [`unbind`](ConsoleDriver::unbind): the device is gone.
//!
//! Interrupts: the receiveq is armed for the next used buffer, the
//! transmitq for the last one in flight (EVENT_IDX `used_event`); if the
//! device got there first the driver harvests again.
//!
//! Choices:
//! - not bound, or failed: the client's output stays in its queue (its
//!   head does not move); input already received still drains to it;
//! - a used-ring violation or a refused kick fails the device (reset);
//!   a new binding starts afresh and reposts the output it held;
//! - a client queue with impossible indices: the driver stops serving
//!   that client (and says why in [`last_error`](ConsoleDriver::last_error)).

use crate::rx::Rx;
use crate::tx::{Tx, TxError};
use crate::{BUFFER_SIZE, QUEUE_SIZE, RECEIVEQ, RX_BUFFERS, TRANSMITQ, TX_BUFFERS};
use sevio_driver_core::transport::call_ok;
use sevio_driver_core::{
    Bringup, DeviceState, DmaCarver, DmaRegion, Driver, DriverError, DriverEvents, DriverQueue, DriverStatus,
    QueueParams, Transport,
};
use sevio_queue::{QueueError, SerialConsumer, SerialProducer};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::{DriverDoorbell, Request};
use sevio_virtio::features::general;
use sevio_virtio::{DeviceId, Features};

/// The features the driver accepts when offered (VERSION_1 is added for
/// modern devices by the bring-up).
pub fn wanted_features() -> Features {
    Features::EMPTY.with(general::EVENT_IDX)
}

/// One sDDF serial queue: its header page and its character region (the
/// capacity is the character region's size, a power of two).
#[derive(Copy, Clone, Debug)]
pub struct SerialRegions {
    /// The queue header (`tail`, `head`, `producer_signalled`).
    pub queue: SharedMemory,
    /// The characters.
    pub data: SharedMemory,
}

/// The memory the driver works with, from system.xml.
#[derive(Copy, Clone, Debug)]
pub struct ConsoleResources {
    /// The DMA region: RX and TX buffers, then the two virtqueues.
    pub dma: DmaRegion,
    /// The doorbell page shared with the transport.
    pub doorbell: SharedMemory,
    /// Input to the client (the driver produces).
    pub rx: SerialRegions,
    /// Output from the client (the driver consumes).
    pub tx: SerialRegions,
}

/// Why something failed (kept for the PD's log): the errors every
/// driver shares.
pub type ConsoleError = DriverError;

fn tx_error(e: TxError) -> ConsoleError {
    match e {
        TxError::Queue(e) => ConsoleError::Queue(e),
        TxError::Client(e) => ConsoleError::Client(e),
    }
}

/// Counters for the log and for tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of input handed to the client.
    pub rx_bytes: u64,
    /// Bytes of output the device consumed.
    pub tx_bytes: u64,
    /// Times input was held back because the client's queue was full.
    pub rx_pauses: u64,
}

struct Device {
    rx: DriverQueue<QUEUE_SIZE>,
    tx: DriverQueue<QUEUE_SIZE>,
    doorbell: DriverDoorbell,
}

struct Client {
    rx: SerialProducer,
    tx: SerialConsumer,
}

/// The virtio-console driver.
pub struct ConsoleDriver<T: Transport> {
    transport: T,
    res: ConsoleResources,
    /// Carves the queues, after the buffers.
    queue_memory: DmaCarver,
    client: Option<Client>,
    // No heap: the device (with its queues' private state) lives inline.
    state: DeviceState<Device>,
    rx: Rx,
    tx: Tx,
    stats: Stats,
    notify_client: bool,
    last_error: Option<ConsoleError>,
}

impl<T: Transport> ConsoleDriver<T> {
    /// A driver with no device yet: carves the RX and TX buffers from the
    /// DMA region and opens the client's queues. Fails if either is
    /// unusable.
    pub fn new(transport: T, res: ConsoleResources) -> Result<Self, ConsoleError> {
        let mut carver = res.dma.carver();
        let rx_bufs = carver.slots(RX_BUFFERS, BUFFER_SIZE, 64).map_err(ConsoleError::Dma)?;
        let tx_bufs = carver.slots(TX_BUFFERS, BUFFER_SIZE, 64).map_err(ConsoleError::Dma)?;
        let capacity = |r: &SerialRegions| u32::try_from(r.data.len()).unwrap_or(0);
        let client = Client {
            rx: SerialProducer::new(res.rx.queue, res.rx.data, capacity(&res.rx)).map_err(ConsoleError::Client)?,
            tx: SerialConsumer::new(res.tx.queue, res.tx.data, capacity(&res.tx)).map_err(ConsoleError::Client)?,
        };
        Ok(ConsoleDriver {
            transport,
            res,
            queue_memory: carver,
            client: Some(client),
            state: DeviceState::default(),
            rx: Rx::new(rx_bufs),
            tx: Tx::new(tx_bufs),
            stats: Stats::default(),
            notify_client: false,
            last_error: None,
        })
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether input is held back because the client's queue is full.
    pub fn rx_paused(&self) -> bool {
        self.rx.paused()
    }

    /// RX buffers the device holds.
    pub fn rx_posted(&self) -> usize {
        self.rx.posted()
    }

    /// TX buffers whose characters the device has not consumed yet.
    pub fn tx_outstanding(&self) -> usize {
        self.tx.outstanding()
    }

    /// Whether the driver still serves its client.
    pub fn serving_client(&self) -> bool {
        self.client.is_some()
    }

    /// The transport (tests reach the fake device through it).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Whether the client should be notified (clears the flag). The PD
    /// shell turns it into one deferred notify per event.
    pub fn take_client_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify_client)
    }

    fn bring_up(&mut self) -> Result<Device, ConsoleError> {
        let doorbell = DriverDoorbell::open(self.res.doorbell).map_err(ConsoleError::Doorbell)?;
        let mut carver = self.queue_memory.clone();
        let init = ConsoleError::Init;
        let mut c = Bringup::start(&mut self.transport, DeviceId::CONSOLE)
            .map_err(init)?
            .negotiate(wanted_features(), Features::EMPTY)
            .map_err(init)?;
        let params = QueueParams { max_size: QUEUE_SIZE as u16, min_size: 2, indirect_descs: 0 };
        let rx = c.queue::<QUEUE_SIZE>(RECEIVEQ, params, &mut carver).map_err(init)?;
        let tx = c.queue::<QUEUE_SIZE>(TRANSMITQ, params, &mut carver).map_err(init)?;
        c.driver_ok().map_err(init)?;
        Ok(Device { rx, tx, doorbell })
    }

    /// The device misbehaved or the transport refused: stop using the
    /// queues and reset the device.
    fn fail_device(&mut self, e: ConsoleError) {
        self.last_error = Some(e);
        self.rx.device_gone();
        self.tx.device_gone();
        let _ = self.transport.call(Request::Reset);
        self.state = DeviceState::Failed;
    }

    fn drop_client(&mut self, e: QueueError) {
        self.last_error = Some(ConsoleError::Client(e));
        self.client = None;
    }

    /// The transport notified us: the device interrupted.
    pub fn interrupt(&mut self) {
        self.retry_bind();
        if let Some(dev) = self.state.device() {
            // Used-buffer and config-change causes alike: the driver
            // reads no config, so it just looks at both queues.
            dev.doorbell.take_interrupts();
        }
        self.pump(true);
    }

    /// The client notified us: output to send, or room for input.
    pub fn client_notified(&mut self) {
        self.retry_bind();
        self.pump(true);
    }

    fn retry_bind(&mut self) {
        if self.state.retry_due() {
            let _ = self.bind();
        }
    }

    /// Harvest (if asked), drain input, post buffers, take output, kick,
    /// arm; repeat while the device got ahead of the arming.
    fn pump(&mut self, mut harvest: bool) {
        loop {
            if harvest {
                self.harvest();
            }
            self.settle_tx();
            self.drain_rx();
            let rx_added = self.post_rx();
            let tx_added = self.serve_tx();
            let Some(dev) = self.state.device() else { break };
            match kick_and_arm(&mut self.transport, dev, rx_added, tx_added) {
                Ok(false) => break,
                Ok(true) => harvest = true,
                Err(e) => self.fail_device(e),
            }
        }
    }

    fn harvest(&mut self) {
        let Some(dev) = self.state.device() else { return };
        let result = loop {
            match dev.rx.pop_used() {
                Ok(Some(used)) => self.rx.used(used),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let result = result.and_then(|()| {
            loop {
                match dev.tx.pop_used() {
                    Ok(Some(used)) => self.tx.used(used),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        });
        if let Err(e) = result {
            self.fail_device(ConsoleError::Queue(e));
        }
    }

    fn settle_tx(&mut self) {
        match self.tx.settle(self.client.as_mut().map(|c| &mut c.tx)) {
            Ok((bytes, notify)) => {
                self.stats.tx_bytes += u64::from(bytes);
                self.notify_client |= notify;
            }
            Err(e) => self.drop_client(e),
        }
    }

    fn drain_rx(&mut self) {
        let Some(client) = &mut self.client else { return };
        match self.rx.drain(&mut client.rx) {
            Ok(d) => {
                self.stats.rx_bytes += u64::from(d.bytes);
                self.stats.rx_pauses += u64::from(d.paused);
                // sDDF serial: the producer notifies after every batch.
                self.notify_client |= d.bytes > 0;
            }
            Err(e) => self.drop_client(e),
        }
    }

    fn post_rx(&mut self) -> bool {
        let Some(dev) = self.state.device() else { return false };
        match self.rx.post(&mut dev.rx) {
            Ok(added) => added,
            Err(e) => {
                self.fail_device(ConsoleError::Queue(e));
                false
            }
        }
    }

    fn serve_tx(&mut self) -> bool {
        let Some(dev) = self.state.device() else { return false };
        match self.tx.serve(&mut dev.tx, self.client.as_mut().map(|c| &mut c.tx)) {
            Ok(added) => added,
            Err(TxError::Client(e)) => {
                self.drop_client(e);
                true
            }
            Err(e @ TxError::Queue(_)) => {
                self.fail_device(tx_error(e));
                false
            }
        }
    }
}

impl<T: Transport> DriverEvents for ConsoleDriver<T> {
    fn interrupt(&mut self) {
        ConsoleDriver::interrupt(self)
    }

    fn client_notified(&mut self) {
        ConsoleDriver::client_notified(self)
    }

    fn take_client_notify(&mut self) -> bool {
        ConsoleDriver::take_client_notify(self)
    }
}

impl<T: Transport> Driver for ConsoleDriver<T> {
    type Error = ConsoleError;

    /// The bus bound a device to this driver: bring it up. Called again
    /// for a new binding (the old device is let go first).
    fn bind(&mut self) -> Result<(), ConsoleError> {
        if self.state.holds_device() {
            self.unbind();
        }
        let outcome = self.bring_up();
        let result = self.state.settle(outcome);
        match result {
            Ok(()) => self.pump(false),
            Err(e) if !self.state.retry_due() => self.last_error = Some(e),
            Err(_) => {}
        }
        result
    }

    /// The device is gone (unbound by the bus, or replaced).
    fn unbind(&mut self) {
        self.rx.device_gone();
        self.tx.device_gone();
        self.state.unbind();
    }

    /// Where the driver is.
    fn status(&self) -> DriverStatus {
        self.state.status()
    }

    /// The last error seen (for the log).
    fn last_error(&self) -> Option<ConsoleError> {
        self.last_error
    }
}

/// Kick the queues that got chains (if the device wants a kick), arm
/// both; `Ok(true)`: used buffers may be waiting that no interrupt will
/// announce (harvest again).
fn kick_and_arm<T: Transport>(
    t: &mut T,
    dev: &mut Device,
    rx_added: bool,
    tx_added: bool,
) -> Result<bool, ConsoleError> {
    for (queue, added) in [(&mut dev.rx, rx_added), (&mut dev.tx, tx_added)] {
        if added && queue.needs_kick().map_err(ConsoleError::Queue)? {
            call_ok(t, Request::QueueNotify { queue: queue.index() }).map_err(ConsoleError::Transport)?;
        }
    }
    let rx_again = dev.rx.arm(1).map_err(ConsoleError::Queue)?;
    let in_flight = dev.tx.in_flight();
    let tx_again = dev.tx.arm(in_flight).map_err(ConsoleError::Queue)?;
    Ok(rx_again || tx_again)
}
