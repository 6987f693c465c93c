//! Enumeration, BAR assignment, capability checks and the whole path to
//! the transport core, against a fake ECAM with a bridge and broken
//! functions.

use crate::bars::{BarError, Space, Windows};
use crate::bring_up::bring_up;
use crate::config_space::{ConfigSpace, command, reg};
use crate::device::PciDevice;
use crate::enumerate::{Function, Scan, enumerate};
use crate::fake::{
    Backend, FakeBar, FakeBus, FakeConfig, FakeFunction, FakeLegacy, FakeModern, FakeRegisters, MODERN_BAR_SIZE,
};
use crate::msix::MsiRouting;
use crate::probe::{Apertures, Layout, Structure, is_virtio, layout, virtio_type};
use crate::problem::Problem;
use crate::regs::Registers;
use sevio_sharedmem::HeapRegion;
use sevio_transport_core::{DriverPort, Transport, VirtioDevice};
use sevio_transport_protocol::{Bdf, DriverDoorbell, Location, Reply, Request, TransportDoorbell, Width};
use sevio_virtio::pci::common::NO_VECTOR;
use sevio_virtio::pci::{CapKind, cfg_type, common};
use sevio_virtio::{RingFormat, RingPlacement};
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;

const MEM: (u64, u64) = (0x1000_0000, 0x100_0000);
const IO: (u64, u64) = (0x1000, 0xf000);

fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
    Bdf { bus, device, function }
}

fn modern(device: u16) -> FakeFunction {
    FakeFunction::endpoint(0x1af4, device)
        .bar(1, FakeBar::Mem32(0x1000))
        .bar(4, FakeBar::Mem64 { size: MODERN_BAR_SIZE as u64, prefetchable: true })
        .pin(1)
        .modern_caps(4)
}

/// Handles of the interesting fake functions.
struct Machine {
    cfg: FakeConfig,
    bridge: usize,
    non_virtio: usize,
}

/// bus 0: 00.0 host bridge, 01.0 modern net (INTA), 02.0 legacy-only
/// blk (INTD), 03.0 root port with a modern rng at 01:00.0, 04.0 reads
/// all-ones, 05.0 a BAR larger than the window, 06.0 an Intel NIC,
/// 07.0 + 07.2 a multi-function device (console with a capability past
/// its BAR; blk on INTB).
fn machine() -> Machine {
    let cfg = FakeConfig::new();
    cfg.add(bdf(0, 0, 0), FakeFunction::new_host_bridge());
    cfg.add(bdf(0, 1, 0), modern(0x1041));
    cfg.add(
        bdf(0, 2, 0),
        FakeFunction::endpoint(0x1af4, 0x1001)
            .subsystem(2)
            .bar(0, FakeBar::Io(0x40))
            .bar(1, FakeBar::Mem32(0x1000))
            .pin(4),
    );
    let bridge = cfg.add(bdf(0, 3, 0), FakeFunction::bridge().pin(1));
    cfg.add_behind(bridge, 0, 0, modern(0x1044));
    cfg.add(bdf(0, 4, 0), modern(0x1042).all_ones());
    cfg.add(bdf(0, 5, 0), FakeFunction::endpoint(0x1af4, 0x1042).bar(0, FakeBar::Mem32(0x400_0000)));
    let non_virtio = cfg.add(bdf(0, 6, 0), FakeFunction::endpoint(0x8086, 0x100e).bar(0, FakeBar::Mem32(0x2_0000)));
    let console = FakeFunction::endpoint(0x1af4, 0x1043)
        .multi()
        .bar(4, FakeBar::Mem64 { size: MODERN_BAR_SIZE as u64, prefetchable: true })
        .virtio_cap(0x40, cfg_type::COMMON, 4, 0, 0x40, None)
        .virtio_cap(0x50, cfg_type::ISR, 4, 0x1000, 4, None)
        .virtio_cap(0x60, cfg_type::NOTIFY, 4, 0x3ff8, 0x10, Some(4));
    cfg.add(bdf(0, 7, 0), console);
    cfg.add(bdf(0, 7, 2), modern(0x1042).pin(2));
    Machine { cfg, bridge, non_virtio }
}

fn scan(m: &Machine) -> (Scan, Vec<(Bdf, Problem)>, Windows) {
    let mut windows = Windows::new(MEM, IO).unwrap();
    let mut problems = Vec::new();
    let scan = enumerate(&m.cfg, 4, &mut windows, is_virtio, |f, p| problems.push((f, p)));
    (scan, problems, windows)
}

fn find(scan: &Scan, at: Bdf) -> Function {
    *scan.functions.iter().find(|f| f.bdf == at).unwrap()
}

