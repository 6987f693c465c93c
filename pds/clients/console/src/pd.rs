//! The PD shell: channels, setvars, the runtime [`Handler`].
//!
//! system.xml gives the client, as sDDF gives a serial client:
//! - channel 0: the rx peer ([`RX`]: the console driver, or sDDF's rx
//!   virtualiser): input arrived one way, room freed the other;
//! - channel 1: the tx peer ([`TX`]: the driver, or the tx virtualiser):
//!   output published one way, output consumed the other;
//! - `console_rx_queue_vaddr`, `console_tx_queue_vaddr`: the two queue
//!   headers (setvar_vaddr, 0x1000 each);
//! - `console_rx_data_vaddr` + `console_rx_data_size`,
//!   `console_tx_data_vaddr` + `console_tx_data_size`: the character
//!   regions (setvar_vaddr + setvar_size; the size is the capacity).

use crate::{ConsoleClient, Mode, QueueRegions};
use sevio_runtime::print::DebugWriter;
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The rx peer (input).
pub const RX: Channel = Channel::new(0);
/// The tx peer (output).
pub const TX: Channel = Channel::new(1);
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
        if channels.contains(RX) || channels.contains(TX) {
            client.notified(&mut DebugWriter::for_this_pd()).report();
        }
    }

    /// Output is the deferred notification; room in rx, rarer, is told
    /// at once when both are due (Microkit defers one action per wait).
    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        let notify = self.0.as_mut()?.take_notify();
        match (notify.rx, notify.tx) {
            (true, true) => {
                RX.notify();
                Some(DeferredAction::Notify(TX))
            }
            (true, false) => Some(DeferredAction::Notify(RX)),
            (false, true) => Some(DeferredAction::Notify(TX)),
            (false, false) => None,
        }
    }
}
