//! Slot k's regions as system.xml gives them to an IOMMU PD (this one and
//! the SMMUv3 PD, which includes this file): `confine<k>_region<j>_paddr`
//! (`region_paddr`) and `confine<k>_region<j>_size` (`setvar_size` of a
//! read-only map).
use sevio_driver_iommu::{CONFIGURED_SLOTS, REGIONS_PER_SLOT, RegionVars};

/// Slot k's regions, from `confine<k>_region<j>_paddr` (`region_paddr`)
/// and `confine<k>_region<j>_size` (`setvar_size` of a read-only map:
/// Microkit hands a region's size to a PD only through a map of it).
macro_rules! slot_regions {
    ($([$(($paddr:literal, $size:literal)),*]),*) => {
        pub fn regions() -> [[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS] {
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
