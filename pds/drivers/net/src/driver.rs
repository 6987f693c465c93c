//! The driver proper: client queues on one side, the device's receive and
//! transmit virtqueues on the other.
//!
//! sDDF's net driver side: two connections, each with its own peer and
//! channel ([`crate::wiring`]), buffers named by I/O address:
//! - **rx free** (rx peer → driver): empty 2048-byte buffers; each is
//!   checked, then posted to the receive queue as `header slot (device-
//!   writable) | buffer (device-writable)`;
//! - **rx active** (driver → rx peer): filled buffers, `len` = frame
//!   bytes (the used length minus the header);
//! - **tx active** (tx peer → driver): frames to send; each is checked,
//!   then posted as `zero header (device-readable) | frame (device-
//!   readable)`;
//! - **tx free** (driver → tx peer): frames the device is done with; a
//!   refused frame comes back at once with `len` 0.
//!
//! Nothing a peer writes reaches the device unchecked (see
//! [`crate::buffers`]); nothing the device writes is believed unchecked
//! (the split queue checks used ids and lengths; a used length shorter
//! than the header is a bad completion and the buffer is posted again).
//!
//! Notification suppression, both ways:
//! - device → driver: with EVENT_IDX, one interrupt at the next received
//!   frame and one when every frame in flight has been sent
//!   ([`DriverQueue::arm`]); kicks only when the device asks for them
//!   (`avail_event` / NO_NOTIFY).
//! - driver ↔ peers: the `consumer_signalled` protocol, as sDDF's
//!   virtio-net driver follows it: after returning buffers on rx active
//!   (tx free) the driver notifies the rx (tx) peer only if it cleared
//!   the flag, and sets it. It asks for notifications on rx free / tx
//!   active only while it has room in the matching virtqueue (sDDF's
//!   driver leaves the request standing when full; either way the peer's
//!   next buffers are taken when the device returns some, since a full
//!   virtqueue means an interrupt will come).
//!
//! Every event runs the whole pump until nothing is left to do; the
//! framework then kicks the queues the device asked about.
//!
//! The device going away (unbound, failed) takes nothing from the
//! client: rx buffers are kept and posted to the next device, tx frames
//! go back on tx free with `len` 0 (sent or not: the device never said).

use crate::buffers::{IndexPool, Stash, rx_buffer_addr, tx_frame_addr};
use crate::device::{self, CONFIG_BYTES, HDR_STRIDE, MacDisplay, NetFacts, VQ_SIZE};
use crate::wiring::NetConfig;
use sevio_driver_core::{
    Ctx, DataRegions, Device, DmaCarver, DmaError, DmaSlice, DmaSlots, DriverError, DriverQueue, DriverStatus, Probe,
    QueueSpec, RegionSetvars, SystemMaps, Unusable, VirtioDriver,
};
use sevio_queue::net::NET_BUFFER_SIZE;
use sevio_queue::{NetBuffer, NetConsumer, NetProducer, QueueError};
use sevio_runtime::{Channel, ChannelSet, debug_println};
use sevio_transport_protocol::doorbell::INT_CONFIG_CHANGE;
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features};

/// What stopped the driver (the errors every sevio driver shares):
/// - [`DriverError::Init`]: bring-up failed (the device is reset);
/// - [`DriverError::Queue`]: the device broke a virtqueue rule; it is
///   reset and its buffers taken back;
/// - [`DriverError::Client`]: the client wrote an impossible queue
///   index; the driver stops serving it (the device stays up).
pub type NetError = DriverError;

/// Counters, for tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames delivered to the client.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames handed to the device.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// rx free buffers refused (not inside one data region): dropped,
    /// never posted.
    pub rx_bad_buffers: u64,
    /// tx frames refused (bad length, or not inside one data region):
    /// returned with len 0, never sent.
    pub tx_bad_frames: u64,
    /// Receive completions shorter than a header plus one byte: the
    /// buffer was posted again.
    pub rx_errors: u64,
    /// Frames dropped because rx active was full: the buffer was posted
    /// again.
    pub rx_overruns: u64,
    /// Buffers the driver could not give back (a full tx free queue or a
    /// full stash: only a client with more buffers than its queues hold).
    pub lost_buffers: u64,
    /// Interrupts taken.
    pub interrupts: u64,
    /// Notifications to the peers (rx and tx counted alike).
    pub client_notifications: u64,
}

