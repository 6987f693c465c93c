//! The virtio-pci transport PD.
//!
//! It alone maps ECAM and the PCI memory and I/O windows and owns the
//! four INTx lines. At init it enumerates the bus (bridges included),
//! assigns BARs, checks each virtio function's capabilities, reports each
//! usable device to the bus, and then serves each driver the device the
//! bus bound to that driver's channel, and nothing else.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_pci::msix::MSI_TYPER;
use sevio_pci::{
    Apertures, BdfText, Ecam, MsiFrame, MsiRouting, PciDevice, Windows, bring_up, enumerate, probe::is_virtio,
};
use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{Channel, ChannelSet, Handler, MessageInfo, debug_println};
use sevio_transport_core::shell::{TransportPd, Wiring};

sevio_runtime::protection_domain!(init);

/// A device window system.xml maps at `vaddr` (a setvar).
fn device_window(vaddr: u64, size: usize, what: &str) -> DeviceRegion {
    if vaddr == 0 {
        panic!("pci: {what} is not set in system.xml");
    }
    // SAFETY: each vaddr passed here is the setvar_vaddr of a map of
    // device memory (ECAM, the memory window, the I/O window) of `size`
    // bytes that system.xml gives this PD only, uncached; it is reached
    // only through DeviceRegion.
    unsafe { DeviceRegion::new(vaddr as usize, size) }
}

fn init() -> PciPd {
    let ecam = Ecam::new(device_window(config::ecam_vaddr(), config::ECAM_SIZE, "pci_ecam_vaddr"));
    let (mem_base, mem_size) = config::MEM_WINDOW;
    let apertures = Apertures {
        mem: device_window(config::mem_vaddr(), mem_size as usize, "pci_mem_vaddr"),
        mem_base,
        io: device_window(config::io_vaddr(), config::IO_SIZE, "pci_io_vaddr"),
        io_base: 0,
    };
    let Some(mut windows) = Windows::new(config::MEM_WINDOW, config::IO_PORTS) else {
        panic!("pci: the configured windows are not bridge-aligned");
    };
    let scan = enumerate(&ecam, ecam.buses(), &mut windows, is_virtio, |f, p| {
        debug_println!("pci: {}: skipped: {p}", BdfText(f));
    });
    debug_println!("pci: {} bridge(s), buses 0..={}", scan.bridges, scan.last_bus);
    let intid = config::INTX_INTID_BASE;
    debug_println!(
        "pci: INTx lines 0..{} are GIC INTIDs {intid}..{}",
        config::INTX_LINES,
        intid + config::INTX_LINES as u32
    );

    let mut msi = msi_routing();
    let devices = bring_up(&ecam, &scan, &apertures, msi.as_mut(), |bdf, p| {
        debug_println!("pci: {}: skipped: {p}", BdfText(bdf))
    });
    let wiring = Wiring { name: "pci", id: config::TRANSPORT_ID };
    PciPd { pd: TransportPd::start(devices.transport, wiring), lines: devices.lines, msi }
}

/// The MSI SPIs, if system.xml maps the GICv2m frame: where they are is
/// read from its MSI_TYPER.
fn msi_routing() -> Option<MsiRouting<{ config::MSI_IRQS }>> {
    let (vaddr, paddr) = (config::msi_frame_vaddr(), config::msi_frame_paddr());
    if vaddr == 0 || paddr == 0 {
        debug_println!("pci: no MSI frame in system.xml (pci_msi_frame_vaddr, pci_msi_frame_paddr): INTx only");
        return None;
    }
    let frame = device_window(vaddr, config::MSI_FRAME_SIZE, "pci_msi_frame_vaddr");
    match MsiFrame::from_typer(paddr, frame.read32(MSI_TYPER)) {
        Ok(f) => {
            let routing = MsiRouting::new(f);
            let (first, given) = (f.first_intid, routing.free());
            debug_println!(
                "pci: GICv2m frame at {paddr:#x}: {} SPIs from INTID {first}; IRQ ids {}..{} are INTIDs {first}..{}",
                f.count,
                config::MSI_FIRST_ID,
                config::MSI_FIRST_ID + given,
                first + given as u32
            );
            Some(routing)
        }
        Err(e) => {
            debug_println!("pci: the GICv2m frame at {paddr:#x} is unusable: {e}: INTx only");
            None
        }
    }
}

struct PciPd {
    pd: TransportPd<PciDevice<DeviceRegion>, { config::MAX_DEVICES }>,
    /// Each device's INTx line (by transport index; none on MSI-X).
    lines: [Option<u8>; config::MAX_DEVICES],
    /// Who each MSI SPI belongs to.
    msi: Option<MsiRouting<{ config::MSI_IRQS }>>,
}

impl PciPd {
    /// INTx line `line` is asserted: read (and so acknowledge) the ISR of
    /// every function on it, pass the causes on, then ack the IRQ. The
    /// line is level-triggered: if a device asserted it again meanwhile,
    /// seL4 delivers it again after the ack.
    fn intx(&mut self, line: u8, irq: Channel) {
        let lines = self.lines;
        let drivers = self.pd.transport.interrupt_all(|i| lines.get(i).copied().flatten() == Some(line));
        self.pd.notify_drivers(drivers);
        irq.irq_ack();
    }

    /// MSI SPI `i` fired (an edge: nothing to deassert): the causes its
    /// MSI-X entry stands for go to the driver of the device it belongs to.
    fn msi(&mut self, i: usize, irq: Channel) {
        if let Some(v) = self.msi.as_ref().and_then(|r| r.owner(i))
            && let Some(k) = self.pd.transport.interrupt_with(v.index, |d| d.msix_causes(v.entry))
        {
            self.pd.notify_drivers(1 << k);
        }
        irq.irq_ack();
    }
}

impl Handler for PciPd {
    fn notified(&mut self, channels: ChannelSet) {
        for ch in channels {
            let id = ch.index() as usize;
            if id < config::INTX_LINES {
                self.intx(id as u8, ch);
            } else if (config::MSI_FIRST_ID..config::MSI_FIRST_ID + config::MSI_IRQS).contains(&id) {
                self.msi(id - config::MSI_FIRST_ID, ch);
            } else {
                self.pd.notified_channel(ch);
            }
        }
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        self.pd.protected(channel, info)
    }
}
