//! The transport over a table the test publishes, driven the way the PD
//! drives it: probe, bind, serve a driver's requests, take doorbells.

use crate::{Bell, RprocTransport, probe_table};
use sevio_sharedmem::HeapRegion;
use sevio_transport_core::{DriverPort, VirtioDevice};
use sevio_transport_protocol::{DriverDoorbell, Location, Reply, Request, TransportDoorbell, TransportError, Width};
use sevio_virtio::SplitLayout;
use sevio_virtio::rproc::{Direction, Mailbox, ResourceTable, VdevSpec, write_table};
use std::cell::Cell;
use std::rc::Rc;
use std::vec::Vec;

const DMA: (u64, u64) = (0x4880_0000, 0x4_0000);
const RPMSG: VdevSpec =
    VdevSpec { id: 7, notifyid: 0, dfeatures: 1, config_len: 0, vrings: &[(64, 4096, 1), (64, 4096, 2)] };
const RNG: VdevSpec = VdevSpec { id: 4, notifyid: 3, dfeatures: 0, config_len: 6, vrings: &[(8, 4096, 4)] };

#[derive(Clone, Default)]
struct Rings(Rc<Cell<u32>>);
impl Bell for Rings {
    fn ring(&self) {
        self.0.set(self.0.get() + 1);
    }
}

struct Rig {
    table: HeapRegion,
    mailbox: HeapRegion,
    _page: HeapRegion,
    rings: Rings,
    t: RprocTransport<Rings>,
    driver: DriverDoorbell,
}

fn rig(break_table: impl FnOnce(&HeapRegion)) -> Rig {
    let table = HeapRegion::new(4096);
    write_table(&table.memory(), &[RPMSG, RNG]).unwrap();
    break_table(&table);
    let mailbox = HeapRegion::new(4096);
    let rings = Rings::default();
    let r = rings.clone();
    let mut t = probe_table(table.memory(), Mailbox::new(mailbox.memory()).unwrap(), move || r.clone()).unwrap();
    let page = HeapRegion::new(4096);
    t.attach_driver(0, DriverPort { doorbell: TransportDoorbell::init(page.memory()).unwrap(), dma_window: DMA });
    let driver = DriverDoorbell::open(page.memory()).unwrap();
    Rig { table, mailbox, _page: page, rings, t, driver }
}

/// The legacy layout of `size` entries with Queue Align 4096 at `base`.
fn setup(queue: u16, size: u16, base: u64) -> Request {
    let l = SplitLayout::legacy(size, 4096).unwrap();
    Request::QueueSetup {
        queue,
        size,
        desc: base,
        avail: base + l.avail_offset() as u64,
        used: base + l.used_offset() as u64,
    }
}

fn word(mem: &HeapRegion, at: usize) -> u32 {
    mem.memory().read::<u32>(at).unwrap()
}

#[test]
fn every_vdev_is_found_at_its_entry() {
    let r = rig(|_| {});
    let found: Vec<(usize, Location, u32, u32)> =
        r.t.devices().map(|(i, loc, d)| (i, loc, d.device_id(), d.version())).collect();
    assert_eq!(found, [(0, Location::Rproc { entry: 0 }, 7, 1), (1, Location::Rproc { entry: 1 }, 4, 1)]);
}

#[test]
fn a_bound_driver_negotiates_and_places_its_rings_in_the_table() {
    let mut r = rig(|_| {});
    assert!(r.t.set_binding(0, Some(Location::Rproc { entry: 0 })));
    assert_eq!(r.t.handle(0, Request::Reset), Reply::Ok);
    assert_eq!(r.t.handle(0, Request::Status), Reply::Status(3), "ACKNOWLEDGE | DRIVER in the table");
    assert!(r.rings.0.get() >= 2, "the device side was told of each status change");
    assert_eq!(r.t.handle(0, Request::DeviceFeatures), Reply::Features(1));
    assert_eq!(r.t.handle(0, Request::DriverFeatures { features: 1 | 1 << 29 | 1 << 32 }), Reply::FeaturesOk(true));
    assert_eq!(word(&r.table, 24 + 16), 1, "gfeatures: only what was offered");
    assert_eq!(r.t.handle(0, Request::QueueMaxSize { queue: 1 }), Reply::QueueMaxSize(64));
    assert_eq!(r.t.handle(0, Request::QueueMaxSize { queue: 2 }), Reply::QueueMaxSize(0));
    let (base, _) = DMA;
    for (q, at) in [(0u16, base), (1, base + 0x8000)] {
        assert_eq!(r.t.handle(0, setup(q, 64, at)), Reply::Ok);
        assert_eq!(r.t.handle(0, Request::QueueReady { queue: q }), Reply::Ok);
        let da = 24 + 28 + 20 * q as usize;
        assert_eq!((word(&r.table, da), word(&r.table, da + 16)), (at as u32, at as u32), "da and pa");
    }
    assert_eq!(r.t.handle(0, Request::QueueReady { queue: 0 }), Reply::Error(TransportError::WrongState));
    assert_eq!(r.t.handle(0, Request::DriverOk), Reply::Ok);
    assert_eq!(r.table.memory().read::<u8>(24 + 24), Some(7));
    // Kicks and doorbells.
    let mb = Mailbox::new(r.mailbox.memory()).unwrap();
    r.driver.ring(DriverDoorbell::queue_bit(1));
    r.t.kick(0);
    assert!(mb.take(Direction::ToDevice, 2), "queue 1 is notify id 2");
    assert!(!mb.take(Direction::ToDevice, 1));
    mb.ring(Direction::ToDriver, 1);
    mb.ring(Direction::ToDriver, 4);
    assert_eq!(r.t.interrupt_all(|_| true), 1, "driver 0 is told");
    assert_eq!(r.driver.take_interrupts(), 1);
    assert!(!mb.take(Direction::ToDriver, 4), "taken for the rng vdev, which nobody drives");
}

