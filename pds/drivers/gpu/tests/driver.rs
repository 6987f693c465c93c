//! The gpu driver PD against the real transport core and a mock
//! virtio-gpu (`sevio_driver_core::harness`): the test plays QEMU's part
//! of the controlq and cursorq.

use sevio_driver_core::harness::{DMA_PADDR, Harness};
use sevio_driver_core::{DriverError, DriverStatus};
use sevio_driver_gpu::{GpuDriver, GpuError, GpuSetvars};
use sevio_queue::gpu::{
    DisplayInfo, GpuCommand, GpuRect, GpuRequest, GpuRequestProducer, GpuResponse, GpuResponseConsumer, GpuStatus,
};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::{Chain, MockDevice};
use sevio_virtio::device::gpu::{ResponseFault, ctrl};
use sevio_virtio::{DeviceFault, Error};

const DATA_SIZE: usize = 0x8_0000;
const DATA_PADDR: u64 = 0x5200_0000;
const CAPACITY: u32 = 16;
const F_EVENT_IDX: u64 = 1 << 29;
const F_VERSION_1: u64 = 1 << 32;

struct Rig {
    h: Harness<GpuDriver>,
    requests: GpuRequestProducer,
    responses: GpuResponseConsumer,
    data: SharedMemory,
    next_id: u32,
}

/// One command as the device saw it: its type, its bytes, the chain.
struct Seen {
    ty: u32,
    bytes: Vec<u8>,
    chain: Chain,
}

