//! The SMMUv3 PD: [`Confiner`] over the SMMU's registers and its tables
//! region, driven by the bus's notifications and the SMMU's interrupts.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;
#[path = "../../iommu/src/confine_setvars.rs"]
mod confine_setvars;

use sevio_bus_protocol::confine::IommuSide;
use sevio_driver_smmu::Confiner;
use sevio_driver_smmu::smmu::{Registers, STREAMS, Smmu};
use sevio_driver_smmu::spec::reg;
use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{ChannelSet, Handler, debug_println};

sevio_runtime::protection_domain!(init);

/// The SMMU's register pages.
struct SmmuRegisters(DeviceRegion);

impl Registers for SmmuRegisters {
    fn read32(&self, offset: usize) -> u32 {
        self.0.read32(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.0.write32(offset, value)
    }
    fn write64(&self, offset: usize, value: u64) {
        self.0.write64(offset, value)
    }
}

struct SmmuPd {
    confiner: Confiner<SmmuRegisters>,
}

fn init() -> SmmuPd {
    let vaddr = config::regs_vaddr();
    if vaddr == 0 {
        panic!("smmu: cannot start: smmu_regs_vaddr is not set in system.xml");
    }
    // SAFETY: smmu_regs_vaddr is the <map> of the SMMU's two register
    // pages in system.xml (uncached device memory, reg::SIZE bytes; sim
    // forwards it to QEMU's SMMU), mapped for the PD's whole life and
    // reached only through this DeviceRegion.
    let regs = unsafe { DeviceRegion::new(vaddr as usize, reg::SIZE) };
    // SAFETY: smmu_tables_vaddr/size name a <map> of the tables region
    // (rw, the PD's alone) for the PD's whole life (0 is refused); the PD
    // reaches it only through SharedMemory.
    let tables =
        unsafe { sevio_runtime::var::map_region(config::tables_vaddr(), config::tables_size(), "smmu_tables_vaddr") };
    let side = match (config::confine_requests(), config::confine_answers(), tables) {
        (Ok(requests), Ok(answers), Ok(tables)) => IommuSide::new(requests, answers).map(|side| (side, tables)),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => panic!("smmu: cannot start: {e}"),
    };
    let Ok((side, tables)) = side else { panic!("smmu: cannot start: a confinement page is too small") };
    let paddr = config::tables_paddr();
    let (smmu, arena) =
        Smmu::enable(SmmuRegisters(regs), tables, paddr).unwrap_or_else(|e| panic!("smmu: cannot start: {e:?}"));
    debug_println!(
        "smmu: SMMUv3 enabled, stage 2, {STREAMS} streams, tables at {paddr:#x}: every stream aborts until confined"
    );
    let msi_frame = Some(config::msi_frame_paddr()).filter(|&f| f != 0);
    match msi_frame {
        Some(frame) => debug_println!(
            "smmu: MSI frame {frame:#x} mapped write-only in every confined slot: MSI-X writes reach the GIC"
        ),
        None => debug_println!("smmu: no MSI frame in system.xml (smmu_msi_frame_paddr): devices use INTx"),
    }
    let mut confiner = Confiner::new(smmu, arena, side, &confine_setvars::regions(), msi_frame);
    // Wishes the bus wrote before this PD ran.
    if confiner.pump() {
        config::BUS.notify();
    }
    SmmuPd { confiner }
}

impl Handler for SmmuPd {
    fn notified(&mut self, channels: ChannelSet) {
        let mut tell_bus = false;
        let irqs = [config::IRQ_EVENTQ, config::IRQ_GERROR];
        if irqs.iter().any(|&c| channels.contains(c)) {
            tell_bus |= self.confiner.interrupt();
            irqs.iter().filter(|&&c| channels.contains(c)).for_each(|c| c.irq_ack());
        }
        if channels.contains(config::BUS) {
            tell_bus |= self.confiner.pump();
        }
        if tell_bus {
            config::BUS.notify();
        }
    }
}