#[test]
fn queue_sizes_and_addresses_the_table_does_not_allow_are_refused() {
    let mut r = rig(|t| {
        // The rng vring has a fixed address.
        t.memory().write::<u32>(92 + 28, 0x4881_0000).unwrap();
    });
    let (base, _) = DMA;
    assert!(r.t.set_binding(0, Some(Location::Rproc { entry: 1 })));
    r.t.handle(0, Request::Reset);
    let refuse = |r: &mut Rig, req, why| {
        assert_eq!(r.t.handle(0, req), Reply::Ok, "the DMA window check passes");
        assert_eq!(r.t.handle(0, Request::QueueReady { queue: 0 }), Reply::Error(why));
    };
    refuse(&mut r, setup(0, 4, 0x4881_0000), TransportError::InvalidQueueSize);
    refuse(&mut r, setup(0, 16, 0x4881_0000), TransportError::InvalidQueueSize);
    refuse(&mut r, setup(0, 8, base), TransportError::InvalidAddress);
    let compact = Request::QueueSetup { queue: 0, size: 8, desc: 0x4881_0000, avail: 0x4881_0080, used: 0x4881_0098 };
    refuse(&mut r, compact, TransportError::InvalidAddress);
    assert_eq!(word(&r.table, 92 + 28), 0x4881_0000, "nothing written");
    assert_eq!(r.t.handle(0, setup(0, 8, 0x4881_0000)), Reply::Ok);
    assert_eq!(r.t.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
}

#[test]
fn config_space_is_bounded_by_config_len() {
    let mut r = rig(|_| {});
    assert!(r.t.set_binding(0, Some(Location::Rproc { entry: 1 })));
    let config = 92 + 28 + 20;
    r.table.memory().copy_in(config, &[1, 2, 3, 4, 5, 6]).unwrap();
    let read = |r: &mut Rig, offset, width| r.t.handle(0, Request::ConfigRead { offset, width });
    assert_eq!(read(&mut r, 2, Width::W4), Reply::ConfigValue { value: 0x0605_0403, generation: 0 });
    assert_eq!(read(&mut r, 4, Width::W4), Reply::Error(TransportError::ConfigOutOfRange));
    assert_eq!(read(&mut r, 0, Width::W8), Reply::Error(TransportError::ConfigOutOfRange));
    assert_eq!(r.t.handle(0, Request::ConfigWrite { offset: 5, width: Width::W1, value: 9 }), Reply::Ok);
    assert_eq!(r.table.memory().read::<u8>(config + 5), Some(9));
    let past = Request::ConfigWrite { offset: 6, width: Width::W1, value: 9 };
    assert_eq!(r.t.handle(0, past), Reply::Error(TransportError::ConfigOutOfRange));
    assert_eq!(r.table.memory().read::<u8>(config + 6), Some(0), "nothing past config_len");
}

#[test]
fn a_malformed_entry_is_left_out_and_the_rest_is_served() {
    // rpmsg's num_of_vrings says 3: past its entry.
    let r = rig(|t| t.memory().write::<u8>(24 + 25, 3).unwrap());
    let found: Vec<Location> = r.t.devices().map(|(_, loc, _)| loc).collect();
    assert_eq!(found, [Location::Rproc { entry: 1 }]);
    let table = ResourceTable::open(r.table.memory()).unwrap();
    assert!(table.entry(0).is_err());
}

#[test]
fn a_table_not_yet_written_is_an_error_not_a_transport() {
    let table = HeapRegion::new(4096);
    let mailbox = HeapRegion::new(4096);
    let mb = Mailbox::new(mailbox.memory()).unwrap();
    assert!(probe_table(table.memory(), mb, Rings::default).is_err());
}
