//! The messages between a hosted PD and `sevio-sim`.
//!
//! One message per `SOCK_SEQPACKET` record, little-endian, a tag byte
//! first. The PD sends [`PdMsg`]s; sim answers only what asks for an
//! answer ([`PdMsg::PpCall`] → [`SimMsg::Reply`], [`PdMsg::Wait`] →
//! [`SimMsg::Event`], [`PdMsg::MmioRead`] → [`SimMsg::MmioValue`]) and
//! sends [`SimMsg::Setup`] once, first. Everything else is one-way and
//! takes effect in the order sent.
//!
//! Decoding never panics: a short, oversized or unknown record is a
//! [`WireError`]. sim and the PD are built from the same source, so an
//! error means a bug or a foreign process on the socket.

use std::string::String;
use std::vec::Vec;

use crate::MAX_MESSAGE_REGISTERS;
pub use crate::event_loop::{BADGE_FAULT, BADGE_PPC};

/// Largest record either side sends or accepts.
pub const MAX_RECORD: usize = 64 * 1024;

/// Label of the reply sim gives a PPC whose callee is dead (it faulted
/// before or while serving the call). seL4 would leave the caller blocked;
/// sim answers so the caller can report it. All 52 label bits set.
pub const PEER_DEAD_LABEL: u64 = (1 << 52) - 1;

/// Environment variable with the PD's end of its socket to sim.
pub const ENV_SOCKET_FD: &str = "SEVIO_SIM_FD";
/// Environment variable with a descriptor of the guest-RAM file.
pub const ENV_RAM_FD: &str = "SEVIO_SIM_RAM_FD";
/// Environment variable with the PD's name (also in [`Setup`]).
pub const ENV_PD_NAME: &str = "SEVIO_PD_NAME";
/// Environment variable with the process id of the sim that runs the PD.
pub const ENV_SIM_PID: &str = "SEVIO_SIM_PID";

/// Physical address of the first byte of the guest-RAM file.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Bytes of guest RAM (QEMU `-m 2G`), so RAM is `RAM_BASE..RAM_BASE + RAM_SIZE`.
pub const RAM_SIZE: u64 = 0x8000_0000;

/// Frequency of the simulated generic timer's counter: 62.5 MHz, what
/// QEMU's cortex-a53 reports in `CNTFRQ_EL0`, so a driver scales as it
/// does on QEMU.
pub const SIM_COUNTER_HZ: u64 = 62_500_000;

/// The simulated physical count (`CNTPCT_EL0`) at `monotonic_ns` on the
/// host's `CLOCK_MONOTONIC`, which every process of a run shares: the PDs
/// read the counter without asking sim, and sim times the compare value
/// against the same clock.
pub const fn sim_count_at(monotonic_ns: u64) -> u64 {
    (monotonic_ns as u128 * SIM_COUNTER_HZ as u128 / 1_000_000_000) as u64
}

/// The first `CLOCK_MONOTONIC` nanosecond at which the simulated count
/// reaches `count` (the inverse of [`sim_count_at`], rounded up).
pub const fn sim_monotonic_ns_of(count: u64) -> u64 {
    let ns = (count as u128 * 1_000_000_000).div_ceil(SIM_COUNTER_HZ as u128);
    if ns > u64::MAX as u128 { u64::MAX } else { ns as u64 }
}

/// The host's `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to
    // a local; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// A decoding failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The record ended inside a field.
    Truncated,
    /// Bytes left after the last field.
    Trailing,
    /// No message has this tag.
    UnknownTag(u8),
    /// More message registers than seL4 carries.
    TooManyRegisters(usize),
    /// A string field is not UTF-8.
    NotUtf8,
    /// A width other than 1, 2, 4 or 8.
    BadWidth(u8),
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Truncated => write!(f, "record too short"),
            WireError::Trailing => write!(f, "bytes after the last field"),
            WireError::UnknownTag(t) => write!(f, "unknown message tag {t}"),
            WireError::TooManyRegisters(n) => write!(f, "{n} message registers (at most {MAX_MESSAGE_REGISTERS})"),
            WireError::NotUtf8 => write!(f, "string is not UTF-8"),
            WireError::BadWidth(w) => write!(f, "register width {w}"),
        }
    }
}

