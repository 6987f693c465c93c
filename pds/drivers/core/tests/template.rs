//! The driver template's promises, checked with a toy driver against the
//! real transport core and a mock device (the harness).

use sevio_driver_core::harness::Harness;
use sevio_driver_core::{
    Ctx, DmaCarver, DmaSlots, DriverError, DriverQueue, DriverStatus, InitError, Probe, QueueParams, QueueSpec,
    SystemMaps, Unusable, VirtioDriver,
};
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features};

const F_VERSION_1: u64 = 1 << 32;
const PARAMS: QueueParams = QueueParams { max_size: 8, min_size: 2, indirect_descs: 0 };

/// A two-queue driver that records what the framework asks of it. Its
/// probe reads config byte 0 and makes one buffer available on queue 0
/// (like a receive queue being filled).
struct Toy {
    slots: DmaSlots,
    config_byte: Option<u8>,
    fail_probe: bool,
    require_event_idx: bool,
    probes: u32,
    removes: u32,
    causes: Vec<u32>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ToyError {
    Framework(DriverError),
    Probe,
    Device,
}

impl From<DriverError> for ToyError {
    fn from(e: DriverError) -> Self {
        ToyError::Framework(e)
    }
}

impl VirtioDriver for Toy {
    const DEVICE: DeviceId = DeviceId::CONSOLE;
    type Queues = (DriverQueue<8>, DriverQueue<4>);
    const QUEUES: [QueueSpec; 2] = [QueueSpec { index: 0, params: PARAMS }, QueueSpec { index: 1, params: PARAMS }];
    type Error = ToyError;
    type Setvars = ();

    fn new(_: (), _: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let slots = dma.slots(2, 64, 64).map_err(Unusable::DmaRoom)?;
        Ok(Toy {
            slots,
            config_byte: None,
            fail_probe: false,
            require_event_idx: false,
            probes: 0,
            removes: 0,
            causes: Vec::new(),
        })
    }

    fn features(&self) -> (Features, Features) {
        let event_idx = Features::EMPTY.with(general::EVENT_IDX);
        (event_idx, if self.require_event_idx { event_idx } else { Features::EMPTY })
    }

    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), ToyError> {
        self.probes += 1;
        let mut byte = [0u8];
        device.read_config(0, &mut byte)?;
        self.config_byte = Some(byte[0]);
        let slot = self.slots.get(0).expect("carved");
        device.queues.0.add(&[Buffer::writable(slot.paddr, 64)]).map_err(DriverError::Queue)?;
        if self.fail_probe { Err(ToyError::Probe) } else { Ok(()) }
    }

    fn remove(&mut self) {
        self.removes += 1;
    }

    fn interrupt(&mut self, ctx: &mut Ctx<'_, Self>, causes: u32) {
        self.causes.push(causes);
        if causes != 0 {
            // This toy's device is never supposed to interrupt.
            ctx.fail(ToyError::Device);
        }
    }

    fn client_notified(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.notify_client();
    }
}

fn toy(offered: u64) -> Harness<Toy> {
    let device = MockDevice::new(3, 2, offered, 2, 8);
    device.state().config = vec![0x2a, 0, 0, 0];
    Harness::new("toy", device, |_| ())
}

#[test]
fn probe_runs_on_set_up_queues_and_its_buffers_are_kicked_after_driver_ok() {
    let mut h = toy(F_VERSION_1);
    h.bind();
    assert_eq!(h.status(), DriverStatus::Ready);
    assert_eq!((h.driver().probes, h.driver().config_byte), (1, Some(0x2a)));
    // The mock panics on a notify before DRIVER_OK: the kick came after.
    assert!(h.device.live());
    assert_eq!(h.device.state().notifies, [0], "one kick, for the queue that has a buffer");
    let chain = h.device.pop_avail(0).expect("the probe's buffer");
    assert_eq!((chain.bufs[0].len, chain.bufs[0].writable), (64, true));
    assert!(h.device.pop_avail(1).is_none());
    // Nothing new: no kick at the next event.
    h.client_notifies();
    assert_eq!(h.device.state().notifies, [0]);
    assert!(h.take_client_notify(), "the client notify is the event's deferred action");
    assert!(!h.take_client_notify());
}

