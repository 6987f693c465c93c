//! Test doubles: register windows over plain or device-like backends, a
//! config space with a real topology (functions behind a bridge answer
//! at whatever secondary bus number the bridge was given), BAR sizing
//! semantics, and modern/legacy virtio register blocks.

use crate::config_space::ConfigSpace;
use crate::regs::Registers;
use sevio_transport_protocol::Bdf;
use sevio_virtio::pci::common::NO_VECTOR;
use sevio_virtio::pci::{CAP_POINTER, STATUS_REG, cfg_type, common, legacy};
use std::cell::RefCell;
use std::rc::Rc;
use std::vec;
use std::vec::Vec;

/// What sits behind a [`FakeRegisters`] window.
pub trait Backend {
    fn read(&self, offset: usize, width: usize) -> u64;
    fn write(&self, offset: usize, width: usize, value: u64);
}

/// A window onto a backend.
#[derive(Clone)]
pub struct FakeRegisters {
    backend: Rc<dyn Backend>,
    base: usize,
    size: usize,
}

impl FakeRegisters {
    pub fn over(backend: Rc<dyn Backend>, size: usize) -> Self {
        FakeRegisters { backend, base: 0, size }
    }

    /// Plain memory of `size` bytes, and the memory to inspect.
    pub fn memory(size: usize) -> (Self, Rc<Memory>) {
        let mem = Rc::new(Memory { bytes: RefCell::new(vec![0; size]), writes: RefCell::new(Vec::new()) });
        (Self::over(mem.clone(), size), mem)
    }

    fn read(&self, offset: usize, width: usize) -> u64 {
        match offset.checked_add(width) {
            Some(end) if end <= self.size => self.backend.read(self.base + offset, width),
            _ => u64::MAX,
        }
    }

    fn write(&self, offset: usize, width: usize, value: u64) {
        if offset.checked_add(width).is_some_and(|end| end <= self.size) {
            self.backend.write(self.base + offset, width, value)
        }
    }
}

impl Registers for FakeRegisters {
    fn size(&self) -> usize {
        self.size
    }
    fn window(&self, offset: usize, size: usize) -> Option<Self> {
        (offset.checked_add(size)? <= self.size).then(|| FakeRegisters {
            base: self.base + offset,
            size,
            ..self.clone()
        })
    }
    fn read8(&self, offset: usize) -> u8 {
        self.read(offset, 1) as u8
    }
    fn read16(&self, offset: usize) -> u16 {
        self.read(offset, 2) as u16
    }
    fn read32(&self, offset: usize) -> u32 {
        self.read(offset, 4) as u32
    }
    fn write8(&self, offset: usize, value: u8) {
        self.write(offset, 1, value as u64)
    }
    fn write16(&self, offset: usize, value: u16) {
        self.write(offset, 2, value as u64)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.write(offset, 4, value as u64)
    }
}

fn get(bytes: &[u8], offset: usize, width: usize) -> u64 {
    (0..width).fold(0, |v, i| v | (bytes[offset + i] as u64) << (8 * i))
}

fn put(bytes: &mut [u8], offset: usize, width: usize, value: u64) {
    for i in 0..width {
        bytes[offset + i] = (value >> (8 * i)) as u8;
    }
}

/// Plain little-endian memory that logs writes.
pub struct Memory {
    bytes: RefCell<Vec<u8>>,
    writes: RefCell<Vec<(usize, u64)>>,
}

impl Memory {
    pub fn writes(&self) -> Vec<(usize, u64)> {
        self.writes.borrow().clone()
    }
}

impl Backend for Memory {
    fn read(&self, offset: usize, width: usize) -> u64 {
        get(&self.bytes.borrow(), offset, width)
    }
    fn write(&self, offset: usize, width: usize, value: u64) {
        self.writes.borrow_mut().push((offset, value));
        put(&mut self.bytes.borrow_mut(), offset, width, value)
    }
}

/// Several backends at bus addresses: the PCI memory window with the
/// devices' BARs in it. Unclaimed addresses read all-ones.
#[derive(Default)]
pub struct FakeBus {
    claims: RefCell<Vec<Claim>>,
}

