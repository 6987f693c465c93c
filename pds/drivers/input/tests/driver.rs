//! The input driver PD against the real transport core and a mock
//! virtio-input with a paged config space (`sevio_driver_core::harness`).

use sevio_driver_core::harness::{DMA_PADDR, Harness};
use sevio_driver_core::{DriverError, DriverStatus, InitError};
use sevio_driver_input::identity::IdentityError;
use sevio_driver_input::{EVENT_BUFFERS, InputDriver, InputError, InputSetvars};
use sevio_queue::input::{self, InputEvent, InputEventConsumer, InputInfo, queue_region};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::device::input::{ConfigFault, select};

const CAPACITY: u32 = 16;
const F_EVENT_IDX: u64 = 1 << 29;
const F_VERSION_1: u64 = 1 << 32;

/// A QEMU-like tablet: name, ids, EV_KEY + EV_ABS, axes 0..=0x7fff.
fn tablet(name: &[u8]) -> MockDevice {
    let dev = MockDevice::new(18, 2, F_EVENT_IDX | F_VERSION_1, 2, 64);
    let mut pages = vec![((select::ID_NAME, 0), [&[name.len() as u8][..], name].concat())];
    pages.push(((select::ID_DEVIDS, 0), vec![8, 6, 0, 0x27, 0x06, 3, 0, 1, 0]));
    pages.push(((select::EV_BITS, 1), vec![1, 0xff]));
    pages.push(((select::EV_BITS, 3), vec![1, 0x03]));
    for axis in [0u8, 1] {
        let mut abs = vec![20u8];
        abs.extend(0u32.to_le_bytes());
        abs.extend(0x7fffu32.to_le_bytes());
        abs.extend([0u8; 12]);
        pages.push(((select::ABS_INFO, axis), abs));
    }
    let mut s = dev.state();
    s.config = vec![0u8; 8 + 128];
    s.config_pages = pages;
    drop(s);
    dev
}

struct Rig {
    h: Harness<InputDriver>,
    page: SharedMemory,
    client: InputEventConsumer,
}

impl Rig {
    fn new(device: MockDevice) -> Rig {
        let h = Harness::<InputDriver>::new("input", device, |mem| InputSetvars {
            page: mem.region("input_page", 4096, 0),
            capacity: CAPACITY,
        });
        let page = h.memory(h.vars.page);
        let client = InputEventConsumer::new(queue_region(&page).unwrap(), CAPACITY).unwrap();
        Rig { h, page, client }
    }

    fn ready() -> Rig {
        let mut rig = Rig::new(tablet(b"QEMU Virtio Tablet"));
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        rig
    }

    /// The device sends `events` (one buffer each) and interrupts.
    fn send(&mut self, events: &[InputEvent]) {
        for e in events {
            let chain = self.h.device.pop_avail(0).expect("a buffer in the eventq");
            assert_eq!(chain.bufs.len(), 1);
            assert!(chain.bufs[0].writable && chain.bufs[0].len >= 8, "§5.8.6.1");
            assert!(chain.bufs[0].addr >= DMA_PADDR);
            let mut b = Vec::new();
            b.extend(e.ty.to_le_bytes());
            b.extend(e.code.to_le_bytes());
            b.extend(e.value.to_le_bytes());
            self.h.device.write(chain.bufs[0].addr, &b);
            self.h.device.push_used(0, chain.head as u32, 8);
        }
        self.h.device.raise_interrupt();
        self.h.deliver_interrupt();
    }

    fn received(&mut self) -> Vec<InputEvent> {
        let mut v = Vec::new();
        while let Some(e) = self.client.take().unwrap() {
            v.push(e);
        }
        self.client.publish().unwrap();
        v
    }
}

fn ev(ty: u16, code: u16, value: i32) -> InputEvent {
    InputEvent { ty, code, value: value as u32 }
}

const SYN: InputEvent = InputEvent { ty: 0, code: 0, value: 0 };

