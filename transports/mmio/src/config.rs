//! The mmio transport's channels and variables (see system.xml).
//!
//! IRQ ids 0..32 are the virtio-mmio slots' interrupts (slot i = GIC INTID
//! 48 + i on QEMU arm virt); channel 32 is the bus; driver k is on channel
//! 40 + k. Each driver k that this system has gives the transport its
//! doorbell page (`driver<k>_doorbell_vaddr`) and the physical address of
//! its DMA region (`driver<k>_dma_paddr`); a variable system.xml does not
//! set reads 0, which means "no driver k".

use sevio_bus_protocol::TransportId;
use sevio_runtime::Channel;

/// This transport's id on the bus.
pub const TRANSPORT_ID: TransportId = TransportId(0);
/// Slots on QEMU arm virt.
pub const SLOTS: usize = 32;
/// Bytes between two slots' register blocks.
pub const SLOT_STRIDE: usize = 0x200;
/// The bus.
pub const BUS: Channel = Channel::new(32);
/// Channel id of driver 0.
pub const FIRST_DRIVER_CHANNEL: u8 = 40;
/// Bytes of every driver's DMA region (queues must lie inside).
pub const DMA_WINDOW_SIZE: u64 = 0x4_0000;

sevio_runtime::setvar!(
    /// vaddr of the 32 register blocks (0x4000 bytes, uncached).
    pub fn regs_vaddr() = "mmio_regs_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the bus's binding table (read-only here).
    pub fn bindings_vaddr() = "bus_bindings_vaddr"
);

macro_rules! driver_vars {
    ($($k:literal: $doorbell:literal, $dma:literal;)*) => {
        /// `(doorbell vaddr, DMA region paddr)` of driver k; zeros when the
        /// system has no driver k.
        pub fn driver_vars(k: usize) -> (u64, u64) {
            match k {
                $($k => {
                    sevio_runtime::setvar!(fn doorbell() = $doorbell);
                    sevio_runtime::setvar!(fn dma() = $dma);
                    (doorbell(), dma())
                })*
                _ => (0, 0),
            }
        }
    };
}

driver_vars! {
    0: "driver0_doorbell_vaddr", "driver0_dma_paddr";
    1: "driver1_doorbell_vaddr", "driver1_dma_paddr";
    2: "driver2_doorbell_vaddr", "driver2_dma_paddr";
    3: "driver3_doorbell_vaddr", "driver3_dma_paddr";
    4: "driver4_doorbell_vaddr", "driver4_dma_paddr";
    5: "driver5_doorbell_vaddr", "driver5_dma_paddr";
    6: "driver6_doorbell_vaddr", "driver6_dma_paddr";
    7: "driver7_doorbell_vaddr", "driver7_dma_paddr";
}
