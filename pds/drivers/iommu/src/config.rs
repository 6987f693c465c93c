//! The IOMMU driver's channels and variables (see the crate README and
//! systems/blk-pci-iommu.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_iommu::{IommuDriver, IommuSetvars};
use sevio_runtime::Channel;

/// The bus PD as the driver's parent (PPC: RegisterDriver;
/// notifications: the binding table changed).
pub const BUS: Channel = Channel::new(0);
/// The PCI transport.
pub const TRANSPORT: Channel = Channel::new(1);
/// The bus again, for confinement: notifications both ways say "look at
/// the confinement pages" (bus side: channel 7).
pub const CONFINE: Channel = Channel::new(2);

/// Fallback driver id (the bus answers the real one at registration).
pub const DRIVER_ID: DriverId = DriverId(7);

/// The PD shell's view.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "iommu",
    device: IommuDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CONFINE),
    timer: None,
};

/// Every region system.xml gives the PD.
pub fn setvars() -> PdSetvars<IommuSetvars> {
    PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "iommu_doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "iommu_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: IommuSetvars {
            requests: RegionSetvars { region: "bus_confine_requests", vaddr: requests_vaddr(), size: PAGE_SIZE },
            answers: RegionSetvars { region: "bus_confine_answers", vaddr: answers_vaddr(), size: PAGE_SIZE },
            regions: crate::confine_setvars::regions(),
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`iommu_doorbell`).
    pub fn doorbell_vaddr() = "iommu_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`iommu_dma`).
    pub fn dma_vaddr() = "iommu_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region.
    pub fn dma_size() = "iommu_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region.
    pub fn dma_paddr() = "iommu_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the bus's confinement requests page (read-only).
    pub fn requests_vaddr() = "bus_confine_requests_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the confinement answers page.
    pub fn answers_vaddr() = "bus_confine_answers_vaddr"
);