fn gpu() -> MockDevice {
    let device = MockDevice::new(16, 2, F_EVENT_IDX | F_VERSION_1, 2, 64);
    // events_read, events_clear, num_scanouts 1, num_capsets 0.
    device.state().config = [0u32, 0, 1, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
    device
}

impl Rig {
    fn new(device: MockDevice) -> Rig {
        let h = Harness::<GpuDriver>::new("gpu", device, |mem| GpuSetvars {
            requests: mem.region("gpu_requests", 4096, 0),
            responses: mem.region("gpu_responses", 4096, 0),
            events: mem.region("gpu_events", 4096, 0),
            data: mem.device_region("gpu_client_data", DATA_SIZE, 0, DATA_PADDR),
            data_paddr: DATA_PADDR,
            capacity: CAPACITY,
        });
        let requests = GpuRequestProducer::new(h.memory(h.vars.requests), CAPACITY).unwrap();
        let responses = GpuResponseConsumer::new(h.memory(h.vars.responses), CAPACITY).unwrap();
        let data = h.memory(h.vars.data);
        Rig { h, requests, responses, data, next_id: 1 }
    }

    fn ready() -> Rig {
        let mut rig = Rig::new(gpu());
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        rig
    }

    /// Enqueue `command`, notify; returns its id.
    fn send(&mut self, command: GpuCommand) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.requests.enqueue(GpuRequest::new(id, command)).unwrap();
        self.h.client_notifies();
        id
    }

    fn responses(&mut self) -> Vec<GpuResponse> {
        let mut out = Vec::new();
        while let Some(r) = self.responses.take().unwrap() {
            out.push(r);
        }
        self.responses.publish().unwrap();
        out
    }

    /// The device takes the next command on queue `q`.
    fn take(&mut self, q: u16) -> Option<Seen> {
        let chain = self.h.device.pop_avail(q)?;
        let cmd = chain.readable().next().copied().expect("a command");
        assert!(cmd.addr >= DMA_PADDR && cmd.addr < DATA_PADDR, "commands live in the driver's DMA region");
        let mut bytes = vec![0u8; cmd.len as usize];
        self.h.device.read(cmd.addr, &mut bytes);
        let ty = u32::from_le_bytes(bytes[..4].try_into().unwrap());
        Some(Seen { ty, bytes, chain })
    }

    /// The device answers `seen` with `answer` (a header type and more
    /// bytes), claiming `len` bytes written.
    fn answer(&mut self, seen: &Seen, ty: u32, extra: &[u8], len: u32) {
        let out = seen.chain.writable().next().copied().expect("an answer buffer");
        let mut bytes = vec![0u8; 24];
        bytes[..4].copy_from_slice(&ty.to_le_bytes());
        bytes.extend_from_slice(extra);
        bytes.truncate(out.len as usize);
        self.h.device.write(out.addr, &bytes);
        self.h.device.push_used(0, seen.chain.head as u32, len);
    }

    /// The device answers every controlq command OK (display info: one
    /// 1280x800 scanout) and every cursorq command; returns what it saw.
    fn serve(&mut self) -> Vec<Seen> {
        let mut seen = Vec::new();
        while let Some(s) = self.take(0) {
            if s.ty == ctrl::GET_DISPLAY_INFO {
                let mut modes = vec![0u8; 16 * 24];
                for (i, v) in [0u32, 0, 1280, 800, 1].iter().enumerate() {
                    modes[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
                }
                self.answer(&s, ctrl::RESP_OK_DISPLAY_INFO, &modes, 408);
            } else {
                self.answer(&s, ctrl::RESP_OK_NODATA, &[], 24);
            }
            seen.push(s);
        }
        while let Some(s) = self.take(1) {
            self.h.device.push_used(1, s.chain.head as u32, 0);
            seen.push(s);
        }
        self.h.interrupt(0);
        self.h.interrupt(1);
        seen
    }
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

const FB: u32 = 0x1000;

/// Create resource 1 (64x48, B8G8R8X8), back it at FB, show it.
fn framebuffer(rig: &mut Rig) -> Vec<Seen> {
    rig.send(GpuCommand::Create2d { resource_id: 1, width: 64, height: 48, format: 1 });
    rig.send(GpuCommand::AttachBacking { resource_id: 1, mem_offset: FB as u64, mem_size: 64 * 48 * 4 });
    rig.send(GpuCommand::SetScanout { resource_id: 1, scanout_id: 0, rect: GpuRect::new(0, 0, 64, 48) });
    rig.serve()
}

#[test]
fn display_info_framebuffer_transfer_and_flush_reach_the_device_exactly() {
    for version in [2, 1] {
        let dev = gpu();
        dev.state().version = version;
        let mut rig = Rig::new(dev);
        rig.h.bind();
        let id = rig.send(GpuCommand::GetDisplayInfo { mem_offset: 0x200 });
        let seen = rig.serve();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].chain.writable_len(), 408, "room for the whole display info");
        assert_eq!(rig.responses(), [GpuResponse::new(GpuStatus::Ok, id)]);
        let info = DisplayInfo::read(&rig.data, 0x200).unwrap();
        assert_eq!(
            (info.num_scanouts, info.scanouts[0].rect, info.scanouts[0].enabled),
            (1, GpuRect::new(0, 0, 1280, 800), true)
        );
        assert!(rig.h.take_client_notify());

        let seen = framebuffer(&mut rig);
        let types: Vec<u32> = seen.iter().map(|s| s.ty).collect();
        assert_eq!(types, [ctrl::RESOURCE_CREATE_2D, ctrl::RESOURCE_ATTACH_BACKING, ctrl::SET_SCANOUT]);
        assert_eq!(word(&seen[0].bytes, 28), 2, "virtio B8G8R8X8");
        assert_eq!(u64::from_le_bytes(seen[1].bytes[32..40].try_into().unwrap()), DATA_PADDR + FB as u64);
        assert_eq!(word(&seen[1].bytes, 40), 64 * 48 * 4);
        let ids: Vec<(u32, u32)> = rig.responses().iter().map(|r| (r.id, r.status)).collect();
        assert_eq!(ids, [(2, 0), (3, 0), (4, 0)]);

        rig.send(GpuCommand::TransferTo2d {
            resource_id: 1,
            rect: GpuRect::new(8, 4, 100, 100),
            mem_offset: 4 * (4 * 64 + 8),
        });
        rig.send(GpuCommand::Flush { resource_id: 1, rect: GpuRect::new(8, 4, 100, 100) });
        let seen = rig.serve();
        assert_eq!(&seen[0].bytes[24..40], &[8, 0, 0, 0, 4, 0, 0, 0, 56, 0, 0, 0, 44, 0, 0, 0], "clipped to 56x44");
        assert_eq!(u64::from_le_bytes(seen[0].bytes[40..48].try_into().unwrap()), 4 * (4 * 64 + 8));
        assert_eq!(seen[1].ty, ctrl::RESOURCE_FLUSH);
        assert_eq!(rig.responses().len(), 2);
        assert_eq!(rig.h.driver().stats().flushes, 1, "version {version}");
    }
}

