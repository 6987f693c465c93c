//! The whole event side of a driver PD, the same for every device: at
//! init register with the bus and follow the binding table; then turn the
//! channels' notifications into driver events, and the notifications the
//! driver asks for into one deferred action (plus a direct notify for
//! each further channel: a driver with an rx and a tx peer, as sDDF's
//! serial and net drivers have, tells both in one event).
//!
//! Every driver PD is a template driver, whose events come from
//! [`Virtio`](crate::Virtio): its PD is `DriverPd<Virtio<D, T>>`, made by
//! [`Virtio::start`](crate::Virtio::start). [`DriverEvents`] is the seam
//! between the two (the tests below drive the PD through it alone).

use crate::bus::BindingWatch;
use crate::heartbeat::Heartbeat;
use crate::shell::{Driver, Shell, register_with_bus};
use crate::watchdog::RequestTimer;
use sevio_bus_protocol::DriverId;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler};
use sevio_sharedmem::SharedMemory;
use sevio_virtio::DeviceId;

/// What a driver does with its transport's and its client's
/// notifications (the bus's are the [`Shell`]'s).
pub trait DriverEvents: Driver {
    /// The transport notified: the device interrupted.
    fn interrupt(&mut self);
    /// The client notified: requests or room to look at.
    fn client_notified(&mut self);
    /// The timer PD notified (the driver's [`DriverPdConfig::timer`]): a
    /// request deadline may have passed. Default: nothing.
    fn timer_fired(&mut self) {}
    /// Whether the client of [`DriverPdConfig::client`] should be
    /// notified (clears the flag).
    fn take_client_notify(&mut self) -> bool;
    /// The channels the driver's own configuration names for its clients
    /// (sDDF's configs give them at run time): a notification on any of
    /// them is a client notification too. Default: none.
    fn client_channels(&self) -> ChannelSet {
        ChannelSet::default()
    }
    /// The client channels to notify (clears them). Default: none.
    fn take_notifications(&mut self) -> ChannelSet {
        ChannelSet::default()
    }
    /// The event is over (init included): perform what was collected
    /// during it, before the status is logged. Default: nothing.
    fn end_of_event(&mut self) {}
    /// A notification was handled and the status logged: the driver's
    /// own log lines. Default: nothing.
    fn after_status_log(&mut self) {}
}

/// Who a driver PD is and where its peers are (from its `config.rs`).
#[derive(Copy, Clone, Debug)]
pub struct DriverPdConfig {
    /// The log prefix (the PD's name).
    pub name: &'static str,
    /// The device the driver registers for.
    pub device: DeviceId,
    /// The driver id to follow if the bus refuses the registration.
    pub fallback_id: DriverId,
    /// The bus PD (PPC: RegisterDriver; notifications: the binding
    /// table changed).
    pub bus: Channel,
    /// The transport PD (notifications: the device interrupted).
    pub transport: Channel,
    /// The client (notifications both ways), for drivers whose wiring
    /// fixes it; `None` when the driver's configuration names its client
    /// channels ([`DriverEvents::client_channels`]).
    pub client: Option<Channel>,
    /// The timer PD and the request deadline, for a driver that watches
    /// its requests (see [`crate::watchdog`]); `None`: no deadlines.
    pub timer: Option<RequestTimer>,
}

struct Serving<D: Driver> {
    shell: Shell<D>,
    transport: Channel,
    client: Option<Channel>,
    timer: Option<Channel>,
    /// `client` and the driver's own client channels.
    clients: ChannelSet,
    bus: Channel,
    heartbeat: Heartbeat,
}

/// A driver PD: its [`Shell`] and channels, or nothing if its
/// configuration was unusable (then it ignores every event).
pub struct DriverPd<D: Driver>(Option<Serving<D>>);

impl<D: DriverEvents> DriverPd<D> {
    /// A PD that does nothing (its configuration is unusable; the caller
    /// logged why).
    pub fn idle() -> Self {
        DriverPd(None)
    }

