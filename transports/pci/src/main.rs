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

use core::ptr::NonNull;
use sevio_bus_protocol::{BusReply, BusRequest, DriverId, Location, TableReader};
use sevio_pci::enumerate::{disable, enable};
use sevio_pci::{Apertures, BdfText, Ecam, PciDevice, Windows, enumerate, probe::is_virtio};
use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{Channel, ChannelSet, Handler, MessageInfo, MessageRegisters, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::{DriverPort, MAX_DRIVERS, Transport, VirtioDevice};
use sevio_transport_protocol::{MAX_WORDS, Reply, Request, TransportDoorbell, TransportError};

type PciTransport = Transport<PciDevice<DeviceRegion>, { config::MAX_DEVICES }>;

sevio_runtime::protection_domain!(init);

/// Attempts at a consistent read of the binding table before giving up
/// until the next notification.
const TABLE_READ_ATTEMPTS: u32 = 16;

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

fn shared_page(vaddr: u64) -> Option<SharedMemory> {
    let base = NonNull::new(vaddr as usize as *mut u8)?;
    // SAFETY: every vaddr passed here is a setvar_vaddr of a 4 KiB page
    // system.xml maps into this PD for its whole life; it is only reached
    // through SharedMemory.
    Some(unsafe { SharedMemory::new(base, 4096) })
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

    let mut transport = PciTransport::new();
    let mut lines = [None; config::MAX_DEVICES];
    for (i, f) in scan.functions.iter().enumerate() {
        let mut device = match PciDevice::probe(&ecam, f, &apertures) {
            Ok(d) => d,
            Err(p) => {
                disable(&ecam, f);
                debug_println!("pci: {}: skipped: {p}", BdfText(f.bdf));
                continue;
            }
        };
        // Decoding first (the reset is a register write), the bus only
        // once the device is reset and can no longer be mid-DMA.
        enable(&ecam, f, false);
        device.reset();
        enable(&ecam, f, true);
        let name = sevio_virtio::DeviceId(device.device_id()).name();
        let interface = if device.is_legacy() { "legacy" } else { "modern" };
        debug_println!("pci: {}: virtio-{name} ({interface})", BdfText(f.bdf));
        for (n, bar) in f.bars.iter().enumerate() {
            if let Some(b) = bar {
                debug_println!("pci: {}:   BAR{n} {:?} {:#x} ({:#x} bytes)", BdfText(f.bdf), b.space, b.addr, b.size);
            }
        }
        if let Some(line) = f.line {
            debug_println!("pci: {}:   INTx line {line} (INTID {})", BdfText(f.bdf), config::INTX_INTID_BASE + line as u32);
        }
        lines[i] = f.line;
        let _ = transport.insert(i, Location::Pci(f.bdf), device);
    }
    for k in 0..MAX_DRIVERS {
        let (doorbell_vaddr, dma_paddr) = config::driver_vars(k);
        let Some(page) = shared_page(doorbell_vaddr) else { continue };
        match TransportDoorbell::init(page) {
            Ok(doorbell) => {
                transport.attach_driver(k, DriverPort { doorbell, dma_window: (dma_paddr, config::DMA_WINDOW_SIZE) })
            }
            Err(e) => debug_println!("pci: driver {k}'s doorbell page is unusable: {e:?}"),
        }
    }
    let mut found = 0;
    for (_, location, device) in transport.devices() {
        found += 1;
        let request = BusRequest::DeviceFound {
            transport: config::TRANSPORT_ID,
            location,
            device_id: device.device_id(),
            vendor_id: device.vendor_id(),
        };
        let reply = call_bus(&request);
        if reply != Some(BusReply::Ok) {
            debug_println!("pci: the bus refused {location:?}: {reply:?}");
        }
    }
    debug_println!("pci: {found} virtio device(s)");
    let table = shared_page(config::bindings_vaddr()).and_then(|m| TableReader::open(m).ok());
    if table.is_none() {
        debug_println!("pci: no binding table: no driver will be served");
    }
    let mut pd = PciPd { transport, lines, table };
    pd.refresh_bindings();
    pd
}

fn call_bus(request: &BusRequest) -> Option<BusReply> {
    let mut words = [0u64; 8];
    let (label, len) = request.encode(&mut words);
    for (i, w) in words.iter().take(len).enumerate() {
        MessageRegisters::set(i, *w);
    }
    let info = config::BUS.pp_call(MessageInfo::new(label, len));
    let n = info.length().min(words.len());
    let reply: [u64; 8] = core::array::from_fn(|i| if i < n { MessageRegisters::get(i) } else { 0 });
    BusReply::decode(info.label(), &reply[..n]).ok()
}

struct PciPd {
    transport: PciTransport,
    /// Each device's INTx line (by transport index).
    lines: [Option<u8>; config::MAX_DEVICES],
    table: Option<TableReader>,
}

impl PciPd {
    /// Re-read which driver is bound to which function.
    fn refresh_bindings(&mut self) {
        let Some(table) = self.table else { return };
        for k in 0..MAX_DRIVERS {
            let location = match table.binding_of_driver(DriverId(k as u8), TABLE_READ_ATTEMPTS) {
                Ok(Some(b)) if b.transport == config::TRANSPORT_ID => Some(b.location),
                Ok(_) => None,
                Err(e) => {
                    debug_println!("pci: binding table unreadable ({e:?}); keeping the old bindings");
                    return;
                }
            };
            if self.transport.binding(k) != location && !self.transport.set_binding(k, location) {
                debug_println!("pci: the bus bound driver {k} to {location:?}, which this transport cannot serve");
            }
        }
    }

    /// INTx line `line` is asserted: read (and so acknowledge) the ISR of
    /// every function on it, pass the causes on, then ack the IRQ. The
    /// line is level-triggered: if a device asserted it again meanwhile,
    /// seL4 delivers it again after the ack.
    fn intx(&mut self, line: u8, irq: Channel) {
        let lines = self.lines;
        let drivers = self.transport.interrupt_all(|i| lines.get(i).copied().flatten() == Some(line));
        for k in 0..MAX_DRIVERS {
            if drivers & (1 << k) != 0 {
                config::driver_channel(k).notify();
            }
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
            } else if ch == config::BUS {
                self.refresh_bindings();
            } else if let Some(k) = driver_index(ch) {
                self.transport.kick(k);
            }
        }
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        let reply = match driver_index(channel) {
            None => Reply::Error(TransportError::NotBound),
            Some(k) => {
                let len = info.length();
                if len > MAX_WORDS {
                    Reply::Error(TransportError::Malformed)
                } else {
                    let words: [u64; MAX_WORDS] =
                        core::array::from_fn(|i| if i < len { MessageRegisters::get(i) } else { 0 });
                    match Request::decode(info.label(), &words[..len]) {
                        Ok(request) => self.transport.handle(k, request),
                        Err(_) => Reply::Error(TransportError::Malformed),
                    }
                }
            }
        };
        let mut out = [0u64; MAX_WORDS];
        let (label, n) = reply.encode(&mut out);
        for (i, w) in out.iter().take(n).enumerate() {
            MessageRegisters::set(i, *w);
        }
        MessageInfo::new(label, n)
    }
}

fn driver_index(channel: Channel) -> Option<usize> {
    let k = channel.index().checked_sub(config::FIRST_DRIVER_CHANNEL)? as usize;
    (k < MAX_DRIVERS).then_some(k)
}
