//! [`SoundDriver`]: the virtio-sound driver, a [`VirtioDriver`]. The
//! driver framework brings the device up and sets up its four queues
//! (VIRTIO 1.2 §5.14.2: controlq 0, eventq 1, txq 2, rxq 3); this is the
//! device logic.
//!
//! Once bound, the driver reads `streams` from the config space and asks
//! PCM_INFO for them; the checked answer ([`crate::check::stream_infos`])
//! goes into the client's shared-state page, `ready` set last, and the
//! client is notified. Until then client requests wait in their queues.
//!
//! Commands (sDDF TAKE, PREPARE, RELEASE, START, STOP) become
//! PCM_SET_PARAMS, PCM_PREPARE, ... on the controlq, one DMA slot each
//! (the request, then room for the 4-byte answer); transfers become a
//! three-part chain: the `virtio_snd_pcm_xfer` from a DMA slot, the
//! client's frames where they lie in its data region (device-readable
//! for playback on the txq, device-writable for capture on the rxq), and
//! the 8-byte status back into the slot. A request is taken only when
//! its response queue has room for its answer and every other one owed.
//!
//! Answers: the split queue has refused a used element for a chain not
//! in flight or one claiming more bytes than the chain had. A status the
//! device gives (BAD_MSG, NOT_SUPP, IO_ERR) goes to the client as sDDF's;
//! an answer too short to hold its status, or a status VIRTIO does not
//! define, is a device that broke the protocol: the client gets `IoErr`,
//! the device is failed (reset), and every request in flight is answered
//! `IoErr` too.

use crate::check::{
    AnswerFault, Direction, Streams, control_status, plan_command, plan_transfer, stream_infos, transfer_status,
};
use crate::{
    ANSWER_AT, CONTROL_QUEUE_SIZE, CONTROL_SLOT_SIZE, EVENT_QUEUE_SIZE, MAX_STREAMS, PCM_QUEUE_SIZE, STATUS_AT,
    TRANSFER_SLOT_SIZE, TRANSFERS_PER_QUEUE,
};
use sevio_driver_core::{
    ClientRegion, Ctx, DmaCarver, DmaSlots, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, RegionSetvars,
    SystemMaps, Unusable, VirtioDriver,
};
use sevio_queue::QueueError;
use sevio_queue::sound::{
    SharedState, SoundCmd, SoundCmdConsumer, SoundCmdProducer, SoundPcm, SoundPcmConsumer, SoundPcmProducer,
    SoundStatus, StreamInfo,
};
use sevio_sharedmem::SharedMemory;
use sevio_virtio::device::sound::{PcmXfer, QueryInfo, SoundConfig, code, queues};
use sevio_virtio::{Buffer, DeviceId, Features, Used};
use zerocopy::{FromBytes, IntoBytes};

/// Why the device failed (kept for the PD's log).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SoundError {
    /// The errors every driver shares.
    Driver(DriverError),
    /// An answer that cannot be believed.
    Answer(AnswerFault),
}

impl From<DriverError> for SoundError {
    fn from(e: DriverError) -> Self {
        SoundError::Driver(e)
    }
}

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct SoundSetvars {
    /// Commands, client -> driver.
    pub cmd_requests: RegionSetvars,
    /// Command answers, driver -> client.
    pub cmd_responses: RegionSetvars,
    /// Transfers, client -> driver.
    pub pcm_requests: RegionSetvars,
    /// Transfer answers, driver -> client.
    pub pcm_responses: RegionSetvars,
    /// The shared-state page (the streams).
    pub shared_state: RegionSetvars,
    /// The client's frames (the device reads and writes it directly).
    pub data: RegionSetvars,
    /// Where the device finds the data region (its region_paddr).
    pub data_paddr: u64,
    /// Entries in each command queue (a power of two).
    pub cmd_capacity: u32,
    /// Entries in each PCM queue (a power of two).
    pub pcm_capacity: u32,
}

