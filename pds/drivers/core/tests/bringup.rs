//! Bring-up through the real transport core (`transports/core`) and its
//! mock device: the §3.1.1 order, one negative test per step, legacy and
//! modern queue layouts.
//!
//! The driver's line to the transport ([`Line`]) records each request
//! and can refuse one kind of request before the transport sees it: the
//! real transport refuses only some steps on its own (NotBound, a queue
//! outside the DMA window, DRIVER_OK the device rejects), and the driver
//! must survive a refusal at any step.

use sevio_driver_core::{Bringup, CallError, DmaError, DmaRegion, InitError, QueueParams, Transport};
use sevio_sharedmem::HeapRegion;
use sevio_transport_core::mock::MockDevice;
use sevio_transport_core::{DriverPort, Transport as TransportCore};
use sevio_transport_protocol::wire::label;
use sevio_transport_protocol::{Location, MAX_WORDS, Reply, Request, TransportDoorbell, TransportError};
use sevio_virtio::features::{Features, general};
use sevio_virtio::{Buffer, DeviceId};

const DMA_PADDR: u64 = 0x4800_0000;
const DMA_SIZE: u64 = 0x10000;
const BLK_FLUSH: u64 = 1 << 9;
const MODERN_OFFER: u64 = BLK_FLUSH | 1 << 28 | 1 << 29 | 1 << 32;
const PARAMS: QueueParams = QueueParams { max_size: 128, min_size: 16, indirect_descs: 4 };
/// The driver's port at the transport.
const DRIVER: usize = 0;
const MMIO_SLOT: Location = Location::Mmio { slot: 31 };

/// The driver's side of the PPC line: the real transport core behind it.
struct Line {
    transport: TransportCore<MockDevice, 32>,
    /// Every request the driver made, in order.
    requests: Vec<Request>,
    /// Requests with this label are refused before the transport sees them.
    refuse: Option<(u64, TransportError)>,
}

impl Transport for Line {
    fn call(&mut self, request: Request) -> Reply {
        self.requests.push(request);
        let label = request.encode(&mut [0; MAX_WORDS]).0;
        match self.refuse {
            Some((refused, error)) if refused == label => Reply::Error(error),
            _ => self.transport.handle(DRIVER, request),
        }
    }
}

struct Fix {
    heap: HeapRegion,
    /// Keeps the doorbell page alive.
    _doorbell: HeapRegion,
    dev: MockDevice,
    line: Line,
}

/// How the transport sees the device and the driver.
struct Setup {
    location: Location,
    /// The DMA window the transport holds the driver's queues to.
    window: (u64, u64),
    /// Whether the bus bound the driver to the device.
    bound: bool,
    queue_max: Vec<u16>,
}

impl Fix {
    fn new(version: u32, offered: u64) -> Fix {
        Fix::with(version, offered, |_| {})
    }

    fn with(version: u32, offered: u64, tweak: impl FnOnce(&mut Setup)) -> Fix {
        let mut setup = Setup { location: MMIO_SLOT, window: (DMA_PADDR, DMA_SIZE), bound: true, queue_max: vec![256] };
        tweak(&mut setup);
        let heap = HeapRegion::new(DMA_SIZE as usize);
        let doorbell = HeapRegion::new(4096);
        let dev = MockDevice::new(2, version, offered, setup.queue_max.len(), 0);
        dev.map(DMA_PADDR, heap.memory());
        {
            let mut s = dev.state();
            s.queue_max = setup.queue_max;
            s.config = (0u8..64).collect();
        }
        let mut transport = TransportCore::new();
        assert!(transport.insert(0, setup.location, dev.clone()).is_ok());
        let port =
            DriverPort { doorbell: TransportDoorbell::init(doorbell.memory()).unwrap(), dma_window: setup.window };
        transport.attach_driver(DRIVER, port);
        if setup.bound {
            assert!(transport.set_binding(DRIVER, Some(setup.location)));
        }
        let line = Line { transport, requests: Vec::new(), refuse: None };
        Fix { heap, _doorbell: doorbell, dev, line }
    }

    fn region(&self) -> DmaRegion {
        DmaRegion::new(self.heap.memory(), DMA_PADDR).unwrap()
    }

    fn labels(&self) -> Vec<u64> {
        self.line.requests.iter().map(|r| r.encode(&mut [0; MAX_WORDS]).0).collect()
    }

