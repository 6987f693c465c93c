//! From an enumerated bus to a transport: each virtio function is probed,
//! reset and only then allowed to master the bus.
//!
//! Order matters. Firmware or an earlier boot may have left a device
//! live, with rings in memory this system gives to someone else: the
//! device must not be able to DMA until it has been reset. The reset is a
//! register write, so memory/I/O decoding goes on first, bus mastering
//! after the reset. A function that fails its probe is turned off again.

use crate::config_space::ConfigSpace;
use crate::device::PciDevice;
use crate::enumerate::{Scan, disable, enable};
use crate::probe::Apertures;
use crate::problem::{BdfText, Problem};
use crate::regs::Registers;
use sevio_runtime::debug_println;
use sevio_transport_core::{Transport, VirtioDevice};
use sevio_transport_protocol::{Bdf, Location};

/// The devices brought up, and each one's INTx line (by transport index).
pub struct Devices<R, const N: usize> {
    /// The usable functions, at their index in the scan.
    pub transport: Transport<PciDevice<R>, N>,
    /// The host-bridge INTx line of the device at each index.
    pub lines: [Option<u8>; N],
}

/// Probe every function of `scan` through `apertures`; reset each usable
/// one with decoding on and bus mastering off, then let it master the
/// bus. `skipped` hears of each function that could not be used.
pub fn bring_up<C: ConfigSpace, R: Registers, const N: usize>(
    cfg: &C,
    scan: &Scan,
    apertures: &Apertures<R>,
    mut skipped: impl FnMut(Bdf, Problem),
) -> Devices<R, N> {
    let mut devices = Devices { transport: Transport::new(), lines: [None; N] };
    for (i, f) in scan.functions.iter().enumerate() {
        let mut device = match PciDevice::probe(cfg, f, apertures) {
            Ok(d) => d,
            Err(p) => {
                disable(cfg, f);
                skipped(f.bdf, p);
                continue;
            }
        };
        enable(cfg, f, false);
        device.reset();
        enable(cfg, f, true);
        let name = sevio_virtio::DeviceId(device.device_id()).name();
        let interface = if device.is_legacy() { "legacy" } else { "modern" };
        debug_println!("pci: {}: virtio-{name} ({interface})", BdfText(f.bdf));
        for (n, bar) in f.bars.iter().enumerate() {
            if let Some(b) = bar {
                debug_println!("pci: {}:   BAR{n} {:?} {:#x} ({:#x} bytes)", BdfText(f.bdf), b.space, b.addr, b.size);
            }
        }
        if let Some(line) = f.line {
            debug_println!("pci: {}:   INTx line {line}", BdfText(f.bdf));
        }
        if let Some(slot) = devices.lines.get_mut(i) {
            *slot = f.line;
        }
        let _ = devices.transport.insert(i, Location::Pci(f.bdf), device);
    }
    devices
}