/// A message tag and the message registers it covers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Message {
    /// The raw seL4 message tag.
    pub info: u64,
    /// Message registers 0..length.
    pub mrs: Vec<u64>,
}

/// PD → sim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PdMsg {
    /// Signal channel `0`.
    Notify(u8),
    /// Acknowledge the IRQ with this id.
    IrqAck(u8),
    /// Call the PD at the other end of this channel; sim answers [`SimMsg::Reply`].
    PpCall(u8, Message),
    /// Reply (if given) to the PPC or fault being handled, then wait for
    /// the next event; sim answers [`SimMsg::Event`].
    Wait(Option<Message>),
    /// Read a device register at this vaddr; sim answers [`SimMsg::MmioValue`].
    MmioRead {
        /// Virtual address in the PD.
        vaddr: u64,
        /// 1, 2, 4 or 8 bytes.
        width: u8,
    },
    /// Write a device register at this vaddr.
    MmioWrite {
        /// Virtual address in the PD.
        vaddr: u64,
        /// 1, 2, 4 or 8 bytes.
        width: u8,
        /// The value (low `width` bytes).
        value: u64,
    },
    /// Debug output bytes.
    Output(Vec<u8>),
    /// The PD's test verdict.
    Verdict {
        /// PASS or FAIL.
        pass: bool,
        /// Why it failed (empty on PASS).
        reason: String,
    },
    /// The PD panicked (it aborts right after): the message to report.
    Panic(String),
    /// Ask for the system-wide counters; sim answers [`SimMsg::Counters`].
    Counters,
    /// The PD wrote the simulated generic timer's compare value or
    /// control register; both travel so sim's copy is always whole.
    TimerSet {
        /// `CNTP_CVAL_EL0`: the count at which the timer condition holds.
        compare: u64,
        /// `CNTP_CTL_EL0` (ENABLE bit 0, IMASK bit 1; ISTATUS is sim's).
        control: u64,
    },
    /// Restart child `0` (the `id` of a PD nested in the sender): sim
    /// ends its process if it still runs and starts it again with the same
    /// maps, as seL4 points a child's thread back at its entry.
    RestartChild(u8),
}

/// How a map reaches memory in the PD process.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// A view of the guest-RAM file at this byte offset.
    Ram {
        /// Offset in the guest-RAM file (physical address - [`RAM_BASE`]).
        offset: u64,
    },
    /// Device registers: reserved but inaccessible; reached through sim.
    Device,
}

/// One `<map>` as the PD must set it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// Virtual address (page aligned).
    pub vaddr: u64,
    /// Bytes (page multiple).
    pub size: u64,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
    /// RAM view or device window.
    pub kind: MapKind,
}

/// What a PD learns at startup.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Setup {
    /// The PD's name.
    pub name: String,
    /// Bitmask of the ids that are IRQs (acked once at start).
    pub irqs: u64,
    /// Memory to map.
    pub maps: Vec<MapSpec>,
    /// `setvar` symbols and their values.
    pub setvars: Vec<(String, u64)>,
}

/// sim → PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimMsg {
    /// The PD's configuration (first message).
    Setup(Setup),
    /// The next event: a Microkit badge and its message.
    Event {
        /// Bit 63: PPC on channel (low 6 bits); bit 62: fault of child
        /// (low 8 bits); else notified ids.
        badge: u64,
        /// Message tag and registers.
        msg: Message,
    },
    /// The answer to a [`PdMsg::PpCall`].
    Reply(Message),
    /// The answer to a [`PdMsg::MmioRead`].
    MmioValue(u64),
    /// The answer to [`PdMsg::Counters`]: every notification any PD has
    /// sent and every IRQ delivered, so far.
    Counters {
        /// Notifications sent.
        notifications: u64,
        /// IRQs delivered.
        irqs: u64,
    },
}

mod tag {
    pub const NOTIFY: u8 = 1;
    pub const IRQ_ACK: u8 = 2;
    pub const PP_CALL: u8 = 3;
    pub const WAIT: u8 = 4;
    pub const WAIT_NO_REPLY: u8 = 5;
    pub const MMIO_READ: u8 = 6;
    pub const MMIO_WRITE: u8 = 7;
    pub const OUTPUT: u8 = 8;
    pub const VERDICT: u8 = 9;
    pub const PANIC: u8 = 10;
    pub const COUNTERS: u8 = 11;
    pub const TIMER_SET: u8 = 12;
    pub const RESTART_CHILD: u8 = 13;

