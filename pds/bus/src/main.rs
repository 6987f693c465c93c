//! The bus PD: transports report the devices they find, drivers register
//! the device ids they serve, and the bus binds them in whatever order
//! they come, publishing each binding in a table every transport and
//! driver maps read-only and notifying both ends.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(test)]
extern crate std;

mod broker;
mod config;

use broker::Broker;
use core::ptr::NonNull;
use sevio_bus_protocol::{BusReply, BusRequest, DriverId, TableWriter};
use sevio_runtime::print::DebugWriter;
use sevio_runtime::{Channel, ChannelSet, Child, Handler, MessageInfo, MessageRegisters, debug_println};
use sevio_sharedmem::SharedMemory;

sevio_runtime::protection_domain!(init);

fn init() -> BusPd {
    let vaddr = config::bindings_vaddr() as usize;
    let Some(base) = NonNull::new(vaddr as *mut u8) else {
        panic!("bus: bus_bindings_vaddr is not set in system.xml");
    };
    // SAFETY: system.xml maps the 4 KiB binding table read-write at this
    // vaddr (setvar_vaddr); it stays mapped for the PD's life and is only
    // reached through SharedMemory.
    let mem = unsafe { SharedMemory::new(base, 4096) };
    let table = match TableWriter::init(mem, sevio_bus_protocol::table::TABLE_PAGE_CAPACITY) {
        Ok(t) => t,
        Err(e) => panic!("bus: binding table: {e:?}"),
    };
    let broker = match Broker::new(table, &config::TRANSPORTS, &config::DRIVERS) {
        Ok(b) => b,
        Err(e) => panic!("bus: {e:?}"),
    };
    debug_println!("bus: ready");
    BusPd { broker }
}

struct BusPd {
    broker: Broker,
}

const MAX_WORDS: usize = 16;

impl Handler for BusPd {
    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        let len = info.length().min(MAX_WORDS);
        let words: [u64; MAX_WORDS] = core::array::from_fn(|i| if i < len { MessageRegisters::get(i) } else { 0 });
        let reply = match BusRequest::decode(info.label(), &words[..len]) {
            Ok(request) => {
                let outcome = self.broker.handle(channel.index(), &request, &mut DebugWriter::for_this_pd());
                for ch in ChannelSet::from_badge(outcome.notify) {
                    ch.notify();
                }
                outcome.reply
            }
            Err(_) => BusReply::Error(sevio_bus_protocol::BusError::Malformed),
        };
        let mut out = [0u64; MAX_WORDS];
        let (label, n) = reply.encode(&mut out);
        for (i, w) in out.iter().take(n).enumerate() {
            MessageRegisters::set(i, *w);
        }
        MessageInfo::new(label, n)
    }

    fn notified(&mut self, _channels: ChannelSet) {}

    /// A driver nested under the bus in system.xml faulted (its child id
    /// is its driver id): unbind it, so its transport resets the device
    /// and stops serving it. The driver stays stopped.
    fn fault(&mut self, child: Child, info: MessageInfo) -> Option<MessageInfo> {
        debug_println!("bus: driver {} faulted (seL4 fault label {})", child.index(), info.label());
        let notify = self.broker.driver_fault(DriverId(child.index()), &mut DebugWriter::for_this_pd());
        for ch in ChannelSet::from_badge(notify) {
            ch.notify();
        }
        None
    }
}