/// The driver's ends of the four queues.
struct ClientQueues {
    rx_free: NetConsumer,
    rx_active: NetProducer,
    tx_free: NetProducer,
    tx_active: NetConsumer,
}

/// What the driver keeps about the device it probed.
struct Held {
    /// rx chain (by token) → the client buffer and its header slot.
    rx_slots: [Option<(NetBuffer, u16)>; VQ_SIZE],
    /// tx chain (by token) → the client frame.
    tx_slots: [Option<NetBuffer>; VQ_SIZE],
    /// Free rx header slots.
    headers: IndexPool<VQ_SIZE>,
    /// Header bytes in front of every frame.
    hdr_len: u32,
    /// Config space, as last read.
    facts: NetFacts,
    /// The bind message is still to be printed.
    announce: bool,
}

/// The virtio-net driver.
pub struct NetDriver {
    queues: ClientQueues,
    /// Where buffers may lie.
    data: DataRegions,
    /// The rx peer (told of frames on rx active).
    rx_peer: Channel,
    /// The tx peer (told of buffers on tx free).
    tx_peer: Channel,
    /// One header slot per rx chain ([`HDR_STRIDE`] apart).
    rx_headers: DmaSlots,
    /// The one transmit header, all zeros (no offloads), read by the
    /// device for every frame.
    tx_header: DmaSlice,
    held: Option<Held>,
    stash: Stash<VQ_SIZE>,
    /// Frames were put on rx active / tx free since the client was last
    /// asked about a signal.
    rx_delivered: bool,
    tx_returned: bool,
    client_failed: Option<QueueError>,
    stats: Stats,
}

type NetCtx<'a> = Ctx<'a, NetDriver>;

impl VirtioDriver for NetDriver {
    const DEVICE: DeviceId = DeviceId::NET;
    type Queues = (DriverQueue<VQ_SIZE>, DriverQueue<VQ_SIZE>);
    const QUEUES: [QueueSpec; 2] = device::QUEUES;
    type Error = NetError;
    type Setvars = NetConfig;

    /// The queues with the capacities configured; the rx header slots and
    /// the tx header come first in the DMA region.
    fn new(config: NetConfig, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        // A capacity the queue refuses (not a power of two, or more than
        // the region holds) makes the region unusable for its layout.
        let consumer = |r: RegionSetvars, capacity| -> Result<NetConsumer, Unusable> {
            NetConsumer::new(maps.region(r)?, capacity).map_err(|_| Unusable::Layout(r.region))
        };
        let producer = |r: RegionSetvars, capacity| -> Result<NetProducer, Unusable> {
            NetProducer::new(maps.region(r)?, capacity).map_err(|_| Unusable::Layout(r.region))
        };
        let (rx, tx) = (config.rx, config.tx);
        let queues = ClientQueues {
            rx_free: consumer(rx.free, rx.capacity)?,
            rx_active: producer(rx.active, rx.capacity)?,
            tx_free: producer(tx.free, tx.capacity)?,
            tx_active: consumer(tx.active, tx.capacity)?,
        };
        let rx_headers = dma.slots(VQ_SIZE, HDR_STRIDE, HDR_STRIDE).map_err(Unusable::DmaRoom)?;
        let tx_header = dma.take(HDR_STRIDE, HDR_STRIDE).map_err(Unusable::DmaRoom)?;
        // The device reads the tx header for every frame: no offloads, no GSO.
        tx_header.mem.fill(0, HDR_STRIDE, 0).map_err(|_| Unusable::DmaRoom(DmaError::BadRequest))?;
        Ok(NetDriver {
            queues,
            data: config.data,
            rx_peer: rx.channel,
            tx_peer: tx.channel,
            rx_headers,
            tx_header,
            held: None,
            stash: Stash::default(),
            rx_delivered: false,
            tx_returned: false,
            client_failed: None,
            stats: Stats::default(),
        })
    }

    /// MAC, STATUS, EVENT_IDX, INDIRECT_DESC when offered; nothing
    /// required.
    fn features(&self) -> (Features, Features) {
        (device::wanted(), Features::EMPTY)
    }

