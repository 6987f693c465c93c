//! The driver proper: client queues on one side, the device's receive and
//! transmit virtqueues on the other.
//!
//! The client's four sDDF queues (as sDDF's net driver interface):
//! - **rx free** (client → driver): empty 2048-byte buffers; each is
//!   checked, then posted to the receive queue as `header slot (device-
//!   writable) | client buffer (device-writable)`;
//! - **rx active** (driver → client): filled buffers, `len` = frame bytes
//!   (the used length minus the header);
//! - **tx active** (client → driver): frames to send; each is checked,
//!   then posted as `zero header (device-readable) | frame (device-
//!   readable)`;
//! - **tx free** (driver → client): frames the device is done with; a
//!   refused frame comes back at once with `len` 0.
//!
//! Nothing the client writes reaches the device unchecked (see
//! [`crate::buffers`]); nothing the device writes is believed unchecked
//! (the split queue checks used ids and lengths; a used length shorter
//! than the header is a bad completion and the buffer is posted again).
//!
//! Notification suppression, both ways:
//! - device → driver: with EVENT_IDX, one interrupt at the next received
//!   frame and one when every frame in flight has been sent
//!   ([`DriverQueue::arm`]); kicks only when the device asks for them
//!   (`avail_event` / NO_NOTIFY).
//! - driver ↔ client: the `consumer_signalled` protocol. The driver
//!   notifies the client only if it asked (cleared the flag) and asks for
//!   notifications on rx free / tx active only while it has room in the
//!   matching virtqueue; a full virtqueue means an interrupt will come.
//!
//! [`NetDriver::service`] runs the whole pump until nothing is left to
//! do and returns what the PD must signal ([`Actions`]).

use crate::buffers::{ClientRegion, IndexPool, Stash, rx_buffer_addr, tx_frame_addr};
use crate::device::{self, Link, Live, NetFacts, RX_QUEUE, TX_QUEUE, VQ_SIZE};
use sevio_driver_core::{DmaRegion, DriverError, DriverStatus, Transport};
use sevio_queue::net::NET_BUFFER_SIZE;
use sevio_queue::{NetBuffer, NetConsumer, NetProducer, QueueError};
use sevio_transport_protocol::doorbell::INT_CONFIG_CHANGE;
use sevio_transport_protocol::{DriverDoorbell, Request};
use sevio_virtio::{Buffer, Features};

/// The client's four queues.
pub struct ClientQueues {
    /// Empty buffers from the client.
    pub rx_free: NetConsumer,
    /// Received frames to the client.
    pub rx_active: NetProducer,
    /// Sent frames back to the client.
    pub tx_free: NetProducer,
    /// Frames to send from the client.
    pub tx_active: NetConsumer,
}

/// The client's data regions (rx buffers, tx frames).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientRegions {
    /// Where rx buffers live.
    pub rx: ClientRegion,
    /// Where tx frames live.
    pub tx: ClientRegion,
}

/// What the PD must do after a call into the driver.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// Queues to kick (bit q = queue q): ring the doorbell, notify the
    /// transport.
    pub kick: u32,
    /// Notify the client.
    pub notify_client: bool,
}

/// Counters, for logs and tests.
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
    /// rx free buffers refused (outside the rx region): dropped, never
    /// posted.
    pub rx_bad_buffers: u64,
    /// tx frames refused (bad length or outside the tx region): returned
    /// with len 0, never sent.
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
    /// Kicks asked for.
    pub kicks: u64,
    /// Notifications to the client asked for.
    pub client_notifications: u64,
}

/// What stopped the driver (the errors every sevio driver shares):
/// - [`DriverError::Init`] / [`DriverError::Dma`]: bring-up failed (the
///   device is reset);
/// - [`DriverError::Queue`]: the device broke a virtqueue rule; it is
///   reset and its buffers taken back;
/// - [`DriverError::Client`]: the client wrote an impossible queue
///   index; the driver stops serving it.
pub type NetError = DriverError;