#[test]
fn enumeration_finds_virtio_functions_on_bus_0_and_behind_the_bridge() {
    let m = machine();
    let (scan, problems, _) = scan(&m);
    let found: Vec<(Bdf, u16)> = scan.functions.iter().map(|f| (f.bdf, f.device)).collect();
    assert_eq!(
        found,
        [
            (bdf(0, 1, 0), 0x1041),
            (bdf(0, 2, 0), 0x1001),
            (bdf(1, 0, 0), 0x1044),
            (bdf(0, 7, 0), 0x1043),
            (bdf(0, 7, 2), 0x1042),
        ]
    );
    assert_eq!((scan.bridges, scan.last_bus), (1, 1));
    assert_eq!(
        problems,
        [
            (bdf(0, 4, 0), Problem::AllOnes),
            (bdf(0, 5, 0), Problem::Bar(BarError::DoesNotFit { bar: 0, size: 0x400_0000, space: Space::Memory })),
        ]
    );
}

#[test]
fn bars_are_aligned_disjoint_and_inside_the_windows() {
    let m = machine();
    let (scan, _, _) = scan(&m);
    let mut ranges: Vec<(Space, u64, u64)> = Vec::new();
    for f in &scan.functions {
        for bar in f.bars.iter().flatten() {
            let (base, size) = if bar.space == Space::Io { IO } else { MEM };
            assert!(bar.addr >= base && bar.addr + bar.size <= base + size, "{f:?}");
            assert_eq!(bar.addr % bar.size, 0, "naturally aligned: {bar:?}");
            for &(space, a, n) in &ranges {
                assert!(space != bar.space || bar.addr >= a + n || a >= bar.addr + bar.size, "overlap {bar:?}");
            }
            ranges.push((bar.space, bar.addr, bar.size));
        }
        // Decoding stays off until the device has been checked.
        assert_eq!(m.cfg.read16(f.bdf, reg::COMMAND), 0);
    }
    let blk = find(&scan, bdf(0, 2, 0));
    assert_eq!(m.cfg.read32(blk.bdf, reg::BAR0), blk.bars[0].unwrap().addr as u32 | 1);
    let rng = find(&scan, bdf(1, 0, 0));
    let bar4 = rng.bars[4].unwrap();
    assert_eq!(m.cfg.read32(rng.bdf, reg::BAR0 + 16), bar4.addr as u32 | 0xc);
    assert_eq!(m.cfg.read32(rng.bdf, reg::BAR0 + 20), 0);
    let intel = m.cfg.space(m.non_virtio);
    let intel_command = u16::from_le_bytes([intel[4], intel[5]]);
    assert_eq!((intel_command, intel[0x10]), (command::INTX_DISABLE, 0), "not driven: quiesced, no BAR");
    assert_eq!(m.cfg.read16(bdf(0, 0, 0), reg::COMMAND), 0x0106, "the host bridge is left as it was");
}

#[test]
fn the_bridge_gets_bus_numbers_and_windows_covering_what_is_behind_it() {
    let m = machine();
    let (scan, _, _) = scan(&m);
    let space = m.cfg.space(m.bridge);
    assert_eq!((space[0x18], space[0x19], space[0x1a]), (0, 1, 1), "primary, secondary, subordinate");
    let word = |o: usize| u32::from_le_bytes(space[o..o + 4].try_into().unwrap());
    let mem = word(0x20);
    let (base, limit) = (((mem & 0xfff0) as u64) << 16, ((mem >> 16) as u64) << 16 | 0xf_ffff);
    let rng = find(&scan, bdf(1, 0, 0));
    for bar in rng.bars.iter().flatten() {
        assert!(bar.addr >= base && bar.addr + bar.size - 1 <= limit, "{bar:?} outside {base:#x}..={limit:#x}");
    }
    assert_eq!(base % (1 << 20), 0);
    assert_eq!(limit - base + 1, 1 << 20, "exactly one granule: only the rng is behind it");
    // Its own BAR lies outside its window; nothing behind it uses I/O.
    let own = word(0x10) as u64 & !0xf;
    assert!(own != 0 && !(base..=limit).contains(&own));
    assert_eq!((space[0x1c], space[0x1d]), (0xf0, 0x00), "I/O window closed");
    assert_eq!(word(0x24), 0xfff0, "no prefetchable window");
    let cmd = u16::from_le_bytes([space[4], space[5]]);
    assert_eq!(cmd, command::MEMORY | command::IO | command::BUS_MASTER);
    // Every function behind sees only the bus it was given.
    assert_eq!(m.cfg.read16(bdf(1, 0, 0), reg::VENDOR_ID), 0x1af4);
    assert_eq!(m.cfg.read16(bdf(2, 0, 0), reg::VENDOR_ID), 0xffff);
}

#[test]
fn intx_lines_follow_the_swizzle() {
    let m = machine();
    let (scan, _, _) = scan(&m);
    let line = |at| find(&scan, at).line;
    assert_eq!(line(bdf(0, 1, 0)), Some(1), "device 1 INTA");
    assert_eq!(line(bdf(0, 2, 0)), Some(1), "device 2 INTD: (3 + 2) mod 4");
    assert_eq!(line(bdf(1, 0, 0)), Some(3), "behind the root port at device 3");
    assert_eq!(line(bdf(0, 7, 2)), Some(0), "device 7 INTB: (1 + 7) mod 4");
    assert_eq!(line(bdf(0, 7, 0)), None, "no pin");
}