    /// Read MAC and link; the header length follows the features.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), NetError> {
        let features = device.features();
        let mut bytes = [0u8; CONFIG_BYTES];
        device.read_config(0, &mut bytes)?;
        self.held = Some(Held {
            rx_slots: [None; VQ_SIZE],
            tx_slots: [None; VQ_SIZE],
            headers: IndexPool::new(VQ_SIZE),
            hdr_len: device::header_len(features),
            facts: NetFacts::parse(&bytes, features),
            announce: true,
        });
        Ok(())
    }

    /// Take back every client buffer the device held (the device is
    /// already reset, so it no longer touches them): rx buffers are kept
    /// for the next device, tx frames go back with len 0; the client
    /// hears of them at the next event.
    fn remove(&mut self) {
        let Some(held) = self.held.take() else { return };
        for (buf, _) in held.rx_slots.iter().flatten() {
            keep(&mut self.stash, &mut self.stats, *buf);
        }
        for buf in held.tx_slots.iter().flatten() {
            match self.queues.tx_free.stage(NetBuffer { len: 0, ..*buf }) {
                Ok(()) => self.tx_returned = true,
                Err(_) => self.stats.lost_buffers += 1,
            }
        }
    }

    /// Config changes re-read the link; then the queues are serviced.
    /// No causes (spurious, or no device): nothing.
    fn interrupt(&mut self, ctx: &mut NetCtx<'_>, causes: u32) {
        if causes == 0 {
            return;
        }
        self.stats.interrupts += 1;
        if causes & INT_CONFIG_CHANGE != 0 {
            self.reread_config(ctx);
        }
        self.serve(ctx);
    }

    /// Buffers or frames may be waiting.
    fn client_notified(&mut self, ctx: &mut NetCtx<'_>) {
        self.serve(ctx);
    }

    /// A new device says what it is, then gets the rx buffers and the
    /// frames that waited; with the device gone, the client hears of the
    /// frames given back.
    fn after_bind(&mut self, ctx: &mut NetCtx<'_>) {
        if let (Some(held), Some(device)) = (self.held.as_mut(), ctx.device())
            && core::mem::take(&mut held.announce)
        {
            announce(&held.facts, held.hdr_len, device);
        }
        self.serve(ctx);
    }

    /// A client that broke its queues is not served, device or not.
    fn status(&self, device: DriverStatus) -> DriverStatus {
        if self.client_failed.is_some() { DriverStatus::Failed } else { device }
    }

    /// The rx and the tx peer: a notification on either serves both
    /// connections (sDDF's driver splits them; the pump looks at all four
    /// queues anyway).
    fn client_channels(&self) -> ChannelSet {
        ChannelSet::from_badge(1 << self.rx_peer.index() | 1 << self.tx_peer.index())
    }
}

/// The bind message: MAC, then the device in one line.
fn announce(facts: &NetFacts, hdr_len: u32, device: &mut Device<(DriverQueue<VQ_SIZE>, DriverQueue<VQ_SIZE>)>) {
    let negotiated = device.negotiated();
    let kind = if negotiated.legacy() { "legacy" } else { "modern" };
    let on = |b| if negotiated.features.has(b) { "on" } else { "off" };
    match facts.mac {
        Some(mac) => debug_println!("mac {}", MacDisplay(mac)),
        None => debug_println!("no mac in config space"),
    }
    debug_println!(
        "{kind} device, link {}, {}-byte header, rx queue {}, tx queue {}, event_idx {}, indirect {}",
        facts.link.name(),
        hdr_len,
        device.queues.0.size(),
        device.queues.1.size(),
        on(general::EVENT_IDX),
        on(general::INDIRECT_DESC),
    );
}

