//! The mmio transport's channels and variables (see system.xml).
//!
//! IRQ ids 0..32 are the virtio-mmio slots' interrupts (slot i = GIC INTID
//! 48 + i on QEMU arm virt). The bus and driver channels and the driver
//! setvars follow the convention every transport shares
//! (`sevio_transport_core::shell`).

use sevio_bus_protocol::TransportId;

/// This transport's id on the bus.
pub const TRANSPORT_ID: TransportId = TransportId(0);
/// Slots on QEMU arm virt.
pub const SLOTS: usize = 32;
/// Bytes between two slots' register blocks.
pub const SLOT_STRIDE: usize = 0x200;
sevio_runtime::setvar!(
    /// vaddr of the 32 register blocks (0x4000 bytes, uncached).
    pub fn regs_vaddr() = "mmio_regs_vaddr"
);