    pub const SETUP: u8 = 101;
    pub const EVENT: u8 = 102;
    pub const REPLY: u8 = 103;
    pub const MMIO_VALUE: u8 = 104;
    pub const COUNTERS_VALUE: u8 = 105;
}

struct Enc(Vec<u8>);

impl Enc {
    fn new(tag: u8) -> Self {
        let mut v = Vec::with_capacity(64);
        v.push(tag);
        Enc(v)
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
        self
    }
    fn message(&mut self, m: &Message) -> &mut Self {
        self.u64(m.info).u8(m.mrs.len().min(MAX_MESSAGE_REGISTERS) as u8);
        for w in m.mrs.iter().take(MAX_MESSAGE_REGISTERS) {
            self.u64(*w);
        }
        self
    }
    fn done(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.0)
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String, WireError> {
        String::from_utf8(self.bytes()?).map_err(|_| WireError::NotUtf8)
    }
    fn width(&mut self) -> Result<u8, WireError> {
        match self.u8()? {
            w @ (1 | 2 | 4 | 8) => Ok(w),
            w => Err(WireError::BadWidth(w)),
        }
    }
    fn message(&mut self) -> Result<Message, WireError> {
        let info = self.u64()?;
        let n = self.u8()? as usize;
        if n > MAX_MESSAGE_REGISTERS {
            return Err(WireError::TooManyRegisters(n));
        }
        let mrs = (0..n).map(|_| self.u64()).collect::<Result<Vec<_>, _>>()?;
        Ok(Message { info, mrs })
    }
    fn end<T>(self, v: T) -> Result<T, WireError> {
        if self.0.is_empty() { Ok(v) } else { Err(WireError::Trailing) }
    }
}

impl PdMsg {
    /// The record for this message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            PdMsg::Notify(ch) => Enc::new(tag::NOTIFY).u8(*ch).done(),
            PdMsg::IrqAck(ch) => Enc::new(tag::IRQ_ACK).u8(*ch).done(),
            PdMsg::PpCall(ch, m) => Enc::new(tag::PP_CALL).u8(*ch).message(m).done(),
            PdMsg::Wait(Some(m)) => Enc::new(tag::WAIT).message(m).done(),
            PdMsg::Wait(None) => Enc::new(tag::WAIT_NO_REPLY).done(),
            PdMsg::MmioRead { vaddr, width } => Enc::new(tag::MMIO_READ).u64(*vaddr).u8(*width).done(),
            PdMsg::MmioWrite { vaddr, width, value } => {
                Enc::new(tag::MMIO_WRITE).u64(*vaddr).u8(*width).u64(*value).done()
            }
            PdMsg::Output(b) => Enc::new(tag::OUTPUT).bytes(b).done(),
            PdMsg::Verdict { pass, reason } => Enc::new(tag::VERDICT).u8(*pass as u8).bytes(reason.as_bytes()).done(),
            PdMsg::Panic(s) => Enc::new(tag::PANIC).bytes(s.as_bytes()).done(),
            PdMsg::Counters => Enc::new(tag::COUNTERS).done(),
            PdMsg::TimerSet { compare, control } => Enc::new(tag::TIMER_SET).u64(*compare).u64(*control).done(),
            PdMsg::RestartChild(child) => Enc::new(tag::RESTART_CHILD).u8(*child).done(),
        }
    }

    /// The message in this record.
    pub fn decode(record: &[u8]) -> Result<PdMsg, WireError> {
        let mut d = Dec(record);
        let msg = match d.u8()? {
            tag::NOTIFY => PdMsg::Notify(d.u8()?),
            tag::IRQ_ACK => PdMsg::IrqAck(d.u8()?),
            tag::PP_CALL => PdMsg::PpCall(d.u8()?, d.message()?),
            tag::WAIT => PdMsg::Wait(Some(d.message()?)),
            tag::WAIT_NO_REPLY => PdMsg::Wait(None),
            tag::MMIO_READ => PdMsg::MmioRead { vaddr: d.u64()?, width: d.width()? },
            tag::MMIO_WRITE => PdMsg::MmioWrite { vaddr: d.u64()?, width: d.width()?, value: d.u64()? },
            tag::OUTPUT => PdMsg::Output(d.bytes()?),
            tag::VERDICT => PdMsg::Verdict { pass: d.u8()? != 0, reason: d.string()? },
            tag::PANIC => PdMsg::Panic(d.string()?),
            tag::COUNTERS => PdMsg::Counters,
            tag::TIMER_SET => PdMsg::TimerSet { compare: d.u64()?, control: d.u64()? },
            tag::RESTART_CHILD => PdMsg::RestartChild(d.u8()?),
            t => return Err(WireError::UnknownTag(t)),
        };
        d.end(msg)
    }
}

