//! From an enumerated bus to a transport: each virtio function is probed,
//! reset and only then allowed to master the bus.
//!
//! Order matters. Firmware or an earlier boot may have left a device
//! live, with rings in memory this system gives to someone else: the
//! device must not be able to DMA until it has been reset. The reset is a
//! register write, so memory/I/O decoding goes on first, bus mastering
//! after the reset. A function that fails its probe is turned off again.
//!
//! Given an MSI frame ([`MsiRouting`]), a modern function with an MSI-X
//! capability is then given its vectors (see [`crate::msix`]) and stops
//! using INTx; anything in the way leaves it on INTx, said in the log.

use crate::config_space::ConfigSpace;
use crate::device::PciDevice;
use crate::enumerate::{Function, Scan, disable, enable};
use crate::msix::{self, MsiRouting, vectors_for};
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
/// bus; with `msi`, give each modern function with MSI-X its vectors.
/// `skipped` hears of each function that could not be used.
pub fn bring_up<C: ConfigSpace, R: Registers, const N: usize, const IRQS: usize>(
    cfg: &C,
    scan: &Scan,
    apertures: &Apertures<R>,
    mut msi: Option<&mut MsiRouting<IRQS>>,
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
        let on_msix = match msi.as_deref_mut() {
            Some(routing) if !device.is_legacy() => use_msix(cfg, f, apertures, routing, i, &mut device),
            _ => false,
        };
        if let (Some(line), false) = (f.line, on_msix) {
            debug_println!("pci: {}:   INTx line {line}", BdfText(f.bdf));
        }
        if let (Some(slot), false) = (devices.lines.get_mut(i), on_msix) {
            *slot = f.line;
        }
        let _ = devices.transport.insert(i, Location::Pci(f.bdf), device);
    }
    devices
}

/// Give function `f` (transport index `index`) MSI-X vectors from
/// `routing`: its table programmed, MSI-X on, the device's configuration
/// vector set and read back. False, with MSI-X off and the vectors given
/// back, when the function has no usable MSI-X or the device refuses.
fn use_msix<C: ConfigSpace, R: Registers, const IRQS: usize>(
    cfg: &C,
    f: &Function,
    apertures: &Apertures<R>,
    routing: &mut MsiRouting<IRQS>,
    index: usize,
    device: &mut PciDevice<R>,
) -> bool {
    let bdf = BdfText(f.bdf);
    let cap = match crate::probe::msix(cfg, f) {
        Ok(Some(cap)) => cap,
        Ok(None) => return false,
        Err(e) => {
            debug_println!("pci: {bdf}:   MSI-X capability unreadable ({e:?}): INTx");
            return false;
        }
    };
    if let Err(e) = msix::check_table(f, &cap) {
        debug_println!("pci: {bdf}:   {e}: INTx");
        return false;
    }
    let Ok(table) = apertures.window(f, cap.bar, cap.offset, cap.table_bytes()) else {
        debug_println!("pci: {bdf}:   its MSI-X table is not in the mapped window: INTx");
        return false;
    };
    let vectors = vectors_for(cap.entries, device.num_queues(), routing.free());
    let Some(first) = msix::assign(routing, index, &table, vectors) else {
        debug_println!("pci: {bdf}:   no MSI SPI left: INTx");
        return false;
    };
    msix::set_enabled(cfg, f, &cap, true);
    if !device.use_msix(vectors) {
        msix::set_enabled(cfg, f, &cap, false);
        msix::unassign(routing, first, &table);
        debug_println!("pci: {bdf}:   the device refused its MSI-X configuration vector: INTx");
        return false;
    }
    let (intid, last) = (routing.intid(first), routing.intid(first + usize::from(vectors) - 1));
    debug_println!("pci: {bdf}:   MSI-X: {vectors} vector(s), INTIDs {intid}..={last} (configuration on {intid})");
    true
}
