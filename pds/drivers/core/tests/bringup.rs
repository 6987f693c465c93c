//! Bring-up against the fake transport: the §3.1.1 order, one negative
//! test per step, legacy and modern queue layouts.

use sevio_driver_core::fake::FakeDevice;
use sevio_driver_core::{Bringup, CallError, DmaError, DmaRegion, InitError, QueueParams};
use sevio_sharedmem::HeapRegion;
use sevio_transport_protocol::wire::label;
use sevio_transport_protocol::{Request, TransportError};
use sevio_virtio::features::{Features, general};
use sevio_virtio::{Buffer, DeviceId};

const DMA_PADDR: u64 = 0x4800_0000;
const BLK_FLUSH: u64 = 1 << 9;
const MODERN_OFFER: u64 = BLK_FLUSH | 1 << 28 | 1 << 29 | 1 << 32;
const PARAMS: QueueParams = QueueParams { max_size: 128, min_size: 16, indirect_descs: 4 };

struct Fix {
    heap: HeapRegion,
    dev: FakeDevice,
}

impl Fix {
    fn new(version: u32, offered: u64) -> Fix {
        let heap = HeapRegion::new(0x10000);
        let mut dev = FakeDevice::new(2, version, offered, 1, 256);
        dev.memory.add(DMA_PADDR, heap.memory());
        dev.dma_window = Some((DMA_PADDR, 0x10000));
        dev.config = (0u8..64).collect();
        Fix { heap, dev }
    }

    fn region(&self) -> DmaRegion {
        DmaRegion::new(self.heap.memory(), DMA_PADDR).unwrap()
    }

    fn labels(&self) -> Vec<u64> {
        self.dev.requests.iter().map(|r| r.encode(&mut [0; 8]).0).collect()
    }
}

fn wanted() -> Features {
    Features(BLK_FLUSH).with(general::EVENT_IDX).with(general::INDIRECT_DESC)
}

#[test]
fn modern_bring_up_follows_the_spec_order() {
    let mut f = Fix::new(2, MODERN_OFFER | 1 << 5);
    let region = f.region();
    let mut carver = region.carver();
    let b = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap();
    let mut c = b.negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(c.features(), Features(MODERN_OFFER), "wanted ∩ offered, plus VERSION_1; RO (bit 5) not wanted");
    let mut cfg = [0u8; 12];
    c.read_config(4, &mut cfg).unwrap();
    assert_eq!(cfg, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    let mut q = c.queue::<256>(0, PARAMS, &mut carver).unwrap();
    let n = c.driver_ok().unwrap();
    assert!(!n.legacy() && n.features.has(general::VERSION_1));
    let l = label::CONFIG_READ;
    let mut expect = vec![label::DEVICE_INFO, label::RESET, label::DEVICE_FEATURES, label::DRIVER_FEATURES];
    expect.extend([l, l, label::CONFIG_GENERATION]); // 4 bytes at 4, 8 at 8
    expect.extend([label::QUEUE_MAX_SIZE, label::QUEUE_SETUP, label::QUEUE_READY, label::DRIVER_OK]);
    assert_eq!(f.labels(), expect);
    assert!(f.dev.live());
    assert_eq!(q.size(), 128);
    assert!(q.uses_indirect() && q.event_idx());
    // The queue works with the device side on the same memory.
    let t = q.add(&[Buffer::readable(0x9000, 16), Buffer::writable(0x9100, 1)]).unwrap();
    assert!(q.needs_kick().unwrap());
    let chain = f.dev.pop_avail(0).unwrap();
    assert!(chain.indirect);
    assert_eq!(chain.head, t.index());
    assert_eq!(chain.bufs, [Buffer::readable(0x9000, 16), Buffer::writable(0x9100, 1)]);
    assert_eq!(q.arm(1), Ok(false));
    f.dev.push_used(0, t.index() as u32, 1);
    assert!(f.dev.interrupt_due(0), "armed at the only chain in flight");
    assert_eq!(q.pop_used().unwrap().unwrap().token, t);
}

#[test]
fn legacy_device_gets_no_version_1_and_the_legacy_layout() {
    let mut f = Fix::new(1, MODERN_OFFER);
    let region = f.region();
    let mut carver = region.carver();
    carver.take(100, 1).unwrap(); // the queue must still start on a page
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(c.legacy());
    assert!(!c.features().has(general::VERSION_1));
    let q = c.queue::<128>(0, PARAMS, &mut carver).unwrap();
    c.driver_ok().unwrap();
    assert_eq!(f.dev.features.unwrap() & (1 << 32), 0, "VERSION_1 never written to a legacy device");
    let fq = f.dev.queues[0].unwrap();
    assert_eq!(fq.desc, DMA_PADDR + 4096);
    assert_eq!(fq.used, DMA_PADDR + 4096 + 4096, "used ring on the next page (checked by the fake too)");
    assert_eq!(q.size(), 128);
}

#[test]
fn modern_device_without_version_1_is_refused() {
    let mut f = Fix::new(2, BLK_FLUSH);
    let err = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).err();
    assert_eq!(
        err,
        Some(InitError::RequiredFeaturesMissing {
            offered: Features(BLK_FLUSH),
            required: Features::EMPTY.with(general::VERSION_1)
        })
    );
    assert_eq!(f.dev.features, None, "nothing written");
    assert_eq!(f.dev.resets(), 2, "reset again after the failure");
}

