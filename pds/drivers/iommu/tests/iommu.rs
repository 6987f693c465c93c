//! The IOMMU driver PD against the real transport core and a mock
//! virtio-iommu (`sevio_driver_core::harness`), the bus played through
//! the confinement pages.

use sevio_bus_protocol::confine::{BusSide, Outcome, Wish};
use sevio_driver_core::DriverStatus;
use sevio_driver_core::harness::Harness;
use sevio_driver_iommu::{EVENT_BUFFERS, IommuDriver, IommuError, IommuSetvars, RegionVars};
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::device::iommu::{AnswerError, CONFIG_BYPASS_OFFSET, req};

const F_INPUT_RANGE: u64 = 1 << 0;
const F_DOMAIN_RANGE: u64 = 1 << 1;
const F_MAP_UNMAP: u64 = 1 << 2;
const F_BYPASS: u64 = 1 << 3;
const F_BYPASS_CONFIG: u64 = 1 << 6;
const F_VERSION_1: u64 = 1 << 32;

const DMA: (u64, u64) = (0x4800_0000, 0x4_0000);
const DATA: (u64, u64) = (0x4820_0000, 0x20_0000);

struct Rig {
    h: Harness<IommuDriver>,
    bus: BusSide,
    /// The tail of the request in flight.
    tail: u64,
}

