//! The bus as a PD: the [`Broker`] behind the runtime's [`Handler`].
//!
//! A PPC is read with the runtime's [`PpcMessage`] (a message longer than
//! any bus request is refused as malformed, never cut short), decoded
//! strictly, handled by the broker, and answered; the channels the
//! broker names are notified.

use crate::broker::{Broker, DmaFault, DriverPort, TransportPort};
use crate::config;
use crate::gate::Gate;
use crate::hang::{HANG_LIMIT_NS, HANG_TICK_NS, HangWatch};
use crate::restart::{Decision, FaultHistory, RestartPolicy};
use core::sync::atomic::Ordering;
use sevio_bus_protocol::confine::{BusSide, PageTooSmall};
use sevio_bus_protocol::wire::MAX_WORDS;
use sevio_bus_protocol::{BusError, BusReply, BusRequest, DriverId, MatchError, TableError, TableWriter};
use sevio_runtime::fault::FaultReport;
use sevio_runtime::print::DebugWriter;
use sevio_runtime::time::now_ns;
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, Child, Handler, MessageInfo, PpcMessage, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_timer_protocol::{Timer, TimerClient};

/// A message to or from the bus.
type BusMessage = PpcMessage<MAX_WORDS>;

/// Why the bus cannot start.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The binding table is not mapped.
    Map(MapError),
    /// The binding table page cannot hold a table.
    Table(TableError),
    /// The matcher refused the configuration.
    Matcher(MatchError),
    /// One confinement page is mapped and the other is not.
    HalfAnIommu(MapError),
    /// A confinement page is too small.
    ConfinePage(PageTooSmall),
}

/// The bus PD.
pub struct BusPd {
    broker: Broker,
    policy: RestartPolicy,
    restarts: [DriverRestarts; MAX_CHILDREN],
    /// The drivers (bit k: child k) whose heartbeat page system.xml maps
    /// into the bus, what was last seen of each, and the timer the bus
    /// reads them on (none without pages). The pages themselves are looked
    /// up at each reading: the bus may run on a small stack.
    heartbeats: u16,
    watches: [HangWatch; MAX_CHILDREN],
    timer: Option<TimerClient>,
}

/// The drivers the bus keeps restart state for (child ids 0..16, as
/// many as [`config::DRIVERS`]).
const MAX_CHILDREN: usize = 16;

/// One driver's faults, as far as restarting it goes.
#[derive(Copy, Clone, Default)]
struct DriverRestarts {
    history: FaultHistory,
    /// When its latest fault came, until it is bound again: the time
    /// from fault to service that the log reports.
    faulted_at: Option<u64>,
    /// Left down for good.
    down: bool,
}

/// What the bus does about one fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Restart the child after this many nanoseconds.
    RestartAfter(u64),
    /// Leave it down.
    LeaveDown,
}

/// The PD's entry point: map the binding table, start the bus. A bus
/// that cannot start stops the PD with the reason.
pub fn init() -> BusPd {
    // The gate is made first and handed in, so that no extra copy of the
    // (large) BusPd lands on the stack: systems give the bus Microkit's
    // default 8 KiB.
    let gate = match (config::confine_requests(), config::confine_answers()) {
        (Ok(requests), Ok(answers)) => BusSide::new(requests, answers).map(|side| Some(Gate::new(side))),
        (Err(_), Err(_)) => Ok(None),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => panic!("bus: cannot start: {:?}", StartError::HalfAnIommu(e)),
    };
    let gate = gate.unwrap_or_else(|e| panic!("bus: cannot start: {:?}", StartError::ConfinePage(e)));
    if gate.is_some() {
        debug_println!("bus: PCI bindings wait for the IOMMU to confine their DMA");
    }
    let pd = config::binding_table()
        .map_err(StartError::Map)
        .and_then(|table| BusPd::new(table, &config::TRANSPORTS, &config::DRIVERS, gate));
    match pd {
        Ok(mut pd) => {
            pd.policy = config::restart_policy();
            let mapped = (0..MAX_CHILDREN).filter(|&k| config::heartbeat(k).is_some()).fold(0, |m, k| m | 1 << k);
            // In place: the bus is large for the default stack some
            // systems give it, and a by-value builder would copy it.
            pd.watch_heartbeats(mapped, TimerClient::new(config::TIMER));
            debug_println!("bus: ready");
            if let Some(timer) = &mut pd.timer {
                let watched = pd.heartbeats.count_ones();
                debug_println!(
                    "bus: watching {watched} driver heartbeat(s): inside one event for {} ms is a hang",
                    HANG_LIMIT_NS / 1_000_000
                );
                timer.set_timeout(HANG_TICK_NS);
            }
            pd
        }
        Err(e) => panic!("bus: cannot start: {e:?}"),
    }
}

