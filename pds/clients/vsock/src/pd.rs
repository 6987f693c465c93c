//! The PD shell: channel, setvars, the runtime [`Handler`].
//!
//! system.xml gives the client channel 0 to the vsock driver
//! ([`DRIVER`], notifications both ways) and `vsock_control_vaddr` (the
//! control region, rw).

use crate::{Mode, VsockClient};
use sevio_queue::vsock::{CONTROL_SIZE, ClientPort};
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The vsock driver.
pub const DRIVER: Channel = Channel::new(0);

sevio_runtime::shared_region!(
    /// The control region shared with the driver.
    pub fn control() = "vsock_control_vaddr", CONTROL_SIZE as u64
);

/// The PD: `None` once it cannot go on.
pub struct ClientPd(Option<VsockClient>);

impl ClientPd {
    /// Open the control region, listen and connect.
    pub fn start(mode: Mode) -> ClientPd {
        let port = control().ok().and_then(|m| ClientPort::new(m).ok());
        let Some(port) = port else {
            debug_println!("vsock_control_vaddr missing or unusable");
            verdict::fail("bad configuration");
            return ClientPd(None);
        };
        let mut client = VsockClient::new(port, mode);
        let mut pd = ClientPd(None);
        let started = client.start();
        pd.0 = Some(client);
        pd.settle(started);
        pd
    }

    fn settle(&mut self, outcome: crate::Outcome) {
        let Some(client) = &mut self.0 else { return };
        match outcome.and(client.verdict.unwrap_or(Ok(()))) {
            Err(why) => {
                debug_println!("FAIL: {why}");
                verdict::fail(why);
                self.0 = None;
            }
            Ok(()) if client.verdict.is_some() => {
                verdict::pass();
                self.0 = None;
            }
            Ok(()) => {}
        }
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(client) = &mut self.0 else { return };
        if channels.contains(DRIVER) {
            let outcome = client.notified();
            if client.take_notify() {
                DRIVER.notify();
            }
            self.settle(outcome);
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        let client = self.0.as_mut()?;
        client.take_notify().then_some(DeferredAction::Notify(DRIVER))
    }
}
