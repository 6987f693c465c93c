//! The virtio-mmio transport's logic, with no syscalls: probing the 32
//! slots of QEMU arm virt, each slot's register sequences, and the PD
//! handler around the shared transport core. `main.rs` maps the
//! register blocks and names the entry point.
//!
//! - [`slot`]: [`Slot`], one register block as a
//!   [`VirtioDevice`](sevio_transport_core::VirtioDevice), over any
//!   [`Registers`];
//! - [`config`]: slot count and stride, the register window's setvar;
//! - [`probe_slots`], [`MmioPd`]: the transport over every slot, and the
//!   PD that routes slot IRQs, the bus and drivers to it.
//!
//! Panic contract: nothing here panics on anything a device returns.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod config;
pub mod slot;

#[cfg(test)]
mod tests;

pub use slot::{Probe, Registers, Slot};

use sevio_runtime::{Channel, ChannelSet, Handler, MessageInfo, debug_println};
use sevio_transport_core::Transport;
use sevio_transport_core::shell::TransportPd;
use sevio_transport_protocol::Location;
use sevio_virtio::mmio::Version;

/// The transport over this PD's slots.
pub type MmioTransport<R> = Transport<Slot<R>, { config::SLOTS }>;

/// Probe every slot: `window(i)` gives slot i's registers (`None` for a
/// slot that cannot be reached). Each slot with a device goes into the
/// transport at its slot number.
pub fn probe_slots<R: Registers>(mut window: impl FnMut(usize) -> Option<R>) -> MmioTransport<R> {
    let mut transport = Transport::new();
    for i in 0..config::SLOTS {
        let Some(regs) = window(i) else { continue };
        if let Some((slot, probe)) = Slot::probe(regs) {
            let name = sevio_virtio::DeviceId(probe.device_id).name();
            let version = if probe.version == Version::Legacy { 1 } else { 2 };
            debug_println!("mmio: slot {i}: virtio-{name} (register version {version})");
            // Cannot fail: i < SLOTS, and each slot is probed once.
            let _ = transport.insert(i, Location::Mmio { slot: i as u32 }, slot);
        }
    }
    transport
}

/// The mmio transport PD: the shared transport shell plus the slots'
/// IRQs (IRQ id i is slot i's interrupt).
pub struct MmioPd<R>(pub TransportPd<Slot<R>, { config::SLOTS }>);

impl<R: Registers> Handler for MmioPd<R> {
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