impl NetDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// What config space said when last read (`None` without a device).
    pub fn facts(&self) -> Option<NetFacts> {
        self.held.as_ref().map(|h| h.facts)
    }

    /// rx buffers held for posting (taken back from a device).
    pub fn stashed(&self) -> usize {
        self.stash.len()
    }

    /// Re-read the config fields; log the link if it changed.
    fn reread_config(&mut self, ctx: &mut NetCtx<'_>) {
        let Some(features) = ctx.device().map(|d| d.negotiated().features) else { return };
        let Some(facts) = device::read_facts(ctx.transport(), features) else { return };
        let Some(held) = &mut self.held else { return };
        if facts != held.facts {
            held.facts = facts;
            debug_println!("link {}", facts.link.name());
        }
    }

    /// Move everything that can move, until nothing can: completions to
    /// the client, client buffers to the device. A device that breaks a
    /// rule is failed (reset) and its buffers taken back at once; a
    /// client that breaks its queue is no longer served.
    fn serve(&mut self, ctx: &mut NetCtx<'_>) {
        if self.client_failed.is_some() {
            return;
        }
        let outcome = match self.pump_all(ctx) {
            Err(DriverError::Client(e)) => Err(e),
            Err(device_fault) => {
                ctx.fail(device_fault);
                self.remove();
                self.signal_client(ctx)
            }
            Ok(()) => Ok(()),
        };
        if let Err(e) = outcome {
            self.client_failed = Some(e);
            ctx.record_error(DriverError::Client(e));
        }
    }

    fn pump_all(&mut self, ctx: &mut NetCtx<'_>) -> Result<(), NetError> {
        loop {
            let again = self.pump(ctx)?;
            self.signal_client(ctx).map_err(DriverError::Client)?;
            if !again {
                return Ok(());
            }
        }
    }

    /// Tell the rx peer about frames on rx active and the tx peer about
    /// buffers on tx free, each if it asked (sDDF's `rx_return` /
    /// `tx_return`: `net_require_signal_*`, then `net_cancel_signal_*`
    /// and a notify on that connection's own channel).
    fn signal_client(&mut self, ctx: &mut NetCtx<'_>) -> Result<(), QueueError> {
        if core::mem::take(&mut self.rx_delivered) && self.queues.rx_active.require_signal()? {
            ctx.notify(self.rx_peer);
            self.stats.client_notifications += 1;
        }
        if core::mem::take(&mut self.tx_returned) && self.queues.tx_free.require_signal()? {
            ctx.notify(self.tx_peer);
            self.stats.client_notifications += 1;
        }
        Ok(())
    }

    /// One round of the pump; true if another round may find work.
    fn pump(&mut self, ctx: &mut NetCtx<'_>) -> Result<bool, NetError> {
        let (Some(device), Some(held)) = (ctx.device(), self.held.as_mut()) else { return Ok(false) };
        let (rx, tx) = &mut device.queues;
        let q = &mut self.queues;
        let stats = &mut self.stats;
        let stash = &mut self.stash;
        let hdr_len = held.hdr_len;
        let client = DriverError::Client;
        let device = DriverError::Queue;

        // 1. Received frames to the client.
        while let Some(used) = rx.pop_used().map_err(device)? {
            // Every token the split queue hands back is a chain in flight,
            // and every chain in flight has its slot.
            let Some((buf, hdr)) = held.rx_slots.get_mut(used.token.index() as usize).and_then(Option::take) else {
                continue;
            };
            held.headers.put(hdr);
            // The used length counts the header; the split queue already
            // checked it against the chain's writable bytes, so the frame
            // is at most NET_BUFFER_SIZE.
            let frame = used.len.checked_sub(hdr_len).filter(|n| *n > 0 && *n as usize <= NET_BUFFER_SIZE);
            let Some(frame) = frame else {
                stats.rx_errors += 1;
                keep(stash, stats, buf);
                continue;
            };
            match q.rx_active.stage(NetBuffer { len: frame as u16, ..buf }) {
                Ok(()) => {
                    self.rx_delivered = true;
                    stats.rx_frames += 1;
                    stats.rx_bytes += u64::from(frame);
                }
                Err(QueueError::Full) => {
                    stats.rx_overruns += 1;
                    keep(stash, stats, buf);
                }
                Err(e) => return Err(client(e)),
            }
        }

        // 2. Empty buffers to the device: stashed ones first.
        while rx.can_add(2) {
            let buf = match stash.pop() {
                Some(b) => b,
                None => match q.rx_free.take().map_err(client)? {
                    Some(b) => b,
                    None => break,
                },
            };
            let Ok(addr) = rx_buffer_addr(&buf, &self.data) else {
                stats.rx_bad_buffers += 1;
                continue;
            };
            // As many header slots as the queue is long: one is free
            // whenever the queue has room; keep the buffer if not.
            let Some((hdr, slot)) = held.headers.take().and_then(|h| Some((h, self.rx_headers.get(usize::from(h))?)))
            else {
                keep(stash, stats, buf);
                break;
            };
            let chain = [Buffer::writable(slot.paddr, hdr_len), Buffer::writable(addr, NET_BUFFER_SIZE as u32)];
            let token = rx.add(&chain).inspect_err(|_| keep(stash, stats, buf)).map_err(device)?;
            if let Some(s) = held.rx_slots.get_mut(token.index() as usize) {
                *s = Some((buf, hdr));
            }
        }

        // 3. Sent frames back to the client.
        while let Some(used) = tx.pop_used().map_err(device)? {
            let Some(buf) = held.tx_slots.get_mut(used.token.index() as usize).and_then(Option::take) else {
                continue;
            };
            give_back(&mut q.tx_free, stats, buf, &mut self.tx_returned)?;
        }

        // 4. Frames to the device.
        while tx.can_add(2) {
            let Some(buf) = q.tx_active.take().map_err(client)? else { break };
            let Ok(addr) = tx_frame_addr(&buf, &self.data) else {
                stats.tx_bad_frames += 1;
                give_back(&mut q.tx_free, stats, NetBuffer { len: 0, ..buf }, &mut self.tx_returned)?;
                continue;
            };
            let header = Buffer::readable(self.tx_header.paddr, hdr_len);
            let token = match tx.add(&[header, Buffer::readable(addr, u32::from(buf.len))]) {
                Ok(token) => token,
                Err(e) => {
                    // Refused (the device is failed for it): not sent.
                    give_back(&mut q.tx_free, stats, NetBuffer { len: 0, ..buf }, &mut self.tx_returned)?;
                    return Err(device(e));
                }
            };
            if let Some(s) = held.tx_slots.get_mut(token.index() as usize) {
                *s = Some(buf);
            }
            stats.tx_frames += 1;
            stats.tx_bytes += u64::from(buf.len);
        }

        // 5. Ask for the next events: an interrupt at the next received
        //    frame; one when all sent frames are done only if the client
        //    may need them back (below); client signals only where there
        //    is room to act on them. Any "true" means work may have
        //    slipped in meanwhile: go round again.
        let mut again = rx.arm(1).map_err(device)?;
        let in_flight = tx.in_flight();
        let want_tx_interrupt = tx_interrupt_wanted(in_flight, q.tx_free.capacity(), tx.can_add(2));
        again |= tx.arm(if want_tx_interrupt { in_flight } else { 0 }).map_err(device)?;
        if rx.can_add(2) {
            again |= q.rx_free.request_signal().map_err(client)?;
        } else {
            q.rx_free.publish().map_err(client)?;
            q.rx_free.cancel_signal().map_err(client)?;
        }
        if tx.can_add(2) {
            again |= q.tx_active.request_signal().map_err(client)?;
        } else {
            q.tx_active.publish().map_err(client)?;
            q.tx_active.cancel_signal().map_err(client)?;
        }
        Ok(again)
    }
}

