//! The PD shell: channels, setvars, the runtime [`Handler`].
//!
//! system.xml gives the client:
//! - channel 0: the console driver ([`DRIVER`]), notifications both ways;
//! - `console_rx_queue_vaddr`, `console_tx_queue_vaddr`: the two queue
//!   headers (setvar_vaddr, 0x1000 each);
//! - `console_rx_data_vaddr` + `console_rx_data_size`,
//!   `console_tx_data_vaddr` + `console_tx_data_size`: the character
//!   regions (setvar_vaddr + setvar_size; the size is the capacity).

use crate::{ConsoleClient, Mode, QueueRegions};
use core::ptr::NonNull;
use sevio_runtime::print::DebugWriter;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};
use sevio_sharedmem::SharedMemory;

/// The console driver.
pub const DRIVER: Channel = Channel::new(0);
/// Size of each queue header region.
pub const QUEUE_REGION_SIZE: u64 = 0x1000;

sevio_runtime::setvar!(
    /// vaddr of the rx queue header.
    pub fn rx_queue_vaddr() = "console_rx_queue_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the rx characters.
    pub fn rx_data_vaddr() = "console_rx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the rx characters region.
    pub fn rx_data_size() = "console_rx_data_size"
);
sevio_runtime::setvar!(
    /// vaddr of the tx queue header.
    pub fn tx_queue_vaddr() = "console_tx_queue_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the tx characters.
    pub fn tx_data_vaddr() = "console_tx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the tx characters region.
    pub fn tx_data_size() = "console_tx_data_size"
);

/// The only unsafe code of the crate: turning a mapping into shared memory.
#[allow(unsafe_code)]
fn region(vaddr: u64, size: u64) -> Option<SharedMemory> {
    let base = NonNull::new(usize::try_from(vaddr).ok()? as *mut u8)?;
    let len = usize::try_from(size).ok().filter(|n| *n > 0)?;
    // SAFETY: vaddr..vaddr+size is a <map> system.xml gives this PD (sim
    // maps the same), present for the PD's whole life; the PD makes no
    // Rust reference into it, only SharedMemory's volatile/atomic accesses.
    Some(unsafe { SharedMemory::new(base, len) })
}

fn queue_regions() -> Option<(QueueRegions, QueueRegions)> {
    let rx = QueueRegions {
        header: region(rx_queue_vaddr(), QUEUE_REGION_SIZE)?,
        data: region(rx_data_vaddr(), rx_data_size())?,
    };
    let tx = QueueRegions {
        header: region(tx_queue_vaddr(), QUEUE_REGION_SIZE)?,
        data: region(tx_data_vaddr(), tx_data_size())?,
    };
    Some((rx, tx))
}

/// The PD: `None` if its configuration is unusable (it has failed).
pub struct ClientPd(Option<ConsoleClient>);

impl ClientPd {
    /// Open the queues, write the banner.
    pub fn start(mode: Mode) -> ClientPd {
        let Some((rx, tx)) = queue_regions() else {
            verdict::fail("a queue setvar is missing");
            return ClientPd(None);
        };
        let mut client = match ConsoleClient::new(rx, tx, mode) {
            Ok(c) => c,
            Err(e) => {
                debug_println!("console-client: queues unusable: {:?}", e);
                verdict::fail("unusable queues");
                return ClientPd(None);
            }
        };
        let progress = client.start(&mut DebugWriter::for_this_pd());
        progress.report();
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
