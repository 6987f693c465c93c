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

use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{Channel, ChannelSet, Handler, MessageInfo, debug_println};
use sevio_transport_core::Transport;
use sevio_transport_core::shell::{TransportPd, Wiring};
use sevio_transport_protocol::Location;
use sevio_virtio::mmio::Version;
use slot::Slot;

sevio_runtime::protection_domain!(init);

/// The transport over this PD's 32 slots.
type MmioPd = TransportPd<Slot<DeviceRegion>, { config::SLOTS }>;

fn init() -> Pd {
    let regs_vaddr = config::regs_vaddr() as usize;
    if regs_vaddr == 0 {
        panic!("mmio: mmio_regs_vaddr is not set in system.xml");
    }
    // SAFETY: system.xml maps the 32 register blocks (0x4000 bytes of
    // device memory, uncached) at mmio_regs_vaddr into this PD only.
    let regs = unsafe { DeviceRegion::new(regs_vaddr, config::SLOTS * config::SLOT_STRIDE) };
    let mut transport = Transport::new();
    for i in 0..config::SLOTS {
        let Some(window) = regs.window(i * config::SLOT_STRIDE, config::SLOT_STRIDE) else { continue };
        if let Some((slot, probe)) = Slot::probe(window) {
            let name = sevio_virtio::DeviceId(probe.device_id).name();
            let version = if probe.version == Version::Legacy { 1 } else { 2 };
            debug_println!("mmio: slot {i}: virtio-{name} (register version {version})");
            let _ = transport.insert(i, Location::Mmio { slot: i as u32 }, slot);
        }
    }
    let wiring = Wiring { name: "mmio", id: config::TRANSPORT_ID };
    Pd(MmioPd::start(transport, wiring))
}

struct Pd(MmioPd);

impl Handler for Pd {
    fn notified(&mut self, channels: ChannelSet) {
        for ch in channels {
            let id = ch.index() as usize;
            if id < config::SLOTS {
                // Slot `id`'s IRQ: acknowledge the device, pass the causes
                // to its driver, then let seL4 deliver the line again.
                if let Some(k) = self.0.transport.interrupt(id) {
                    self.0.notify_drivers(1 << k);
                }
                ch.irq_ack();
            } else {
                self.0.notified_channel(ch);
            }
        }
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        self.0.protected(channel, info)
    }
}
