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
use sevio_runtime::print::DebugWriter;
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The console driver.
pub const DRIVER: Channel = Channel::new(0);
/// Size of each queue header region.
pub const QUEUE_REGION_SIZE: u64 = 0x1000;

sevio_runtime::shared_region!(
    /// The rx queue header.
    pub fn rx_queue_region() = "console_rx_queue_vaddr", QUEUE_REGION_SIZE
);
sevio_runtime::setvar!(
    /// Size of the rx characters region.
    pub fn rx_data_size() = "console_rx_data_size"
);
sevio_runtime::shared_region!(
    /// The rx characters.
    pub fn rx_data_region() = "console_rx_data_vaddr", rx_data_size()
);
sevio_runtime::shared_region!(
    /// The tx queue header.
    pub fn tx_queue_region() = "console_tx_queue_vaddr", QUEUE_REGION_SIZE
);
sevio_runtime::setvar!(
    /// Size of the tx characters region.
    pub fn tx_data_size() = "console_tx_data_size"
);
sevio_runtime::shared_region!(
    /// The tx characters.
    pub fn tx_data_region() = "console_tx_data_vaddr", tx_data_size()
);

fn queue_regions() -> Result<(QueueRegions, QueueRegions), MapError> {
    let rx = QueueRegions { header: rx_queue_region()?, data: rx_data_region()? };
    let tx = QueueRegions { header: tx_queue_region()?, data: tx_data_region()? };
    Ok((rx, tx))
}

/// The PD: `None` if its configuration is unusable (it has failed).
pub struct ClientPd(Option<ConsoleClient>);

impl ClientPd {
    /// Open the queues, write the banner.
    pub fn start(mode: Mode) -> ClientPd {
        let (rx, tx) = match queue_regions() {
            Ok(regions) => regions,
            Err(e) => {
                debug_println!("{e}");
                verdict::fail("a queue setvar is missing");
                return ClientPd(None);
            }
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