#[test]
fn bridges_beyond_the_mapped_buses_are_skipped() {
    let m = machine();
    let mut windows = Windows::new(MEM, IO).unwrap();
    let mut problems = Vec::new();
    let scan = enumerate(&m.cfg, 1, &mut windows, is_virtio, |f, p| problems.push((f, p)));
    assert!(problems.contains(&(bdf(0, 3, 0), Problem::NoBusNumber)));
    assert!(scan.functions.iter().all(|f| f.bdf.bus == 0));
    assert_eq!(scan.functions.len(), 4, "the rest of bus 0 is still served");
}

#[test]
fn layouts_modern_legacy_and_broken() {
    let m = machine();
    let (scan, _, _) = scan(&m);
    let net = layout(&m.cfg, &find(&scan, bdf(0, 1, 0))).unwrap();
    assert_eq!(
        net,
        Layout::Modern {
            common: Structure { bar: 4, offset: 0, length: 0x40 },
            notify: Structure { bar: 4, offset: 0x3000, length: 0x10 },
            multiplier: 4,
            isr: Structure { bar: 4, offset: 0x1000, length: 4 },
            device: Some(Structure { bar: 4, offset: 0x2000, length: 0x40 }),
        }
    );
    assert_eq!(layout(&m.cfg, &find(&scan, bdf(0, 2, 0))), Ok(Layout::Legacy { size: 0x40 }));
    assert_eq!(
        layout(&m.cfg, &find(&scan, bdf(0, 7, 0))),
        Err(Problem::CapOutsideBar {
            kind: CapKind::Notify { multiplier: 4 },
            bar: 4,
            offset: 0x3ff8,
            length: 0x10,
            bar_size: 0x4000
        })
    );
}

/// A function with the given capabilities in BAR 4 (and I/O BAR 0).
fn with_caps(caps: &[(u8, u8, u32, u32)], device: u16) -> Result<Layout, Problem> {
    let cfg = FakeConfig::new();
    let mut f = FakeFunction::endpoint(0x1af4, device)
        .bar(0, FakeBar::Io(0x40))
        .bar(4, FakeBar::Mem64 { size: 0x4000, prefetchable: false });
    for (i, &(kind, bar, offset, length)) in caps.iter().enumerate() {
        let extra = (kind == cfg_type::NOTIFY).then_some(4);
        f = f.virtio_cap(0x40 + 0x18 * i, kind, bar, offset, length, extra);
    }
    cfg.add(bdf(0, 1, 0), f);
    let mut windows = Windows::new(MEM, IO).unwrap();
    let scan = enumerate(&cfg, 1, &mut windows, is_virtio, |_, p| panic!("{p:?}"));
    layout(&cfg, &scan.functions[0])
}

#[test]
fn each_capability_is_checked_against_its_bar() {
    use cfg_type::{COMMON, DEVICE, ISR, NOTIFY};
    let good = [(COMMON, 4, 0, 0x38), (NOTIFY, 4, 0x3000, 2), (ISR, 4, 0x1000, 1)];
    assert!(matches!(with_caps(&good, 0x1042), Ok(Layout::Modern { device: None, .. })));
    let missing_isr = &good[..2];
    assert_eq!(with_caps(missing_isr, 0x1042), Err(Problem::MissingCap(CapKind::Isr)));
    let short_common = [(COMMON, 4, 0, 0x30), good[1], good[2]];
    assert_eq!(with_caps(&short_common, 0x1042), Err(Problem::CapTooShort { kind: CapKind::Common, length: 0x30 }));
    let no_bar = [good[0], good[1], (ISR, 2, 0, 1)];
    assert_eq!(with_caps(&no_bar, 0x1042), Err(Problem::CapBarMissing { kind: CapKind::Isr, bar: 2 }));
    let io_bar = [(COMMON, 0, 0, 0x38), good[1], good[2]];
    assert_eq!(with_caps(&io_bar, 0x1042), Err(Problem::CapInIoBar { kind: CapKind::Common, bar: 0 }));
    let past_end = [good[0], good[1], good[2], (DEVICE, 4, 0x3ffc, 8)];
    assert!(matches!(with_caps(&past_end, 0x1042), Err(Problem::CapOutsideBar { kind: CapKind::Device, .. })));
    let wrapping = [good[0], good[1], (ISR, 4, u32::MAX, u32::MAX)];
    assert!(matches!(with_caps(&wrapping, 0x1042), Err(Problem::CapOutsideBar { .. })));
    // No capabilities: legacy for a transitional id, an error for a modern one.
    assert_eq!(with_caps(&[], 0x1001), Ok(Layout::Legacy { size: 0x40 }));
    assert_eq!(with_caps(&[], 0x1042), Err(Problem::MissingCap(CapKind::Common)));
    // A transitional device with its modern interface on is driven modern.
    assert!(matches!(with_caps(&good, 0x1001), Ok(Layout::Modern { .. })));
}