impl BusPd {
    /// The bus writing its bindings into `table`, for these transports
    /// and drivers.
    pub fn new(
        table: SharedMemory,
        transports: &'static [TransportPort],
        drivers: &'static [DriverPort],
        iommu: Option<Gate>,
    ) -> Result<Self, StartError> {
        let table =
            TableWriter::init(table, sevio_bus_protocol::table::TABLE_PAGE_CAPACITY).map_err(StartError::Table)?;
        let mut broker = Broker::new(table, transports, drivers).map_err(StartError::Matcher)?;
        if let Some(gate) = iommu {
            broker = broker.with_iommu(gate, config::IOMMU_CHANNEL);
        }
        Ok(BusPd {
            broker,
            policy: config::RESTART_POLICY,
            restarts: [DriverRestarts::default(); MAX_CHILDREN],
            heartbeats: 0,
            watches: [HangWatch::new(); MAX_CHILDREN],
            timer: None,
        })
    }

    /// Watch the drivers in `mapped` (bit k: child k, whose heartbeat
    /// page `config::heartbeat` maps), reading them on `timer`'s
    /// timeouts; with none, no timer is used.
    pub fn watch_heartbeats(&mut self, mapped: u16, timer: TimerClient) {
        self.timer = (mapped != 0).then_some(timer);
        self.heartbeats = mapped;
    }

    /// The IOMMU PD answered: publish what it confined; a device fault it
    /// reported is its driver's fault, handled as a kernel-reported one:
    /// the driver is unbound (its device reset, its mappings released)
    /// and restarted after the back-off, or left down, by the restart
    /// policy. Returns the children to restart and their back-offs. A
    /// fault of a driver that is no longer bound (the rest of a burst
    /// the IOMMU reported before the bus acted) is not counted again.
    pub fn iommu_answered(&mut self, now: u64) -> heapless::Vec<(Child, u64), { sevio_bus_protocol::confine::SLOTS }> {
        let mut faults: heapless::Vec<DmaFault, { sevio_bus_protocol::confine::SLOTS }> = heapless::Vec::new();
        notify(self.broker.iommu_answered(&mut DebugWriter::for_this_pd(), |f| {
            let _ = faults.push(f);
        }));
        let mut restarts = heapless::Vec::new();
        for f in faults {
            if !self.broker.is_bound(f.driver) {
                continue;
            }
            let name = self.broker.driver_name(f.driver);
            let access = match f.flags & 3 {
                2 | 3 => "write",
                1 => "read",
                _ => "access",
            };
            match f.address {
                Some(a) => debug_println!(
                    "bus: driver {} faulted ({name}): the IOMMU refused its device's DMA {access} at {a:#x}",
                    f.driver.0
                ),
                None => debug_println!(
                    "bus: driver {} faulted ({name}): the IOMMU refused its device's DMA {access}",
                    f.driver.0
                ),
            }
            let child = Child::new(f.driver.0);
            if let FaultAction::RestartAfter(backoff_ns) = self.driver_stopped(child, now) {
                let _ = restarts.push((child, backoff_ns));
            }
        }
        restarts
    }