/// A virtio-iommu as QEMU's: 4 KiB pages, domains 0..=31, bypass on.
fn device() -> MockDevice {
    let offered = F_INPUT_RANGE | F_DOMAIN_RANGE | F_MAP_UNMAP | F_BYPASS | F_BYPASS_CONFIG | F_VERSION_1;
    let device = MockDevice::new(23, 2, offered, 2, 64);
    let mut config = vec![0u8; 40];
    config[0..8].copy_from_slice(&(!0xfffu64).to_le_bytes());
    config[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    config[28..32].copy_from_slice(&31u32.to_le_bytes());
    config[CONFIG_BYPASS_OFFSET as usize] = 1;
    device.state().config = config;
    device
}

impl Rig {
    fn new(slot0: [RegionVars; 4]) -> Rig {
        let h = Harness::<IommuDriver>::new("iommu", device(), |mem| {
            let mut regions = [[RegionVars::default(); 4]; 8];
            regions[0] = slot0;
            IommuSetvars {
                requests: mem.region("bus_confine_requests", 4096, 0),
                answers: mem.region("bus_confine_answers", 4096, 0xee),
                regions,
            }
        });
        let bus = BusSide::new(h.memory(h.vars.requests), h.memory(h.vars.answers)).unwrap();
        Rig { h, bus, tail: 0 }
    }

    fn ready() -> Rig {
        let mut rig = Rig::new([
            RegionVars { paddr: DMA.0, size: DMA.1 },
            RegionVars { paddr: DATA.0, size: DATA.1 },
            RegionVars::default(),
            RegionVars::default(),
        ]);
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        rig
    }

    /// The device takes the one request on the queue: its bytes.
    fn take_request(&mut self) -> (u16, Vec<u8>) {
        let chain = self.h.device.pop_avail(0).expect("a request");
        assert!(self.h.device.pop_avail(0).is_none(), "one request at a time");
        assert_eq!(chain.bufs.len(), 2);
        assert!(!chain.bufs[0].writable && chain.bufs[1].writable && chain.bufs[1].len == 4);
        let mut bytes = vec![0u8; chain.bufs[0].len as usize];
        self.h.device.read(chain.bufs[0].addr, &mut bytes);
        self.tail = chain.bufs[1].addr;
        (chain.head, bytes)
    }

    /// The device answers request `head` with `status`.
    fn answer(&mut self, head: u16, status: u8, written: u32) {
        self.h.device.write(self.tail, &[status, 0, 0, 0]);
        self.h.device.push_used(0, head.into(), written);
        self.h.interrupt(0);
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn bring_up_blocks_unattached_endpoints_and_posts_event_buffers() {
    let rig = Rig::ready();
    let d = &rig.h.device;
    assert!(d.negotiated(sevio_virtio::device::iommu::features::MAP_UNMAP));
    assert!(
        !d.negotiated(sevio_virtio::device::iommu::features::BYPASS),
        "F_BYPASS would let unattached endpoints through"
    );
    assert!(d.negotiated(sevio_virtio::device::iommu::features::BYPASS_CONFIG));
    assert_eq!(d.state().config[CONFIG_BYPASS_OFFSET as usize], 0, "bypass written 0");
    let mut events = 0;
    while let Some(chain) = rig.h.device.pop_avail(1) {
        assert!(chain.bufs.len() == 1 && chain.bufs[0].writable && chain.bufs[0].len == 24);
        events += 1;
    }
    assert_eq!(events, EVENT_BUFFERS);
    assert!(rig.h.device.pop_avail(0).is_none(), "no request before the bus asks");
}

#[test]
fn a_confinement_attaches_then_maps_each_region_identity_then_answers_the_bus() {
    let mut rig = Rig::ready();
    rig.bus.wish(0, Wish::Confine { seq: 5, endpoint: 0x10 });
    rig.h.client_notifies();
    let (head, attach) = rig.take_request();
    assert_eq!((attach[0], attach.len()), (req::ATTACH, 20));
    assert_eq!(
        (u32_at(&attach, 4), u32_at(&attach, 8), u32_at(&attach, 12)),
        (0, 0x10, 0),
        "domain 0, endpoint 00:02.0, no bypass"
    );
    assert_eq!(rig.bus.answer(0).unwrap().latest, None, "not answered before the device is");
    rig.answer(head, 0, 4);
    for (base, size) in [DMA, DATA] {
        let (head, map) = rig.take_request();
        assert_eq!((map[0], map.len(), u32_at(&map, 4)), (req::MAP, 36, 0));
        assert_eq!((u64_at(&map, 8), u64_at(&map, 16), u64_at(&map, 24)), (base, base + size - 1, base), "identity");
        assert_eq!(u32_at(&map, 32), 3, "read and write");
        rig.answer(head, 0, 4);
    }
    assert_eq!(rig.bus.answer(0).unwrap().latest, Some((5, Outcome::Confined)));
    assert!(rig.h.take_client_notify(), "the bus is told");
    assert!(rig.h.device.pop_avail(0).is_none());
    // Released: every mapping of the domain goes, then the endpoint.
    rig.bus.wish(0, Wish::Release { seq: 6, endpoint: 0x10 });
    rig.h.client_notifies();
    let (head, unmap) = rig.take_request();
    assert_eq!((unmap[0], unmap.len(), u64_at(&unmap, 8), u64_at(&unmap, 16)), (req::UNMAP, 28, 0, u64::MAX));
    rig.answer(head, 0, 4);
    let (head, detach) = rig.take_request();
    assert_eq!((detach[0], u32_at(&detach, 8)), (req::DETACH, 0x10));
    rig.answer(head, 0, 4);
    assert_eq!(rig.bus.answer(0).unwrap().latest, Some((6, Outcome::Released)));
}

#[test]
fn a_failed_request_refuses_the_confinement_and_a_lying_tail_fails_the_device() {
    let mut rig = Rig::ready();
    rig.bus.wish(0, Wish::Confine { seq: 1, endpoint: 0x10 });
    rig.h.client_notifies();
    let (head, _) = rig.take_request();
    rig.answer(head, 0, 4);
    let (head, _) = rig.take_request();
    rig.answer(head, 5, 4); // S_RANGE
    assert_eq!(rig.bus.answer(0).unwrap().latest, Some((1, Outcome::Refused)));
    assert!(rig.h.device.pop_avail(0).is_none(), "nothing more for a refused job");
    // Again, for another endpoint: the old one is released first.
    rig.bus.wish(0, Wish::Confine { seq: 2, endpoint: 0x18 });
    rig.h.client_notifies();
    let (head, unmap) = rig.take_request();
    assert_eq!(unmap[0], req::UNMAP);
    rig.answer(head, 0, 4);
    let (head, detach) = rig.take_request();
    assert_eq!((detach[0], u32_at(&detach, 8)), (req::DETACH, 0x10));
    rig.answer(head, 0, 4);
    let (head, attach) = rig.take_request();
    assert_eq!((attach[0], u32_at(&attach, 8)), (req::ATTACH, 0x18));
    rig.answer(head, 9, 4);
    assert_eq!(rig.h.last_error(), Some(IommuError::Answer(AnswerError::UnknownStatus(9))));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
}

#[test]
fn a_device_fault_is_recorded_for_the_slot_that_holds_the_endpoint() {
    let mut rig = Rig::ready();
    rig.bus.wish(0, Wish::Confine { seq: 1, endpoint: 0x10 });
    rig.h.client_notifies();
    for _ in 0..3 {
        let (head, _) = rig.take_request();
        rig.answer(head, 0, 4);
    }
    rig.h.take_client_notify();
    let event = rig.h.device.pop_avail(1).unwrap();
    let mut report = [0u8; 24];
    report[0] = 2; // no mapping
    report[4..8].copy_from_slice(&((1u32 << 8) | 2).to_le_bytes());
    report[8..12].copy_from_slice(&0x10u32.to_le_bytes());
    report[16..24].copy_from_slice(&0x4900_0000u64.to_le_bytes());
    rig.h.device.write(event.bufs[0].addr, &report);
    rig.h.device.push_used(1, event.head.into(), 24);
    rig.h.interrupt(1);
    let answer = rig.bus.answer(0).unwrap();
    assert_eq!((answer.faults, answer.fault_address, answer.fault_flags), (1, Some(0x4900_0000), 0x102));
    assert!(rig.h.take_client_notify());
    assert_eq!(rig.h.driver().faults, 1);
    // The buffer went back; a fault of an endpoint nobody holds is only
    // logged.
    let event = rig.h.device.pop_avail(1).expect("re-posted");
    report[8..12].copy_from_slice(&0x28u32.to_le_bytes());
    rig.h.device.write(event.bufs[0].addr, &report);
    rig.h.device.push_used(1, event.head.into(), 24);
    rig.h.interrupt(1);
    assert_eq!(rig.bus.answer(0).unwrap().faults, 1);
    assert_eq!(rig.h.driver().faults, 2);
    // A short report is a device that broke the format.
    let event = rig.h.device.pop_avail(1).unwrap();
    rig.h.device.push_used(1, event.head.into(), 8);
    rig.h.interrupt(1);
    assert_eq!(rig.h.last_error(), Some(IommuError::Answer(AnswerError::Short { written: 8, need: 24 })));
}

#[test]
fn a_region_off_the_page_granule_is_refused_before_any_map() {
    let mut rig = Rig::new([
        RegionVars { paddr: DMA.0 + 0x800, size: 0x1000 },
        RegionVars::default(),
        RegionVars::default(),
        RegionVars::default(),
    ]);
    rig.h.bind();
    rig.bus.wish(0, Wish::Confine { seq: 1, endpoint: 0x10 });
    rig.h.client_notifies();
    let (head, _) = rig.take_request();
    rig.answer(head, 0, 4);
    assert_eq!(rig.bus.answer(0).unwrap().latest, Some((1, Outcome::Refused)));
    assert!(rig.h.device.pop_avail(0).is_none(), "never mapped");
}