#[test]
fn virtio_types_from_device_and_subsystem_ids() {
    assert_eq!(virtio_type(0x1041, 0), Ok(1));
    assert_eq!(virtio_type(0x1052, 7), Ok(18), "modern: the subsystem id is not used");
    assert_eq!(virtio_type(0x1001, 2), Ok(2));
    assert_eq!(virtio_type(0x1000, 0), Ok(1), "transitional with no subsystem id: the spec's table");
    assert_eq!(virtio_type(0x1010, 0), Err(Problem::UnknownDeviceType { device: 0x1010, subsystem: 0 }));
    assert!(is_virtio(0x1af4, 0x107f) && !is_virtio(0x1af4, 0x1080) && !is_virtio(0x1b36, 0x1041));
}

/// The machine's good devices behind fake BARs, through the transport core.
struct Stack {
    m: Machine,
    scan: Scan,
    net: FakeModern,
    blk: FakeLegacy,
    rng: FakeModern,
    transport: Transport<PciDevice<FakeRegisters>, 16>,
    doorbells: Vec<HeapRegion>,
}

fn stack() -> Stack {
    let m = machine();
    let (scan, _, _) = scan(&m);
    let (mem_bus, io_bus) = (Rc::new(FakeBus::default()), Rc::new(FakeBus::default()));
    let (net, rng) = (FakeModern::new(4), FakeModern::new(4));
    let blk = FakeLegacy::new(2, 0x40);
    let place = |bus: &FakeBus, at: Bdf, bar: usize, base: u64, backend: Rc<dyn Backend>| {
        let b = find(&scan, at).bars[bar].unwrap();
        bus.claim((b.addr - base) as usize, b.size as usize, backend);
    };
    place(&mem_bus, bdf(0, 1, 0), 4, MEM.0, net.backend());
    place(&io_bus, bdf(0, 2, 0), 0, 0, blk.backend());
    place(&mem_bus, bdf(1, 0, 0), 4, MEM.0, rng.backend());
    let apertures = Apertures {
        mem: FakeRegisters::over(mem_bus, MEM.1 as usize),
        mem_base: MEM.0,
        io: FakeRegisters::over(io_bus, 0x1_0000),
        io_base: 0,
    };
    let mut transport = bring_up(&m.cfg, &scan, &apertures, None::<&mut MsiRouting<0>>, |_, _| {}).transport;
    let doorbells = std::vec![HeapRegion::new(4096), HeapRegion::new(4096)];
    for (k, page) in doorbells.iter().enumerate() {
        let doorbell = TransportDoorbell::init(page.memory()).unwrap();
        transport.attach_driver(k, DriverPort { doorbell, dma_window: (0x5000_0000, 0x4_0000) });
    }
    Stack { m, scan, net, blk, rng, transport, doorbells }
}

