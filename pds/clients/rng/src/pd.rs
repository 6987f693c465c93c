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
use sevio_sharedmem::SharedMemory;

/// The rng driver.
pub const DRIVER: Channel = Channel::new(0);
/// Size of the control page region.
pub const CONTROL_SIZE: u64 = 0x1000;

sevio_runtime::setvar!(
    /// vaddr of the control page.
    pub fn control_vaddr() = "rng_control_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the data region.
    pub fn data_vaddr() = "rng_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the data region.
    pub fn data_size() = "rng_data_size"
);

/// The one unsafe step: a mapping becomes shared memory.
#[allow(unsafe_code)]
fn region(vaddr: u64, size: u64) -> Option<SharedMemory> {
    // SAFETY: vaddr..vaddr+size is a <map> system.xml gives this PD (sim
    // maps the same), present for the PD's whole life; the PD makes no
    // Rust reference into it.
    unsafe { sevio_driver_core::dma::mapped(vaddr, usize::try_from(size).ok()?) }
}

/// The PD: `None` once it cannot go on.
pub struct ClientPd(Option<RngClient>);

impl ClientPd {
    /// Open the regions, post the first request.
    pub fn start() -> ClientPd {
        let control = region(control_vaddr(), CONTROL_SIZE).map(ClientPort::new);
        let (Some(Ok(port)), Some(data)) = (control, region(data_vaddr(), data_size())) else {
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