const PERM_R: u8 = 1;
const PERM_W: u8 = 2;
const PERM_X: u8 = 4;
const KIND_DEVICE: u8 = 0;
const KIND_RAM: u8 = 1;

impl SimMsg {
    /// The record for this message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            SimMsg::Setup(s) => {
                let mut e = Enc::new(tag::SETUP);
                e.bytes(s.name.as_bytes()).u64(s.irqs).u64(s.maps.len() as u64);
                for m in &s.maps {
                    let perms = [(m.read, PERM_R), (m.write, PERM_W), (m.execute, PERM_X)]
                        .iter()
                        .fold(0, |acc, &(on, bit)| if on { acc | bit } else { acc });
                    e.u64(m.vaddr).u64(m.size).u8(perms);
                    match m.kind {
                        MapKind::Device => e.u8(KIND_DEVICE).u64(0),
                        MapKind::Ram { offset } => e.u8(KIND_RAM).u64(offset),
                    };
                }
                e.u64(s.setvars.len() as u64);
                for (sym, value) in &s.setvars {
                    e.bytes(sym.as_bytes()).u64(*value);
                }
                e.done()
            }
            SimMsg::Event { badge, msg } => Enc::new(tag::EVENT).u64(*badge).message(msg).done(),
            SimMsg::Reply(m) => Enc::new(tag::REPLY).message(m).done(),
            SimMsg::MmioValue(v) => Enc::new(tag::MMIO_VALUE).u64(*v).done(),
            SimMsg::Counters { notifications, irqs } => {
                Enc::new(tag::COUNTERS_VALUE).u64(*notifications).u64(*irqs).done()
            }
        }
    }

    /// The message in this record.
    pub fn decode(record: &[u8]) -> Result<SimMsg, WireError> {
        let mut d = Dec(record);
        let msg = match d.u8()? {
            tag::SETUP => {
                let name = d.string()?;
                let irqs = d.u64()?;
                let n = d.u64()?;
                let mut maps = Vec::new();
                for _ in 0..n {
                    let (vaddr, size, perms, kind, offset) = (d.u64()?, d.u64()?, d.u8()?, d.u8()?, d.u64()?);
                    let kind = if kind == KIND_RAM { MapKind::Ram { offset } } else { MapKind::Device };
                    let (read, write, execute) = (perms & PERM_R != 0, perms & PERM_W != 0, perms & PERM_X != 0);
                    maps.push(MapSpec { vaddr, size, read, write, execute, kind });
                }
                let n = d.u64()?;
                let mut setvars = Vec::new();
                for _ in 0..n {
                    setvars.push((d.string()?, d.u64()?));
                }
                SimMsg::Setup(Setup { name, irqs, maps, setvars })
            }
            tag::EVENT => SimMsg::Event { badge: d.u64()?, msg: d.message()? },
            tag::REPLY => SimMsg::Reply(d.message()?),
            tag::MMIO_VALUE => SimMsg::MmioValue(d.u64()?),
            tag::COUNTERS_VALUE => SimMsg::Counters { notifications: d.u64()?, irqs: d.u64()? },
            t => return Err(WireError::UnknownTag(t)),
        };
        d.end(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    fn pd_roundtrip(m: PdMsg) {
        assert_eq!(PdMsg::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn every_pd_message_round_trips() {
        let full = Message { info: 0x1234_5078, mrs: (0..120).collect() };
        pd_roundtrip(PdMsg::Notify(61));
        pd_roundtrip(PdMsg::IrqAck(3));
        pd_roundtrip(PdMsg::PpCall(1, full.clone()));
        pd_roundtrip(PdMsg::Wait(Some(Message { info: 6, mrs: vec![1, 2, 3, 4, 5, 6] })));
        pd_roundtrip(PdMsg::Wait(None));
        pd_roundtrip(PdMsg::MmioRead { vaddr: 0x300_0000, width: 4 });
        pd_roundtrip(PdMsg::MmioWrite { vaddr: 0x300_0050, width: 8, value: u64::MAX });
        pd_roundtrip(PdMsg::Output(b"hello\n".to_vec()));
        pd_roundtrip(PdMsg::Verdict { pass: false, reason: "bad".to_string() });
        pd_roundtrip(PdMsg::Panic("x: panic at a.rs:1: boom".to_string()));
        pd_roundtrip(PdMsg::Counters);
        pd_roundtrip(PdMsg::TimerSet { compare: u64::MAX, control: 3 });
        pd_roundtrip(PdMsg::RestartChild(7));
    }

    #[test]
    fn sim_counter_conversions_are_inverse() {
        for ns in [0, 15, 16, 17, 1_000_000_007, 3_600_000_000_000_123] {
            let count = sim_count_at(ns);
            let back = sim_monotonic_ns_of(count);
            assert!(back <= ns && sim_count_at(back) == count, "{ns} -> {count} -> {back}");
        }
        assert_eq!(sim_count_at(1_000_000_000), SIM_COUNTER_HZ);
        assert_eq!(sim_monotonic_ns_of(u64::MAX), u64::MAX);
    }

    #[test]
    fn every_sim_message_round_trips() {
        let setup = Setup {
            name: "ping".to_string(),
            irqs: 1 << 5,
            maps: vec![
                MapSpec {
                    vaddr: 0x200_0000,
                    size: 0x1000,
                    read: true,
                    write: true,
                    execute: false,
                    kind: MapKind::Ram { offset: 0x1000_0000 },
                },
                MapSpec {
                    vaddr: 0x300_0000,
                    size: 0x4000,
                    read: true,
                    write: false,
                    execute: false,
                    kind: MapKind::Device,
                },
            ],
            setvars: vec![("shared_vaddr".to_string(), 0x200_0000)],
        };
        for m in [
            SimMsg::Setup(setup),
            SimMsg::Event { badge: 1 << 63 | 2, msg: Message { info: 1 << 12 | 2, mrs: vec![7, 8] } },
            SimMsg::Reply(Message::default()),
            SimMsg::MmioValue(0x7472_6976),
            SimMsg::Counters { notifications: 7, irqs: u64::MAX },
        ] {
            assert_eq!(SimMsg::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn bad_records_are_errors() {
        assert_eq!(PdMsg::decode(&[]), Err(WireError::Truncated));
        assert_eq!(PdMsg::decode(&[200]), Err(WireError::UnknownTag(200)));
        assert_eq!(PdMsg::decode(&[tag::NOTIFY, 1, 0]), Err(WireError::Trailing));
        assert_eq!(PdMsg::decode(&[tag::MMIO_READ, 0, 0, 0, 0, 0, 0, 0, 0, 3]), Err(WireError::BadWidth(3)));
        let mut too_many = vec![tag::PP_CALL, 0];
        too_many.extend_from_slice(&0u64.to_le_bytes());
        too_many.push(121);
        assert_eq!(PdMsg::decode(&too_many), Err(WireError::TooManyRegisters(121)));
        // Every prefix of a valid record is refused, never a panic.
        let rec = PdMsg::PpCall(1, Message { info: 3, mrs: vec![1, 2, 3] }).encode();
        for n in 0..rec.len() {
            assert_eq!(PdMsg::decode(&rec[..n]), Err(WireError::Truncated));
        }
        let rec = SimMsg::Setup(Setup { name: "a".to_string(), ..Default::default() }).encode();
        for n in 0..rec.len() {
            assert!(SimMsg::decode(&rec[..n]).is_err());
        }
        assert_eq!(SimMsg::decode(&[tag::OUTPUT]), Err(WireError::UnknownTag(tag::OUTPUT)));
    }
}
