//! The transport over a fake register space of 32 slots, driven the way
//! the PD drives it: probe, bind, serve a driver's requests, take IRQs.

use crate::slot::fake::FakeSlot;
use crate::{MmioTransport, probe_slots};
use sevio_sharedmem::HeapRegion;
use sevio_transport_core::{DriverPort, VirtioDevice};
use sevio_transport_protocol::{DriverDoorbell, Location, Reply, Request, TransportDoorbell, TransportError};
use sevio_virtio::mmio::reg;
use std::vec::Vec;

const DMA: (u64, u64) = (0x5000_0000, 0x4_0000);

/// Slot 3: a modern blk; slot 7: a legacy net; slot 12: empty (device id
/// 0, as QEMU shows it); everything else: no virtio-mmio block at all.
fn register_space() -> Vec<FakeSlot> {
    (0..crate::config::SLOTS)
        .map(|i| match i {
            3 => FakeSlot::new(2, 2),
            7 => FakeSlot::new(1, 1),
            12 => FakeSlot::new(2, 0),
            _ => {
                let absent = FakeSlot::new(2, 2);
                absent.regs.borrow_mut()[reg::MAGIC / 4] = 0;
                absent
            }
        })
        .collect()
}

/// The transport over `space`, with driver `k` (its doorbell in `page`)
/// bound to slot `slot`.
fn bound<'a>(space: &'a [FakeSlot], page: &HeapRegion, k: usize, slot: u32) -> MmioTransport<&'a FakeSlot> {
    let mut transport = probe_slots(|i| space.get(i));
    let doorbell = TransportDoorbell::init(page.memory()).unwrap();
    transport.attach_driver(k, DriverPort { doorbell, dma_window: DMA });
    assert!(transport.set_binding(k, Some(Location::Mmio { slot })));
    transport
}

#[test]
fn probing_finds_the_devices_at_their_slots() {
    let space = register_space();
    let transport = probe_slots(|i| space.get(i));
    let found: Vec<(usize, Location, u32, u32)> =
        transport.devices().map(|(i, loc, d)| (i, loc, d.device_id(), d.version())).collect();
    assert_eq!(found, [(3, Location::Mmio { slot: 3 }, 2, 2), (7, Location::Mmio { slot: 7 }, 1, 1)]);
    // A window that cannot be reached is skipped.
    let transport = probe_slots(|i| if i == 3 { None } else { space.get(i) });
    assert_eq!(transport.devices().count(), 1);
}

#[test]
fn a_bound_driver_programs_its_slot_and_no_other() {
    let space = register_space();
    let page = HeapRegion::new(4096);
    let mut transport = bound(&space, &page, 0, 3);
    let (base, _) = DMA;
    assert_eq!(transport.handle(0, Request::Reset), Reply::Ok);
    let outside = Request::QueueSetup { queue: 0, size: 128, desc: 0x1000, avail: base, used: base };
    assert_eq!(transport.handle(0, outside), Reply::Error(TransportError::InvalidAddress));
    let setup = Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + 0x800, used: base + 0x1000 };
    assert_eq!(transport.handle(0, setup), Reply::Ok);
    assert_eq!(transport.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
    assert_eq!(space[3].written(reg::QUEUE_DESC_LOW), [base as u32]);
    assert_eq!(space[3].written(reg::QUEUE_READY), [1]);
    assert!(space[7].writes.borrow().is_empty(), "the other device was not touched");
}

#[test]
fn a_legacy_slot_refuses_a_ring_outside_the_contiguous_layout() {
    let space = register_space();
    let page = HeapRegion::new(4096);
    let mut transport = bound(&space, &page, 1, 7);
    let (base, _) = DMA;
    // The modern compact layout, inside the window but not legacy.
    let compact = Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + 0x800, used: base + 0x910 };
    assert_eq!(transport.handle(1, compact), Reply::Ok, "the window check passes");
    assert_eq!(transport.handle(1, Request::QueueReady { queue: 0 }), Reply::Error(TransportError::InvalidAddress));
    assert!(space[7].written(reg::QUEUE_PFN).is_empty());
    let legacy = Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + 0x800, used: base + 0x1000 };
    assert_eq!(transport.handle(1, legacy), Reply::Ok);
    assert_eq!(transport.handle(1, Request::QueueReady { queue: 0 }), Reply::Ok);
    assert_eq!(space[7].written(reg::QUEUE_PFN), [(base / 4096) as u32]);
}

#[test]
fn a_slot_interrupt_is_acknowledged_and_reaches_its_driver() {
    let space = register_space();
    let page = HeapRegion::new(4096);
    let mut transport = bound(&space, &page, 0, 3);
    let driver = DriverDoorbell::open(page.memory()).unwrap();
    space[3].regs.borrow_mut()[reg::INTERRUPT_STATUS / 4] = 1;
    assert_eq!(transport.interrupt(3), Some(0));
    assert_eq!(space[3].written(reg::INTERRUPT_ACK), [1]);
    assert_eq!(driver.take_interrupts(), 1);
    space[7].regs.borrow_mut()[reg::INTERRUPT_STATUS / 4] = 1;
    assert_eq!(transport.interrupt(7), None, "nobody drives slot 7");
    assert_eq!(space[7].written(reg::INTERRUPT_ACK), [1], "acknowledged all the same");
}