#[test]
fn features_ok_not_kept_fails_cleanly() {
    let mut f = Fix::new(2, MODERN_OFFER);
    f.dev.keep_features_ok = false;
    let err = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).err();
    assert_eq!(
        err,
        Some(InitError::FeatureNegotiationFailed { offered: Features(MODERN_OFFER), wanted: Features(MODERN_OFFER) })
    );
    assert_eq!(f.dev.requests.last(), Some(&Request::Reset));
}

#[test]
fn wrong_device_and_unbound_stop_before_reset() {
    let mut f = Fix::new(2, MODERN_OFFER);
    assert_eq!(
        Bringup::start(&mut f.dev, DeviceId::NET).err(),
        Some(InitError::WrongDevice { expected: DeviceId::NET, found: DeviceId::BLK })
    );
    f.dev.refuse = Some((label::DEVICE_INFO, TransportError::NotBound));
    assert_eq!(
        Bringup::start(&mut f.dev, DeviceId::BLK).err(),
        Some(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound)))
    );
    assert_eq!(f.dev.resets(), 0);
}

#[test]
fn each_later_step_reports_itself_and_resets() {
    let steps = [
        (label::RESET, InitError::Reset(CallError::Refused(TransportError::DeviceFailed))),
        (label::DEVICE_FEATURES, InitError::DeviceFeatures(CallError::Refused(TransportError::DeviceFailed))),
        (label::DRIVER_FEATURES, InitError::DriverFeatures(CallError::Refused(TransportError::DeviceFailed))),
        (
            label::QUEUE_MAX_SIZE,
            InitError::QueueMaxSize { queue: 0, error: CallError::Refused(TransportError::DeviceFailed) },
        ),
        (
            label::QUEUE_SETUP,
            InitError::QueueSetup { queue: 0, error: CallError::Refused(TransportError::DeviceFailed) },
        ),
        (
            label::QUEUE_READY,
            InitError::QueueReady { queue: 0, error: CallError::Refused(TransportError::DeviceFailed) },
        ),
        (label::DRIVER_OK, InitError::DriverOk(CallError::Refused(TransportError::DeviceFailed))),
    ];
    for (refused, want) in steps {
        let mut f = Fix::new(2, MODERN_OFFER);
        let region = f.region();
        f.dev.refuse = Some((refused, TransportError::DeviceFailed));
        let got = (|| {
            let mut c = Bringup::start(&mut f.dev, DeviceId::BLK)?.negotiate(wanted(), Features::EMPTY)?;
            c.queue::<128>(0, PARAMS, &mut region.carver())?;
            c.driver_ok()
        })();
        assert_eq!(got.err(), Some(want), "step {refused}");
        assert!(!f.dev.live());
        if refused != label::RESET {
            assert_eq!(f.dev.requests.last(), Some(&Request::Reset), "step {refused}: reset after the failure");
        }
    }
}

#[test]
fn queue_sizing_and_memory() {
    let mut f = Fix::new(2, MODERN_OFFER);
    f.dev.queue_max = vec![100, 0, 8];
    f.dev.queues = vec![None; 3];
    let region = f.region();
    let mut carver = region.carver();
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(c.queue::<256>(0, PARAMS, &mut carver).unwrap().size(), 64, "largest power of two <= 100");
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(
        c.queue::<256>(1, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueUnavailable { queue: 1, max: 0 })
    );
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(
        c.queue::<256>(2, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueUnavailable { queue: 2, max: 8 }),
        "below min_size"
    );
    let mut small = region.carver();
    small.take(0x10000 - 1000, 1).unwrap();
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(matches!(
        c.queue::<256>(0, PARAMS, &mut small).err(),
        Some(InitError::QueueMemory { queue: 0, error: DmaError::Exhausted { .. } })
    ));
}

#[test]
fn queue_outside_the_transports_window_is_refused() {
    let mut f = Fix::new(2, MODERN_OFFER);
    f.dev.dma_window = Some((DMA_PADDR + 0x8000, 0x8000));
    let region = f.region();
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(
        c.queue::<128>(0, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueSetup { queue: 0, error: CallError::Refused(TransportError::InvalidAddress) })
    );
}

#[test]
fn no_indirect_pool_unless_negotiated() {
    let mut f = Fix::new(2, 1 << 32 | 1 << 29);
    let region = f.region();
    let mut carver = region.carver();
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    let q = c.queue::<128>(0, PARAMS, &mut carver).unwrap();
    assert!(!q.uses_indirect());
    assert_eq!(carver.remaining(), 0x10000 - sevio_virtio::SplitLayout::new(128).unwrap().total_size());
}

#[test]
fn legacy_pci_queue_takes_the_devices_own_size() {
    use sevio_transport_protocol::{Bdf, Location};
    let mut f = Fix::new(1, MODERN_OFFER);
    f.dev.info.location = Location::Pci(Bdf { bus: 0, device: 2, function: 0 });
    let region = f.region();
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(!c.features().has(general::VERSION_1));
    assert_eq!(
        c.queue::<128>(0, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueUnavailable { queue: 0, max: 256 }),
        "256 does not fit N = 128, and a smaller size is not possible"
    );
    let mut c = Bringup::start(&mut f.dev, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    let q = c.queue::<256>(0, PARAMS, &mut region.carver()).unwrap();
    assert_eq!(q.size(), 256, "the device's size, above PARAMS.max_size");
    c.driver_ok().unwrap();
}