#[test]
fn the_cursor_goes_to_the_cursorq() {
    let mut rig = Rig::ready();
    rig.send(GpuCommand::Create2d { resource_id: 2, width: 64, height: 64, format: 0 });
    rig.serve();
    rig.responses();
    let a = rig.send(GpuCommand::UpdateCursor { resource_id: 2, scanout_id: 0, x: 10, y: 20, hot_x: 0, hot_y: 0 });
    let b = rig.send(GpuCommand::MoveCursor { scanout_id: 0, x: 30, y: 40 });
    assert!(rig.h.device.pop_avail(0).is_none(), "nothing on the controlq");
    let seen = rig.serve();
    assert_eq!(seen.iter().map(|s| s.ty).collect::<Vec<_>>(), [ctrl::UPDATE_CURSOR, ctrl::MOVE_CURSOR]);
    assert_eq!(seen[0].chain.writable_len(), 0);
    assert_eq!((word(&seen[1].bytes, 28), word(&seen[1].bytes, 32)), (30, 40));
    assert_eq!(rig.responses(), [GpuResponse::new(GpuStatus::Ok, a), GpuResponse::new(GpuStatus::Ok, b)]);
}

#[test]
fn bad_requests_never_reach_the_device() {
    let mut rig = Rig::ready();
    framebuffer(&mut rig);
    rig.responses();
    let avail = (rig.h.device.avail_idx(0), rig.h.device.avail_idx(1));
    let cases = [
        (GpuCommand::AttachBacking { resource_id: 1, mem_offset: 0, mem_size: 16 }, GpuStatus::ErrUnspec),
        (GpuCommand::Create2d { resource_id: 3, width: 0, height: 1, format: 0 }, GpuStatus::InvalidParameter),
        (GpuCommand::Create2d { resource_id: 4, width: 1, height: 1, format: 0 }, GpuStatus::Ok),
        (
            GpuCommand::AttachBacking { resource_id: 4, mem_offset: DATA_SIZE as u64 - 2, mem_size: 4 },
            GpuStatus::InvalidBounds,
        ),
        (
            GpuCommand::TransferTo2d { resource_id: 1, rect: GpuRect::new(0, 0, 64, 48), mem_offset: 4 },
            GpuStatus::InvalidBounds,
        ),
        (GpuCommand::Flush { resource_id: 1, rect: GpuRect::new(64, 0, 1, 1) }, GpuStatus::InvalidBounds),
        (GpuCommand::Flush { resource_id: 9, rect: GpuRect::new(0, 0, 1, 1) }, GpuStatus::InvalidResourceId),
        (
            GpuCommand::SetScanout { resource_id: 1, scanout_id: 1, rect: GpuRect::new(0, 0, 1, 1) },
            GpuStatus::InvalidScanoutId,
        ),
        (GpuCommand::GetDisplayInfo { mem_offset: u64::MAX }, GpuStatus::InvalidBounds),
        (GpuCommand::MoveCursor { scanout_id: 7, x: 0, y: 0 }, GpuStatus::InvalidScanoutId),
        (GpuCommand::Unsupported(1), GpuStatus::ErrUnspec),
    ];
    for (command, want) in cases {
        let id = rig.send(command);
        if want == GpuStatus::Ok {
            rig.serve();
        }
        assert_eq!(rig.responses(), [GpuResponse::new(want, id)], "{command:?}");
    }
    assert_eq!((rig.h.device.avail_idx(0), rig.h.device.avail_idx(1)), (avail.0 + 1, avail.1), "only the good create");
    assert_eq!(rig.h.status(), DriverStatus::Ready);
}