/// What a bound device looks like, for the bind message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Config space.
    pub facts: NetFacts,
    /// Header bytes per frame.
    pub hdr_len: u32,
    /// Receive queue size.
    pub rx_size: u16,
    /// Transmit queue size.
    pub tx_size: u16,
    /// A legacy device.
    pub legacy: bool,
    /// Negotiated features.
    pub features: Features,
}

/// A live device and the client buffers it holds.
struct Active {
    live: Live,
    /// rx chain (by token) → the client buffer and its header slot.
    rx_slots: [Option<(NetBuffer, u16)>; VQ_SIZE],
    /// tx chain (by token) → the client frame.
    tx_slots: [Option<NetBuffer>; VQ_SIZE],
    /// Free rx header slots.
    headers: IndexPool<VQ_SIZE>,
}

/// The virtio-net driver over transport `T`.
pub struct NetDriver<T: Transport> {
    transport: T,
    dma: DmaRegion,
    queues: ClientQueues,
    regions: ClientRegions,
    active: Option<Active>,
    stash: Stash<VQ_SIZE>,
    client_failed: Option<QueueError>,
    last_error: Option<NetError>,
    /// Counters.
    pub stats: Stats,
}

impl<T: Transport> NetDriver<T> {
    /// A driver for the client with `queues` and `regions`, with `dma` as
    /// its DMA region, reaching the device through `transport`. Nothing
    /// happens until [`start`](Self::start).
    pub fn new(transport: T, dma: DmaRegion, queues: ClientQueues, regions: ClientRegions) -> Self {
        NetDriver {
            transport,
            dma,
            queues,
            regions,
            active: None,
            stash: Stash::default(),
            client_failed: None,
            last_error: None,
            stats: Stats::default(),
        }
    }

    /// Whether a device is live.
    pub fn is_live(&self) -> bool {
        self.active.is_some()
    }

    /// What stopped the driver last, if anything did (cleared by a
    /// successful [`start`](Self::start)).
    pub fn last_error(&self) -> Option<NetError> {
        self.last_error
    }

    /// Where the driver is: serving, stopped by an error, or without a
    /// device.
    pub fn status(&self) -> DriverStatus {
        match (self.active.is_some(), self.client_failed.is_some() || self.last_error.is_some()) {
            (true, false) => DriverStatus::Ready,
            (_, true) => DriverStatus::Failed,
            (false, false) => DriverStatus::Unbound,
        }
    }

    /// rx buffers held for posting (taken back from a device).
    pub fn stashed(&self) -> usize {
        self.stash.len()
    }

    /// The transport (for tests and device-specific requests).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Bring the bound device up, post the client's rx buffers and send
    /// what the client queued meanwhile. On failure the device is reset.
    pub fn start(&mut self, actions: &mut Actions) -> Result<Summary, NetError> {
        self.stop(actions);
        let live = device::bring_up(&mut self.transport, &self.dma).map_err(|e| self.note(e))?;
        // A client that broke its queues stays unserved, device or not.
        self.last_error = self.client_failed.map(DriverError::Client);
        let summary = Summary {
            facts: live.facts,
            hdr_len: live.hdr_len,
            rx_size: live.rx.size(),
            tx_size: live.tx.size(),
            legacy: live.negotiated.legacy(),
            features: live.negotiated.features,
        };
        self.active = Some(Active {
            live,
            rx_slots: [None; VQ_SIZE],
            tx_slots: [None; VQ_SIZE],
            headers: IndexPool::new(VQ_SIZE),
        });
        self.service(actions);
        Ok(summary)
    }

    fn note(&mut self, e: NetError) -> NetError {
        self.last_error = Some(e);
        e
    }