    fn resets(&self) -> usize {
        self.dev.state().resets
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
    let b = Bringup::start(&mut f.line, DeviceId::BLK).unwrap();
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
    assert!(f.dev.interrupt_if_due(0), "armed at the only chain in flight");
    assert_eq!(q.pop_used().unwrap().unwrap().token, t);
}

#[test]
fn access_platform_is_accepted_when_a_modern_device_offers_it_and_never_required() {
    // VIRTIO 1.2 §6.1: "A driver SHOULD accept VIRTIO_F_ACCESS_PLATFORM
    // if it is offered" (QEMU puts a virtio device behind its IOMMU only
    // then).
    let offered = MODERN_OFFER | general::ACCESS_PLATFORM.mask();
    let mut f = Fix::new(2, offered);
    let c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(c.features().has(general::ACCESS_PLATFORM));
    assert_eq!(f.dev.state().features.unwrap() & general::ACCESS_PLATFORM.mask(), general::ACCESS_PLATFORM.mask());
    let mut f = Fix::new(2, MODERN_OFFER);
    let c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(!c.features().has(general::ACCESS_PLATFORM), "not offered: not accepted, and not required");
}

#[test]
fn legacy_device_gets_no_version_1_and_the_legacy_layout() {
    let mut f = Fix::new(1, MODERN_OFFER);
    let region = f.region();
    let mut carver = region.carver();
    carver.take(100, 1).unwrap(); // the queue must still start on a page
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(c.legacy());
    assert!(!c.features().has(general::VERSION_1));
    let q = c.queue::<128>(0, PARAMS, &mut carver).unwrap();
    c.driver_ok().unwrap();
    assert_eq!(f.dev.state().features.unwrap() & (1 << 32), 0, "VERSION_1 never written to a legacy device");
    let fq = f.dev.state().queues[0].unwrap();
    assert_eq!(fq.desc, DMA_PADDR + 4096);
    assert_eq!(fq.used, DMA_PADDR + 4096 + 4096, "used ring on the next page (checked by the device too)");
    assert_eq!(q.size(), 128);
}

#[test]
fn modern_device_without_version_1_is_refused() {
    let mut f = Fix::new(2, BLK_FLUSH);
    let err = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).err();
    assert_eq!(
        err,
        Some(InitError::RequiredFeaturesMissing {
            offered: Features(BLK_FLUSH),
            required: Features::EMPTY.with(general::VERSION_1)
        })
    );
    assert_eq!(f.dev.state().features, None, "nothing written");
    assert_eq!(f.resets(), 2, "reset again after the failure");
}

#[test]
fn features_ok_not_kept_fails_cleanly() {
    let mut f = Fix::new(2, MODERN_OFFER);
    f.dev.state().keep_features_ok = false;
    let err = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).err();
    assert_eq!(
        err,
        Some(InitError::FeatureNegotiationFailed { offered: Features(MODERN_OFFER), wanted: Features(MODERN_OFFER) })
    );
    assert_eq!(f.line.requests.last(), Some(&Request::Reset));
}

#[test]
fn wrong_device_and_unbound_stop_before_reset() {
    let mut f = Fix::new(2, MODERN_OFFER);
    assert_eq!(
        Bringup::start(&mut f.line, DeviceId::NET).err(),
        Some(InitError::WrongDevice { expected: DeviceId::NET, found: DeviceId::BLK })
    );
    assert_eq!(f.resets(), 0);
    // The bus has not bound the driver: the transport itself refuses.
    let mut f = Fix::with(2, MODERN_OFFER, |s| s.bound = false);
    assert_eq!(
        Bringup::start(&mut f.line, DeviceId::BLK).err(),
        Some(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound)))
    );
    assert_eq!(f.resets(), 0);
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
        f.line.refuse = Some((refused, TransportError::DeviceFailed));
        let got = (|| {
            let mut c = Bringup::start(&mut f.line, DeviceId::BLK)?.negotiate(wanted(), Features::EMPTY)?;
            c.queue::<128>(0, PARAMS, &mut region.carver())?;
            c.driver_ok()
        })();
        assert_eq!(got.err(), Some(want), "step {refused}");
        assert!(!f.dev.live());
        if refused != label::RESET {
            assert_eq!(f.line.requests.last(), Some(&Request::Reset), "step {refused}: reset after the failure");
        }
    }
}

#[test]
fn queue_sizing_and_memory() {
    let mut f = Fix::with(2, MODERN_OFFER, |s| s.queue_max = vec![100, 0, 8]);
    let region = f.region();
    let mut carver = region.carver();
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(c.queue::<256>(0, PARAMS, &mut carver).unwrap().size(), 64, "largest power of two <= 100");
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(
        c.queue::<256>(1, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueUnavailable { queue: 1, max: 0 })
    );
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert_eq!(
        c.queue::<256>(2, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueUnavailable { queue: 2, max: 8 }),
        "below min_size"
    );
    let mut small = region.carver();
    small.take(0x10000 - 1000, 1).unwrap();
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(matches!(
        c.queue::<256>(0, PARAMS, &mut small).err(),
        Some(InitError::QueueMemory { queue: 0, error: DmaError::Exhausted { .. } })
    ));
}

#[test]
fn queue_outside_the_transports_window_is_refused() {
    let mut f = Fix::with(2, MODERN_OFFER, |s| s.window = (DMA_PADDR + 0x8000, 0x8000));
    let region = f.region();
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
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
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    let q = c.queue::<128>(0, PARAMS, &mut carver).unwrap();
    assert!(!q.uses_indirect());
    assert_eq!(carver.remaining(), 0x10000 - sevio_virtio::SplitLayout::new(128).unwrap().total_size());
}

#[test]
fn legacy_pci_queue_takes_the_devices_own_size() {
    use sevio_transport_protocol::Bdf;
    let mut f = Fix::with(1, MODERN_OFFER, |s| s.location = Location::Pci(Bdf { bus: 0, device: 2, function: 0 }));
    let region = f.region();
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    assert!(!c.features().has(general::VERSION_1));
    assert_eq!(
        c.queue::<128>(0, PARAMS, &mut region.carver()).err(),
        Some(InitError::QueueUnavailable { queue: 0, max: 256 }),
        "256 does not fit N = 128, and a smaller size is not possible"
    );
    let mut c = Bringup::start(&mut f.line, DeviceId::BLK).unwrap().negotiate(wanted(), Features::EMPTY).unwrap();
    let q = c.queue::<256>(0, PARAMS, &mut region.carver()).unwrap();
    assert_eq!(q.size(), 256, "the device's size, above PARAMS.max_size");
    c.driver_ok().unwrap();
}
