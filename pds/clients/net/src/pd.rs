//! The PD shell: setvars, the runtime [`Handler`], the two modes.
//!
//! system.xml gives the client (the net driver's own wiring,
//! `sevio_driver_net::wiring`, agreed here):
//! - channel 0: the net driver's rx side ([`RX_DRIVER`], the driver's 2),
//!   channel 2: its tx side ([`TX_DRIVER`], the driver's 3), as sDDF's
//!   rx and tx virtualisers each have their own channel to the driver;
//! - channel 1: the timer driver ([`TIMER`], this end `pp="true"`), for
//!   retransmission and the bench's timed phase (`net-echo` needs none);
//! - `rx_free_vaddr`, `rx_active_vaddr` ([`RX_QUEUE_REGION_SIZE`] each,
//!   capacity [`RX_CAPACITY`]) and `tx_free_vaddr`, `tx_active_vaddr`
//!   ([`TX_QUEUE_REGION_SIZE`], [`TX_CAPACITY`]): the four queue regions,
//!   shared with the driver;
//! - `rx_data_vaddr` / `rx_data_size` / `rx_data_paddr` and the same for
//!   tx (setvar_vaddr / setvar_size / region_paddr): its two data
//!   regions, and the I/O addresses it names their buffers by.
//!
//! Modes: `net-client` ([`Mode::Echo`], 10.0.2.15) answers ARP, ping and
//! UDP echo, pings the gateway 10.0.2.2 and passes on its answer;
//! `net-echo` ([`Mode::Responder`], 10.0.2.15) only answers (the bench's
//! peer, where there is no gateway); `net-bench` ([`Mode::Bench`],
//! 10.0.2.16) answers the same, floods the UDP echo of 10.0.2.15 (a
//! net-echo): [`COUNT_PHASE`] datagrams, then as many as go in
//! [`TIMED_PHASE_NS`], and passes when every datagram came back (see
//! [`crate::bench`]); `net-bench-rr` ([`Mode::BenchRr`]) does the same
//! with one small datagram in flight ([`FLOOD_RR`]): request/response.
//!
//! While the host waits for an answer, a retransmit deadline runs
//! ([`RETRANSMIT_AFTER_NS`], doubling up to [`RETRANSMIT_MAX_NS`]); when
//! it passes without an answer since the last one, what is awaited is sent
//! again, and after
//! [`crate::stack::MAX_TRIES`] such tries the client fails with what it was
//! waiting for, instead of hanging.

use crate::MacDisplay;
use crate::bench::{Bench, Platform};
use crate::client::{Data, NetClient, Notify, Queues};
use crate::stack::{Config, Event, Flood, Retransmit, Stack, Target, Traffic};
use core::fmt;
use sevio_queue::{NetConsumer, NetProducer};
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};
use sevio_timer_protocol::{Deadlines, NS_PER_MS, NS_PER_S, Timer, TimerClient};

/// The net driver's rx side (free buffers one way, frames the other).
pub const RX_DRIVER: Channel = Channel::new(0);
/// The net driver's tx side (frames one way, sent buffers the other).
pub const TX_DRIVER: Channel = Channel::new(2);
/// The timer driver.
pub const TIMER: Channel = Channel::new(1);
/// How long the host waits for an answer before sending again; doubled
/// after each unanswered resend, up to [`RETRANSMIT_MAX_NS`].
pub const RETRANSMIT_AFTER_NS: u64 = 250 * NS_PER_MS;
/// The longest wait between resends: with [`crate::stack::MAX_TRIES`] the
/// host gives up about 14 s after the last answer.
pub const RETRANSMIT_MAX_NS: u64 = 2 * NS_PER_S;
/// Datagrams of the bench's fixed-count phase.
pub const COUNT_PHASE: u64 = 1000;
/// Length of the bench's fixed-duration phase, which follows.
pub const TIMED_PHASE_NS: u64 = 2 * NS_PER_S;
/// Entries in each rx queue (sdfgen's figure for a net driver).
pub const RX_CAPACITY: u32 = 512;
/// Entries in each tx queue (sdfgen's figure for two clients).
pub const TX_CAPACITY: u32 = 1024;
/// Bytes of each rx queue region: 8 + 512 × 16, in pages.
pub const RX_QUEUE_REGION_SIZE: u64 = 0x3000;
/// Bytes of each tx queue region: 8 + 1024 × 16, in pages.
pub const TX_QUEUE_REGION_SIZE: u64 = 0x5000;

