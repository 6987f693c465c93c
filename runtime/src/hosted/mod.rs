//! The hosted backend: a PD as a Linux process driven by `sevio-sim`.
//!
//! sim starts the PD's host build with two inherited descriptors named in
//! the environment: a `SOCK_SEQPACKET` socket to sim ([`wire::ENV_SOCKET_FD`])
//! and the guest-RAM file ([`wire::ENV_RAM_FD`]). [`start`] reads the
//! [`wire::Setup`] (name, IRQ ids, maps, setvar values), maps every region
//! at its vaddr and installs a panic hook that reports
//! `<pd>: panic at file:line: msg` to sim before the process aborts. Every
//! kernel operation is then a [`wire::PdMsg`] to sim; the ones that block
//! on seL4 (PPC, wait, a register read) block here on sim's answer.
//!
//! Outside sim (host unit tests of PD logic, which never call [`start`]):
//! notify and IRQ ack do nothing, prints go to stdout, device reads return
//! all ones, and a PPC, an event wait or a setvar lookup panics.

pub mod link;
mod memory;
pub mod wire;

use crate::kernel::Kernel;
use crate::{Channel, ChannelSet, DeferredAction, MAX_MESSAGE_REGISTERS, MessageInfo};
use link::Link;
use std::boxed::Box;
use std::cell::RefCell;
use std::format;
use std::string::String;
use std::sync::{Mutex, OnceLock};
use std::vec::Vec;
use wire::{Message, PdMsg, SimMsg};

pub use wire::PEER_DEAD_LABEL;

std::thread_local! {
    static MRS: RefCell<[u64; MAX_MESSAGE_REGISTERS]> = const { RefCell::new([0; MAX_MESSAGE_REGISTERS]) };
}

/// The connection to sim and what it told this PD at startup.
struct Session {
    link: Link,
    name: String,
    irqs: u64,
    setvars: Vec<(String, u64)>,
    buf: Mutex<Vec<u8>>,
}

static SESSION: OnceLock<Session> = OnceLock::new();

fn session() -> Option<&'static Session> {
    SESSION.get()
}

impl Session {
    fn send(&self, msg: PdMsg) {
        if self.link.send(&msg.encode()).is_err() {
            // sim is gone: nothing is left to do for this PD.
            std::process::exit(1);
        }
    }

    fn recv(&self) -> SimMsg {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        match self.link.recv(&mut buf) {
            Ok(true) => {}
            _ => std::process::exit(1),
        }
        match SimMsg::decode(&buf) {
            Ok(m) => m,
            Err(e) => panic!("bad message from sim: {e}"),
        }
    }
}

fn env_fd(var: &str) -> Option<i32> {
    std::env::var(var).ok()?.parse().ok()
}

/// Set up the process (called by `protection_domain!` before `init`):
/// connect to sim, map the PD's regions, install the panic hook. A program
/// started outside sim prints how to run it and exits with status 2.
pub fn start() {
    if SESSION.get().is_some() {
        return;
    }
    let (Some(sock), Some(ram)) = (env_fd(wire::ENV_SOCKET_FD), env_fd(wire::ENV_RAM_FD)) else {
        let exe = std::env::args().next().unwrap_or_default();
        std::eprintln!("{exe}: this is a sevio protection domain; run its system with `sevio-sim run system.xml`");
        std::process::exit(2);
    };
    // SAFETY: sim passes this PD's own end of a SOCK_SEQPACKET socketpair
    // under this variable, and the `SESSION` check above makes this the
    // only owner.
    let link = unsafe { Link::from_raw(sock) };
    let mut buf = Vec::new();
    let setup = match link.recv(&mut buf).map(|open| open.then(|| SimMsg::decode(&buf))) {
        Ok(Some(Ok(SimMsg::Setup(s)))) => s,
        _ => {
            std::eprintln!("sevio PD: no setup message from sim");
            std::process::exit(2);
        }
    };
    let session =
        Session { link, name: setup.name, irqs: setup.irqs, setvars: setup.setvars, buf: Mutex::new(Vec::new()) };
    let _ = SESSION.set(session);
    std::panic::set_hook(Box::new(report_panic));
    for spec in &setup.maps {
        if let Err(e) = memory::map(spec, ram) {
            panic!("{e}");
        }
    }
    // SAFETY: `ram` is the guest-RAM descriptor sim passed; the mappings
    // made from it stay valid after it is closed, and nothing else uses it.
    unsafe { libc::close(ram) };
}

fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let text = format!("{}: panic at {place}: {msg}", pd_name());
    match session() {
        Some(s) => {
            let _ = s.link.send(&PdMsg::Panic(text).encode());
        }
        None => std::eprintln!("{text}"),
    }
}

/// The PD's name as sim passes it ("pd" outside sim).
pub fn pd_name() -> &'static str {
    session().map_or("pd", |s| s.name.as_str())
}

pub(crate) fn notify(channel: Channel) {
    if let Some(s) = session() {
        s.send(PdMsg::Notify(channel.index()))
    }
}

pub(crate) fn irq_ack(channel: Channel) {
    if let Some(s) = session() {
        s.send(PdMsg::IrqAck(channel.index()))
    }
}