/// `(offset, size, backend)`.
type Claim = (usize, usize, Rc<dyn Backend>);

impl FakeBus {
    pub fn claim(&self, offset: usize, size: usize, backend: Rc<dyn Backend>) {
        self.claims.borrow_mut().push((offset, size, backend));
    }
    fn find(&self, offset: usize) -> Option<(usize, Rc<dyn Backend>)> {
        let claims = self.claims.borrow();
        let (start, _, b) = claims.iter().find(|(s, n, _)| (*s..s + n).contains(&offset))?;
        Some((offset - start, b.clone()))
    }
}

impl Backend for FakeBus {
    fn read(&self, offset: usize, width: usize) -> u64 {
        self.find(offset).map_or(u64::MAX >> (64 - 8 * width), |(o, b)| b.read(o, width))
    }
    fn write(&self, offset: usize, width: usize, value: u64) {
        if let Some((o, b)) = self.find(offset) {
            b.write(o, width, value)
        }
    }
}

// ---------------------------------------------------------------- config

/// What a fake BAR register is.
#[derive(Copy, Clone, Debug)]
pub enum FakeBar {
    None,
    Io(u32),
    Mem32(u32),
    Mem64 {
        size: u64,
        prefetchable: bool,
    },
    /// Reads back exactly this after any write.
    Raw(u32),
    /// The upper half of a 64-bit BAR.
    Upper(u64),
}

/// One function's config space and BARs.
#[derive(Clone)]
pub struct FakeFunction {
    space: Vec<u8>,
    bars: [FakeBar; 6],
    all_ones: bool,
    last_cap: Option<usize>,
}

impl FakeFunction {
    fn new(vendor: u16, device: u16, header: u8, class: u32) -> Self {
        let mut space = vec![0u8; 256];
        put(&mut space, 0, 2, vendor as u64);
        put(&mut space, 2, 2, device as u64);
        put(&mut space, 8, 4, (class as u64) << 8);
        space[0x0e] = header;
        FakeFunction { space, bars: [FakeBar::None; 6], all_ones: false, last_cap: None }
    }

    pub fn endpoint(vendor: u16, device: u16) -> Self {
        Self::new(vendor, device, 0, 0xff_0000)
    }

    /// A function with these config bytes and BAR registers.
    pub fn raw(space: [u8; 256], bars: [FakeBar; 6]) -> Self {
        let f = FakeFunction { space: space.to_vec(), bars: [FakeBar::None; 6], all_ones: false, last_cap: None };
        bars.iter()
            .enumerate()
            .fold(f, |f, (i, b)| if matches!(f.bars[i], FakeBar::Upper(_)) { f } else { f.bar(i, *b) })
    }

    /// The config bytes.
    pub fn bytes(self) -> [u8; 256] {
        self.space.try_into().unwrap_or([0; 256])
    }

    /// A host bridge (type 0, class 0x0600), as QEMU's at 00:00.0.
    pub fn new_host_bridge() -> Self {
        let mut f = Self::new(0x1b36, 0x0008, 0, 0x06_0000);
        put(&mut f.space, 4, 2, 0x0106);
        f
    }

    /// A PCIe root port as QEMU has it (with an MSI-X BAR 0).
    pub fn bridge() -> Self {
        Self::new(0x1b36, 0x000c, 1, 0x06_0400).bar(0, FakeBar::Mem32(0x1000))
    }

    pub fn bar(mut self, i: usize, bar: FakeBar) -> Self {
        self.bars[i] = bar;
        if let (FakeBar::Mem64 { size, .. }, true) = (bar, i < 5) {
            self.bars[i + 1] = FakeBar::Upper(size);
        }
        let flags = match bar {
            FakeBar::Io(_) => 1,
            FakeBar::Mem64 { prefetchable, .. } => 4 | if prefetchable { 8 } else { 0 },
            _ => 0,
        };
        put(&mut self.space, 0x10 + 4 * i, 4, flags);
        self
    }

    pub fn multi(mut self) -> Self {
        self.space[0x0e] |= 0x80;
        self
    }

    pub fn pin(mut self, pin: u8) -> Self {
        self.space[0x3d] = pin;
        self
    }