/// net-client's MAC address (QEMU's default for a first NIC; give the
/// device the same `mac=` so that the driver's and the client's agree,
/// though QEMU's virtio-net delivers every frame either way).
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// net-client's IPv4 address (QEMU user networking's guest address).
pub const IP: [u8; 4] = [10, 0, 2, 15];
/// The gateway (QEMU user networking's host address).
pub const GATEWAY: [u8; 4] = [10, 0, 2, 2];
/// net-bench's MAC address.
pub const BENCH_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];
/// net-bench's IPv4 address.
pub const BENCH_IP: [u8; 4] = [10, 0, 2, 16];
/// The UDP echo port.
pub const ECHO_PORT: u16 = 1234;
/// net-bench's flood of net-echo's echo port: without end of its own (the
/// timed phase stops it), 32 in flight, 1 KiB each (a stream, echoed).
pub const FLOOD: Flood = Flood { count: u16::MAX, depth: 32, size: 1024, port: ECHO_PORT };
/// net-bench-rr's traffic: request/response, one 64-byte datagram in
/// flight at a time, so each figure is one round trip through both ends.
pub const FLOOD_RR: Flood = Flood { count: u16::MAX, depth: 1, size: 64, port: ECHO_PORT };

sevio_runtime::shared_region!(
    /// The rx free queue.
    pub fn rx_free_region() = "rx_free_vaddr", RX_QUEUE_REGION_SIZE
);
sevio_runtime::shared_region!(
    /// The rx active queue.
    pub fn rx_active_region() = "rx_active_vaddr", RX_QUEUE_REGION_SIZE
);
sevio_runtime::shared_region!(
    /// The tx free queue.
    pub fn tx_free_region() = "tx_free_vaddr", TX_QUEUE_REGION_SIZE
);
sevio_runtime::shared_region!(
    /// The tx active queue.
    pub fn tx_active_region() = "tx_active_vaddr", TX_QUEUE_REGION_SIZE
);
sevio_runtime::setvar!(
    /// Size of the rx data region.
    pub fn rx_data_size() = "rx_data_size"
);
sevio_runtime::shared_region!(
    /// The rx data region.
    pub fn rx_data_region() = "rx_data_vaddr", rx_data_size()
);
sevio_runtime::setvar!(
    /// Physical address of the rx data region (region_paddr): the I/O
    /// address of its first byte.
    pub fn rx_data_paddr() = "rx_data_paddr"
);
sevio_runtime::setvar!(
    /// Size of the tx data region.
    pub fn tx_data_size() = "tx_data_size"
);
sevio_runtime::shared_region!(
    /// The tx data region.
    pub fn tx_data_region() = "tx_data_vaddr", tx_data_size()
);
sevio_runtime::setvar!(
    /// Physical address of the tx data region (region_paddr).
    pub fn tx_data_paddr() = "tx_data_paddr"
);

/// Which client this is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer, ping the gateway, pass on its reply.
    Echo,
    /// Only answer (no target, no verdict, no timer).
    Responder,
    /// Answer and measure the stream ([`FLOOD`]); pass on the report.
    Bench,
    /// Answer and measure request/response ([`FLOOD_RR`]); its BENCH
    /// lines are named `net_rr_...` and `net_rr_timed_...`.
    BenchRr,
}

impl Mode {
    /// The host's configuration in this mode.
    pub fn config(self) -> Config {
        match self {
            Mode::Echo => Config {
                mac: MAC,
                ip: IP,
                echo_port: ECHO_PORT,
                target: Some(Target { ip: GATEWAY, traffic: Traffic::Ping }),
            },
            Mode::Responder => Config { mac: MAC, ip: IP, echo_port: ECHO_PORT, target: None },
            Mode::Bench | Mode::BenchRr => Config {
                mac: BENCH_MAC,
                ip: BENCH_IP,
                echo_port: ECHO_PORT,
                target: Some(Target { ip: IP, traffic: Traffic::Flood(self.flood()) }),
            },
        }
    }

    /// The traffic a bench mode sends ([`FLOOD`] for the others, unused).
    pub fn flood(self) -> Flood {
        match self {
            Mode::BenchRr => FLOOD_RR,
            _ => FLOOD,
        }
    }

    /// The two phases' measurements, named for the mode.
    fn benches(self) -> (Bench, Bench) {
        match self {
            Mode::BenchRr => (Bench::tagged("rr"), Bench::tagged("rr_timed")),
            _ => (Bench::default(), Bench::tagged("timed")),
        }
    }

    fn is_bench(self) -> bool {
        matches!(self, Mode::Bench | Mode::BenchRr)
    }
}