/// Counters for the log, tests and benchmarks.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Commands answered OK.
    pub commands: u64,
    /// Requests (commands and transfers) refused by the driver's checks.
    pub refused: u64,
    /// Requests the device answered with an error status.
    pub device_refused: u64,
    /// Requests answered `IoErr` because the device failed or broke the protocol.
    pub failed: u64,
    /// Frame bytes the device played.
    pub played: u64,
    /// Frame bytes the device captured.
    pub captured: u64,
    /// Events the device sent (PCM_PERIOD_ELAPSED, PCM_XRUN, jack events).
    pub events: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ControlSlot {
    Free,
    /// The bring-up PCM_INFO for this many streams.
    Info(usize),
    /// A client command.
    Command(SoundCmd),
    /// In flight on a device that is gone: answer `IoErr`.
    Orphan(SoundCmd),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum TransferSlot {
    Free,
    Busy { pcm: SoundPcm, direction: Direction },
    Orphan(SoundPcm),
}

const TRANSFER_SLOTS: usize = 2 * TRANSFERS_PER_QUEUE;
const NO_SLOT: u8 = u8::MAX;
/// Bytes of one `virtio_snd_event` (§5.14.6.5: a header and a data word).
const EVENT_SIZE: usize = 8;

struct Client {
    cmd_requests: SoundCmdConsumer,
    cmd_responses: SoundCmdProducer,
    pcm_requests: SoundPcmConsumer,
    pcm_responses: SoundPcmProducer,
}

/// The virtio-sound driver.
pub struct SoundDriver {
    /// `None` once the client wrote impossible indices.
    client: Option<Client>,
    client_error: Option<QueueError>,
    shared: SharedMemory,
    data: ClientRegion,
    control_dma: DmaSlots,
    transfer_dma: DmaSlots,
    event_dma: DmaSlots,
    control: [ControlSlot; CONTROL_QUEUE_SIZE],
    control_tokens: [u8; CONTROL_QUEUE_SIZE],
    transfers: [TransferSlot; TRANSFER_SLOTS],
    tx_tokens: [u8; PCM_QUEUE_SIZE],
    rx_tokens: [u8; PCM_QUEUE_SIZE],
    event_tokens: [u8; EVENT_QUEUE_SIZE],
    events_posted: bool,
    config_streams: u32,
    info_asked: bool,
    /// Set once PCM_INFO was answered and published.
    streams: Option<Streams>,
    stats: Stats,
    logged: Stats,
}

type Queues = (
    DriverQueue<CONTROL_QUEUE_SIZE>,
    DriverQueue<EVENT_QUEUE_SIZE>,
    DriverQueue<PCM_QUEUE_SIZE>,
    DriverQueue<PCM_QUEUE_SIZE>,
);
type SoundCtx<'a> = Ctx<'a, SoundDriver>;

const fn spec(index: u16, max_size: usize, min_size: u16) -> QueueSpec {
    QueueSpec { index, params: QueueParams { max_size: max_size as u16, min_size, indirect_descs: 0 } }
}

impl VirtioDriver for SoundDriver {
    const DEVICE: DeviceId = DeviceId::SOUND;
    type Queues = Queues;
    const QUEUES: [QueueSpec; 4] = [
        spec(queues::CONTROLQ, CONTROL_QUEUE_SIZE, 2),
        spec(queues::EVENTQ, EVENT_QUEUE_SIZE, 1),
        spec(queues::TXQ, PCM_QUEUE_SIZE, 3),
        spec(queues::RXQ, PCM_QUEUE_SIZE, 3),
    ];
    type Error = SoundError;
    type Setvars = SoundSetvars;

    fn new(vars: SoundSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        if vars.data_paddr == 0 {
            return Err(Unusable::Setvar("sound_client_data_paddr missing"));
        }
        let data = ClientRegion::device_visible(maps.region(vars.data)?, vars.data_paddr)
            .ok_or(Unusable::DmaOverflow(vars.data.region))?;
        let layout = |r: RegionSetvars| move |_| Unusable::Layout(r.region);
        let client = Client {
            cmd_requests: SoundCmdConsumer::new(maps.region(vars.cmd_requests)?, vars.cmd_capacity)
                .map_err(layout(vars.cmd_requests))?,
            cmd_responses: SoundCmdProducer::new(maps.region(vars.cmd_responses)?, vars.cmd_capacity)
                .map_err(layout(vars.cmd_responses))?,
            pcm_requests: SoundPcmConsumer::new(maps.region(vars.pcm_requests)?, vars.pcm_capacity)
                .map_err(layout(vars.pcm_requests))?,
            pcm_responses: SoundPcmProducer::new(maps.region(vars.pcm_responses)?, vars.pcm_capacity)
                .map_err(layout(vars.pcm_responses))?,
        };
        let shared = maps.region(vars.shared_state)?;
        if shared.len() < SharedState::SIZE {
            return Err(Unusable::Layout(vars.shared_state.region));
        }
        let _ = SharedState::withdraw(&shared);
        Ok(SoundDriver {
            client: Some(client),
            client_error: None,
            shared,
            data,
            control_dma: dma.slots(CONTROL_QUEUE_SIZE, CONTROL_SLOT_SIZE, 64).map_err(Unusable::DmaRoom)?,
            transfer_dma: dma.slots(TRANSFER_SLOTS, TRANSFER_SLOT_SIZE, 16).map_err(Unusable::DmaRoom)?,
            event_dma: dma.slots(EVENT_QUEUE_SIZE, EVENT_SIZE, 8).map_err(Unusable::DmaRoom)?,
            control: [ControlSlot::Free; CONTROL_QUEUE_SIZE],
            control_tokens: [NO_SLOT; CONTROL_QUEUE_SIZE],
            transfers: [TransferSlot::Free; TRANSFER_SLOTS],
            tx_tokens: [NO_SLOT; PCM_QUEUE_SIZE],
            rx_tokens: [NO_SLOT; PCM_QUEUE_SIZE],
            event_tokens: [NO_SLOT; EVENT_QUEUE_SIZE],
            events_posted: false,
            config_streams: 0,
            info_asked: false,
            streams: None,
            stats: Stats::default(),
            logged: Stats::default(),
        })
    }

    /// VIRTIO 1.2 §5.14.3: no device-specific feature bits.
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY, Features::EMPTY)
    }

    /// Read the stream count (§5.14.4 `streams`); more than sDDF's 32 are
    /// described as the first 32.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), SoundError> {
        let mut bytes = [0u8; 12];
        device.read_config(0, &mut bytes)?;
        let config = SoundConfig::read_from_bytes(&bytes).unwrap_or_default();
        self.config_streams = config.streams.get();
        Ok(())
    }

    /// The device held the streams and the requests in flight.
    fn remove(&mut self) {
        self.streams = None;
        self.info_asked = false;
        self.events_posted = false;
        let _ = SharedState::withdraw(&self.shared);
        for s in &mut self.control {
            *s = match *s {
                ControlSlot::Command(c) => ControlSlot::Orphan(c),
                ControlSlot::Info(_) => ControlSlot::Free,
                other => other,
            };
        }
        for s in &mut self.transfers {
            if let TransferSlot::Busy { pcm, .. } = *s {
                *s = TransferSlot::Orphan(pcm);
            }
        }
        self.forget_tokens();
    }

    fn interrupt(&mut self, ctx: &mut SoundCtx<'_>, _causes: u32) {
        self.pump(ctx);
    }

    fn client_notified(&mut self, ctx: &mut SoundCtx<'_>) {
        self.pump(ctx);
    }

    /// The counters, when a command, refusal or failure moved them (not
    /// at every period played).
    fn report(&mut self, name: &str) {
        let s = self.stats;
        let l = self.logged;
        if (s.commands, s.refused, s.device_refused, s.failed) != (l.commands, l.refused, l.device_refused, l.failed) {
            self.logged = s;
            sevio_runtime::debug_println!(
                "{}: {} commands ok, {} refused, {} refused by the device, {} failed; {} bytes played, {} captured, {} events",
                name,
                s.commands,
                s.refused,
                s.device_refused,
                s.failed,
                s.played,
                s.captured,
                s.events
            );
        }
    }
}