    pub fn subsystem(mut self, id: u16) -> Self {
        put(&mut self.space, 0x2e, 2, id as u64);
        self
    }

    /// Everything but the id dword reads all-ones.
    pub fn all_ones(mut self) -> Self {
        self.all_ones = true;
        self
    }

    /// Append a capability (`bytes` from its id byte) at `at`.
    pub fn cap(mut self, at: usize, bytes: &[u8]) -> Self {
        self.space[at..at + bytes.len()].copy_from_slice(bytes);
        self.space[at + 1] = 0;
        match self.last_cap {
            None => {
                self.space[STATUS_REG] |= 0x10;
                self.space[CAP_POINTER] = at as u8;
            }
            Some(prev) => self.space[prev + 1] = at as u8,
        }
        self.last_cap = Some(at);
        self
    }

    /// A virtio vendor capability.
    pub fn virtio_cap(self, at: usize, kind: u8, bar: u8, offset: u32, length: u32, extra: Option<u32>) -> Self {
        let mut b = vec![0x09, 0, if extra.is_some() { 20 } else { 16 }, kind, bar, 0, 0, 0];
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&length.to_le_bytes());
        if let Some(x) = extra {
            b.extend_from_slice(&x.to_le_bytes());
        }
        self.cap(at, &b)
    }

    /// The MSI-X capability of [`FakeFunction::modern_caps`] (at 0x98)
    /// given a table of `entries` at `offset` in BAR `bar`, as QEMU's
    /// virtio-pci has (its BAR 1).
    pub fn msix_table(mut self, entries: u16, bar: u8, offset: u32) -> Self {
        put(&mut self.space, 0x9a, 2, (entries - 1) as u64);
        put(&mut self.space, 0x9c, 4, (offset | bar as u32) as u64);
        put(&mut self.space, 0xa0, 4, ((offset + 0x800) | bar as u32) as u64);
        self
    }

    /// The capabilities of [`FakeModern`]'s layout, in BAR `bar`, behind
    /// an MSI-X capability (id 0x11) as QEMU's.
    pub fn modern_caps(self, bar: u8) -> Self {
        self.cap(0x98, &[0x11, 0, 0, 0])
            .virtio_cap(0x84, cfg_type::COMMON, bar, 0, 0x40, None)
            .virtio_cap(0x70, cfg_type::ISR, bar, 0x1000, 4, None)
            .virtio_cap(0x60, cfg_type::DEVICE, bar, 0x2000, 0x40, None)
            .virtio_cap(0x48, cfg_type::NOTIFY, bar, 0x3000, 0x10, Some(4))
    }
}

struct Node {
    /// 0: the root bus; s > 0: behind the bridge whose `child` is s.
    segment: usize,
    device: u8,
    function: u8,
    f: FakeFunction,
    child: Option<usize>,
}

/// A config space with a topology.
#[derive(Default)]
pub struct FakeConfig {
    nodes: RefCell<Vec<Node>>,
}

impl FakeConfig {
    pub fn new() -> Self {
        Self::default()
    }

    /// Put `f` on the root bus at `bdf` (its bus must be 0); returns a
    /// handle for [`add_behind`](Self::add_behind).
    pub fn add(&self, bdf: Bdf, f: FakeFunction) -> usize {
        assert_eq!(bdf.bus, 0, "use add_behind for other buses");
        self.insert(0, bdf.device, bdf.function, f)
    }

    /// Put `f` at `device.function` on the secondary bus of bridge `parent`.
    pub fn add_behind(&self, parent: usize, device: u8, function: u8, f: FakeFunction) -> usize {
        let child = {
            let mut nodes = self.nodes.borrow_mut();
            let count = nodes.len();
            *nodes[parent].child.get_or_insert(count + 1000)
        };
        self.insert(child, device, function, f)
    }