    /// Use `policy` for restarts instead of the system's.
    pub fn with_restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Child `child` faulted at `now` as `report` says: unbind it (its
    /// transport resets the device when it sees the binding gone, before
    /// the driver can run again: the transport is the higher priority),
    /// log it, and decide whether it is restarted.
    pub fn driver_faulted(&mut self, child: Child, report: &FaultReport, now: u64) -> FaultAction {
        let name = self.broker.driver_name(DriverId(child.index()));
        debug_println!("bus: driver {} faulted ({name}): {report}", child.index());
        self.driver_stopped(child, now)
    }

    /// Child `child` has been inside one event for `stuck_ns` at `now`
    /// (its heartbeat `word` unchanged): it is treated as faulted.
    pub fn driver_hung(&mut self, child: Child, stuck_ns: u64, word: u64, now: u64) -> FaultAction {
        let name = self.broker.driver_name(DriverId(child.index()));
        debug_println!(
            "bus: driver {} hung ({name}): inside one event for {} ms (heartbeat {word}); treated as a fault",
            child.index(),
            stuck_ns / 1_000_000
        );
        self.driver_stopped(child, now)
    }

    /// A driver stopped (faulted or hung): unbind it and decide whether
    /// it is restarted.
    fn driver_stopped(&mut self, child: Child, now: u64) -> FaultAction {
        let id = DriverId(child.index());
        let name = self.broker.driver_name(id);
        notify(self.broker.driver_fault(id, &mut DebugWriter::for_this_pd()));
        let Some(state) = self.restarts.get_mut(child.index() as usize) else {
            debug_println!("bus: {name} stays down: child {} is past the bus's restart table", child.index());
            return FaultAction::LeaveDown;
        };
        if state.down {
            return FaultAction::LeaveDown;
        }
        match state.history.record(now, &self.policy) {
            Decision::Restart { backoff_ns, faults } => {
                state.faulted_at = Some(now);
                // The time is the runtime clock's, which every PD shares:
                // with a driver's own lines it gives fault to service.
                debug_println!(
                    "bus: restarting {name} in {} us (restart {faults} of {} allowed in {} ms); it stopped at {} us",
                    backoff_ns / 1000,
                    self.policy.max_faults - 1,
                    self.policy.window_ns / 1_000_000,
                    now / 1000
                );
                FaultAction::RestartAfter(backoff_ns)
            }
            Decision::StayDown { faults } => {
                state.down = true;
                state.faulted_at = None;
                debug_println!(
                    "bus: {name} stays down: stopped {faults} times in {} ms (the limit); its device stays reset",
                    self.policy.window_ns / 1_000_000
                );
                FaultAction::LeaveDown
            }
        }
    }

    /// A driver registered: if it is one the bus restarted and it is
    /// bound again, log how long it was out.
    fn note_registration(&mut self, reply: &BusReply, now: u64) {
        let BusReply::Registered { driver } = *reply else { return };
        if !self.broker.is_bound(driver) {
            return;
        }
        let Some(state) = self.restarts.get_mut(driver.0 as usize) else { return };
        if let Some(at) = state.faulted_at.take() {
            debug_println!(
                "bus: {} bound again {} us after it stopped",
                self.broker.driver_name(driver),
                now.saturating_sub(at) / 1000
            );
        }
    }
}

/// Busy-wait `ns` nanoseconds. No timer serves the bus, so a back-off
/// is spent spinning; the policy's ceiling keeps it to milliseconds. A
/// clock that reads 0 (no counter) ends the wait at once.
fn wait_out(ns: u64) {
    let start = now_ns();
    if start == 0 {
        return;
    }
    while now_ns().saturating_sub(start) < ns {
        core::hint::spin_loop();
    }
}

/// The words of a fault message (as many as fit; a fault report needs
/// at most the first nine).
type FaultMessage = PpcMessage<16>;

fn notify(channels: u64) {
    for ch in ChannelSet::from_badge(channels) {
        ch.notify();
    }
}

/// Put `reply` in the message registers. Every bus reply fits
/// [`MAX_WORDS`]; one that did not would be a bug here, answered as a
/// malformed exchange (one word) rather than cut short.
fn send_reply(reply: &BusReply) -> MessageInfo {
    match BusMessage::encode(|words| reply.encode(words)) {
        Ok(message) => message.send(),
        Err(_) => send_reply(&BusReply::Error(BusError::Malformed)),
    }
}

impl Handler for BusPd {
    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        let request = BusMessage::receive(info)
            .ok()
            .and_then(|message| BusRequest::decode(message.label(), message.words()).ok());
        let reply = match request {
            Some(request) => {
                let outcome = self.broker.handle(channel.index(), &request, &mut DebugWriter::for_this_pd());
                notify(outcome.notify);
                self.note_registration(&outcome.reply, now_ns());
                outcome.reply
            }
            None => BusReply::Error(BusError::Malformed),
        };
        send_reply(&reply)
    }