    /// Register with the bus for `config.device` and look at the binding
    /// table in `bindings`: bind if the device is already known.
    pub fn start(config: &DriverPdConfig, driver: D, bindings: SharedMemory) -> Self {
        // The bus says which driver id it knows this instance by (from the
        // channel); after a refusal (logged) the configured id still keeps
        // the driver following the table.
        let id = register_with_bus(config.name, config.bus, &[config.device.0]).unwrap_or(config.fallback_id);
        Self::with_shell(config, Shell::new(config.name, driver, BindingWatch::new(bindings, id)))
    }

    /// [`start`](Self::start) after registration: around a shell that
    /// already watches the right driver id (host tests have no bus).
    pub fn with_shell(config: &DriverPdConfig, mut shell: Shell<D>) -> Self {
        shell.check_binding();
        shell.driver.end_of_event();
        shell.log_status();
        let fixed = config.client.map_or(0, |c| 1 << c.index());
        let clients = ChannelSet::from_badge(fixed | shell.driver.client_channels().bits());
        let timer = config.timer.map(|t| t.channel);
        DriverPd(Some(Serving {
            shell,
            transport: config.transport,
            client: config.client,
            timer,
            clients,
            bus: config.bus,
            heartbeat: Heartbeat::from_system(),
        }))
    }

    /// The shell, unless the PD is idle.
    pub fn shell(&mut self) -> Option<&mut Shell<D>> {
        self.0.as_mut().map(|s| &mut s.shell)
    }

    /// Every channel the driver asked to notify since the last call
    /// (clears them): the fixed client's and the driver's own.
    pub fn take_notifications(&mut self) -> ChannelSet {
        let Some(s) = &mut self.0 else { return ChannelSet::default() };
        let fixed = match s.client {
            Some(c) if s.shell.driver.take_client_notify() => 1 << c.index(),
            _ => 0,
        };
        ChannelSet::from_badge(fixed | s.shell.driver.take_notifications().bits())
    }
}

