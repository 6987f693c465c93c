//! The IOMMU driver's channels and variables (see the crate README and
//! systems/blk-pci-iommu.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_iommu::{CONFIGURED_SLOTS, IommuDriver, IommuSetvars, REGIONS_PER_SLOT, RegionVars};
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
            regions: regions(),
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

/// Slot k's regions, from `confine<k>_region<j>_paddr` (`region_paddr`)
/// and `confine<k>_region<j>_size` (`setvar_size` of a read-only map:
/// Microkit hands a region's size to a PD only through a map of it).
macro_rules! slot_regions {
    ($([$(($paddr:literal, $size:literal)),*]),*) => {
        fn regions() -> [[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS] {
            [$([$({
                sevio_runtime::setvar!(fn paddr() = $paddr);
                sevio_runtime::setvar!(fn size() = $size);
                RegionVars { paddr: paddr(), size: size() }
            }),*]),*]
        }
    };
}

slot_regions!(
    [
        ("confine0_region0_paddr", "confine0_region0_size"),
        ("confine0_region1_paddr", "confine0_region1_size"),
        ("confine0_region2_paddr", "confine0_region2_size"),
        ("confine0_region3_paddr", "confine0_region3_size")
    ],
    [
        ("confine1_region0_paddr", "confine1_region0_size"),
        ("confine1_region1_paddr", "confine1_region1_size"),
        ("confine1_region2_paddr", "confine1_region2_size"),
        ("confine1_region3_paddr", "confine1_region3_size")
    ],
    [
        ("confine2_region0_paddr", "confine2_region0_size"),
        ("confine2_region1_paddr", "confine2_region1_size"),
        ("confine2_region2_paddr", "confine2_region2_size"),
        ("confine2_region3_paddr", "confine2_region3_size")
    ],
    [
        ("confine3_region0_paddr", "confine3_region0_size"),
        ("confine3_region1_paddr", "confine3_region1_size"),
        ("confine3_region2_paddr", "confine3_region2_size"),
        ("confine3_region3_paddr", "confine3_region3_size")
    ],
    [
        ("confine4_region0_paddr", "confine4_region0_size"),
        ("confine4_region1_paddr", "confine4_region1_size"),
        ("confine4_region2_paddr", "confine4_region2_size"),
        ("confine4_region3_paddr", "confine4_region3_size")
    ],
    [
        ("confine5_region0_paddr", "confine5_region0_size"),
        ("confine5_region1_paddr", "confine5_region1_size"),
        ("confine5_region2_paddr", "confine5_region2_size"),
        ("confine5_region3_paddr", "confine5_region3_size")
    ],
    [
        ("confine6_region0_paddr", "confine6_region0_size"),
        ("confine6_region1_paddr", "confine6_region1_size"),
        ("confine6_region2_paddr", "confine6_region2_size"),
        ("confine6_region3_paddr", "confine6_region3_size")
    ],
    [
        ("confine7_region0_paddr", "confine7_region0_size"),
        ("confine7_region1_paddr", "confine7_region1_size"),
        ("confine7_region2_paddr", "confine7_region2_size"),
        ("confine7_region3_paddr", "confine7_region3_size")
    ]
);