#[test]
fn the_transport_serves_pci_devices_modern_and_legacy() {
    let mut s = stack();
    let found: Vec<(Location, u32, u32)> =
        s.transport.devices().map(|(_, l, d)| (l, d.device_id(), d.version())).collect();
    assert_eq!(
        found,
        [
            (Location::Pci(bdf(0, 1, 0)), 1, 2),
            (Location::Pci(bdf(0, 2, 0)), 2, 1),
            (Location::Pci(bdf(1, 0, 0)), 4, 2),
            (Location::Pci(bdf(0, 7, 2)), 2, 2),
        ]
    );
    let cmd = s.m.cfg.read16(bdf(0, 2, 0), reg::COMMAND);
    assert_eq!(cmd, command::IO | command::MEMORY | command::BUS_MASTER);

    assert!(s.transport.set_binding(0, Some(Location::Pci(bdf(1, 0, 0)))));
    s.rng.set_config(0, &[0xaa, 0xbb]);
    assert_eq!(s.transport.handle(0, Request::Reset), Reply::Ok);
    assert_eq!(s.rng.status(), 3, "ACKNOWLEDGE | DRIVER");
    assert_eq!(s.transport.handle(0, Request::DriverFeatures { features: 1 << 32 }), Reply::FeaturesOk(true));
    let read = Request::ConfigRead { offset: 0, width: Width::W2 };
    assert_eq!(s.transport.handle(0, read), Reply::ConfigValue { value: 0xbbaa, generation: 0 });
    let setup = Request::QueueSetup { queue: 0, size: 64, desc: 0x5000_0000, avail: 0x5000_0400, used: 0x5000_0800 };
    assert_eq!(s.transport.handle(0, setup), Reply::Ok);
    assert_eq!(s.transport.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
    assert!(s.rng.queue(0).enabled);
    assert_eq!(s.transport.handle(0, Request::QueueNotify { queue: 0 }), Reply::Ok);
    assert_eq!(s.rng.notifies(), [(0, 0)]);

    assert!(s.transport.set_binding(1, Some(Location::Pci(bdf(0, 2, 0)))));
    s.blk.write_bytes(0x14, &2048u64.to_le_bytes());
    let capacity = Request::ConfigRead { offset: 0, width: Width::W8 };
    assert_eq!(s.transport.handle(1, capacity), Reply::ConfigValue { value: 2048, generation: 0 });
    match s.transport.handle(1, Request::DeviceInfo) {
        Reply::DeviceInfo(info) => assert_eq!((info.device_id, info.version, info.vendor_id), (2, 1, 0x1af4)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_shared_intx_line_acknowledges_every_device_on_it() {
    let mut s = stack();
    let lines: Vec<Option<u8>> =
        (0..16).map(|i| s.transport.devices().find(|d| d.0 == i).and_then(|d| d.2.line())).collect();
    // net (00:01.0) and the legacy blk (00:02.0) share line 1.
    assert!(s.transport.set_binding(1, Some(Location::Pci(bdf(0, 2, 0)))));
    let driver = DriverDoorbell::open(s.doorbells[1].memory()).unwrap();
    s.net.raise(1);
    s.blk.write8(sevio_virtio::pci::legacy::ISR_STATUS, 1);
    s.rng.raise(1);
    let notify = s.transport.interrupt_all(|i| lines[i] == Some(1));
    assert_eq!(notify, 1 << 1, "only blk has a driver");
    assert_eq!(driver.take_interrupts(), 1);
    assert_eq!(s.net.isr(), 0, "net acknowledged although unbound (INTx would stay asserted)");
    assert_eq!(s.blk.read8(sevio_virtio::pci::legacy::ISR_STATUS), 0);
    assert_eq!(s.rng.isr(), 1, "rng is on line 3: untouched");
    assert_eq!(s.transport.interrupt_all(|i| lines[i] == Some(1)), 0, "nothing pending: spurious");
}

#[test]
fn a_device_is_reset_when_its_driver_goes_away() {
    let mut s = stack();
    let rng = Location::Pci(bdf(1, 0, 0));
    assert!(s.transport.set_binding(0, Some(rng)));
    s.transport.handle(0, Request::Reset);
    s.transport.handle(0, Request::DriverFeatures { features: 1 << 32 });
    let setup = Request::QueueSetup { queue: 0, size: 64, desc: 0x5000_0000, avail: 0x5000_0400, used: 0x5000_0800 };
    s.transport.handle(0, setup);
    s.transport.handle(0, Request::QueueReady { queue: 0 });
    assert_eq!(s.transport.handle(0, Request::DriverOk), Reply::Ok);
    assert_eq!(s.rng.status(), 1 | 2 | 4 | 8);
    assert!(s.transport.set_binding(0, None));
    assert_eq!(s.rng.status(), 0);
    assert!(!s.rng.queue(0).enabled);
    let _ = &s.scan;
}

/// What bring-up did, in order: config-space COMMAND writes and device
/// status writes, each with the function it went to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Command(Bdf, u16),
    Status(Bdf, u8),
}

type Steps = Rc<RefCell<Vec<Step>>>;

/// The fake config space, recording COMMAND writes.
struct RecordingConfig<'a> {
    inner: &'a FakeConfig,
    steps: Steps,
}

impl ConfigSpace for RecordingConfig<'_> {
    fn read8(&self, f: Bdf, offset: u16) -> u8 {
        self.inner.read8(f, offset)
    }
    fn read16(&self, f: Bdf, offset: u16) -> u16 {
        self.inner.read16(f, offset)
    }
    fn read32(&self, f: Bdf, offset: u16) -> u32 {
        self.inner.read32(f, offset)
    }
    fn write8(&self, f: Bdf, offset: u16, value: u8) {
        self.inner.write8(f, offset, value)
    }
    fn write16(&self, f: Bdf, offset: u16, value: u16) {
        if offset == reg::COMMAND {
            self.steps.borrow_mut().push(Step::Command(f, value));
        }
        self.inner.write16(f, offset, value)
    }
    fn write32(&self, f: Bdf, offset: u16, value: u32) {
        self.inner.write32(f, offset, value)
    }
}

/// A device's registers, recording writes of its status byte.
struct RecordingDevice {
    inner: Rc<dyn Backend>,
    bdf: Bdf,
    status_at: usize,
    steps: Steps,
}

impl Backend for RecordingDevice {
    fn read(&self, offset: usize, width: usize) -> u64 {
        self.inner.read(offset, width)
    }
    fn write(&self, offset: usize, width: usize, value: u64) {
        if offset == self.status_at {
            self.steps.borrow_mut().push(Step::Status(self.bdf, value as u8));
        }
        self.inner.write(offset, width, value)
    }
}

#[test]
fn bring_up_resets_each_device_before_it_may_master_the_bus() {
    let m = machine();
    let (scan, _, _) = scan(&m);
    let steps = Steps::default();
    let (mem_bus, io_bus) = (Rc::new(FakeBus::default()), Rc::new(FakeBus::default()));
    let (net, blk) = (FakeModern::new(4), FakeLegacy::new(2, 0x40));
    let recorded = |inner, bdf, status_at| -> Rc<dyn Backend> {
        Rc::new(RecordingDevice { inner, bdf, status_at, steps: steps.clone() })
    };
    let (net_at, blk_at) = (bdf(0, 1, 0), bdf(0, 2, 0));
    let net_bar = find(&scan, net_at).bars[4].unwrap();
    mem_bus.claim(
        (net_bar.addr - MEM.0) as usize,
        net_bar.size as usize,
        recorded(net.backend(), net_at, common::DEVICE_STATUS),
    );
    let blk_bar = find(&scan, blk_at).bars[0].unwrap();
    let status = sevio_virtio::pci::legacy::DEVICE_STATUS;
    io_bus.claim(blk_bar.addr as usize, blk_bar.size as usize, recorded(blk.backend(), blk_at, status));
    let apertures = Apertures {
        mem: FakeRegisters::over(mem_bus, MEM.1 as usize),
        mem_base: MEM.0,
        io: FakeRegisters::over(io_bus, 0x1_0000),
        io_base: 0,
    };
    let cfg = RecordingConfig { inner: &m.cfg, steps: steps.clone() };
    let mut skipped = Vec::new();
    let devices = bring_up::<_, _, 16, 0>(&cfg, &scan, &apertures, None, |at, p| skipped.push((at, p)));

    let of = |at: Bdf| -> Vec<Step> {
        steps
            .borrow()
            .iter()
            .filter(|s| matches!(s, Step::Command(b, _) | Step::Status(b, _) if *b == at))
            .cloned()
            .collect()
    };
    let (mem, io, master) = (command::MEMORY, command::IO, command::BUS_MASTER);
    assert_eq!(
        of(net_at),
        [Step::Command(net_at, mem), Step::Status(net_at, 0), Step::Command(net_at, mem | master)],
        "decoding on, reset, then bus mastering"
    );
    assert_eq!(
        of(blk_at),
        [Step::Command(blk_at, io | mem), Step::Status(blk_at, 0), Step::Command(blk_at, io | mem | master)]
    );
    // The console's notify capability lies past its BAR: probed, found
    // unusable, turned off; never reset, never a bus master.
    let console = bdf(0, 7, 0);
    assert_eq!(of(console), [Step::Command(console, command::INTX_DISABLE)]);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0, console);
    let found: Vec<Location> = devices.transport.devices().map(|(_, at, _)| at).collect();
    assert_eq!(found.len(), 4, "net, blk, rng, blk at 07.2: {found:?}");
    let net_index = devices.transport.devices().find(|d| d.1 == Location::Pci(net_at)).unwrap().0;
    assert_eq!(devices.lines[net_index], Some(1), "net's INTx line kept at its transport index");
}

