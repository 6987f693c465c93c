//! The SMMU PD's channels and variables (see the crate README and
//! systems/blk-pci-smmu.xml).
use sevio_runtime::Channel;

/// The bus: notifications both ways say "look at the confinement pages"
/// (bus side: channel 7, as for the virtio-iommu PD).
pub const BUS: Channel = Channel::new(0);
/// The SMMU's event queue interrupt (SPI 74, INTID 106 on QEMU virt).
pub const IRQ_EVENTQ: Channel = Channel::new(1);
/// The SMMU's global error interrupt (SPI 77, INTID 109 on QEMU virt).
pub const IRQ_GERROR: Channel = Channel::new(2);

sevio_runtime::setvar!(
    /// vaddr of the SMMU's register pages (`smmu_regs`, uncached).
    pub fn regs_vaddr() = "smmu_regs_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the tables region (`smmu_tables`): stream table, queues,
    /// page tables.
    pub fn tables_vaddr() = "smmu_tables_vaddr"
);
sevio_runtime::setvar!(
    /// Its size.
    pub fn tables_size() = "smmu_tables_size"
);
sevio_runtime::setvar!(
    /// Its physical address, which the SMMU is given.
    pub fn tables_paddr() = "smmu_tables_paddr"
);
sevio_runtime::setvar!(
    /// Physical address of the MSI doorbell frame (QEMU virt's GICv2m,
    /// region `gicv2m`) that each confined slot's tables map write-only
    /// so its device's MSI-X writes reach the GIC; 0 (the generator sets
    /// it only when the pci transport has MSI-X): not mapped.
    pub fn msi_frame_paddr() = "smmu_msi_frame_paddr"
);
sevio_runtime::shared_region!(
    /// The bus's confinement requests page (read-only here).
    pub fn confine_requests() = "bus_confine_requests_vaddr", 4096
);
sevio_runtime::shared_region!(
    /// The confinement answers page (written here).
    pub fn confine_answers() = "bus_confine_answers_vaddr", 4096
);
