//! The PD shell: channel, setvars, the runtime [`Handler`].
//!
//! systems/9p.xml gives the client channel 0 to the 9p driver
//! ([`DRIVER`], notifications both ways), `p9_control_vaddr` (the
//! control page, rw) and `p9_data_vaddr` + `p9_data_size` (the data
//! region, rw, at least [`crate::DATA_NEEDED`] bytes).

use crate::Progress;
use core::fmt::Write;
use sevio_queue::fs::ClientPort;
use sevio_runtime::print::DebugWriter;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};
use sevio_sharedmem::SharedMemory;

/// The p9 driver.
pub const DRIVER: Channel = Channel::new(0);
/// Size of the control page region.
pub const CONTROL_SIZE: u64 = 0x1000;

sevio_runtime::setvar!(
    /// vaddr of the control page.
    pub fn control_vaddr() = "p9_control_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the data region.
    pub fn data_vaddr() = "p9_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the data region.
    pub fn data_size() = "p9_data_size"
);

/// The one unsafe step: a mapping becomes shared memory.
#[allow(unsafe_code)]
fn region(vaddr: u64, size: u64) -> Option<SharedMemory> {
    // SAFETY: vaddr..vaddr+size is a <map> system.xml gives this PD (sim
    // maps the same), present for the PD's whole life; the PD makes no
    // Rust reference into it.
    unsafe { sevio_runtime::var::map_region(vaddr, size, "p9 client region") }.ok()
}

/// What runs in the PD: the test ([`crate::P9Client`]) or the benchmark
/// ([`crate::bench::P9Bench`]).
pub trait FsRun: Sized {
    /// Over the control page and the data region.
    fn new(port: ClientPort, data: SharedMemory) -> Self;
    /// Post the first request.
    fn start(&mut self) -> Progress;
    /// The driver notified.
    fn notified(&mut self, log: &mut dyn Write) -> Progress;
    /// Whether to notify the driver (clears the flag).
    fn take_notify(&mut self) -> bool;
}

macro_rules! fs_run {
    ($t:ty) => {
        impl FsRun for $t {
            fn new(port: ClientPort, data: SharedMemory) -> Self {
                <$t>::new(port, data)
            }
            fn start(&mut self) -> Progress {
                <$t>::start(self)
            }
            fn notified(&mut self, log: &mut dyn Write) -> Progress {
                <$t>::notified(self, log)
            }
            fn take_notify(&mut self) -> bool {
                <$t>::take_notify(self)
            }
        }
    };
}
fs_run!(crate::P9Client);
fs_run!(crate::bench::P9Bench);

/// The PD: `None` once it cannot go on.
pub struct ClientPd<R>(Option<R>);

impl<R: FsRun> ClientPd<R> {
    /// Open the regions, post the first request.
    pub fn start() -> ClientPd<R> {
        let control = region(control_vaddr(), CONTROL_SIZE).map(ClientPort::new);
        let (Some(Ok(port)), Some(data)) = (control, region(data_vaddr(), data_size())) else {
            debug_println!("p9-client: p9_control_vaddr / p9_data_vaddr / p9_data_size missing or unusable");
            verdict::fail("bad configuration");
            return ClientPd(None);
        };
        let mut client = R::new(port, data);
        client.start().report();
        ClientPd(Some(client))
    }
}

impl<R: FsRun> Handler for ClientPd<R> {
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
