//! The virtio-mmio transport PD.
//!
//! It alone maps the virtio-mmio register blocks (on QEMU arm virt eight
//! devices share each 4 KiB page, so a driver that mapped its own page
//! could write its neighbours) and owns their IRQs. It probes every slot,
//! reports each device to the bus, and serves each driver the device the
//! bus bound to that driver's channel, and nothing else. The logic is in
//! the library; this maps the registers.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_mmio::{MmioPd, config, probe_slots};
use sevio_runtime::mmio::DeviceRegion;
use sevio_transport_core::shell::{TransportPd, Wiring};

sevio_runtime::protection_domain!(init);

fn init() -> MmioPd<DeviceRegion> {
    let regs_vaddr = config::regs_vaddr() as usize;
    if regs_vaddr == 0 {
        panic!("mmio: mmio_regs_vaddr is not set in system.xml");
    }
    // SAFETY: system.xml maps the 32 register blocks (0x4000 bytes of
    // device memory, uncached) at mmio_regs_vaddr into this PD only.
    let regs = unsafe { DeviceRegion::new(regs_vaddr, config::SLOTS * config::SLOT_STRIDE) };
    let transport = probe_slots(|i| regs.window(i * config::SLOT_STRIDE, config::SLOT_STRIDE));
    let wiring = Wiring { name: "mmio", id: config::TRANSPORT_ID };
    MmioPd(TransportPd::start(transport, wiring))
}
