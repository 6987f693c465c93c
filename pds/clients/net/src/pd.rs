//! The PD shell: setvars, the runtime [`Handler`], the two modes.
//!
//! system.xml gives the client:
//! - channel 0: the net driver ([`DRIVER`]), notifications both ways;
//! - `rx_free_vaddr`, `rx_active_vaddr`, `tx_free_vaddr`,
//!   `tx_active_vaddr`: the four queue regions ([`QUEUE_REGION_SIZE`]
//!   each, capacity [`QUEUE_CAPACITY`]), shared with the driver;
//! - `rx_data_vaddr` / `rx_data_size` and `tx_data_vaddr` /
//!   `tx_data_size` (setvar_vaddr / setvar_size): its data regions.
//!
//! Modes: `net-client` ([`Mode::Echo`], 10.0.2.15) answers ARP, ping and
//! UDP echo, pings the gateway 10.0.2.2 and passes on its answer;
//! `net-bench` ([`Mode::Bench`], 10.0.2.16) answers the same, floods the
//! UDP echo of 10.0.2.15 (a net-client) and passes when every datagram
//! came back (see [`crate::bench`]).

use crate::MacDisplay;
use crate::bench::{Bench, Platform};
use crate::client::{Data, NetClient, Queues};
use crate::stack::{Config, Event, Flood, Stack, Target, Traffic};
use core::fmt;
use sevio_queue::{NetConsumer, NetProducer};
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The net driver.
pub const DRIVER: Channel = Channel::new(0);
/// Entries in each net queue.
pub const QUEUE_CAPACITY: u32 = 256;
/// Bytes of each queue region.
pub const QUEUE_REGION_SIZE: usize = 0x2000;

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
/// net-bench's flood of net-client's echo port.
pub const FLOOD: Flood = Flood { count: 5000, depth: 32, size: 1024, port: ECHO_PORT };

sevio_runtime::shared_region!(
    /// The rx free queue.
    pub fn rx_free_region() = "rx_free_vaddr", QUEUE_REGION_SIZE as u64
);
sevio_runtime::shared_region!(
    /// The rx active queue.
    pub fn rx_active_region() = "rx_active_vaddr", QUEUE_REGION_SIZE as u64
);
sevio_runtime::shared_region!(
    /// The tx free queue.
    pub fn tx_free_region() = "tx_free_vaddr", QUEUE_REGION_SIZE as u64
);
sevio_runtime::shared_region!(
    /// The tx active queue.
    pub fn tx_active_region() = "tx_active_vaddr", QUEUE_REGION_SIZE as u64
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
    /// Size of the tx data region.
    pub fn tx_data_size() = "tx_data_size"
);
sevio_runtime::shared_region!(
    /// The tx data region.
    pub fn tx_data_region() = "tx_data_vaddr", tx_data_size()
);

/// Which client this is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer, ping the gateway, pass on its reply.
    Echo,
    /// Answer and measure; pass on the report.
    Bench,
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
            Mode::Bench => Config {
                mac: BENCH_MAC,
                ip: BENCH_IP,
                echo_port: ECHO_PORT,
                target: Some(Target { ip: IP, traffic: Traffic::Flood(FLOOD) }),
            },
        }
    }
}

fn setup(mode: Mode) -> Result<NetClient, &'static str> {
    let cap = QUEUE_CAPACITY;
    // An unusable region is reported by the setvar that names it.
    let named = |e: MapError| e.setvar;
    let q = Queues {
        rx_free: NetProducer::new(rx_free_region().map_err(named)?, cap).map_err(|_| "rx free queue")?,
        rx_active: NetConsumer::new(rx_active_region().map_err(named)?, cap).map_err(|_| "rx active queue")?,
        tx_free: NetConsumer::new(tx_free_region().map_err(named)?, cap).map_err(|_| "tx free queue")?,
        tx_active: NetProducer::new(tx_active_region().map_err(named)?, cap).map_err(|_| "tx active queue")?,
    };
    let data = Data { rx: rx_data_region().map_err(named)?, tx: tx_data_region().map_err(named)? };
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

/// The client PD.
pub struct ClientPd {
    mode: Mode,
    client: Option<NetClient>,
    bench: Bench,
    done: bool,
    deferred: Option<DeferredAction>,
}

/// Init for `mode`: set up, give the driver every rx buffer, send the
/// first frame.
pub fn init(mode: Mode) -> ClientPd {
    let mut pd = ClientPd { mode, client: None, bench: Bench::default(), done: false, deferred: None };
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
                client.buffers(),
                client.buffers()
            );
            if client.buffers() == 0 {
                verdict::fail("no room for a single buffer in the data regions");
            }
            pd.client = Some(client);
            pd.run(true);
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
        let mut on_event = |e: Event| on_event(mode, bench, done, e);
        let notify = if first { client.start(&mut on_event) } else { client.notified(&mut on_event) };
        match client.failure() {
            Some(e) if !*done => {
                *done = true;
                debug_println!("the driver broke a queue: {e:?}");
                verdict::fail("net queue error");
            }
            _ => {}
        }
        if notify {
            self.deferred = Some(DeferredAction::Notify(DRIVER));
        }
    }
}

fn on_event(mode: Mode, bench: &mut Bench, done: &mut bool, e: Event) {
    match (mode, e) {
        (Mode::Echo, Event::TargetResolved(mac)) => {
            debug_println!("gateway 10.0.2.2 is at {}", MacDisplay(mac));
        }
        (Mode::Echo, Event::TargetAnswered(_)) if !*done => {
            *done = true;
            debug_println!("gateway 10.0.2.2 answered the ping");
            verdict::pass();
        }
        (Mode::Bench, Event::TargetResolved(mac)) => {
            debug_println!(
                "10.0.2.15 is at {}: {} datagrams of {} bytes to its port {}, {} in flight",
                MacDisplay(mac),
                FLOOD.count,
                FLOOD.size,
                FLOOD.port,
                FLOOD.depth
            );
            bench.start(&mut RuntimePlatform);
        }
        (Mode::Bench, Event::FloodReply(n)) => bench.echoed(&mut RuntimePlatform, n),
        (Mode::Bench, Event::FloodDone { bad }) if !*done => {
            *done = true;
            bench.echoed(&mut RuntimePlatform, FLOOD.size);
            if bench.report(&mut RuntimePlatform, bad) {
                verdict::pass();
            } else {
                verdict::fail("wrong echoes");
            }
        }
        _ => {}
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(DRIVER) {
            self.run(false);
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        self.deferred.take()
    }
}