    /// The device went away (unbound) or failed: take back every client
    /// buffer it held. rx buffers are kept and posted to the next device;
    /// tx frames go back to the client with len 0 (sent or not: the device
    /// never said). The device must already be reset (the transport
    /// resets it at unbind; [`service`](Self::service) before calling
    /// this after a fault), so it no longer touches them.
    pub fn stop(&mut self, actions: &mut Actions) {
        let Some(dev) = self.active.take() else { return };
        let mut returned = false;
        for (buf, _) in dev.rx_slots.iter().flatten() {
            if !self.stash.push(*buf) {
                self.stats.lost_buffers += 1;
            }
        }
        for buf in dev.tx_slots.iter().flatten() {
            match self.queues.tx_free.stage(NetBuffer { len: 0, ..*buf }) {
                Ok(()) => returned = true,
                Err(_) => self.stats.lost_buffers += 1,
            }
        }
        if returned && self.client_failed.is_none() {
            match self.queues.tx_free.require_signal() {
                Ok(true) => self.notify_client(actions),
                Ok(false) => {}
                Err(e) => self.client_failed = Some(e),
            }
        }
    }

    fn notify_client(&mut self, actions: &mut Actions) {
        actions.notify_client = true;
        self.stats.client_notifications += 1;
    }

    /// The transport signalled: `doorbell` holds the causes. Config
    /// changes re-read the link (returned if it changed); then the queues
    /// are serviced.
    pub fn interrupt(&mut self, doorbell: &DriverDoorbell, actions: &mut Actions) -> Option<NetFacts> {
        let causes = doorbell.take_interrupts();
        if causes == 0 {
            return None;
        }
        self.stats.interrupts += 1;
        let changed = if causes & INT_CONFIG_CHANGE != 0 { self.reread_config() } else { None };
        self.service(actions);
        changed
    }

    /// Re-read the config fields; the new facts if they changed.
    pub fn reread_config(&mut self) -> Option<NetFacts> {
        let dev = self.active.as_mut()?;
        let facts = device::read_facts(&mut self.transport, dev.live.negotiated.features)?;
        if facts == dev.live.facts {
            return None;
        }
        dev.live.facts = facts;
        Some(facts)
    }

    /// The link as last read (Unknown without a device).
    pub fn link(&self) -> Link {
        self.active.as_ref().map_or(Link::Unknown, |d| d.live.facts.link)
    }