fn setup(mode: Mode) -> Result<NetClient, &'static str> {
    let (rx, tx) = (RX_CAPACITY, TX_CAPACITY);
    // An unusable region is reported by the setvar that names it.
    let named = |e: MapError| e.setvar;
    let q = Queues {
        rx_free: NetProducer::new(rx_free_region().map_err(named)?, rx).map_err(|_| "rx free queue")?,
        rx_active: NetConsumer::new(rx_active_region().map_err(named)?, rx).map_err(|_| "rx active queue")?,
        tx_free: NetConsumer::new(tx_free_region().map_err(named)?, tx).map_err(|_| "tx free queue")?,
        tx_active: NetProducer::new(tx_active_region().map_err(named)?, tx).map_err(|_| "tx active queue")?,
    };
    let io = |paddr: u64, setvar| if paddr == 0 { Err(setvar) } else { Ok(paddr) };
    let data = Data {
        rx: rx_data_region().map_err(named)?,
        rx_io: io(rx_data_paddr(), "rx_data_paddr")?,
        tx: tx_data_region().map_err(named)?,
        tx_io: io(tx_data_paddr(), "tx_data_paddr")?,
    };
    Ok(NetClient::new(q, data, Stack::new(mode.config())))
}

/// The runtime as the bench's [`Platform`].
pub struct RuntimePlatform;

impl Platform for RuntimePlatform {
    fn now_ns(&mut self) -> u64 {
        sevio_runtime::time::now_ns()
    }
    fn counters(&mut self) -> Option<(u64, u64)> {
        sevio_runtime::stats::system_counters()
    }
    fn print(&mut self, line: fmt::Arguments<'_>) {
        debug_println!("{}", line);
    }
}

/// The client's timers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NetTimer {
    /// Send again what is awaited, unless answered meanwhile.
    Retransmit,
    /// The bench's timed phase is over.
    PhaseEnd,
}

/// Which part of the bench runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// The first [`COUNT_PHASE`] echoes.
    Count,
    /// As many as come back in [`TIMED_PHASE_NS`].
    Timed,
}

/// Bench mode's two measurements.
struct BenchRun {
    count: Bench,
    timed: Bench,
    phase: Phase,
    /// The timed phase must be armed (by the PD, outside the event).
    start_timed: bool,
}

/// The client PD.
pub struct ClientPd {
    mode: Mode,
    client: Option<NetClient>,
    bench: BenchRun,
    done: bool,
    /// The driver's sides to notify after this event.
    notify: Notify,
    timer: TimerClient,
    deadlines: Deadlines<NetTimer, 2>,
}

/// Init for `mode`: set up, give the driver every rx buffer, send the
/// first frame.
pub fn init(mode: Mode) -> ClientPd {
    let (count, timed) = mode.benches();
    let bench = BenchRun { count, timed, phase: Phase::Count, start_timed: false };
    let mut pd = ClientPd {
        mode,
        client: None,
        bench,
        done: false,
        notify: Notify::default(),
        timer: TimerClient::new(TIMER),
        deadlines: Deadlines::new(),
    };
    match setup(mode) {
        Ok(client) => {
            let c = client.stack.config();
            debug_println!(
                "{}.{}.{}.{} at {}, udp echo on port {}, {} rx and {} tx buffers",
                c.ip[0],
                c.ip[1],
                c.ip[2],
                c.ip[3],
                MacDisplay(c.mac),
                c.echo_port,
                client.buffers().0,
                client.buffers().1
            );
            if client.buffers().0 == 0 || client.buffers().1 == 0 {
                verdict::fail("no room for a single buffer in the data regions");
            }
            pd.client = Some(client);
            pd.run(true);
            pd.arm_timers();
        }
        Err(what) => {
            debug_println!("{what} is not set (or unusable) in system.xml");
            verdict::fail("setvars missing");
        }
    }
    pd
}

impl ClientPd {
    fn run(&mut self, first: bool) {
        let Some(client) = self.client.as_mut() else { return };
        let (mode, bench, done) = (self.mode, &mut self.bench, &mut self.done);
        let mut on_event = |e: Event| on_event(mode, bench, done, e, true);
        let notify = if first { client.start(&mut on_event) } else { client.notified(&mut on_event) };
        match client.failure() {
            Some(e) if !*done => {
                *done = true;
                debug_println!("the driver broke a queue: {e:?}");
                verdict::fail("net queue error");
            }
            _ => {}
        }
        self.notify.rx |= notify.rx;
        self.notify.tx |= notify.tx;
    }

