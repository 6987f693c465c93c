//! The PCI transport's channels, variables and windows (see system.xml
//! and README.md).
//!
//! IRQ ids 0..4 are the host bridge's INTA..INTD (GIC INTIDs 35..38 on
//! QEMU arm virt, level-triggered, shared by every function whose pin
//! swizzles onto them); channel 32 is the bus; driver k is on channel
//! 40 + k, with `driver<k>_doorbell_vaddr` and `driver<k>_dma_paddr` as
//! for the mmio transport (a variable system.xml does not set reads 0:
//! no driver k).
//!
//! The three windows are fixed facts of QEMU arm virt; system.xml must map
//! exactly these physical ranges, uncached, into this PD only.

use sevio_bus_protocol::TransportId;
use sevio_runtime::Channel;

/// This transport's id on the bus (the bus's channel 1).
pub const TRANSPORT_ID: TransportId = TransportId(1);
/// INTx lines: IRQ id n is INTA + n at the host bridge.
pub const INTX_LINES: usize = 4;
/// GIC INTID of IRQ id 0 (SPI 3).
pub const INTX_INTID_BASE: u32 = 35;
/// The bus.
pub const BUS: Channel = Channel::new(32);
/// Channel id of driver 0.
pub const FIRST_DRIVER_CHANNEL: u8 = 40;
/// Bytes of every driver's DMA region (queues must lie inside).
pub const DMA_WINDOW_SIZE: u64 = 0x4_0000;
/// Functions the transport serves.
pub const MAX_DEVICES: usize = sevio_pci::enumerate::MAX_FUNCTIONS;

/// ECAM mapped: buses 0..4 (1 MiB each) from physical 0x40_1000_0000.
pub const ECAM_SIZE: usize = 4 << 20;
/// The part of the 32-bit memory window this PD owns: bus address =
/// physical address (QEMU arm virt maps it 1:1) 0x1000_0000, 16 MiB.
pub const MEM_WINDOW: (u64, u64) = (0x1000_0000, 0x100_0000);
/// The whole I/O window (physical 0x3eff_0000 = port 0), 64 KiB.
pub const IO_SIZE: usize = 0x1_0000;
/// Ports handed out to I/O BARs: above the legacy ISA range.
pub const IO_PORTS: (u64, u64) = (0x1000, 0xf000);

sevio_runtime::setvar!(
    /// vaddr of ECAM (buses 0..4, [`ECAM_SIZE`] bytes, uncached).
    pub fn ecam_vaddr() = "pci_ecam_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the memory window ([`MEM_WINDOW`], uncached).
    pub fn mem_vaddr() = "pci_mem_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the I/O window ([`IO_SIZE`] bytes, uncached).
    pub fn io_vaddr() = "pci_io_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the bus's binding table (read-only here).
    pub fn bindings_vaddr() = "bus_bindings_vaddr"
);

/// `(doorbell vaddr, DMA region paddr)` of driver k; zeros when the
/// system has no driver k.
pub fn driver_vars(k: usize) -> (u64, u64) {
    macro_rules! var {
        ($doorbell:literal, $dma:literal) => {{
            sevio_runtime::setvar!(fn doorbell() = $doorbell);
            sevio_runtime::setvar!(fn dma() = $dma);
            (doorbell(), dma())
        }};
    }
    match k {
        0 => var!("driver0_doorbell_vaddr", "driver0_dma_paddr"),
        1 => var!("driver1_doorbell_vaddr", "driver1_dma_paddr"),
        2 => var!("driver2_doorbell_vaddr", "driver2_dma_paddr"),
        3 => var!("driver3_doorbell_vaddr", "driver3_dma_paddr"),
        4 => var!("driver4_doorbell_vaddr", "driver4_dma_paddr"),
        5 => var!("driver5_doorbell_vaddr", "driver5_dma_paddr"),
        6 => var!("driver6_doorbell_vaddr", "driver6_dma_paddr"),
        7 => var!("driver7_doorbell_vaddr", "driver7_dma_paddr"),
        _ => (0, 0),
    }
}
