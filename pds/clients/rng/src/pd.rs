//! The PD shell: channel, setvars, the runtime [`Handler`].
//!
//! system.xml gives the client channel 0 to the rng driver
//! ([`DRIVER`], notifications both ways), `rng_control_vaddr` (the
//! control page, rw) and `rng_data_vaddr` + `rng_data_size` (the data
//! region, rw, at least [`crate::DATA_NEEDED`] bytes).

use crate::RngClient;
use sevio_queue::rng::ClientPort;
use sevio_runtime::print::DebugWriter;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The rng driver.
pub const DRIVER: Channel = Channel::new(0);
/// Size of the control page region.
pub const CONTROL_SIZE: u64 = 0x1000;

sevio_runtime::shared_region!(
    /// The control page.
    pub fn control() = "rng_control_vaddr", CONTROL_SIZE
);
sevio_runtime::setvar!(
    /// Size of the data region.
    pub fn data_size() = "rng_data_size"
);
sevio_runtime::shared_region!(
    /// The data region.
    pub fn data() = "rng_data_vaddr", data_size()
);

/// The PD: `None` once it cannot go on.
pub struct ClientPd(Option<RngClient>);

impl ClientPd {
    /// Open the regions, post the first request.
    pub fn start() -> ClientPd {
        let control = control().ok().map(ClientPort::new);
        let (Some(Ok(port)), Ok(data)) = (control, data()) else {
            debug_println!("rng_control_vaddr / rng_data_vaddr / rng_data_size missing or unusable");
            verdict::fail("bad configuration");
            return ClientPd(None);
        };
        let mut client = RngClient::new(port, data);
        client.start().report();
        ClientPd(Some(client))
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(client) = &mut self.0 else { return };
        if channels.contains(DRIVER) {
            client.notified(&mut DebugWriter::for_this_pd()).report();
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        let client = self.0.as_mut()?;
        client.take_notify().then_some(DeferredAction::Notify(DRIVER))
    }
}