    fn insert(&self, segment: usize, device: u8, function: u8, f: FakeFunction) -> usize {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node { segment, device, function, f, child: None });
        nodes.len() - 1
    }

    fn bus_of(nodes: &[Node], segment: usize, depth: usize) -> Option<u8> {
        if segment == 0 {
            return Some(0);
        }
        let bridge = nodes.iter().find(|n| n.child == Some(segment))?;
        let parent_bus = Self::bus_of(nodes, bridge.segment, depth + 1).filter(|_| depth < 8)?;
        let (primary, secondary) = (bridge.f.space[0x18], bridge.f.space[0x19]);
        (secondary != 0 && primary == parent_bus).then_some(secondary)
    }

    fn node(&self, f: Bdf) -> Option<usize> {
        let nodes = self.nodes.borrow();
        nodes.iter().position(|n| {
            n.device == f.device && n.function == f.function && Self::bus_of(&nodes, n.segment, 0) == Some(f.bus)
        })
    }

    /// The programmed config space of the node at `f` (test inspection).
    pub fn space(&self, handle: usize) -> Vec<u8> {
        self.nodes.borrow()[handle].f.space.clone()
    }

    fn read(&self, f: Bdf, offset: u16, width: usize) -> u64 {
        let all = u64::MAX >> (64 - 8 * width);
        let Some(i) = self.node(f) else { return all };
        let nodes = self.nodes.borrow();
        let n = &nodes[i].f;
        let offset = offset as usize;
        if offset + width > 256 || (n.all_ones && offset >= 4) {
            return all;
        }
        get(&n.space, offset, width)
    }

    fn write(&self, f: Bdf, offset: u16, width: usize, value: u64) {
        let Some(i) = self.node(f) else { return };
        let mut nodes = self.nodes.borrow_mut();
        let n = &mut nodes[i].f;
        let offset = offset as usize;
        let header = n.space[0x0e] & 0x7f;
        let bar_count = if header == 1 { 2 } else { 6 };
        let bar = offset.wrapping_sub(0x10) / 4;
        if (0x10..0x10 + 4 * bar_count).contains(&offset) && width == 4 {
            let old = get(&n.space, offset, 4) as u32;
            let new = match n.bars[bar] {
                FakeBar::None => 0,
                FakeBar::Io(size) => (value as u32 & !(size - 1) & !3) | 1,
                FakeBar::Mem32(size) => value as u32 & !(size - 1) & !0xf | (old & 0xf),
                FakeBar::Mem64 { size, .. } => value as u32 & !(size as u32).wrapping_sub(1) & !0xf | (old & 0xf),
                FakeBar::Upper(size) => value as u32 & !((size - 1) >> 32) as u32,
                FakeBar::Raw(raw) => raw,
            };
            put(&mut n.space, offset, 4, new as u64);
            return;
        }
        // MSI-X Message Control's Enable and Function Mask bits (of the
        // capability msix_table writes, at 0x98).
        let msix_control = n.space[0x98] == 0x11 && offset == 0x9a && width == 2;
        if msix_control {
            let kept = get(&n.space, offset, 2) & 0x3fff;
            put(&mut n.space, offset, 2, kept | value & 0xc000);
            return;
        }
        let writable = (0x04..0x06).contains(&offset)
            || (header == 1 && (0x18..0x34).contains(&offset))
            || (0x3c..0x3d).contains(&offset);
        if writable && offset + width <= 256 {
            put(&mut n.space, offset, width, value);
        }
    }
}

impl ConfigSpace for FakeConfig {
    fn read8(&self, f: Bdf, offset: u16) -> u8 {
        self.read(f, offset, 1) as u8
    }
    fn read16(&self, f: Bdf, offset: u16) -> u16 {
        self.read(f, offset, 2) as u16
    }
    fn read32(&self, f: Bdf, offset: u16) -> u32 {
        self.read(f, offset, 4) as u32
    }
    fn write8(&self, f: Bdf, offset: u16, value: u8) {
        self.write(f, offset, 1, value as u64)
    }
    fn write16(&self, f: Bdf, offset: u16, value: u16) {
        self.write(f, offset, 2, value as u64)
    }
    fn write32(&self, f: Bdf, offset: u16, value: u32) {
        self.write(f, offset, 4, value as u64)
    }
}

// ---------------------------------------------------------------- modern

