//! [`ConsoleDriver`]: the virtio-console driver, a [`VirtioDriver`]. The
//! driver framework (`sevio_driver_core::Virtio`) registers it with the
//! bus, brings the device up, sets up the two queues, kicks and keeps
//! the device state; this is the device logic.
//!
//! One port, port 0, without VIRTIO_CONSOLE_F_MULTIPORT: receiveq 0 and
//! transmitq 1 (VIRTIO 1.2 §5.3.2). Features accepted: EVENT_IDX (and
//! VERSION_1, the framework's); no SIZE, MULTIPORT or EMERG_WRITE.
//!
//! Events:
//! - a device came up ([`after_bind`](VirtioDriver::after_bind)): post
//!   the free RX buffers (§5.3.5: "The receiveq for each port is
//!   populated with one or more receive buffers"), post TX buffers still
//!   pending from an earlier device, serve the client's output;
//! - [`interrupt`](VirtioDriver::interrupt) and
//!   [`client_notified`](VirtioDriver::client_notified) (a notification
//!   from the rx or the tx peer): harvest both queues, drain input to the
//!   rx peer, repost drained RX buffers, take the tx peer's output, arm
//!   the interrupts again (the framework kicks the queues whose device
//!   asks for it once the event is over);
//! - [`remove`](VirtioDriver::remove): the device is gone.
//!
//! Interrupts: the receiveq is armed for the next used buffer, the
//! transmitq for the last one in flight (EVENT_IDX `used_event`); if the
//! device got there first the driver harvests again.
//!
//! The client side is sDDF's (`serial_driver_config_t`, see
//! [`ConsoleConfig`]): an rx peer (optional) and a tx peer, each with its
//! queue and channel; sevio's own systems wire a client directly to both.
//!
//! Choices:
//! - not bound, or failed: the client's output stays in its queue (its
//!   head does not move); input already received still drains to it;
//! - a used-ring violation fails the device (reset); a new binding starts
//!   afresh and reposts the output it held;
//! - a client queue with impossible indices: the driver stops serving
//!   both peers (and says why in
//!   [`client_error`](ConsoleDriver::client_error) and, once, in the
//!   log); the device is kept.

use crate::rx::Rx;
use crate::tx::{Tx, TxError};
use crate::{BUFFER_SIZE, QUEUE_SIZE, RECEIVEQ, RX_BUFFERS, TRANSMITQ, TX_BUFFERS};
use sevio_driver_core::{
    Ctx, DmaCarver, DriverError, DriverPdConfig, DriverQueue, QueueParams, QueueSpec, RegionSetvars, SystemMaps,
    Unusable, VirtioDriver, client_channels,
};
use sevio_queue::{QueueError, SerialConsumer, SerialProducer};
use sevio_runtime::{Channel, ChannelSet};
use sevio_sddf::{SerialConnection, SerialDriverConfig};
use sevio_sharedmem::SharedMemory;
use sevio_virtio::features::general;
use sevio_virtio::{DeviceId, Features};

/// Why the device failed (kept for the PD's log): the errors every
/// driver shares.
pub type ConsoleError = DriverError;

/// One sDDF serial connection: its queue header, its character region
/// (whose size is the queue's capacity, a power of two) and the channel
/// to the peer at its other end.
#[derive(Copy, Clone, Debug)]
pub struct SerialLink {
    /// The queue header (`tail`, `head`, `producer_signalled`).
    pub queue: RegionSetvars,
    /// The characters.
    pub data: RegionSetvars,
    /// The peer: sDDF's rx or tx virtualiser, or a client wired directly.
    pub channel: Channel,
}

/// The driver's client side, as sDDF's `serial_driver_config_t` has it:
/// input to the rx peer (when wired), output from the tx peer.
#[derive(Copy, Clone, Debug)]
pub struct ConsoleConfig {
    /// Input (the driver produces); `None`: input is not wired
    /// (`rx_enabled` false), the device gets no receive buffers.
    pub rx: Option<SerialLink>,
    /// Output (the driver consumes).
    pub tx: SerialLink,
}

impl ConsoleConfig {
    /// The client side an sDDF config describes (region names in the log
    /// are its fields: `rx.queue`, `tx.data`, ...); its channel ids are
    /// checked against the PD's own (`pd`).
    pub fn from_sddf(config: &SerialDriverConfig, pd: &DriverPdConfig) -> Result<ConsoleConfig, Unusable> {
        let region = |region, r: sevio_sddf::Region| RegionSetvars { region, vaddr: r.vaddr, size: r.size };
        let link = |c: &SerialConnection, [queue, data]: [&'static str; 2], channel| SerialLink {
            queue: region(queue, c.queue),
            data: region(data, c.data),
            channel,
        };
        Ok(match &config.rx {
            Some(rx) => {
                let [rx_ch, tx_ch] = client_channels(pd, [("rx.id", rx.id), ("tx.id", config.tx.id)])?;
                ConsoleConfig {
                    rx: Some(link(rx, ["rx.queue", "rx.data"], rx_ch)),
                    tx: link(&config.tx, ["tx.queue", "tx.data"], tx_ch),
                }
            }
            None => {
                let [tx_ch] = client_channels(pd, [("tx.id", config.tx.id)])?;
                ConsoleConfig { rx: None, tx: link(&config.tx, ["tx.queue", "tx.data"], tx_ch) }
            }
        })
    }