#[test]
fn problems_read_as_log_lines() {
    let outside = Problem::CapOutsideBar { kind: CapKind::Isr, bar: 4, offset: 0x3ff8, length: 0x10, bar_size: 0x4000 };
    assert_eq!(std::format!("{outside}"), "capability Isr points outside BAR 4: 0x3ff8 + 0x10 > 0x4000");
    assert_eq!(
        std::format!("{}: {}", crate::BdfText(bdf(1, 0x1f, 7)), Problem::AllOnes),
        "01:1f.7: config space reads all-ones"
    );
}

/// xorshift64*: deterministic noise for the garbage test.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn noise_bars(n: &mut Noise) -> [FakeBar; 6] {
    core::array::from_fn(|_| match n.below(16) {
        0..4 => FakeBar::None,
        4..8 => FakeBar::Mem32(1 << (4 + n.below(18))),
        8..10 => FakeBar::Io(1 << (2 + n.below(8))),
        10..15 => {
            let bits = if n.below(8) == 0 { 40 } else { 16 };
            FakeBar::Mem64 { size: 1 << (4 + n.below(bits)), prefetchable: true }
        }
        _ => FakeBar::Raw(n.next() as u32),
    })
}

/// A function from noise: either config bytes that are noise throughout,
/// or a virtio function whose BARs and capabilities are noise (any BAR,
/// offsets and lengths near and past the BAR sizes).
fn garbage(n: &mut Noise) -> FakeFunction {
    let bars = noise_bars(n);
    if n.below(4) == 0 {
        let mut space = [0u8; 256];
        space.iter_mut().for_each(|b| *b = n.next() as u8);
        return FakeFunction::raw(space, bars);
    }
    let device = 0x1000 + n.below(0x80) as u16;
    let mut bars = bars;
    if n.below(4) != 0 {
        bars[4] = FakeBar::Mem64 { size: MODERN_BAR_SIZE as u64, prefetchable: true };
        bars[5] = FakeBar::Upper(MODERN_BAR_SIZE as u64);
    }
    let mut f = FakeFunction::raw([0; 256], bars).pin(n.below(6) as u8).subsystem(n.below(30) as u16);
    let mut space = f.clone().bytes();
    space[0..4].copy_from_slice(&(0x1af4 | (device as u32) << 16).to_le_bytes());
    f = FakeFunction::raw(space, bars);
    // FakeModern's layout, some fields replaced by noise, some caps dropped.
    let mut caps = [
        [cfg_type::COMMON as u32, 4, 0, 0x40, 0],
        [cfg_type::ISR as u32, 4, 0x1000, 4, 0],
        [cfg_type::DEVICE as u32, 4, 0x2000, 0x40, 0],
        [cfg_type::NOTIFY as u32, 4, 0x3000, 0x10, 4],
        [cfg_type::PCI as u32, 0, 0, 0, 0],
    ];
    for _ in 0..n.below(4) {
        let field = &mut caps[n.below(5) as usize][n.below(5) as usize];
        *field = match n.below(4) {
            0 => n.next() as u32,
            1 => *field ^ (1 << n.below(32)),
            2 => n.below(8) as u32,
            _ => field.wrapping_add(n.below(0x4000) as u32),
        };
    }
    let keep = n.below(1 << 5);
    for (i, [kind, bar, offset, length, extra]) in caps.into_iter().enumerate() {
        if keep & (1 << i) == 0 || n.below(3) != 0 {
            let extra = matches!(kind as u8, cfg_type::NOTIFY | cfg_type::PCI).then_some(extra);
            f = f.virtio_cap(0x40 + 0x18 * i, kind as u8, bar as u8, offset, length, extra);
        }
    }
    f
}