#[derive(Copy, Clone, Debug, Default)]
pub struct FakeQueue {
    pub max: u16,
    pub size: u16,
    pub enabled: bool,
    pub notify_off: u16,
    pub desc: u64,
    pub driver: u64,
    pub device: u64,
    /// queue_msix_vector.
    pub vector: u16,
}

/// A queue as reset leaves it: every field cleared, size its maximum, no
/// MSI-X vector.
fn reset_queue(q: &FakeQueue) -> FakeQueue {
    FakeQueue { max: q.max, size: q.max, notify_off: q.notify_off, vector: NO_VECTOR, ..Default::default() }
}

#[derive(Default)]
struct ModernState {
    features: u64,
    device_select: u32,
    driver_select: u32,
    driver_features: u64,
    status: u8,
    refuse_features_ok: bool,
    queue_select: u16,
    queues: Vec<FakeQueue>,
    isr: u8,
    config: Vec<u8>,
    generation: u8,
    generation_bumps: u32,
    notifies: Vec<(usize, u16)>,
    config_widths: Vec<usize>,
    /// MSI-X vectors the device maps (below this); QEMU refuses others
    /// with NO_VECTOR.
    msix_entries: u16,
    /// Refuse every queue vector (while accepting configuration's).
    refuse_queue_vectors: bool,
    config_vector: u16,
}

/// A modern virtio device's BAR: common config at 0 (0x40 bytes), ISR at
/// 0x1000, device config at 0x2000 (0x40 bytes), notify at 0x3000 (0x10
/// bytes, queue q has queue_notify_off q), 0x4000 bytes in all.
#[derive(Clone)]
pub struct FakeModern {
    state: Rc<RefCell<ModernState>>,
    pub multiplier: u32,
}

pub const MODERN_BAR_SIZE: usize = 0x4000;

impl FakeModern {
    pub fn new(multiplier: u32) -> Self {
        let queues =
            (0..2).map(|q| reset_queue(&FakeQueue { max: 256, notify_off: q, ..Default::default() })).collect();
        let state = ModernState {
            features: 1 << 32 | 1 << 28 | 1 << 9,
            queues,
            config: vec![0; 0x40],
            config_vector: NO_VECTOR,
            ..Default::default()
        };
        FakeModern { state: Rc::new(RefCell::new(state)), multiplier }
    }

    pub fn backend(&self) -> Rc<dyn Backend> {
        Rc::new(self.clone())
    }

    /// (common, notify, isr, device) windows.
    pub fn windows(&self) -> (FakeRegisters, FakeRegisters, FakeRegisters, FakeRegisters) {
        let bar = FakeRegisters::over(self.backend(), MODERN_BAR_SIZE);
        (
            bar.window(0, 0x40).unwrap(),
            bar.window(0x3000, 0x10).unwrap(),
            bar.window(0x1000, 4).unwrap(),
            bar.window(0x2000, 0x40).unwrap(),
        )
    }