    fn channels(&self) -> ChannelSet {
        let rx = self.rx.map_or(0, |l| 1 << l.channel.index());
        ChannelSet::from_badge(rx | 1 << self.tx.channel.index())
    }
}

/// Counters for tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of input handed to the client.
    pub rx_bytes: u64,
    /// Bytes of output the device consumed.
    pub tx_bytes: u64,
    /// Times input was held back because the client's queue was full.
    pub rx_pauses: u64,
}

struct Client {
    /// `None` when input is not wired.
    rx: Option<SerialProducer>,
    tx: SerialConsumer,
}

/// The virtio-console driver.
pub struct ConsoleDriver {
    /// `None` once the client wrote impossible indices.
    client: Option<Client>,
    client_error: Option<QueueError>,
    client_error_logged: bool,
    config: ConsoleConfig,
    rx: Rx,
    tx: Tx,
    stats: Stats,
}

type Queues = (DriverQueue<QUEUE_SIZE>, DriverQueue<QUEUE_SIZE>);
type ConsoleCtx<'a> = Ctx<'a, ConsoleDriver>;

const fn port0_queue(index: u16) -> QueueSpec {
    QueueSpec { index, params: QueueParams { max_size: QUEUE_SIZE as u16, min_size: 2, indirect_descs: 0 } }
}

/// Open one of the client's serial queues over the regions `vars` names;
/// a region that cannot hold the queue is unusable.
fn serial<Q>(
    vars: SerialLink,
    maps: &SystemMaps,
    open: impl FnOnce(SharedMemory, SharedMemory, u32) -> Result<Q, QueueError>,
) -> Result<Q, Unusable> {
    let (queue, data) = (maps.region(vars.queue)?, maps.region(vars.data)?);
    // A capacity past u32 is refused as BadCapacity by the queue.
    let capacity = u32::try_from(data.len()).unwrap_or(0);
    open(queue, data, capacity).map_err(|e| match e {
        QueueError::BadCapacity { .. } => Unusable::Layout(vars.data.region),
        _ => Unusable::Layout(vars.queue.region),
    })
}

impl VirtioDriver for ConsoleDriver {
    const DEVICE: DeviceId = DeviceId::CONSOLE;
    type Queues = Queues;
    const QUEUES: [QueueSpec; 2] = [port0_queue(RECEIVEQ), port0_queue(TRANSMITQ)];
    type Error = ConsoleError;
    type Setvars = ConsoleConfig;

    /// The RX then the TX buffers come first in the DMA region. Queue
    /// capacities are the character regions' sizes, from the
    /// configuration, never from shared memory.
    fn new(config: ConsoleConfig, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let rx_bufs = dma.slots(RX_BUFFERS, BUFFER_SIZE, 64).map_err(Unusable::DmaRoom)?;
        let tx_bufs = dma.slots(TX_BUFFERS, BUFFER_SIZE, 64).map_err(Unusable::DmaRoom)?;
        let rx = match config.rx {
            Some(link) => Some(serial(link, maps, SerialProducer::new)?),
            None => None,
        };
        let client = Client { rx, tx: serial(config.tx, maps, SerialConsumer::new)? };
        Ok(ConsoleDriver {
            client: Some(client),
            client_error: None,
            client_error_logged: false,
            config,
            rx: Rx::new(rx_bufs),
            tx: Tx::new(tx_bufs),
            stats: Stats::default(),
        })
    }

    /// EVENT_IDX when offered; nothing required (MULTIPORT, SIZE and
    /// EMERG_WRITE are left out: port 0 only).
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(general::EVENT_IDX), Features::EMPTY)
    }

    /// What the device held is ours again: posted RX buffers are free,
    /// TX buffers in flight are pending (sent first to the next device).
    fn remove(&mut self) {
        self.rx.device_gone();
        self.tx.device_gone();
    }

    /// The driver reads no config, so every cause means "look at both
    /// queues".
    fn interrupt(&mut self, ctx: &mut ConsoleCtx<'_>, _causes: u32) {
        self.pump(ctx, true);
    }

    /// Output to send, or room for input.
    fn client_notified(&mut self, ctx: &mut ConsoleCtx<'_>) {
        self.pump(ctx, true);
    }

    /// A new device has nothing used yet: post and serve.
    fn after_bind(&mut self, ctx: &mut ConsoleCtx<'_>) {
        self.pump(ctx, false);
    }

    /// Why the peers are no longer served, once.
    fn report(&mut self, name: &str) {
        if let (Some(e), false) = (self.client_error, self.client_error_logged) {
            self.client_error_logged = true;
            sevio_runtime::debug_println!("{}: serial queues unusable, peers no longer served: {:?}", name, e);
        }
    }

    /// The rx peer (if input is wired) and the tx peer.
    fn client_channels(&self) -> ChannelSet {
        self.config.channels()
    }
}