/// Whether sent frames need an interrupt of their own. A frame the device
/// has sent comes back to the client at the driver's next event anyway (a
/// received frame, the client's next frames); an interrupt just for it is
/// worth its cost only when the client may be waiting for it: when at
/// least half of its transmit buffers (the capacity of tx free, one slot
/// per buffer) are in flight, or when the virtqueue is full and frames
/// wait in tx active. Otherwise the client still holds half its buffers,
/// and sending any of them brings the rest back. (Linux's virtio-net
/// frees sent buffers on the next transmit the same way when it runs
/// without transmit interrupts.)
fn tx_interrupt_wanted(in_flight: u16, client_buffers: u32, room: bool) -> bool {
    in_flight > 0 && (u32::from(in_flight) * 2 >= client_buffers || !room)
}

/// Keep an rx buffer for posting again (counted as lost if there is no
/// room, which needs more buffers than the queues hold).
fn keep(stash: &mut Stash<VQ_SIZE>, stats: &mut Stats, buf: NetBuffer) {
    if !stash.push(buf) {
        stats.lost_buffers += 1;
    }
}

/// Stage a tx buffer on tx free.
fn give_back(
    tx_free: &mut NetProducer,
    stats: &mut Stats,
    buf: NetBuffer,
    returned: &mut bool,
) -> Result<(), NetError> {
    match tx_free.stage(buf) {
        Ok(()) => {
            *returned = true;
            Ok(())
        }
        Err(QueueError::Full) => {
            stats.lost_buffers += 1;
            Ok(())
        }
        Err(e) => Err(DriverError::Client(e)),
    }
}