impl<D: DriverEvents> Handler for DriverPd<D> {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(s) = &mut self.0 else { return };
        s.heartbeat.enter();
        if channels.contains(s.bus) {
            s.shell.check_binding();
        }
        if channels.contains(s.transport) {
            s.shell.driver.interrupt();
        }
        if channels.bits() & s.clients.bits() != 0 {
            s.shell.driver.client_notified();
        }
        // After the device's and the client's events: a completion that
        // came with the timeout is harvested before the deadline is judged.
        if s.timer.is_some_and(|t| channels.contains(t)) {
            s.shell.driver.timer_fired();
        }
        s.shell.driver.end_of_event();
        s.shell.log_status();
        s.shell.driver.after_status_log();
        s.heartbeat.leave();
    }

    /// The lowest channel to notify is the deferred action; any further
    /// one is notified now (Microkit defers one action per wait).
    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        DeferredAction::notify_each(self.take_notifications())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::DriverStatus;
    use sevio_bus_protocol::{Binding, TableWriter, TransportId};
    use sevio_sharedmem::HeapRegion;
    use sevio_transport_protocol::Location;
    use std::vec::Vec;

    /// Records the order of the calls it gets.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<&'static str>,
        notify: bool,
        up: bool,
        /// Its own client channels (as an sDDF config names them), and
        /// the ones it notifies after every client event.
        own: ChannelSet,
        pending: ChannelSet,
    }

    impl Driver for Recorder {
        type Error = ();
        fn bind(&mut self) -> Result<(), ()> {
            self.calls.push("bind");
            self.up = true;
            Ok(())
        }
        fn unbind(&mut self) {
            self.calls.push("unbind");
            self.up = false;
        }
        fn status(&self) -> DriverStatus {
            if self.up { DriverStatus::Ready } else { DriverStatus::Unbound }
        }
        fn last_error(&self) -> Option<()> {
            None
        }
    }

    impl DriverEvents for Recorder {
        fn interrupt(&mut self) {
            self.calls.push("interrupt");
        }
        fn client_notified(&mut self) {
            self.calls.push("client");
            self.notify = true;
            self.pending = self.own;
        }
        fn take_client_notify(&mut self) -> bool {
            core::mem::take(&mut self.notify)
        }
        fn client_channels(&self) -> ChannelSet {
            self.own
        }
        fn take_notifications(&mut self) -> ChannelSet {
            core::mem::take(&mut self.pending)
        }
        fn end_of_event(&mut self) {
            self.calls.push("end");
        }
    }

    const CONFIG: DriverPdConfig = DriverPdConfig {
        name: "t",
        device: DeviceId::RNG,
        fallback_id: DriverId(1),
        bus: Channel::new(3),
        transport: Channel::new(4),
        client: Some(Channel::new(5)),
        timer: None,
    };

    /// An rng device bound to driver 1.
    const BINDING: Binding = Binding {
        driver: DriverId(1),
        transport: TransportId(0),
        location: Location::Mmio { slot: 2 },
        device_id: 4,
        vendor_id: 0,
    };

    fn set(channels: &[u64]) -> ChannelSet {
        ChannelSet::from_badge(channels.iter().fold(0, |b, c| b | 1 << c))
    }

    #[test]
    fn init_binds_a_known_device_and_ends_the_event() {
        let page = HeapRegion::new(4096);
        let mut table = TableWriter::init(page.memory(), 4).unwrap();
        table.write([BINDING].into_iter()).unwrap();
        let shell = Shell::new("t", Recorder::default(), BindingWatch::new(page.memory(), DriverId(1)));
        let mut pd = DriverPd::with_shell(&CONFIG, shell);
        assert_eq!(pd.shell().unwrap().driver.calls, ["bind", "end"]);
        assert_eq!(pd.take_deferred_action(), None);
    }

    #[test]
    fn each_channel_reaches_its_event_and_the_client_is_notified_once() {
        let page = HeapRegion::new(4096);
        let mut table = TableWriter::init(page.memory(), 4).unwrap();
        let shell = Shell::new("t", Recorder::default(), BindingWatch::new(page.memory(), DriverId(1)));
        let mut pd = DriverPd::with_shell(&CONFIG, shell);
        pd.notified(set(&[4]));
        pd.notified(set(&[5, 4]));
        assert_eq!(pd.take_deferred_action(), Some(DeferredAction::Notify(Channel::new(5))));
        assert_eq!(pd.take_deferred_action(), None, "one notify per request");
        table.write([].into_iter()).unwrap();
        pd.notified(set(&[0, 1, 2]));
        let calls = &pd.shell().unwrap().driver.calls;
        assert_eq!(calls, &["end", "interrupt", "end", "interrupt", "client", "end", "end"]);
        // The bus channel: the table now binds the driver.
        table.write([BINDING].into_iter()).unwrap();
        pd.notified(set(&[3]));
        assert_eq!(pd.shell().unwrap().driver.calls.last_chunk(), Some(&["bind", "end"]));
        assert_eq!(pd.shell().unwrap().driver.status(), DriverStatus::Ready);
    }

    #[test]
    fn channels_the_driver_names_are_client_channels_both_ways() {
        let page = HeapRegion::new(4096);
        // Like sDDF's serial driver: rx and tx peers on channels 7 and 9,
        // no fixed client.
        let own = set(&[7, 9]);
        let recorder = Recorder { own, ..Recorder::default() };
        let shell = Shell::new("t", recorder, BindingWatch::new(page.memory(), DriverId(1)));
        let mut pd = DriverPd::with_shell(&DriverPdConfig { client: None, ..CONFIG }, shell);
        pd.notified(set(&[5, 8]));
        assert_eq!(pd.shell().unwrap().driver.calls, ["end", "end"], "5 and 8 are nobody's");
        for peer in [7, 9] {
            pd.notified(set(&[peer]));
            assert_eq!(pd.shell().unwrap().driver.calls.last_chunk(), Some(&["client", "end"]));
            assert_eq!(pd.take_notifications(), own, "both peers, and not the fixed client's flag");
            assert_eq!(pd.take_notifications(), ChannelSet::default(), "taken once");
        }
    }

    #[test]
    fn an_idle_pd_ignores_everything() {
        let mut pd = DriverPd::<Recorder>::idle();
        pd.notified(set(&[3, 4, 5]));
        assert_eq!(pd.take_deferred_action(), None);
        assert!(pd.shell().is_none());
    }
}