#[test]
fn garbage_config_spaces_never_escape_the_windows() {
    let mut n = Noise(0x5e71_0b1c_0000_0001);
    for _ in 0..300 {
        let cfg = FakeConfig::new();
        for device in 0..4 + n.below(6) as u8 {
            let id = cfg.add(bdf(0, device, 0), garbage(&mut n));
            if n.below(4) == 0 {
                cfg.add_behind(id, 0, 0, garbage(&mut n));
            }
        }
        let mut windows = Windows::new(MEM, IO).unwrap();
        let scan = enumerate(&cfg, 4, &mut windows, is_virtio, |_, _| {});
        let (mem, _) = FakeRegisters::memory(MEM.1 as usize);
        let (io, _) = FakeRegisters::memory(0x1_0000);
        let apertures = Apertures { mem, mem_base: MEM.0, io, io_base: 0 };
        let mut placed: Vec<(Space, u64, u64)> = Vec::new();
        for f in &scan.functions {
            for bar in f.bars.iter().flatten() {
                let (base, size) = if bar.space == Space::Io { IO } else { MEM };
                assert!(bar.addr >= base && bar.addr - base + bar.size <= size, "{bar:?}");
                assert!(
                    placed.iter().all(|&(s, a, l)| s != bar.space || bar.addr >= a + l || a >= bar.addr + bar.size)
                );
                placed.push((bar.space, bar.addr, bar.size));
            }
            if let Ok(Layout::Modern { common, notify, isr, device, .. }) = layout(&cfg, f) {
                for s in [Some(common), Some(notify), Some(isr), device].into_iter().flatten() {
                    let bar = f.bars[s.bar as usize].unwrap();
                    assert!(bar.space == Space::Memory && s.offset + s.length <= bar.size, "{s:?} in {bar:?}");
                }
            }
            if let Ok(mut device) = PciDevice::probe(&cfg, f, &apertures) {
                // Every register access stays inside the mapped windows
                // (the fake memory would refuse otherwise) and nothing
                // panics, whatever the device then reads back.
                device.reset_and_acknowledge();
                let _ = device.device_features();
                let _ = device.setup_queue(0, RingPlacement::new(4, 0x1000, 0x1040, 0x1080), RingFormat::Split);
                let _ = device.config_read(0, 8);
                device.notify(0);
                let _ = device.take_interrupt();
            }
        }
    }
}

/// Two modern functions with MSI-X tables in their BAR 1 (as QEMU's):
/// net (two queues, 4 table entries) and blk (1 entry); the frame has
/// 64 SPIs from INTID 80, the PD was given 4.
struct MsixMachine {
    cfg: FakeConfig,
    scan: Scan,
    net: FakeModern,
    blk: FakeModern,
    net_table: FakeRegisters,
    apertures: Apertures<FakeRegisters>,
}

fn msix_machine() -> MsixMachine {
    let cfg = FakeConfig::new();
    cfg.add(bdf(0, 0, 0), FakeFunction::new_host_bridge());
    cfg.add(bdf(0, 1, 0), modern(0x1041).msix_table(4, 1, 0));
    cfg.add(bdf(0, 2, 0), modern(0x1042).msix_table(1, 1, 0).pin(2));
    let mut windows = Windows::new(MEM, IO).unwrap();
    let scan = enumerate(&cfg, 4, &mut windows, is_virtio, |_, _| {});
    let mem_bus = Rc::new(FakeBus::default());
    let (net, blk) = (FakeModern::new(4), FakeModern::new(4));
    let mut tables = Vec::new();
    for (at, device) in [(bdf(0, 1, 0), &net), (bdf(0, 2, 0), &blk)] {
        let f = find(&scan, at);
        let (table, memory) = FakeRegisters::memory(f.bars[1].unwrap().size as usize);
        mem_bus.claim((f.bars[1].unwrap().addr - MEM.0) as usize, 0x1000, memory);
        mem_bus.claim((f.bars[4].unwrap().addr - MEM.0) as usize, MODERN_BAR_SIZE, device.backend());
        tables.push(table);
    }
    let apertures = Apertures {
        mem: FakeRegisters::over(mem_bus, MEM.1 as usize),
        mem_base: MEM.0,
        io: FakeRegisters::memory(0x1_0000).0,
        io_base: 0,
    };
    MsixMachine { cfg, scan, net, blk, net_table: tables.swap_remove(0), apertures }
}

