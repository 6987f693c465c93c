//! The virtio-mmio transport PD.
//!
//! It alone maps the virtio-mmio register blocks (on QEMU arm virt eight
//! devices share each 4 KiB page, so a driver that mapped its own page
//! could write its neighbours) and owns their IRQs. It probes every slot,
//! reports each device to the bus, and serves each driver the device the
//! bus bound to that driver's channel, and nothing else.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(test)]
extern crate std;

mod config;
mod slot;

use core::ptr::NonNull;
use sevio_bus_protocol::{BusReply, BusRequest, DriverId, Location, TableReader};
use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{Channel, ChannelSet, Handler, MessageInfo, MessageRegisters, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::{DriverPort, MAX_DRIVERS, Transport};
use sevio_transport_protocol::{MAX_WORDS, Reply, Request, TransportDoorbell, TransportError};
use slot::Slot;

/// The transport over this PD's 32 slots.
type MmioTransport = Transport<Slot<DeviceRegion>, { config::SLOTS }>;

sevio_runtime::protection_domain!(init);

/// Attempts at a consistent read of the binding table before giving up
/// until the next notification.
const TABLE_READ_ATTEMPTS: u32 = 16;

fn shared_page(vaddr: u64) -> Option<SharedMemory> {
    let base = NonNull::new(vaddr as usize as *mut u8)?;
    // SAFETY: every vaddr passed here is a setvar_vaddr of a 4 KiB page
    // system.xml maps into this PD for its whole life; it is only reached
    // through SharedMemory.
    Some(unsafe { SharedMemory::new(base, 4096) })
}

fn init() -> MmioPd {
    let regs_vaddr = config::regs_vaddr() as usize;
    if regs_vaddr == 0 {
        panic!("mmio: mmio_regs_vaddr is not set in system.xml");
    }
    // SAFETY: system.xml maps the 32 register blocks (0x4000 bytes of
    // device memory, uncached) at mmio_regs_vaddr into this PD only.
    let regs = unsafe { DeviceRegion::new(regs_vaddr, config::SLOTS * config::SLOT_STRIDE) };
    let mut transport = MmioTransport::new();
    for i in 0..config::SLOTS {
        let Some(window) = regs.window(i * config::SLOT_STRIDE, config::SLOT_STRIDE) else { continue };
        if let Some((slot, probe)) = Slot::probe(window) {
            let name = sevio_virtio::DeviceId(probe.device_id).name();
            let version = if probe.version == sevio_virtio::mmio::Version::Legacy { 1 } else { 2 };
            debug_println!("mmio: slot {i}: virtio-{name} (register version {version})");
            let _ = transport.insert(i, Location::Mmio { slot: i as u32 }, slot);
        }
    }
    for k in 0..MAX_DRIVERS {
        let (doorbell_vaddr, dma_paddr) = config::driver_vars(k);
        let Some(page) = shared_page(doorbell_vaddr) else {
            continue;
        };
        match TransportDoorbell::init(page) {
            Ok(doorbell) => {
                transport.attach_driver(k, DriverPort { doorbell, dma_window: (dma_paddr, config::DMA_WINDOW_SIZE) })
            }
            Err(e) => debug_println!("mmio: driver {k}'s doorbell page is unusable: {e:?}"),
        }
    }
    let mut found = 0;
    for (_, location, device) in transport.devices() {
        found += 1;
        let probe = device.probe_result();
        let request = BusRequest::DeviceFound {
            transport: config::TRANSPORT_ID,
            location,
            device_id: probe.device_id,
            vendor_id: probe.vendor_id,
        };
        let reply = call_bus(&request);
        if reply != Some(BusReply::Ok) {
            debug_println!("mmio: the bus refused {location:?}: {reply:?}");
        }
    }
    debug_println!("mmio: {found} device(s) in {} slots", config::SLOTS);
    let table = shared_page(config::bindings_vaddr()).and_then(|m| TableReader::open(m).ok());
    if table.is_none() {
        debug_println!("mmio: no binding table: no driver will be served");
    }
    let mut pd = MmioPd { transport, table };
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

struct MmioPd {
    transport: MmioTransport,
    table: Option<TableReader>,
}

impl MmioPd {
    /// Re-read which driver is bound to which slot.
    fn refresh_bindings(&mut self) {
        let Some(table) = self.table else { return };
        for k in 0..MAX_DRIVERS {
            let location = match table.binding_of_driver(DriverId(k as u8), TABLE_READ_ATTEMPTS) {
                Ok(Some(b)) if b.transport == config::TRANSPORT_ID => Some(b.location),
                Ok(_) => None,
                Err(e) => {
                    debug_println!("mmio: binding table unreadable ({e:?}); keeping the old bindings");
                    return;
                }
            };
            if self.transport.binding(k) != location && !self.transport.set_binding(k, location) {
                debug_println!("mmio: the bus bound driver {k} to {location:?}, which this transport cannot serve");
            }
        }
    }
}

impl Handler for MmioPd {
    fn notified(&mut self, channels: ChannelSet) {
        for ch in channels {
            let id = ch.index() as usize;
            if id < config::SLOTS {
                if let Some(k) = self.transport.interrupt(id) {
                    config::driver_channel(k).notify();
                }
                ch.irq_ack();
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