    pub fn features(&self) -> u64 {
        self.state.borrow().features
    }
    pub fn driver_features(&self) -> u64 {
        self.state.borrow().driver_features
    }
    pub fn refuse_features_ok(&self) {
        self.state.borrow_mut().refuse_features_ok = true;
    }
    pub fn queue(&self, q: usize) -> FakeQueue {
        self.state.borrow().queues[q]
    }
    pub fn set_notify_off(&self, q: usize, off: u16) {
        self.state.borrow_mut().queues[q].notify_off = off;
    }
    pub fn notifies(&self) -> Vec<(usize, u16)> {
        self.state.borrow().notifies.clone()
    }
    pub fn raise(&self, isr: u8) {
        self.state.borrow_mut().isr |= isr;
    }
    pub fn isr(&self) -> u8 {
        self.state.borrow().isr
    }
    pub fn status(&self) -> u8 {
        self.state.borrow().status
    }
    pub fn set_config(&self, offset: usize, bytes: &[u8]) {
        self.state.borrow_mut().config[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    pub fn bump_generation_during_reads(&self, n: u32) {
        self.state.borrow_mut().generation_bumps = n;
    }
    pub fn config_access_widths(&self) -> Vec<usize> {
        self.state.borrow().config_widths.clone()
    }
    /// Map MSI-X vectors below `entries` (0, the default: none).
    pub fn map_vectors(&self, entries: u16) {
        self.state.borrow_mut().msix_entries = entries;
    }
    pub fn refuse_queue_vectors(&self) {
        self.state.borrow_mut().refuse_queue_vectors = true;
    }
    pub fn config_vector(&self) -> u16 {
        self.state.borrow().config_vector
    }
}

impl ModernState {
    fn common_image(&self) -> [u8; 0x40] {
        let mut img = [0u8; 0x40];
        let q = self.queues.get(self.queue_select as usize).copied().unwrap_or_default();
        put(&mut img, common::DEVICE_FEATURE_SELECT, 4, self.device_select as u64);
        put(
            &mut img,
            common::DEVICE_FEATURE,
            4,
            self.features.checked_shr(32 * self.device_select).unwrap_or(0) & 0xffff_ffff,
        );
        put(&mut img, common::DRIVER_FEATURE_SELECT, 4, self.driver_select as u64);
        let driver_word = self.driver_features.checked_shr(32 * self.driver_select).unwrap_or(0);
        put(&mut img, common::DRIVER_FEATURE, 4, driver_word & 0xffff_ffff);
        put(&mut img, common::CONFIG_MSIX_VECTOR, 2, self.config_vector as u64);
        put(&mut img, common::NUM_QUEUES, 2, self.queues.len() as u64);
        img[common::DEVICE_STATUS] = self.status;
        img[common::CONFIG_GENERATION] = self.generation;
        put(&mut img, common::QUEUE_SELECT, 2, self.queue_select as u64);
        put(&mut img, common::QUEUE_SIZE, 2, q.size as u64);
        put(&mut img, common::QUEUE_ENABLE, 2, q.enabled as u64);
        put(&mut img, common::QUEUE_NOTIFY_OFF, 2, q.notify_off as u64);
        put(&mut img, common::QUEUE_MSIX_VECTOR, 2, q.vector as u64);
        put(&mut img, common::QUEUE_DESC, 8, q.desc);
        put(&mut img, common::QUEUE_DRIVER, 8, q.driver);
        put(&mut img, common::QUEUE_DEVICE, 8, q.device);
        img
    }

    fn write_common(&mut self, offset: usize, width: usize, value: u64) {
        let mut img = self.common_image();
        put(&mut img, offset, width, value);
        self.device_select = get(&img, common::DEVICE_FEATURE_SELECT, 4) as u32;
        self.driver_select = get(&img, common::DRIVER_FEATURE_SELECT, 4) as u32;
        if offset == common::DRIVER_FEATURE && self.driver_select < 2 {
            let shift = 32 * self.driver_select;
            self.driver_features = self.driver_features & !(0xffff_ffff << shift) | (value & 0xffff_ffff) << shift;
        }
        self.status = img[common::DEVICE_STATUS];
        if self.refuse_features_ok {
            self.status &= !8;
        }
        if offset == common::DEVICE_STATUS && self.status == 0 {
            for q in &mut self.queues {
                *q = reset_queue(q);
            }
            self.driver_features = 0;
            self.config_vector = NO_VECTOR;
            return;
        }
        // A vector the device cannot map reads back NO_VECTOR.
        let mapped = |v: u16, entries: u16| if v < entries { v } else { NO_VECTOR };
        if offset == common::CONFIG_MSIX_VECTOR {
            self.config_vector = mapped(value as u16, self.msix_entries);
            return;
        }
        if offset == common::QUEUE_MSIX_VECTOR {
            let entries = if self.refuse_queue_vectors { 0 } else { self.msix_entries };
            if let Some(q) = self.queues.get_mut(self.queue_select as usize) {
                q.vector = mapped(value as u16, entries);
            }
            return;
        }
        self.queue_select = get(&img, common::QUEUE_SELECT, 2) as u16;
        let selected = self.queues.get_mut(self.queue_select as usize);
        if let (Some(q), false) = (selected, offset == common::QUEUE_SELECT) {
            q.size = get(&img, common::QUEUE_SIZE, 2) as u16;
            q.enabled = get(&img, common::QUEUE_ENABLE, 2) != 0;
            q.desc = get(&img, common::QUEUE_DESC, 8);
            q.driver = get(&img, common::QUEUE_DRIVER, 8);
            q.device = get(&img, common::QUEUE_DEVICE, 8);
        }
    }
}

impl Backend for FakeModern {
    fn read(&self, offset: usize, width: usize) -> u64 {
        let mut s = self.state.borrow_mut();
        match offset {
            0..0x40 => {
                if offset == common::CONFIG_GENERATION && s.generation_bumps > 0 {
                    s.generation_bumps -= 1;
                    s.generation = s.generation.wrapping_add(1);
                }
                get(&s.common_image(), offset, width)
            }
            0x1000..0x1004 => core::mem::take(&mut s.isr) as u64,
            0x2000..0x2040 => {
                s.config_widths.push(width);
                get(&s.config, offset - 0x2000, width)
            }
            _ => 0,
        }
    }
    fn write(&self, offset: usize, width: usize, value: u64) {
        let mut s = self.state.borrow_mut();
        match offset {
            0..0x40 => s.write_common(offset, width, value),
            0x2000..0x2040 => put(&mut s.config, offset - 0x2000, width, value),
            0x3000..0x3010 => s.notifies.push((offset - 0x3000, value as u16)),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- legacy

#[derive(Default)]
struct LegacyState {
    bytes: Vec<u8>,
    notified: Vec<u16>,
}

/// A legacy virtio I/O BAR: queue 0 of size 128, features 1<<9 | 1<<28.
#[derive(Clone)]
pub struct FakeLegacy {
    state: Rc<RefCell<LegacyState>>,
    pub features: u32,
    pub size: usize,
}

impl FakeLegacy {
    pub fn new(_device_id: u32, size: usize) -> Self {
        let features = 1 << 9 | 1 << 28;
        let mut bytes = vec![0; size];
        put(&mut bytes, legacy::HOST_FEATURES, 4, features as u64);
        let state = LegacyState { bytes, notified: Vec::new() };
        FakeLegacy { state: Rc::new(RefCell::new(state)), features, size }
    }
    pub fn backend(&self) -> Rc<dyn Backend> {
        Rc::new(self.clone())
    }
    pub fn registers(&self) -> FakeRegisters {
        FakeRegisters::over(self.backend(), self.size)
    }
    pub fn read8(&self, offset: usize) -> u8 {
        self.state.borrow().bytes[offset]
    }
    pub fn read16(&self, offset: usize) -> u16 {
        get(&self.state.borrow().bytes, offset, 2) as u16
    }
    pub fn read32(&self, offset: usize) -> u32 {
        get(&self.state.borrow().bytes, offset, 4) as u32
    }
    pub fn write8(&self, offset: usize, value: u8) {
        self.state.borrow_mut().bytes[offset] = value;
    }
    pub fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        self.state.borrow_mut().bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    pub fn notified(&self) -> Vec<u16> {
        self.state.borrow().notified.clone()
    }
}

impl Backend for FakeLegacy {
    fn read(&self, offset: usize, width: usize) -> u64 {
        let mut s = self.state.borrow_mut();
        match offset {
            legacy::QUEUE_SIZE => (get(&s.bytes, legacy::QUEUE_SELECT, 2) == 0) as u64 * 128,
            legacy::ISR_STATUS => core::mem::take(&mut s.bytes[offset]) as u64,
            _ => get(&s.bytes, offset, width),
        }
    }
    fn write(&self, offset: usize, width: usize, value: u64) {
        let mut s = self.state.borrow_mut();
        match offset {
            legacy::HOST_FEATURES | legacy::QUEUE_SIZE | legacy::ISR_STATUS => {}
            legacy::QUEUE_NOTIFY => {
                s.notified.push(value as u16);
                put(&mut s.bytes, offset, width, value)
            }
            legacy::DEVICE_STATUS if value == 0 => {
                s.bytes[offset] = 0;
                put(&mut s.bytes, legacy::QUEUE_ADDRESS, 4, 0);
            }
            _ => put(&mut s.bytes, offset, width, value),
        }
    }
}