fn outgoing(info: MessageInfo) -> Message {
    let mrs = MRS.with(|m| m.borrow()[..info.length()].to_vec());
    Message { info: info.raw(), mrs }
}

fn incoming(msg: &Message) -> MessageInfo {
    MRS.with(|m| {
        let mut m = m.borrow_mut();
        for (slot, w) in m.iter_mut().zip(&msg.mrs) {
            *slot = *w;
        }
    });
    MessageInfo::from_raw(msg.info)
}

pub(crate) fn pp_call(channel: Channel, info: MessageInfo) -> MessageInfo {
    let Some(s) = session() else { panic!("pp_call outside sim") };
    s.send(PdMsg::PpCall(channel.index(), outgoing(info)));
    match s.recv() {
        SimMsg::Reply(m) => incoming(&m),
        other => panic!("sim answered a PPC with {other:?}"),
    }
}

/// Ask sim to restart child `child`. Outside sim there is no child:
/// refused as an invalid capability would be on seL4.
pub(crate) fn restart_child(child: crate::Child) -> Result<(), u64> {
    const INVALID_CAPABILITY: u64 = 2;
    match session() {
        Some(s) => {
            s.send(PdMsg::RestartChild(child.index()));
            Ok(())
        }
        None => Err(INVALID_CAPABILITY),
    }
}

pub(crate) fn mr_get(i: usize) -> u64 {
    MRS.with(|m| m.borrow()[i])
}

pub(crate) fn mr_set(i: usize, value: u64) {
    MRS.with(|m| m.borrow_mut()[i] = value)
}

/// Whether this process runs under sim (false in host unit tests).
pub fn in_sim() -> bool {
    session().is_some()
}

/// A variable sim passes for this PD. A symbol system.xml does not set
/// reads as 0, as an unpatched symbol does on seL4.
pub fn setvar(symbol: &str) -> u64 {
    let Some(s) = session() else { panic!("setvar {symbol} outside sim") };
    s.setvars.iter().find(|(name, _)| name == symbol).map_or(0, |(_, v)| *v)
}

/// System-wide `(notifications, irqs)` counts as sim keeps them; see
/// [`crate::stats::system_counters`]. `None` outside sim.
pub fn system_counters() -> Option<(u64, u64)> {
    let s = session()?;
    s.send(PdMsg::Counters);
    match s.recv() {
        SimMsg::Counters { notifications, irqs } => Some((notifications, irqs)),
        other => panic!("sim answered a counters request with {other:?}"),
    }
}

/// One whole line (the print module makes them), as one message to sim;
/// outside sim, to stdout.
pub(crate) fn write_line(line: &[u8]) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line);
    bytes.push(b'\n');
    match session() {
        Some(s) => s.send(PdMsg::Output(bytes)),
        None => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(&bytes);
        }
    }
}

pub(crate) fn report_verdict(pass: bool, reason: &str) {
    if let Some(s) = session() {
        s.send(PdMsg::Verdict { pass, reason: reason.into() })
    }
}

/// The simulated generic timer's registers were written (see
/// [`crate::generic_timer`]); sim times the interrupt.
pub(crate) fn timer_set(compare: u64, control: u64) {
    if let Some(s) = session() {
        s.send(PdMsg::TimerSet { compare, control })
    }
}

pub(crate) fn mmio_read(addr: usize, width: usize) -> u64 {
    let Some(s) = session() else { return u64::MAX };
    s.send(PdMsg::MmioRead { vaddr: addr as u64, width: width as u8 });
    match s.recv() {
        SimMsg::MmioValue(v) => v,
        other => panic!("sim answered a register read with {other:?}"),
    }
}

pub(crate) fn mmio_write(addr: usize, width: usize, value: u64) {
    if let Some(s) = session() {
        s.send(PdMsg::MmioWrite { vaddr: addr as u64, width: width as u8, value })
    }
}

/// The sim connection as the event loop's kernel.
pub struct HostedKernel;

impl HostedKernel {
    /// The one kernel handle.
    pub fn take() -> Self {
        HostedKernel
    }
}

impl Kernel for HostedKernel {
    fn start(&mut self) {
        let irqs = session().map_or(0, |s| s.irqs);
        ChannelSet::from_badge(irqs).iter().for_each(|ch| self.perform(DeferredAction::IrqAck(ch)));
    }

    fn perform(&mut self, action: DeferredAction) {
        let Some(s) = session() else { return };
        s.send(match action {
            DeferredAction::Notify(ch) => PdMsg::Notify(ch.index()),
            DeferredAction::IrqAck(ch) => PdMsg::IrqAck(ch.index()),
        });
    }

    fn wait(&mut self, reply: Option<MessageInfo>, action: Option<DeferredAction>) -> (u64, MessageInfo) {
        let Some(s) = session() else { panic!("event wait outside sim") };
        if let Some(action) = action {
            self.perform(action);
        }
        s.send(PdMsg::Wait(reply.map(outgoing)));
        match s.recv() {
            SimMsg::Event { badge, msg } => (badge, incoming(&msg)),
            other => panic!("sim answered a wait with {other:?}"),
        }
    }
}