    /// Move everything that can move, until nothing can: completions to
    /// the client, client buffers to the device. Collects the kicks and
    /// the client notification in `actions`. A device that breaks a rule
    /// is reset and its buffers taken back; a client that breaks its
    /// queue is no longer served.
    pub fn service(&mut self, actions: &mut Actions) {
        if self.client_failed.is_some() {
            return;
        }
        loop {
            match self.pump(actions) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(DriverError::Client(e)) => {
                    self.client_failed = Some(e);
                    self.note(DriverError::Client(e));
                    break;
                }
                Err(e) => {
                    self.note(e);
                    let _ = self.transport.call(Request::Reset);
                    self.stop(actions);
                    break;
                }
            }
        }
    }

    /// One round of the pump; true if another round may find work.
    fn pump(&mut self, actions: &mut Actions) -> Result<bool, NetError> {
        let Some(dev) = self.active.as_mut() else { return Ok(false) };
        let q = &mut self.queues;
        let stats = &mut self.stats;
        let stash = &mut self.stash;
        let hdr_len = dev.live.hdr_len;
        let client = DriverError::Client;
        let device = DriverError::Queue;

        // 1. Received frames to the client.
        let mut delivered = false;
        while let Some(used) = dev.live.rx.pop_used().map_err(device)? {
            // Every token the split queue hands back is a chain in flight,
            // and every chain in flight has its slot.
            let Some((buf, hdr)) = dev.rx_slots.get_mut(used.token.index() as usize).and_then(Option::take) else {
                continue;
            };
            dev.headers.put(hdr);
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
                    delivered = true;
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
        let mut posted = false;
        while dev.live.rx.can_add(2) {
            let buf = match stash.pop() {
                Some(b) => b,
                None => match q.rx_free.take().map_err(client)? {
                    Some(b) => b,
                    None => break,
                },
            };
            let Ok(addr) = rx_buffer_addr(&buf, &self.regions.rx) else {
                stats.rx_bad_buffers += 1;
                continue;
            };
            let Some(hdr) = dev.headers.take() else {
                // Cannot happen (as many slots as the queue is long);
                // keep the buffer rather than lose it.
                keep(stash, stats, buf);
                break;
            };
            let Some(slot) = dev.live.rx_headers.get(usize::from(hdr)) else {
                keep(stash, stats, buf);
                break;
            };
            let chain = [Buffer::writable(slot.paddr, hdr_len), Buffer::writable(addr, NET_BUFFER_SIZE as u32)];
            let token = dev.live.rx.add(&chain).map_err(device)?;
            if let Some(s) = dev.rx_slots.get_mut(token.index() as usize) {
                *s = Some((buf, hdr));
            }
            posted = true;
        }

        // 3. Sent frames back to the client.
        let mut returned = false;
        while let Some(used) = dev.live.tx.pop_used().map_err(device)? {
            let Some(buf) = dev.tx_slots.get_mut(used.token.index() as usize).and_then(Option::take) else {
                continue;
            };
            give_back(q, stats, buf, &mut returned)?;
        }

        // 4. Frames to the device.
        let mut sent = false;
        while dev.live.tx.can_add(2) {
            let Some(buf) = q.tx_active.take().map_err(client)? else { break };
            let Ok(addr) = tx_frame_addr(&buf, &self.regions.tx) else {
                stats.tx_bad_frames += 1;
                give_back(q, stats, NetBuffer { len: 0, ..buf }, &mut returned)?;
                continue;
            };
            let header = Buffer::readable(dev.live.tx_header.paddr, hdr_len);
            let token = dev.live.tx.add(&[header, Buffer::readable(addr, u32::from(buf.len))]).map_err(device)?;
            if let Some(s) = dev.tx_slots.get_mut(token.index() as usize) {
                *s = Some(buf);
            }
            stats.tx_frames += 1;
            stats.tx_bytes += u64::from(buf.len);
            sent = true;
        }

        // 5. Tell the client, if it asked.
        let mut notify = false;
        if delivered {
            notify |= q.rx_active.require_signal().map_err(client)?;
        }
        if returned {
            notify |= q.tx_free.require_signal().map_err(client)?;
        }

        // 6. Kick, if the device asked.
        if posted && dev.live.rx.needs_kick().map_err(device)? {
            actions.kick |= DriverDoorbell::queue_bit(RX_QUEUE);
            stats.kicks += 1;
        }
        if sent && dev.live.tx.needs_kick().map_err(device)? {
            actions.kick |= DriverDoorbell::queue_bit(TX_QUEUE);
            stats.kicks += 1;
        }

        // 7. Ask for the next events: an interrupt at the next received
        //    frame and when all sent frames are done; client signals only
        //    where there is room to act on them. Any "true" means work
        //    may have slipped in meanwhile: go round again.
        let mut again = dev.live.rx.arm(1).map_err(device)?;
        let in_flight = dev.live.tx.in_flight();
        again |= dev.live.tx.arm(in_flight).map_err(device)?;
        if dev.live.rx.can_add(2) {
            again |= q.rx_free.request_signal().map_err(client)?;
        } else {
            q.rx_free.publish().map_err(client)?;
            q.rx_free.cancel_signal().map_err(client)?;
        }
        if dev.live.tx.can_add(2) {
            again |= q.tx_active.request_signal().map_err(client)?;
        } else {
            q.tx_active.publish().map_err(client)?;
            q.tx_active.cancel_signal().map_err(client)?;
        }
        if notify {
            self.notify_client(actions);
        }
        Ok(again)
    }
}

/// Keep an rx buffer for posting again (counted as lost if there is no
/// room, which needs more buffers than the queues hold).
fn keep(stash: &mut Stash<VQ_SIZE>, stats: &mut Stats, buf: NetBuffer) {
    if !stash.push(buf) {
        stats.lost_buffers += 1;
    }
}

/// Stage a tx buffer on tx free.
fn give_back(q: &mut ClientQueues, stats: &mut Stats, buf: NetBuffer, returned: &mut bool) -> Result<(), NetError> {
    match q.tx_free.stage(buf) {
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