    /// Arm what the host now needs (a PPC to the timer only then): the
    /// retransmit deadline while it awaits an answer and has none, the
    /// timed phase's end when it starts.
    fn arm_timers(&mut self) {
        let Some(client) = self.client.as_ref() else { return };
        let retransmit = client.stack.awaiting() && self.deadlines.deadline(NetTimer::Retransmit).is_none();
        let phase_end = core::mem::take(&mut self.bench.start_timed);
        if !retransmit && !phase_end || self.done {
            return;
        }
        let now = self.timer.now_ns();
        if retransmit {
            let wait = (RETRANSMIT_AFTER_NS << client.stack.tries().min(8)).min(RETRANSMIT_MAX_NS);
            let _ = self.deadlines.arm_after(NetTimer::Retransmit, now, wait);
        }
        if phase_end {
            let _ = self.deadlines.arm_after(NetTimer::PhaseEnd, now, TIMED_PHASE_NS);
        }
        self.deadlines.sync(&mut self.timer, now);
    }

    /// The timer notified: handle what is due.
    fn timer_fired(&mut self) {
        self.deadlines.fired();
        let now = self.timer.now_ns();
        while let Some(due) = self.deadlines.pop_expired(now) {
            let Some(client) = self.client.as_mut() else { return };
            match due {
                NetTimer::Retransmit => match client.stack.retransmit_due() {
                    Retransmit::Idle | Retransmit::Progressed => {}
                    Retransmit::Resent(n) => debug_println!("no answer: sending again (try {n})"),
                    Retransmit::GaveUp(what) if !self.done => {
                        self.done = true;
                        debug_println!("no {what} after {} tries: giving up", crate::stack::MAX_TRIES + 1);
                        verdict::fail("no answer after retransmitting");
                    }
                    Retransmit::GaveUp(_) => {}
                },
                NetTimer::PhaseEnd => {
                    if let Some(e) = client.stack.stop_flood() {
                        on_event(self.mode, &mut self.bench, &mut self.done, e, false);
                    }
                }
            }
        }
        // Resends go out with the queues' next service.
        self.run(false);
        self.arm_timers();
        self.deadlines.sync(&mut self.timer, now);
    }
}

/// `from_frame`: the event came with a received frame (a
/// [`Event::FloodDone`] then stands for the last echo as well).
fn on_event(mode: Mode, bench: &mut BenchRun, done: &mut bool, e: Event, from_frame: bool) {
    match (mode, e) {
        (Mode::Echo, Event::TargetResolved(mac)) => {
            debug_println!("gateway 10.0.2.2 is at {}", MacDisplay(mac));
        }
        (Mode::Echo, Event::TargetAnswered(_)) if !*done => {
            *done = true;
            debug_println!("gateway 10.0.2.2 answered the ping");
            verdict::pass();
        }
        (mode, Event::TargetResolved(mac)) if mode.is_bench() => {
            let flood = mode.flood();
            debug_println!(
                "10.0.2.15 is at {}: {} datagrams of {} bytes to its port {}, {} in flight, then {} ms more",
                MacDisplay(mac),
                COUNT_PHASE,
                flood.size,
                flood.port,
                flood.depth,
                TIMED_PHASE_NS / NS_PER_MS
            );
            bench.count.start(&mut RuntimePlatform);
        }
        (mode, Event::FloodReply(n)) if mode.is_bench() => match bench.phase {
            Phase::Count => {
                bench.count.echoed(&mut RuntimePlatform, n);
                if bench.count.frames() == COUNT_PHASE {
                    bench.count.report(&mut RuntimePlatform, 0);
                    bench.phase = Phase::Timed;
                    bench.start_timed = true;
                    bench.timed.start(&mut RuntimePlatform);
                }
            }
            Phase::Timed => bench.timed.echoed(&mut RuntimePlatform, n),
        },
        (mode, Event::FloodDone { bad }) if mode.is_bench() && !*done => {
            *done = true;
            let last = match bench.phase {
                Phase::Count => &mut bench.count,
                Phase::Timed => &mut bench.timed,
            };
            if from_frame {
                last.echoed(&mut RuntimePlatform, mode.flood().size);
            }
            let ok = last.report(&mut RuntimePlatform, bad);
            if ok && bench.count.frames() >= COUNT_PHASE {
                verdict::pass();
            } else {
                verdict::fail("wrong or missing echoes");
            }
        }
        _ => {}
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(RX_DRIVER) || channels.contains(TX_DRIVER) {
            self.run(false);
            if self.bench.start_timed {
                self.arm_timers();
            }
        }
        if channels.contains(TIMER) {
            self.timer_fired();
        }
    }

    /// Both sides due: one is the deferred notify, the other is told now.
    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        let Notify { rx, tx } = core::mem::take(&mut self.notify);
        let side = |due: bool, ch: Channel| if due { 1 << ch.index() } else { 0 };
        DeferredAction::notify_each(ChannelSet::from_badge(side(rx, RX_DRIVER) | side(tx, TX_DRIVER)))
    }
}