fn frame() -> crate::MsiFrame {
    crate::MsiFrame::from_typer(0x0802_0000, 80 << 16 | 64).unwrap()
}

#[test]
fn bring_up_gives_each_msix_function_a_vector_for_configuration_and_each_queue() {
    let m = msix_machine();
    m.net.map_vectors(4);
    m.blk.map_vectors(1);
    let mut routing: MsiRouting<4> = MsiRouting::new(frame());
    let devices = bring_up::<_, _, 16, 4>(&m.cfg, &m.scan, &m.apertures, Some(&mut routing), |_, _| {});
    // net: configuration and its two queues, INTIDs 80..=82, to the doorbell.
    let t = &m.net_table;
    for e in 0..3 {
        assert_eq!([t.read32(e * 16), t.read32(e * 16 + 8), t.read32(e * 16 + 12)], [0x0802_0040, 80 + e as u32, 0]);
    }
    assert_eq!(t.read32(3 * 16 + 12), 1, "the fourth entry stays masked");
    assert_eq!(m.net.config_vector(), 0);
    let control = m.cfg.read16(bdf(0, 1, 0), 0x9a);
    assert_eq!(control & 0xc000, 0x8000, "MSI-X on, function not masked");
    // blk: one entry for everything, the last SPI.
    assert_eq!(m.blk.config_vector(), 0);
    assert_eq!(routing.free(), 0);
    let owners: Vec<Option<(usize, u16)>> = (0..4).map(|i| routing.owner(i).map(|v| (v.index, v.entry))).collect();
    let (net_i, blk_i) = (0, 1);
    assert_eq!(owners, [Some((net_i, 0)), Some((net_i, 1)), Some((net_i, 2)), Some((blk_i, 0))]);
    // Neither is on INTx any more.
    assert_eq!(devices.lines[..2], [None, None]);
}

#[test]
fn without_vectors_to_spare_or_a_device_that_refuses_them_functions_stay_on_intx() {
    let m = msix_machine();
    m.net.map_vectors(0); // refuses configuration's vector
    m.blk.map_vectors(1);
    let mut routing: MsiRouting<2> = MsiRouting::new(frame());
    let devices = bring_up::<_, _, 16, 2>(&m.cfg, &m.scan, &m.apertures, Some(&mut routing), |_, _| {});
    assert_eq!(m.cfg.read16(bdf(0, 1, 0), 0x9a) & 0x8000, 0, "net's MSI-X turned off again");
    assert!((0..4).all(|e| m.net_table.read32(e * 16 + 12) == 1), "its entries masked");
    assert_eq!(devices.lines[0], find(&m.scan, bdf(0, 1, 0)).line, "net on its INTx line");
    assert!(devices.lines[0].is_some());
    // Its SPIs went back: blk got the first one.
    assert_eq!(routing.owner(0).map(|v| (v.index, v.entry)), Some((1, 0)));
    assert_eq!(devices.lines[1], None);

    // No frame: everyone on INTx, MSI-X left off.
    let m = msix_machine();
    m.net.map_vectors(4);
    let devices = bring_up::<_, _, 16, 0>(&m.cfg, &m.scan, &m.apertures, None, |_, _| {});
    let lines: Vec<Option<u8>> = [bdf(0, 1, 0), bdf(0, 2, 0)].iter().map(|&at| find(&m.scan, at).line).collect();
    assert_eq!(devices.lines[..2], lines[..]);
    assert!(lines.iter().all(Option::is_some));
    assert_eq!(m.cfg.read16(bdf(0, 1, 0), 0x9a) & 0x8000, 0);
    assert_eq!(m.net.config_vector(), NO_VECTOR);
}

#[test]
fn a_table_outside_its_bar_is_refused() {
    let f = Function {
        bdf: bdf(0, 1, 0),
        vendor: 0x1af4,
        device: 0x1041,
        bars: [
            None,
            Some(crate::Bar { space: Space::Memory, wide: false, prefetchable: false, addr: MEM.0, size: 0x1000 }),
            None,
            None,
            None,
            None,
        ],
        line: None,
    };
    let cap = |entries, bar, offset| sevio_virtio::pci::MsixCap { at: 0x98, entries, bar, offset };
    assert_eq!(crate::msix::check_table(&f, &cap(256, 1, 0)), Ok(()), "exactly the BAR");
    let past = crate::msix::check_table(&f, &cap(256, 1, 8));
    assert_eq!(past, Err(crate::msix::TableError::OutsideBar(1, 8, 0x1000)));
    assert!(std::format!("{}", past.unwrap_err()).contains("lies outside BAR1"));
    assert_eq!(crate::msix::check_table(&f, &cap(1, 0, 0)), Err(crate::msix::TableError::NotInMemoryBar(0)));
}
