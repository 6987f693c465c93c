//! simtest-probe: reads magic, version and device id of all 32 virtio-mmio
//! slots through the register proxy and passes only if it finds exactly
//! [`EXPECTED_DEVICES`], all slots with the same register version.
#![no_std]

use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{Handler, debug_println, verdict};
use sevio_sim_test_pds::{SLOT_STRIDE, SLOTS, device_name, expected_device};
use sevio_virtio::mmio::{MAGIC_VALUE, reg};

sevio_runtime::setvar!(fn mmio_vaddr() = "mmio_vaddr");

sevio_runtime::protection_domain!(init);

struct Probe;
impl Handler for Probe {}

fn init() -> Probe {
    // SAFETY: probe.xml maps the 16 KiB of virtio-mmio registers uncached
    // at `mmio_vaddr`, and nothing else in this PD touches them.
    let regs = unsafe { DeviceRegion::new(mmio_vaddr() as usize, SLOTS * SLOT_STRIDE) };
    match check(&regs) {
        Ok(version) => {
            debug_println!("probe: every slot as expected, register version {version}");
            verdict::pass();
        }
        Err(why) => verdict::fail(why),
    }
    Probe
}

fn check(regs: &DeviceRegion) -> Result<u32, &'static str> {
    let mut result = Ok(0);
    let mut first_version = None;
    for slot in 0..SLOTS {
        let Some(r) = regs.window(slot * SLOT_STRIDE, SLOT_STRIDE) else { return Err("slot outside the map") };
        let (magic, version, id) = (r.read32(reg::MAGIC), r.read32(reg::VERSION), r.read32(reg::DEVICE_ID));
        debug_println!("probe: slot {slot:2}: magic {magic:#010x} version {version} device {id} ({})", device_name(id));
        let problem = if magic != MAGIC_VALUE {
            Some("a slot has a wrong magic value")
        } else if !matches!(version, 1 | 2) || *first_version.get_or_insert(version) != version {
            Some("slots disagree on the register version")
        } else if id != expected_device(slot) {
            Some("the devices are not where the sim description put them")
        } else {
            None
        };
        if let (Some(p), Ok(_)) = (problem, &result) {
            result = Err(p);
        }
    }
    result.map(|_| first_version.unwrap_or(0))
}