impl SoundDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Why the driver stopped serving its client, if it did.
    pub fn client_error(&self) -> Option<QueueError> {
        self.client_error
    }

    /// The streams, once the device described them.
    pub fn streams(&self) -> Option<&Streams> {
        self.streams.as_ref()
    }

    fn forget_tokens(&mut self) {
        self.control_tokens = [NO_SLOT; CONTROL_QUEUE_SIZE];
        self.tx_tokens = [NO_SLOT; PCM_QUEUE_SIZE];
        self.rx_tokens = [NO_SLOT; PCM_QUEUE_SIZE];
        self.event_tokens = [NO_SLOT; EVENT_QUEUE_SIZE];
    }

    fn client_lost(&mut self, e: QueueError) {
        self.client_error = Some(e);
        self.client = None;
    }

    fn answer_command(&mut self, ctx: &mut SoundCtx<'_>, c: SoundCmd, status: SoundStatus) {
        let Some(client) = &mut self.client else { return };
        match client.cmd_responses.enqueue(c.answer(status)) {
            Ok(()) => ctx.notify_client(),
            Err(e) => self.client_lost(e),
        }
    }

    /// Answer a transfer: `len` is what was played or captured.
    fn answer_transfer(
        &mut self,
        ctx: &mut SoundCtx<'_>,
        pcm: SoundPcm,
        status: SoundStatus,
        latency_bytes: u32,
        len: u32,
    ) {
        let Some(client) = &mut self.client else { return };
        let answer = SoundPcm { status: status as u32, latency_bytes, len, ..pcm };
        match client.pcm_responses.enqueue(answer) {
            Ok(()) => ctx.notify_client(),
            Err(e) => self.client_lost(e),
        }
    }

    /// Harvest, answer, take requests, post, arm; repeat while the device
    /// got ahead of the arming. The framework kicks.
    fn pump(&mut self, ctx: &mut SoundCtx<'_>) {
        loop {
            self.harvest(ctx);
            self.answer_lost(ctx);
            self.ask_info(ctx);
            self.post_events(ctx);
            self.take_commands(ctx);
            self.take_transfers(ctx);
            let Some(device) = ctx.device() else { break };
            let (control, event, tx, rx) = &mut device.queues;
            let counts = (control.in_flight(), event.in_flight(), tx.in_flight(), rx.in_flight());
            let armed = [control.arm(counts.0), event.arm(counts.1), tx.arm(counts.2), rx.arm(counts.3)];
            let mut again = false;
            for a in armed {
                match a {
                    Ok(got_ahead) => again |= got_ahead,
                    Err(e) => ctx.fail(SoundError::Driver(DriverError::Queue(e))),
                }
            }
            if !again || ctx.failed() {
                break;
            }
        }
        self.answer_lost(ctx);
    }

    /// Requests that were in flight on a device that failed or is gone.
    fn answer_lost(&mut self, ctx: &mut SoundCtx<'_>) {
        let failed = ctx.failed() || ctx.device().is_none();
        for i in 0..CONTROL_QUEUE_SIZE {
            let lost = match self.control[i] {
                ControlSlot::Orphan(c) => Some(c),
                ControlSlot::Command(c) if failed => Some(c),
                _ => None,
            };
            if failed && matches!(self.control[i], ControlSlot::Info(_)) {
                self.control[i] = ControlSlot::Free;
            }
            if let Some(c) = lost {
                self.control[i] = ControlSlot::Free;
                self.stats.failed += 1;
                self.answer_command(ctx, c, SoundStatus::IoErr);
            }
        }
        for i in 0..TRANSFER_SLOTS {
            let lost = match self.transfers[i] {
                TransferSlot::Orphan(pcm) => Some(pcm),
                TransferSlot::Busy { pcm, .. } if failed => Some(pcm),
                _ => None,
            };
            if let Some(pcm) = lost {
                self.transfers[i] = TransferSlot::Free;
                self.stats.failed += 1;
                self.answer_transfer(ctx, pcm, SoundStatus::IoErr, 0, 0);
            }
        }
        if failed {
            self.forget_tokens();
        }
    }

    fn harvest(&mut self, ctx: &mut SoundCtx<'_>) {
        for q in [queues::CONTROLQ, queues::EVENTQ, queues::TXQ, queues::RXQ] {
            loop {
                let Some(device) = ctx.device() else { return };
                let (control, event, tx, rx) = &mut device.queues;
                let popped = match q {
                    queues::CONTROLQ => control.pop_used(),
                    queues::EVENTQ => event.pop_used(),
                    queues::TXQ => tx.pop_used(),
                    _ => rx.pop_used(),
                };
                match popped {
                    Ok(Some(used)) => match q {
                        queues::CONTROLQ => self.control_done(ctx, used),
                        queues::EVENTQ => self.event_done(ctx, used),
                        _ => self.transfer_done(ctx, q, used),
                    },
                    Ok(None) => break,
                    Err(e) => return ctx.fail(SoundError::Driver(DriverError::Queue(e))),
                }
            }
        }
    }

    /// A device answer the driver refuses: the device is failed.
    fn broke_protocol(&mut self, ctx: &mut SoundCtx<'_>, fault: AnswerFault) {
        ctx.fail(SoundError::Answer(fault));
    }

    fn control_done(&mut self, ctx: &mut SoundCtx<'_>, used: Used) {
        let token = used.token.index() as usize % CONTROL_QUEUE_SIZE;
        let i = core::mem::replace(&mut self.control_tokens[token], NO_SLOT) as usize;
        let (Some(state), Some(slot)) = (self.control.get(i).copied(), self.control_dma.get(i)) else { return };
        self.control[i] = ControlSlot::Free;
        let mut answer = [0u8; CONTROL_SLOT_SIZE - ANSWER_AT];
        let written = (used.len as usize).min(answer.len());
        let _ = slot.mem.copy_out(ANSWER_AT, &mut answer[..written]);
        let status = control_status(&answer[..written]);
        match state {
            ControlSlot::Info(count) => match status {
                Ok(SoundStatus::Ok) => {
                    let mut infos = [StreamInfo::default(); MAX_STREAMS];
                    match stream_infos(&answer[4..written], count, &mut infos) {
                        Ok(n) => self.publish_streams(ctx, &infos[..n]),
                        Err(fault) => self.broke_protocol(ctx, fault),
                    }
                }
                // The device would not describe its streams: nothing can
                // be played; the client sees no streams.
                Ok(_) => self.publish_streams(ctx, &[]),
                Err(fault) => self.broke_protocol(ctx, fault),
            },
            ControlSlot::Command(c) => match status {
                Ok(SoundStatus::Ok) => {
                    if let Some(streams) = &mut self.streams {
                        streams.completed(c.code, c.stream_id);
                    }
                    self.stats.commands += 1;
                    self.answer_command(ctx, c, SoundStatus::Ok);
                }
                Ok(refused) => {
                    self.stats.device_refused += 1;
                    self.answer_command(ctx, c, refused);
                }
                Err(fault) => {
                    self.stats.failed += 1;
                    self.answer_command(ctx, c, SoundStatus::IoErr);
                    self.broke_protocol(ctx, fault);
                }
            },
            ControlSlot::Free | ControlSlot::Orphan(_) => {}
        }
    }

    fn publish_streams(&mut self, ctx: &mut SoundCtx<'_>, infos: &[StreamInfo]) {
        self.streams = Some(Streams::new(infos));
        let _ = SharedState::publish(&self.shared, infos);
        ctx.notify_client();
    }

    /// An event came back: count it and hand the buffer back (the driver
    /// acts on none: §5.14.6.5's events are advisory for this client).
    fn event_done(&mut self, ctx: &mut SoundCtx<'_>, used: Used) {
        let token = used.token.index() as usize % EVENT_QUEUE_SIZE;
        let i = core::mem::replace(&mut self.event_tokens[token], NO_SLOT) as usize;
        self.stats.events += 1;
        self.post_event(ctx, i);
    }

    fn transfer_done(&mut self, ctx: &mut SoundCtx<'_>, q: u16, used: Used) {
        let token = used.token.index() as usize % PCM_QUEUE_SIZE;
        let tokens = if q == queues::TXQ { &mut self.tx_tokens } else { &mut self.rx_tokens };
        let i = core::mem::replace(&mut tokens[token], NO_SLOT) as usize;
        let (Some(TransferSlot::Busy { pcm, direction }), Some(slot)) =
            (self.transfers.get(i).copied(), self.transfer_dma.get(i))
        else {
            return;
        };
        self.transfers[i] = TransferSlot::Free;
        let tail = self.written_tail(&slot.mem, pcm, direction, used.len);
        match transfer_status(&tail.0[..tail.1], used.len) {
            Ok(outcome) if outcome.status == SoundStatus::Ok => {
                let len = match direction {
                    Direction::Playback => pcm.len,
                    Direction::Capture => outcome.captured.min(pcm.len),
                };
                match direction {
                    Direction::Playback => self.stats.played += u64::from(len),
                    Direction::Capture => self.stats.captured += u64::from(len),
                }
                self.answer_transfer(ctx, pcm, SoundStatus::Ok, outcome.latency_bytes, len);
            }
            Ok(outcome) => {
                self.stats.device_refused += 1;
                self.answer_transfer(ctx, pcm, outcome.status, outcome.latency_bytes, 0);
            }
            Err(fault) => {
                self.stats.failed += 1;
                self.answer_transfer(ctx, pcm, SoundStatus::IoErr, 0, 0);
                self.broke_protocol(ctx, fault);
            }
        }
    }

    /// The last (up to 8) bytes of the `used_len` the device wrote into a
    /// transfer's writable part: capture frames (in the client's region)
    /// then the status slot; playback the status slot alone. The status
    /// is wherever the device's writing ended.
    fn written_tail(
        &self,
        slot: &SharedMemory,
        pcm: SoundPcm,
        direction: Direction,
        used_len: u32,
    ) -> ([u8; 8], usize) {
        let frames = if direction == Direction::Capture { pcm.len as usize } else { 0 };
        let written = used_len as usize;
        let n = written.min(8);
        let mut tail = [0u8; 8];
        let frames_span = self.data.span(pcm.io_or_offset, u64::from(pcm.len)).ok();
        for (k, byte) in tail.iter_mut().enumerate().take(n) {
            let at = written - n + k;
            *byte = if at < frames {
                frames_span.and_then(|s| s.mem.read::<u8>(at)).unwrap_or(0)
            } else {
                slot.read::<u8>(STATUS_AT + at - frames).unwrap_or(0)
            };
        }
        (tail, n)
    }

    /// Once bound: ask the device to describe its streams.
    fn ask_info(&mut self, ctx: &mut SoundCtx<'_>) {
        if self.info_asked || ctx.failed() || ctx.device().is_none() {
            return;
        }
        let Some(i) = self.control.iter().position(|s| *s == ControlSlot::Free) else { return };
        let count = (self.config_streams as usize).min(MAX_STREAMS);
        if count == 0 {
            self.info_asked = true;
            return self.publish_streams(ctx, &[]);
        }
        let query = QueryInfo {
            code: code::PCM_INFO.into(),
            start_id: 0.into(),
            count: (count as u32).into(),
            size: (core::mem::size_of::<sevio_virtio::device::sound::PcmInfo>() as u32).into(),
        };
        let answer_len = 4 + count * core::mem::size_of::<sevio_virtio::device::sound::PcmInfo>();
        if self.submit_control(ctx, i, query.as_bytes(), answer_len as u32) {
            self.control[i] = ControlSlot::Info(count);
            self.info_asked = true;
        }
    }

    /// Put a control request in slot `i`: VIRTIO 1.2 §2.7.4.2 "The driver
    /// MUST place any device-writable descriptor elements after any
    /// device-readable descriptor elements": the request, then its answer.
    fn submit_control(&mut self, ctx: &mut SoundCtx<'_>, i: usize, request: &[u8], answer_len: u32) -> bool {
        let (Some(slot), Some(device)) = (self.control_dma.get(i), ctx.device()) else { return false };
        let _ = slot.mem.copy_in(0, request);
        // Poison the status so a device that writes nothing is not read
        // as S_OK (0 is no status code).
        let _ = slot.mem.fill(ANSWER_AT, 4, 0);
        let chain = [
            Buffer::readable(slot.paddr, request.len() as u32),
            Buffer::writable(slot.paddr + ANSWER_AT as u64, answer_len),
        ];
        match device.queues.0.add(&chain) {
            Ok(token) => {
                self.control_tokens[token.index() as usize % CONTROL_QUEUE_SIZE] = i as u8;
                true
            }
            Err(e) => {
                ctx.fail(SoundError::Driver(DriverError::Queue(e)));
                false
            }
        }
    }

    /// §5.14.6.5: the driver gives the device event buffers up front.
    fn post_events(&mut self, ctx: &mut SoundCtx<'_>) {
        if self.events_posted || ctx.failed() || ctx.device().is_none() {
            return;
        }
        self.events_posted = true;
        for i in 0..EVENT_QUEUE_SIZE {
            self.post_event(ctx, i);
        }
    }

    fn post_event(&mut self, ctx: &mut SoundCtx<'_>, i: usize) {
        let (Some(slot), Some(device)) = (self.event_dma.get(i), ctx.device()) else { return };
        match device.queues.1.add(&[Buffer::writable(slot.paddr, EVENT_SIZE as u32)]) {
            Ok(token) => self.event_tokens[token.index() as usize % EVENT_QUEUE_SIZE] = i as u8,
            Err(e) => ctx.fail(SoundError::Driver(DriverError::Queue(e))),
        }
    }

    /// Client requests wait while no device is bound or its streams are
    /// not known yet; after a failure they are answered `IoErr`.
    fn serving(&self, ctx: &mut SoundCtx<'_>) -> Option<bool> {
        if ctx.failed() {
            return Some(false);
        }
        (ctx.device().is_some() && self.streams.is_some()).then_some(true)
    }

    fn take_commands(&mut self, ctx: &mut SoundCtx<'_>) {
        let Some(live) = self.serving(ctx) else { return };
        loop {
            let owed =
                self.control.iter().filter(|s| matches!(s, ControlSlot::Command(_) | ControlSlot::Orphan(_))).count();
            let Some(client) = &mut self.client else { return };
            match client.cmd_responses.free() {
                Ok(free) if free as usize > owed => {}
                Ok(_) => return,
                Err(e) => return self.client_lost(e),
            }
            let Some(i) = self.control.iter().position(|s| *s == ControlSlot::Free) else { return };
            let c = match client.cmd_requests.dequeue() {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => return self.client_lost(e),
            };
            if !live {
                self.stats.failed += 1;
                self.answer_command(ctx, c, SoundStatus::IoErr);
                continue;
            }
            let Some(streams) = &self.streams else { return };
            match plan_command(&c, streams) {
                Ok(plan) => {
                    if self.submit_control(ctx, i, &plan.bytes[..plan.len], 4) {
                        self.control[i] = ControlSlot::Command(c);
                    } else {
                        self.stats.failed += 1;
                        self.answer_command(ctx, c, SoundStatus::IoErr);
                    }
                }
                Err(status) => {
                    self.stats.refused += 1;
                    self.answer_command(ctx, c, status);
                }
            }
        }
    }

    fn take_transfers(&mut self, ctx: &mut SoundCtx<'_>) {
        let Some(live) = self.serving(ctx) else { return };
        loop {
            let owed = self.transfers.iter().filter(|s| **s != TransferSlot::Free).count();
            let in_flight = |d: Direction| {
                self.transfers
                    .iter()
                    .filter(|s| matches!(s, TransferSlot::Busy { direction, .. } if *direction == d))
                    .count()
            };
            // A request's queue is known only once it is taken, and taking
            // is for good: take one only while both queues have room, so
            // whichever it needs has. Requests go in order; while either
            // queue is full, they all wait.
            let room = in_flight(Direction::Playback) < TRANSFERS_PER_QUEUE
                && in_flight(Direction::Capture) < TRANSFERS_PER_QUEUE;
            if live && !room {
                return;
            }
            let Some(client) = &mut self.client else { return };
            match client.pcm_responses.free() {
                Ok(free) if free as usize > owed => {}
                Ok(_) => return,
                Err(e) => return self.client_lost(e),
            }
            let Some(i) = self.transfers.iter().position(|s| *s == TransferSlot::Free) else { return };
            let pcm = match client.pcm_requests.take() {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => return self.client_lost(e),
            };
            let plan = self.streams.as_ref().map(|s| plan_transfer(&pcm, s, &self.data));
            let Some(client) = &mut self.client else { return };
            if let Err(e) = client.pcm_requests.publish() {
                return self.client_lost(e);
            }
            if !live {
                self.stats.failed += 1;
                self.answer_transfer(ctx, pcm, SoundStatus::IoErr, 0, 0);
                continue;
            }
            match plan {
                Some(Ok(p)) => self.submit_transfer(ctx, i, pcm, p),
                Some(Err(status)) => {
                    self.stats.refused += 1;
                    self.answer_transfer(ctx, pcm, status, 0, 0);
                }
                None => {
                    self.stats.refused += 1;
                    self.answer_transfer(ctx, pcm, SoundStatus::BadMsg, 0, 0);
                }
            }
        }
    }

    /// Put a checked transfer on its queue with DMA slot `i`: the xfer
    /// header (device-readable), the frames (readable for playback,
    /// writable for capture), the status (writable), §2.7.4.2's order.
    fn submit_transfer(&mut self, ctx: &mut SoundCtx<'_>, i: usize, pcm: SoundPcm, plan: crate::check::TransferPlan) {
        let (Some(slot), Some(frames_at)) = (self.transfer_dma.get(i), plan.span.device_addr) else { return };
        let xfer = PcmXfer { stream_id: pcm.stream_id.into() };
        let _ = slot.mem.copy_in(0, xfer.as_bytes());
        // Poison the status: 0 would read as S_OK.
        let _ = slot.mem.fill(STATUS_AT, 8, 0);
        let header = Buffer::readable(slot.paddr, 4);
        let status = Buffer::writable(slot.paddr + STATUS_AT as u64, 8);
        let Some(device) = ctx.device() else { return };
        let (queue, tokens, frames) = match plan.direction {
            Direction::Playback => (&mut device.queues.2, &mut self.tx_tokens, Buffer::readable(frames_at, pcm.len)),
            Direction::Capture => (&mut device.queues.3, &mut self.rx_tokens, Buffer::writable(frames_at, pcm.len)),
        };
        if !queue.can_add(3) {
            // Cannot happen (the queue holds more chains than the slots
            // per queue); refuse rather than lose the request.
            self.stats.failed += 1;
            return self.answer_transfer(ctx, pcm, SoundStatus::IoErr, 0, 0);
        }
        match queue.add(&[header, frames, status]) {
            Ok(token) => {
                tokens[token.index() as usize % PCM_QUEUE_SIZE] = i as u8;
                self.transfers[i] = TransferSlot::Busy { pcm, direction: plan.direction };
            }
            Err(e) => {
                self.stats.failed += 1;
                self.answer_transfer(ctx, pcm, SoundStatus::IoErr, 0, 0);
                ctx.fail(SoundError::Driver(DriverError::Queue(e)));
            }
        }
    }
}