impl ConsoleDriver {
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

    /// Why the driver stopped serving its client, if it did.
    pub fn client_error(&self) -> Option<QueueError> {
        self.client_error
    }

    fn drop_client(&mut self, e: QueueError) {
        self.client_error = Some(e);
        self.client = None;
    }

    /// Harvest (if asked), drain input, post buffers, take output, arm;
    /// repeat while the device got ahead of the arming. The framework
    /// kicks.
    fn pump(&mut self, ctx: &mut ConsoleCtx<'_>, mut harvest: bool) {
        loop {
            if harvest {
                self.harvest(ctx);
            }
            self.settle_tx(ctx);
            self.drain_rx(ctx);
            self.post_rx(ctx);
            self.serve_tx(ctx);
            let Some(device) = ctx.device() else { break };
            match arm(&mut device.queues) {
                Ok(false) => break,
                Ok(true) => harvest = true,
                Err(e) => ctx.fail(ConsoleError::Queue(e)),
            }
        }
    }

    fn harvest(&mut self, ctx: &mut ConsoleCtx<'_>) {
        let Some(device) = ctx.device() else { return };
        let (rxq, txq) = &mut device.queues;
        let result = loop {
            match rxq.pop_used() {
                Ok(Some(used)) => self.rx.used(used),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let result = result.and_then(|()| {
            loop {
                match txq.pop_used() {
                    Ok(Some(used)) => self.tx.used(used),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        });
        if let Err(e) = result {
            ctx.fail(ConsoleError::Queue(e));
        }
    }

    fn settle_tx(&mut self, ctx: &mut ConsoleCtx<'_>) {
        match self.tx.settle(self.client.as_mut().map(|c| &mut c.tx)) {
            Ok((bytes, notify)) => {
                self.stats.tx_bytes += u64::from(bytes);
                // sDDF serial: the consumer tells the producer that asked
                // (`producer_signalled` clear) once it has consumed.
                if notify {
                    ctx.notify(self.config.tx.channel);
                }
            }
            Err(e) => self.drop_client(e),
        }
    }

    fn drain_rx(&mut self, ctx: &mut ConsoleCtx<'_>) {
        let (Some(Client { rx: Some(queue), .. }), Some(link)) = (&mut self.client, self.config.rx) else { return };
        match self.rx.drain(queue) {
            Ok(d) => {
                self.stats.rx_bytes += u64::from(d.bytes);
                self.stats.rx_pauses += u64::from(d.paused);
                // sDDF serial: the producer notifies after every batch.
                if d.bytes > 0 {
                    ctx.notify(link.channel);
                }
            }
            Err(e) => self.drop_client(e),
        }
    }

    /// Input is taken from the device only when it is wired (as sDDF's
    /// driver does without `rx_enabled`): otherwise the device keeps it.
    fn post_rx(&mut self, ctx: &mut ConsoleCtx<'_>) {
        if self.config.rx.is_none() {
            return;
        }
        let Some(device) = ctx.device() else { return };
        if let Err(e) = self.rx.post(&mut device.queues.0) {
            ctx.fail(ConsoleError::Queue(e));
        }
    }

    fn serve_tx(&mut self, ctx: &mut ConsoleCtx<'_>) {
        let Some(device) = ctx.device() else { return };
        match self.tx.serve(&mut device.queues.1, self.client.as_mut().map(|c| &mut c.tx)) {
            Ok(()) => {}
            Err(TxError::Client(e)) => self.drop_client(e),
            Err(TxError::Queue(e)) => ctx.fail(ConsoleError::Queue(e)),
        }
    }
}

/// Arm both queues: the receiveq for the next used buffer, the transmitq
/// for the last chain in flight. `Ok(true)`: used buffers may be waiting
/// that no interrupt will announce (harvest again).
fn arm((rxq, txq): &mut Queues) -> Result<bool, sevio_virtio::Error> {
    let rx_again = rxq.arm(1)?;
    let in_flight = txq.in_flight();
    let tx_again = txq.arm(in_flight)?;
    Ok(rx_again || tx_again)
}