    /// The IOMMU PD answered: a driver whose device it caught is
    /// restarted as after a kernel-reported fault (a driver that is not
    /// the bus's child cannot be: logged, it stays down). The timer: read
    /// every heartbeat; a driver stuck inside one event is unbound and
    /// restarted (or left down) as a faulted one is, then the next look
    /// is arranged.
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(Channel::new(config::IOMMU_CHANNEL)) {
            for (child, backoff_ns) in self.iommu_answered(now_ns()) {
                wait_out(backoff_ns);
                if let Err(e) = child.restart() {
                    debug_println!("bus: cannot restart driver {}: {e:?}; it stays down", child.index());
                }
            }
        }
        if !channels.contains(config::TIMER) {
            return;
        }
        let now = now_ns();
        let watched = self.heartbeats;
        for k in (0..MAX_CHILDREN).filter(|k| watched & (1 << k) != 0) {
            let Some(word) = config::heartbeat(k).and_then(|p| p.load_u64(0, Ordering::Acquire)) else {
                continue;
            };
            if self.restarts[k].down {
                continue;
            }
            let Some(stuck) = self.watches[k].check(word, now, HANG_LIMIT_NS) else { continue };
            let child = Child::new(k as u8);
            if let FaultAction::RestartAfter(backoff_ns) = self.driver_hung(child, stuck, word, now) {
                self.watches[k].reset();
                wait_out(backoff_ns);
                // A running child is restarted as a faulted one is: its
                // registers written, resumed at the entry.
                if let Err(e) = child.restart() {
                    debug_println!("bus: cannot restart driver {k}: {e:?}; it stays down");
                }
            }
        }
        if let Some(timer) = &mut self.timer {
            timer.set_timeout(HANG_TICK_NS);
        }
    }

    /// A driver nested under the bus in system.xml faulted (its child id
    /// is its driver id): unbind it, so its transport resets the device
    /// and stops serving it, then restart it after the back-off (it
    /// registers again and is bound again) or leave it down. Never a
    /// reply: that would resume it at the faulting instruction.
    fn fault(&mut self, child: Child, info: MessageInfo) -> Option<MessageInfo> {
        let report = match FaultMessage::receive(info) {
            Ok(message) => FaultReport::decode(info.label(), message.words()),
            Err(_) => FaultReport::decode(info.label(), &[]),
        };
        if let FaultAction::RestartAfter(backoff_ns) = self.driver_faulted(child, &report, now_ns()) {
            if let Some(w) = self.watches.get_mut(child.index() as usize) {
                w.reset();
            }
            wait_out(backoff_ns);
            if let Err(e) = child.restart() {
                debug_println!("bus: cannot restart driver {}: {e:?}; it stays down", child.index());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    //! The PD on the hosted backend: requests go in through the message
    //! registers exactly as a PPC delivers them, the reply is read back
    //! from them, and the binding table is checked.
    use super::*;
    use crate::config::{DRIVERS, MMIO, TRANSPORTS};
    use sevio_bus_protocol::{Binding, DeviceIds, Location, TableReader};
    use sevio_sharedmem::HeapRegion;
    use std::vec::Vec;

    /// PPC `request` into `pd` on bus-side channel `channel`.
    fn call(pd: &mut BusPd, channel: u8, request: &BusRequest) -> BusReply {
        let info = BusMessage::encode(|words| request.encode(words)).unwrap().send();
        reply(pd.protected(Channel::new(channel), info))
    }

    fn reply(info: MessageInfo) -> BusReply {
        let message = BusMessage::receive(info).unwrap();
        BusReply::decode(message.label(), message.words()).unwrap()
    }

    fn bindings(page: &HeapRegion) -> Vec<Binding> {
        let mut out = Vec::new();
        TableReader::open(page.memory()).unwrap().for_each(|b| out.push(b)).unwrap();
        out
    }

    const BLK_DRIVER: u8 = 8;
    const MMIO_CHANNEL: u8 = 0;

    fn started(page: &HeapRegion) -> BusPd {
        let mut pd = BusPd::new(page.memory(), &TRANSPORTS, &DRIVERS, None).unwrap();
        let serves = BusRequest::ServesDrivers { transport: MMIO, drivers: 0b1 };
        assert_eq!(call(&mut pd, MMIO_CHANNEL, &serves), BusReply::Ok);
        pd
    }

    #[test]
    fn registration_and_a_device_make_a_binding_and_a_fault_undoes_it() {
        let page = HeapRegion::new(4096);
        let mut pd = started(&page);
        let register = BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&[2]).unwrap() };
        assert_eq!(call(&mut pd, BLK_DRIVER, &register), BusReply::Registered { driver: DriverId(0) });
        assert!(bindings(&page).is_empty(), "no device yet");
        let found = BusRequest::DeviceFound {
            transport: MMIO,
            location: Location::Mmio { slot: 31 },
            device_id: 2,
            vendor_id: 0x554d4551,
        };
        assert_eq!(call(&mut pd, MMIO_CHANNEL, &found), BusReply::Ok);
        let bound = bindings(&page);
        assert_eq!(bound.len(), 1);
        assert_eq!((bound[0].driver, bound[0].location), (DriverId(0), Location::Mmio { slot: 31 }));
        assert_eq!(pd.fault(Child::new(0), MessageInfo::new(6, 0)), None, "a faulted driver gets no reply");
        assert!(bindings(&page).is_empty(), "unbound after the fault");
    }

    /// The bus with blk registered and bound to a device, restarts under
    /// a policy of `max_faults` in a window of 1 ms (back-off 10 ns
    /// doubling up to 15 ns); and blk's registration request.
    fn blk_bound(page: &HeapRegion, max_faults: usize) -> (BusPd, BusRequest) {
        let policy = RestartPolicy { max_faults, window_ns: 1_000_000, first_backoff_ns: 10, max_backoff_ns: 15 };
        let mut pd = started(page).with_restart_policy(policy);
        let register = BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&[2]).unwrap() };
        call(&mut pd, BLK_DRIVER, &register);
        let found = BusRequest::DeviceFound {
            transport: MMIO,
            location: Location::Mmio { slot: 31 },
            device_id: 2,
            vendor_id: 0x554d4551,
        };
        call(&mut pd, MMIO_CHANNEL, &found);
        (pd, register)
    }

    #[test]
    fn a_faulted_driver_is_restarted_until_the_limit_and_rebinds_on_registering_again() {
        let page = HeapRegion::new(4096);
        let (mut pd, register) = blk_bound(&page, 3);
        let vm_fault = FaultReport::decode(6, &[0x20_1000, 0x2401_0000]);
        assert_eq!(pd.driver_faulted(Child::new(0), &vm_fault, 100), FaultAction::RestartAfter(10));
        assert!(bindings(&page).is_empty(), "unbound (its device reset) while it restarts");
        // The restarted driver registers again and gets its device back.
        assert_eq!(call(&mut pd, BLK_DRIVER, &register), BusReply::Registered { driver: DriverId(0) });
        assert_eq!(bindings(&page).len(), 1);
        assert_eq!(pd.driver_faulted(Child::new(0), &vm_fault, 200), FaultAction::RestartAfter(15));
        call(&mut pd, BLK_DRIVER, &register);
        assert_eq!(pd.driver_faulted(Child::new(0), &vm_fault, 300), FaultAction::LeaveDown);
        assert!(bindings(&page).is_empty());
        // A fault of a driver that is down changes nothing; past the
        // table, a child is never restarted.
        assert_eq!(pd.driver_faulted(Child::new(0), &vm_fault, 400), FaultAction::LeaveDown);
        assert_eq!(pd.driver_faulted(Child::new(40), &vm_fault, 400), FaultAction::LeaveDown);
    }

    /// A hung driver is handled as a faulted one: unbound (its device
    /// reset), restarted under the same policy, counted in the same
    /// window.
    #[test]
    fn a_hung_driver_is_unbound_and_restarted_like_a_faulted_one() {
        let page = HeapRegion::new(4096);
        let (mut pd, register) = blk_bound(&page, 2);
        assert_eq!(bindings(&page).len(), 1);
        assert_eq!(pd.driver_hung(Child::new(0), 1_500_000_000, 41, 100), FaultAction::RestartAfter(10));
        assert!(bindings(&page).is_empty(), "unbound: the transport resets its device");
        call(&mut pd, BLK_DRIVER, &register);
        assert_eq!(bindings(&page).len(), 1, "bound again once it registers");
        let vm_fault = FaultReport::decode(6, &[0x20_1000, 0x2401_0000]);
        assert_eq!(pd.driver_faulted(Child::new(0), &vm_fault, 200), FaultAction::LeaveDown, "same window");
    }

    #[test]
    fn a_driver_cannot_speak_for_a_transport() {
        let page = HeapRegion::new(4096);
        let mut pd = started(&page);
        let found = BusRequest::DeviceFound {
            transport: MMIO,
            location: Location::Mmio { slot: 3 },
            device_id: 2,
            vendor_id: 0,
        };
        assert_eq!(call(&mut pd, BLK_DRIVER, &found), BusReply::Error(BusError::NotPermitted));
    }

    #[test]
    fn oversized_and_undecodable_messages_are_refused_as_malformed() {
        let page = HeapRegion::new(4096);
        let mut pd = started(&page);
        let malformed = BusReply::Error(BusError::Malformed);
        // A register request with one word too many: refused whole, not
        // decoded from its first MAX_WORDS words.
        let register = BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&[2]).unwrap() };
        let message = BusMessage::encode(|words| register.encode(words)).unwrap();
        let sent = message.send();
        let oversized = MessageInfo::new(sent.label(), MAX_WORDS + 1);
        assert_eq!(reply(pd.protected(Channel::new(BLK_DRIVER), oversized)), malformed);
        assert_eq!(reply(pd.protected(Channel::new(BLK_DRIVER), MessageInfo::new(999, 0))), malformed);
        assert_eq!(call(&mut pd, BLK_DRIVER, &register), BusReply::Registered { driver: DriverId(0) });
    }

    #[test]
    fn a_table_page_too_small_is_a_start_error() {
        let page = HeapRegion::new(8);
        assert!(matches!(BusPd::new(page.memory(), &TRANSPORTS, &DRIVERS, None), Err(StartError::Table(_))));
    }

    #[test]
    fn a_dma_fault_the_iommu_reports_unbinds_and_restarts_the_driver_once_per_binding() {
        use crate::gate::Gate;
        use sevio_bus_protocol::Bdf;
        use sevio_bus_protocol::confine::{BusSide, IommuSide, Outcome, Wish};
        let (page, requests, answers) = (HeapRegion::new(4096), HeapRegion::new(4096), HeapRegion::new(4096));
        let iommu = IommuSide::new(requests.memory(), answers.memory()).unwrap();
        let gate = Gate::new(BusSide::new(requests.memory(), answers.memory()).unwrap());
        let mut pd = BusPd::new(page.memory(), &TRANSPORTS, &DRIVERS, Some(gate)).unwrap();
        let pci = crate::config::PCI;
        assert_eq!(call(&mut pd, 1, &BusRequest::ServesDrivers { transport: pci, drivers: 0b1 }), BusReply::Ok);
        let register = BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&[2]).unwrap() };
        call(&mut pd, BLK_DRIVER, &register);
        let location = Location::Pci(Bdf { bus: 0, device: 2, function: 0 });
        let found = BusRequest::DeviceFound { transport: pci, location, device_id: 2, vendor_id: 0x1af4 };
        call(&mut pd, 1, &found);
        assert!(bindings(&page).is_empty(), "waits for the IOMMU");
        let Some(Wish::Confine { seq, .. }) = iommu.wish(0) else { panic!() };
        iommu.answer(0, seq, Outcome::Confined);
        assert!(pd.iommu_answered(100).is_empty());
        assert_eq!(bindings(&page).len(), 1);
        // Two reports of one burst: one unbinding, one restart.
        iommu.fault(0, Some(0x4830_0000), 0x100);
        let restarts = pd.iommu_answered(200);
        assert_eq!(restarts.len(), 1);
        assert_eq!((restarts[0].0.index(), restarts[0].1), (0, crate::config::RESTART_POLICY.first_backoff_ns));
        assert!(bindings(&page).is_empty());
        assert!(matches!(iommu.wish(0), Some(Wish::Release { .. })));
        iommu.fault(0, Some(0x4830_0004), 0x100);
        assert!(pd.iommu_answered(300).is_empty(), "already unbound: not counted again");
        // Restarted, it registers again and waits for the IOMMU again.
        call(&mut pd, BLK_DRIVER, &register);
        assert!(bindings(&page).is_empty());
        assert!(matches!(iommu.wish(0), Some(Wish::Confine { .. })));
    }
}
