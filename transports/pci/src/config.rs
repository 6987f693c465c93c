//! The PCI transport's channels, variables and windows (see system.xml
//! and README.md).
//!
//! IRQ ids 0..4 are the host bridge's INTA..INTD (GIC INTIDs 35..38 on
//! QEMU arm virt, level-triggered, shared by every function whose pin
//! swizzles onto them); with MSI-X (the GICv2m frame mapped at
//! `pci_msi_frame_vaddr`), IRQ ids 4..20 are the frame's first 16 SPIs,
//! edge-triggered (QEMU arm virt: INTIDs 80..96; the frame's MSI_TYPER
//! says where they start, and system.xml must give exactly those);
//! channel 32 is the bus; driver k is on channel
//! 40 + k, with `driver<k>_doorbell_vaddr` and `driver<k>_dma_paddr` as
//! for the mmio transport (a variable system.xml does not set reads 0:
//! no driver k).
//!
//! The three windows are fixed facts of QEMU arm virt; system.xml must map
//! exactly these physical ranges, uncached, into this PD only.

use sevio_bus_protocol::TransportId;

/// This transport's id on the bus (the bus's channel 1).
pub const TRANSPORT_ID: TransportId = TransportId(1);
/// INTx lines: IRQ id n is INTA + n at the host bridge.
pub const INTX_LINES: usize = 4;
/// GIC INTID of IRQ id 0 (SPI 3).
pub const INTX_INTID_BASE: u32 = 35;
/// IRQ id of the GICv2m frame's first SPI.
pub const MSI_FIRST_ID: usize = 4;
/// MSI SPIs system.xml gives (IRQ ids [`MSI_FIRST_ID`]..+this).
pub const MSI_IRQS: usize = 16;
/// Bytes of the GICv2m frame mapped.
pub const MSI_FRAME_SIZE: usize = 0x1000;
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
    /// vaddr of the GICv2m MSI frame ([`MSI_FRAME_SIZE`], uncached); 0
    /// (not mapped): every device on INTx.
    pub fn msi_frame_vaddr() = "pci_msi_frame_vaddr"
);
sevio_runtime::setvar!(
    /// Physical address of the GICv2m MSI frame (region_paddr): devices
    /// write their MSIs there.
    pub fn msi_frame_paddr() = "pci_msi_frame_paddr"
);