#[test]
fn remove_follows_every_probe_once() {
    let mut h = toy(F_VERSION_1);
    h.bind();
    h.unbind();
    assert_eq!((h.driver().probes, h.driver().removes, h.status()), (1, 1, DriverStatus::Unbound));
    h.bind();
    // A used-buffer interrupt this toy does not expect: it fails the
    // device; the framework resets it and the driver forgets it.
    let resets = h.device.state().resets;
    h.device.raise_interrupt();
    assert!(h.deliver_interrupt());
    assert_eq!(h.driver().causes, [1]);
    assert_eq!((h.status(), h.last_error()), (DriverStatus::Failed, Some(ToyError::Device)));
    assert_eq!(h.device.state().resets, resets + 1);
    assert_eq!(h.driver().removes, 2);
    h.unbind();
    assert_eq!(h.driver().removes, 2, "a failed device was already removed");
    assert_eq!(h.status(), DriverStatus::Unbound);
}

#[test]
fn a_failing_probe_resets_the_device_and_is_removed() {
    let mut h = toy(F_VERSION_1);
    h.driver().fail_probe = true;
    h.bind();
    assert_eq!((h.status(), h.last_error()), (DriverStatus::Failed, Some(ToyError::Probe)));
    assert!(!h.device.live());
    assert_eq!(h.device.state().queues[0], None, "reset: the queues are gone");
    assert_eq!((h.driver().probes, h.driver().removes), (1, 1));
    assert!(h.device.state().notifies.is_empty(), "never kicked");
}

#[test]
fn a_required_feature_the_device_lacks_fails_before_probe() {
    let mut h = toy(F_VERSION_1);
    h.driver().require_event_idx = true;
    h.bind();
    assert_eq!(h.status(), DriverStatus::Failed);
    assert!(matches!(
        h.last_error(),
        Some(ToyError::Framework(DriverError::Init(InitError::RequiredFeaturesMissing { .. })))
    ));
    assert_eq!((h.driver().probes, h.driver().removes), (0, 0));
}

#[test]
fn a_bring_up_before_the_transport_sees_the_binding_is_retried_at_the_next_event() {
    let mut h = toy(F_VERSION_1);
    h.publish_binding();
    assert_eq!((h.status(), h.last_error()), (DriverStatus::Unbound, None), "not a failure");
    h.transport_sees_binding();
    h.client_notifies();
    assert_eq!(h.status(), DriverStatus::Ready);
    assert_eq!(h.driver().probes, 1);
}

/// A four-queue driver (virtio-sound's shape): its probe makes one
/// buffer available on the last queue only.
struct Quad {
    slots: DmaSlots,
}

impl VirtioDriver for Quad {
    const DEVICE: DeviceId = DeviceId::SOUND;
    type Queues = (DriverQueue<4>, DriverQueue<4>, DriverQueue<8>, DriverQueue<8>);
    const QUEUES: [QueueSpec; 4] = [
        QueueSpec { index: 0, params: PARAMS },
        QueueSpec { index: 1, params: PARAMS },
        QueueSpec { index: 2, params: PARAMS },
        QueueSpec { index: 3, params: PARAMS },
    ];
    type Error = DriverError;
    type Setvars = ();

    fn new(_: (), _: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        Ok(Quad { slots: dma.slots(1, 64, 64).map_err(Unusable::DmaRoom)? })
    }
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY, Features::EMPTY)
    }
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), DriverError> {
        let slot = self.slots.get(0).expect("carved");
        device.queues.3.add(&[Buffer::writable(slot.paddr, 64)]).map_err(DriverError::Queue)?;
        Ok(())
    }
    fn remove(&mut self) {}
    fn interrupt(&mut self, _: &mut Ctx<'_, Self>, _: u32) {}
    fn client_notified(&mut self, _: &mut Ctx<'_, Self>) {}
}

#[test]
fn four_queues_are_set_up_in_order_and_only_the_filled_one_is_kicked() {
    let mut h = Harness::<Quad>::new("quad", MockDevice::new(25, 2, F_VERSION_1, 4, 8), |_| ());
    h.bind();
    assert_eq!(h.status(), DriverStatus::Ready);
    assert!(h.device.live());
    assert_eq!((0..3).map(|q| h.device.avail_idx(q)).collect::<Vec<_>>(), [0, 0, 0]);
    assert_eq!(h.device.avail_idx(3), 1, "the probe's buffer on queue 3");
    assert_eq!(h.device.state().notifies, [3], "queue 3 kicked, no other");
}
