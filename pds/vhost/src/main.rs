//! The device-side PD: publishes the resource table, tells the rproc
//! transport, and serves the drivers whenever the transport notifies.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_runtime::{Channel, ChannelSet, Handler, debug_println};
use sevio_vhost::{DriverWindows, Vhost};
use sevio_virtio::rproc::Mailbox;

sevio_runtime::protection_domain!(init);

/// The rproc transport (notifications both ways).
const TRANSPORT: Channel = Channel::new(0);
/// Bytes of each driver's DMA region (the transport's DMA window).
const DMA_SIZE: u64 = 0x4_0000;

sevio_runtime::shared_region!(
    /// The resource table region.
    fn table() = "rproc_table_vaddr", 0x1000
);
sevio_runtime::shared_region!(
    /// The mailbox page.
    fn mailbox() = "rproc_mailbox_vaddr", 0x1000
);
sevio_runtime::shared_region!(
    /// The rpmsg driver's DMA region (its rings and buffers).
    fn rpmsg_dma() = "rpmsg_dma_vaddr", DMA_SIZE
);
sevio_runtime::setvar!(
    /// Its physical address (what the driver's descriptors say).
    fn rpmsg_dma_paddr() = "rpmsg_dma_paddr"
);
sevio_runtime::shared_region!(
    /// The rng driver's DMA region.
    fn rng_dma() = "rng_dma_vaddr", DMA_SIZE
);
sevio_runtime::setvar!(
    /// Its physical address.
    fn rng_dma_paddr() = "rng_dma_paddr"
);

struct VhostPd(Vhost<DriverWindows<2>>);

fn init() -> VhostPd {
    let need = |r: Result<_, sevio_runtime::var::MapError>| r.unwrap_or_else(|e| panic!("vhost: {e}"));
    let windows = DriverWindows([(rpmsg_dma_paddr(), need(rpmsg_dma())), (rng_dma_paddr(), need(rng_dma()))]);
    let Some(mailbox) = Mailbox::new(need(mailbox())) else { panic!("vhost: the mailbox page is too small") };
    let vhost = Vhost::publish(need(table()), mailbox, windows).unwrap_or_else(|e| panic!("vhost: {e:?}"));
    debug_println!("vhost: resource table published: rpmsg (echo endpoint), rng");
    TRANSPORT.notify();
    VhostPd(vhost)
}

impl Handler for VhostPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(TRANSPORT) && self.0.notified() {
            TRANSPORT.notify();
        }
    }
}