#[test]
fn identity_is_read_from_config_pages_and_published() {
    let mut rig = Rig::new(tablet(b"QEMU Virtio Tablet"));
    assert_eq!(InputInfo::read(&rig.page), Ok(None), "nothing before a device");
    rig.h.bind();
    let info = InputInfo::read(&rig.page).unwrap().expect("published at probe");
    assert_eq!(info.name(), b"QEMU Virtio Tablet");
    assert_eq!(info.ids, [6, 0x0627, 3, 1]);
    assert!(info.sends(0) && info.sends(1) && info.sends(3) && !info.sends(2), "{:#x}", info.ev_types);
    assert_eq!((info.abs_x, info.abs_y), ((0, 0x7fff), (0, 0x7fff)));
    assert_eq!(rig.h.device.avail_idx(0) as usize, EVENT_BUFFERS, "the eventq is full of buffers");
    assert_eq!(rig.h.device.state().config[0..2], [select::ABS_INFO, 1], "only select and subsel were written");
    rig.h.unbind();
    assert_eq!(InputInfo::read(&rig.page), Ok(None), "retracted with the device");
}

#[test]
fn events_arrive_in_order_and_exactly() {
    let mut rig = Rig::ready();
    let stream = [ev(3, 0, 100), ev(3, 1, 0x7fff), SYN, ev(1, 0x110, 1), SYN, ev(1, 0x110, 0), SYN];
    let mut got = Vec::new();
    for _ in 0..40 {
        rig.send(&stream);
        assert!(rig.h.take_client_notify());
        got.extend(rig.received());
    }
    let want: Vec<InputEvent> = (0..40).flat_map(|_| stream).collect();
    assert_eq!(got, want, "280 events through 64 buffers, reposted, none lost");
    let s = rig.h.driver().stats();
    assert_eq!((s.received, s.delivered, s.dropped, s.markers), (280, 280, 0, 0));
}

#[test]
fn a_flood_beyond_the_client_queue_is_counted_and_marked() {
    let mut rig = Rig::ready();
    // 20 updates of (x, y, SYN) while the client reads nothing: 16 fit.
    let flood: Vec<InputEvent> = (0..20).flat_map(|i| [ev(3, 0, i), ev(3, 1, i), SYN]).collect();
    for chunk in flood.chunks(10) {
        rig.send(chunk);
    }
    let first = rig.received();
    assert_eq!(first, flood[..16], "in order up to the cut");
    assert_eq!(input::dropped(&queue_region(&rig.page).unwrap()), Ok(44), "the page counts the drops");
    rig.send(&[ev(3, 0, 500), ev(3, 1, 600), SYN]);
    assert_eq!(rig.received(), [InputEvent::dropped_marker(44), ev(3, 0, 500), ev(3, 1, 600), SYN]);
    let s = rig.h.driver().stats();
    assert_eq!((s.received, s.delivered + u64::from(s.dropped), s.markers), (63, 63, 1), "nothing silently lost");
    assert_eq!(rig.h.status(), DriverStatus::Ready, "a slow client is not a device fault");
}

#[test]
fn a_truncated_name_fails_the_probe() {
    // The name page says 40 bytes; the config space ends 10 bytes into
    // the union: the transport refuses the read.
    let dev = tablet(b"0123456789");
    dev.state().config_pages[0].1[0] = 40;
    dev.state().config.truncate(8 + 10);
    let mut rig = Rig::new(dev);
    rig.h.bind();
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(
        matches!(
            rig.h.last_error(),
            Some(InputError::Identity(IdentityError::Access(DriverError::Init(InitError::ConfigRead { .. }))))
        ),
        "{:?}",
        rig.h.last_error()
    );
    assert_eq!(InputInfo::read(&rig.page), Ok(None), "nothing published");
}

#[test]
fn a_size_past_the_union_fails_the_probe() {
    let dev = tablet(b"x");
    dev.state().config_pages[0].1[0] = 200;
    let mut rig = Rig::new(dev);
    rig.h.bind();
    assert_eq!(
        rig.h.last_error(),
        Some(InputError::Identity(IdentityError::Page {
            select: select::ID_NAME,
            subsel: 0,
            fault: ConfigFault::SizeTooLarge { size: 200 }
        }))
    );
}

#[test]
fn a_short_event_fails_the_device() {
    let mut rig = Rig::ready();
    let chain = rig.h.device.pop_avail(0).unwrap();
    rig.h.device.push_used(0, chain.head as u32, 4);
    rig.h.device.raise_interrupt();
    rig.h.deliver_interrupt();
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert_eq!(rig.h.last_error(), Some(InputError::ShortEvent { len: 4 }));
    assert!(rig.received().is_empty());
}