#[test]
fn a_refusal_by_the_device_is_the_clients_error_and_is_undone() {
    let mut rig = Rig::ready();
    let id = rig.send(GpuCommand::Create2d { resource_id: 5, width: 8, height: 8, format: 0 });
    let s = rig.take(0).unwrap();
    rig.answer(&s, ctrl::RESP_ERR_INVALID_PARAMETER, &[], 24);
    rig.h.interrupt(0);
    assert_eq!(rig.responses(), [GpuResponse::new(GpuStatus::InvalidParameter, id)]);
    assert!(rig.h.driver().resources().get(5).is_none(), "the create is taken back");
    assert_eq!(rig.h.status(), DriverStatus::Ready, "a refusal is not a device fault");
    let again = rig.send(GpuCommand::Create2d { resource_id: 5, width: 8, height: 8, format: 0 });
    rig.serve();
    assert_eq!(rig.responses(), [GpuResponse::new(GpuStatus::Ok, again)]);
}

/// A device that answers against the protocol: the request and every
/// other one in flight get ErrUnspec, the device is failed and reset, and
/// later requests are answered ErrUnspec without touching it.
fn misbehaves(answer: impl Fn(&mut Rig, &Seen), fault: GpuError) {
    let mut rig = Rig::ready();
    let a = rig.send(GpuCommand::Create2d { resource_id: 1, width: 8, height: 8, format: 0 });
    let b = rig.send(GpuCommand::Create2d { resource_id: 2, width: 8, height: 8, format: 0 });
    let resets = rig.h.device.state().resets;
    let s = rig.take(0).unwrap();
    answer(&mut rig, &s);
    // One of two used: EVENT_IDX asked for no interrupt yet; the device
    // sends one anyway (a device may).
    rig.h.device.raise_interrupt();
    assert!(rig.h.deliver_interrupt());
    let mut got = rig.responses();
    got.sort_by_key(|r| r.id);
    assert_eq!(got, [GpuResponse::new(GpuStatus::ErrUnspec, a), GpuResponse::new(GpuStatus::ErrUnspec, b)]);
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert_eq!(rig.h.last_error(), Some(fault));
    assert_eq!(rig.h.device.state().resets, resets + 1);
    let c = rig.send(GpuCommand::GetDisplayInfo { mem_offset: 0 });
    assert_eq!(rig.responses(), [GpuResponse::new(GpuStatus::ErrUnspec, c)]);
}

#[test]
fn an_answer_of_the_wrong_type_fails_the_device() {
    misbehaves(
        |rig, s| rig.answer(s, ctrl::RESP_OK_DISPLAY_INFO, &[], 24),
        GpuError::Response(ResponseFault::WrongType {
            command: ctrl::RESOURCE_CREATE_2D,
            answered: ctrl::RESP_OK_DISPLAY_INFO,
        }),
    );
}

#[test]
fn a_truncated_answer_fails_the_device() {
    misbehaves(
        |rig, s| rig.answer(s, ctrl::RESP_OK_NODATA, &[], 10),
        GpuError::Response(ResponseFault::Short { len: 10, needed: 24 }),
    );
}

#[test]
fn an_answer_for_a_command_not_in_flight_fails_the_device() {
    misbehaves(
        |rig, _| rig.h.device.push_used(0, 13, 24),
        GpuError::Driver(DriverError::Queue(Error::Device(DeviceFault::UsedIdNotInFlight { id: 13 }))),
    );
}

#[test]
fn requests_wait_for_a_device() {
    let mut rig = Rig::new(gpu());
    let id = rig.send(GpuCommand::GetDisplayInfo { mem_offset: 0 });
    assert!(rig.responses().is_empty(), "no device yet: the request waits");
    rig.h.bind();
    rig.serve();
    assert_eq!(rig.responses(), [GpuResponse::new(GpuStatus::Ok, id)]);
}

#[test]
fn a_device_with_no_scanout_is_refused() {
    let dev = gpu();
    dev.state().config[8..12].copy_from_slice(&0u32.to_le_bytes());
    let mut rig = Rig::new(dev);
    rig.h.bind();
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert_eq!(rig.h.last_error(), Some(GpuError::Scanouts(0)));
}
