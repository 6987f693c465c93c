//! The one check of a client's GPU request: [`plan`] turns a decoded
//! request into the device command that serves it, or the status that
//! refuses it, against [`Resources`], the driver's own record of what the
//! client created. Nothing the client wrote reaches the device unchecked:
//!
//! - resource ids lie in 1..=1024 (sDDF `GPU_MAX_RESOURCES`); a create
//!   names a new one, everything else an existing one;
//! - a backing lies inside the client's data region
//!   (`ClientRegion::span`, the framework's one client-range check), and
//!   only then becomes a device address;
//! - rectangles are clipped to the resource (64-bit sums: nothing wraps);
//!   one with nothing inside is refused `InvalidBounds`;
//! - a transfer reads only bytes of the resource's backing: its first
//!   pixel at `mem_offset`, then `height - 1` rows of the resource's
//!   stride (width x 4) and one row of the rectangle's width;
//! - scanout ids are below the device's `num_scanouts`; a cursor image is
//!   a 64x64 resource.
//!
//! The record is updated when the command is sent (the controlq runs in
//! order); a command the device refuses is undone ([`Undo`]).

use crate::{MAX_DIMENSION, MAX_TRACKED};
use sevio_driver_core::ClientRegion;
use sevio_queue::gpu::{BPP_2D, DisplayInfo, GpuCommand, GpuFormat, GpuRect, GpuStatus, MAX_RESOURCES};
use sevio_virtio::device::gpu::{
    self as vgpu, AttachBacking1, CURSOR_SIZE, CtrlHdr, Rect, ResourceCreate2d, ResourceFlush, ResourceOnly,
    TransferToHost2d, ctrl, format,
};
use zerocopy::IntoBytes;

/// A client's resource as the driver knows it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Its id.
    pub id: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Its backing: `(offset, len)` in the client's data region.
    pub backing: Option<(u64, u64)>,
}

/// The resources the client has (at most [`MAX_TRACKED`]).
#[derive(Copy, Clone, Debug, Default)]
pub struct Resources {
    slots: [Option<Resource>; MAX_TRACKED],
}

impl Resources {
    /// The resource `id`, if the client made it.
    pub fn get(&self, id: u32) -> Option<Resource> {
        self.slots.iter().flatten().find(|r| r.id == id).copied()
    }

    fn slot(&mut self, id: u32) -> Option<&mut Resource> {
        self.slots.iter_mut().flatten().find(|r| r.id == id)
    }

    fn insert(&mut self, r: Resource) -> bool {
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(s) => {
                *s = Some(r);
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, id: u32) {
        for s in &mut self.slots {
            if s.is_some_and(|r| r.id == id) {
                *s = None;
            }
        }
    }

    /// Forget everything (the device, which held them, is gone).
    pub fn clear(&mut self) {
        self.slots = [None; MAX_TRACKED];
    }

    /// Take back what [`plan`] recorded for a command the device refused.
    pub fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::Created(id) => self.remove(id),
            Undo::Attached(id) => {
                if let Some(r) = self.slot(id) {
                    r.backing = None;
                }
            }
        }
    }
}

/// What to take back if the device refuses a command.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    /// Nothing was recorded.
    Nothing,
    /// A resource was created.
    Created(u32),
    /// A backing was attached.
    Attached(u32),
}

/// Which queue a command goes to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Queue {
    /// The controlq (a command and an answer).
    Control,
    /// The cursorq (a command; the device writes nothing back).
    Cursor,
}

/// A checked request: the command bytes and what to do with the answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Where it goes.
    pub queue: Queue,
    /// The command's type (`ctrl::*`).
    pub ty: u32,
    /// The command, `len` bytes of it.
    pub bytes: [u8; 64],
    /// Its length.
    pub len: usize,
    /// GET_DISPLAY_INFO: where in the client's data region the answer
    /// goes (checked).
    pub display_info_at: Option<usize>,
    /// What to take back if the device refuses.
    pub undo: Undo,
}

impl Plan {
    fn new(queue: Queue, command: &[u8], undo: Undo) -> Plan {
        let mut bytes = [0u8; 64];
        let len = command.len().min(bytes.len());
        bytes[..len].copy_from_slice(&command[..len]);
        let ty = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        Plan { queue, ty, bytes, len, display_info_at: None, undo }
    }
}

/// The virtio format for an sDDF one.
pub fn virtio_format(f: GpuFormat) -> u32 {
    match f {
        GpuFormat::B8G8R8A8 => format::B8G8R8A8_UNORM,
        GpuFormat::B8G8R8X8 => format::B8G8R8X8_UNORM,
        GpuFormat::A8R8G8B8 => format::A8R8G8B8_UNORM,
        GpuFormat::X8R8G8B8 => format::X8R8G8B8_UNORM,
        GpuFormat::R8G8B8A8 => format::R8G8B8A8_UNORM,
        GpuFormat::X8B8G8R8 => format::X8B8G8R8_UNORM,
        GpuFormat::A8B8G8R8 => format::A8B8G8R8_UNORM,
        GpuFormat::R8G8B8X8 => format::R8G8B8X8_UNORM,
    }
}

fn valid_id(id: u32) -> Result<u32, GpuStatus> {
    if (1..=MAX_RESOURCES).contains(&id) { Ok(id) } else { Err(GpuStatus::InvalidResourceId) }
}

fn existing(res: &Resources, id: u32) -> Result<Resource, GpuStatus> {
    res.get(valid_id(id)?).ok_or(GpuStatus::InvalidResourceId)
}

fn clipped(r: &Resource, rect: GpuRect) -> Result<Rect, GpuStatus> {
    let c = rect.clip(r.width, r.height).ok_or(GpuStatus::InvalidBounds)?;
    Ok(Rect::new(c.x, c.y, c.width, c.height))
}

fn scanout(id: u32, scanouts: u32) -> Result<u32, GpuStatus> {
    if id < scanouts { Ok(id) } else { Err(GpuStatus::InvalidScanoutId) }
}

/// Whether a transfer of `rect` (clipped) starting at backing offset
/// `offset` reads only bytes of a backing of `len` bytes, for a resource
/// `width` pixels wide (QEMU's stride: width x 4).
fn transfer_fits(width: u32, rect: &Rect, offset: u64, len: u64) -> bool {
    let stride = u64::from(width) * u64::from(BPP_2D);
    let rows = u64::from(rect.height.get()).saturating_sub(1);
    let last_row = u64::from(rect.width.get()) * u64::from(BPP_2D);
    // Each factor is below 2^32 and there are three terms: no u64 wraps,
    // but say so with checked sums anyway.
    rows.checked_mul(stride)
        .and_then(|n| n.checked_add(last_row))
        .and_then(|n| n.checked_add(offset))
        .is_some_and(|end| end <= len)
}

/// Check `command` against the client's resources, its data region and
/// the device's scanouts, record its effect, and say what to send.
pub fn plan(command: GpuCommand, res: &mut Resources, scanouts: u32, data: &ClientRegion) -> Result<Plan, GpuStatus> {
    use GpuCommand::*;
    let hdr = CtrlHdr::command;
    match command {
        GetDisplayInfo { mem_offset } => {
            let span = data.span(mem_offset, DisplayInfo::SIZE as u64).map_err(|_| GpuStatus::InvalidBounds)?;
            let mut p = Plan::new(Queue::Control, hdr(ctrl::GET_DISPLAY_INFO).as_bytes(), Undo::Nothing);
            p.display_info_at = Some(span.offset);
            Ok(p)
        }
        Create2d { resource_id, width, height, format } => {
            let id = valid_id(resource_id)?;
            if res.get(id).is_some() {
                return Err(GpuStatus::InvalidResourceId);
            }
            let fmt = GpuFormat::from_u32(format).ok_or(GpuStatus::InvalidParameter)?;
            if !(1..=MAX_DIMENSION).contains(&width) || !(1..=MAX_DIMENSION).contains(&height) {
                return Err(GpuStatus::InvalidParameter);
            }
            if !res.insert(Resource { id, width, height, backing: None }) {
                return Err(GpuStatus::ErrUnspec);
            }
            let c = ResourceCreate2d {
                hdr: hdr(ctrl::RESOURCE_CREATE_2D),
                resource_id: id.into(),
                format: virtio_format(fmt).into(),
                width: width.into(),
                height: height.into(),
            };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Created(id)))
        }
        AttachBacking { resource_id, mem_offset, mem_size } => {
            let r = existing(res, resource_id)?;
            if r.backing.is_some() {
                return Err(GpuStatus::ErrUnspec);
            }
            let span = data.span(mem_offset, u64::from(mem_size)).map_err(|_| GpuStatus::InvalidBounds)?;
            let addr = span.device_addr.ok_or(GpuStatus::ErrUnspec)?;
            if let Some(r) = res.slot(r.id) {
                r.backing = Some((mem_offset, u64::from(mem_size)));
            }
            let c = AttachBacking1 {
                hdr: hdr(ctrl::RESOURCE_ATTACH_BACKING),
                resource_id: r.id.into(),
                nr_entries: 1.into(),
                addr: addr.into(),
                length: mem_size.into(),
                padding: 0.into(),
            };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Attached(r.id)))
        }
        DetachBacking { resource_id } => {
            let r = existing(res, resource_id)?;
            if r.backing.is_none() {
                return Err(GpuStatus::ErrUnspec);
            }
            if let Some(r) = res.slot(r.id) {
                r.backing = None;
            }
            let c =
                ResourceOnly { hdr: hdr(ctrl::RESOURCE_DETACH_BACKING), resource_id: r.id.into(), padding: 0.into() };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Nothing))
        }
        SetScanout { resource_id, scanout_id, rect } => {
            let scanout_id = scanout(scanout_id, scanouts)?;
            let r = if resource_id == 0 { Rect::default() } else { clipped(&existing(res, resource_id)?, rect)? };
            let c = vgpu::SetScanout {
                hdr: hdr(ctrl::SET_SCANOUT),
                r,
                scanout_id: scanout_id.into(),
                resource_id: resource_id.into(),
            };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Nothing))
        }
        TransferTo2d { resource_id, rect, mem_offset } => {
            let res = existing(res, resource_id)?;
            let (_, len) = res.backing.ok_or(GpuStatus::InvalidParameter)?;
            let r = clipped(&res, rect)?;
            if !transfer_fits(res.width, &r, mem_offset, len) {
                return Err(GpuStatus::InvalidBounds);
            }
            let c = TransferToHost2d {
                hdr: hdr(ctrl::TRANSFER_TO_HOST_2D),
                r,
                offset: mem_offset.into(),
                resource_id: res.id.into(),
                padding: 0.into(),
            };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Nothing))
        }
        Flush { resource_id, rect } => {
            let res = existing(res, resource_id)?;
            let r = clipped(&res, rect)?;
            let c = ResourceFlush { hdr: hdr(ctrl::RESOURCE_FLUSH), r, resource_id: res.id.into(), padding: 0.into() };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Nothing))
        }
        Unref { resource_id } => {
            let r = existing(res, resource_id)?;
            res.remove(r.id);
            let c = ResourceOnly { hdr: hdr(ctrl::RESOURCE_UNREF), resource_id: r.id.into(), padding: 0.into() };
            Ok(Plan::new(Queue::Control, c.as_bytes(), Undo::Nothing))
        }
        UpdateCursor { resource_id, scanout_id, x, y, hot_x, hot_y } => {
            let scanout_id = scanout(scanout_id, scanouts)?;
            if resource_id != 0 {
                let r = existing(res, resource_id)?;
                if (r.width, r.height) != (CURSOR_SIZE, CURSOR_SIZE) || hot_x >= CURSOR_SIZE || hot_y >= CURSOR_SIZE {
                    return Err(GpuStatus::InvalidParameter);
                }
            }
            let c = vgpu::UpdateCursor {
                hdr: hdr(ctrl::UPDATE_CURSOR),
                scanout_id: scanout_id.into(),
                x: x.into(),
                y: y.into(),
                resource_id: resource_id.into(),
                hot_x: hot_x.into(),
                hot_y: hot_y.into(),
                ..Default::default()
            };
            Ok(Plan::new(Queue::Cursor, c.as_bytes(), Undo::Nothing))
        }
        MoveCursor { scanout_id, x, y } => {
            let scanout_id = scanout(scanout_id, scanouts)?;
            let c = vgpu::UpdateCursor {
                hdr: hdr(ctrl::MOVE_CURSOR),
                scanout_id: scanout_id.into(),
                x: x.into(),
                y: y.into(),
                ..Default::default()
            };
            Ok(Plan::new(Queue::Cursor, c.as_bytes(), Undo::Nothing))
        }
        Unsupported(_) => Err(GpuStatus::ErrUnspec),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use sevio_sharedmem::HeapRegion;

    const DATA: usize = 0x10_0000;
    const PADDR: u64 = 0x5000_0000;

    fn setup() -> (HeapRegion, ClientRegion, Resources) {
        let heap = HeapRegion::new(DATA);
        let data = ClientRegion::device_visible(heap.memory(), PADDR).unwrap();
        (heap, data, Resources::default())
    }

    fn create(res: &mut Resources, data: &ClientRegion, id: u32, w: u32, h: u32) {
        plan(GpuCommand::Create2d { resource_id: id, width: w, height: h, format: 1 }, res, 1, data).unwrap();
    }

    #[test]
    fn ids_are_checked_and_creates_recorded() {
        let (_h, data, mut res) = setup();
        let c = |id, res: &mut Resources| {
            plan(GpuCommand::Create2d { resource_id: id, width: 4, height: 4, format: 1 }, res, 1, &data)
        };
        assert_eq!(c(0, &mut res).unwrap_err(), GpuStatus::InvalidResourceId);
        assert_eq!(c(1025, &mut res).unwrap_err(), GpuStatus::InvalidResourceId);
        let p = c(1, &mut res).unwrap();
        assert_eq!((p.ty, p.len, p.undo), (ctrl::RESOURCE_CREATE_2D, 40, Undo::Created(1)));
        assert_eq!(&p.bytes[28..32], &format::B8G8R8X8_UNORM.to_le_bytes(), "sDDF format 1 is virtio's 2");
        assert_eq!(c(1, &mut res).unwrap_err(), GpuStatus::InvalidResourceId, "exists already");
        for id in 2..=MAX_TRACKED as u32 {
            c(id, &mut res).unwrap();
        }
        assert_eq!(c(100, &mut res).unwrap_err(), GpuStatus::ErrUnspec, "the table is full");
        res.undo(Undo::Created(1));
        assert!(res.get(1).is_none());
        let bad_format = GpuCommand::Create2d { resource_id: 1, width: 4, height: 4, format: 8 };
        assert_eq!(plan(bad_format, &mut res, 1, &data).unwrap_err(), GpuStatus::InvalidParameter);
        let huge = GpuCommand::Create2d { resource_id: 1, width: MAX_DIMENSION + 1, height: 4, format: 0 };
        assert_eq!(plan(huge, &mut res, 1, &data).unwrap_err(), GpuStatus::InvalidParameter);
    }

    #[test]
    fn backing_must_lie_in_the_client_region() {
        let (_h, data, mut res) = setup();
        create(&mut res, &data, 1, 64, 64);
        let attach = |off, size, res: &mut Resources| {
            plan(GpuCommand::AttachBacking { resource_id: 1, mem_offset: off, mem_size: size }, res, 1, &data)
        };
        for (off, size) in [(DATA as u64 - 4, 8), (u64::MAX - 2, 8), (0, 0)] {
            assert_eq!(attach(off, size, &mut res).unwrap_err(), GpuStatus::InvalidBounds, "{off:#x}+{size}");
        }
        let p = attach(0x1000, 0x4000, &mut res).unwrap();
        assert_eq!(&p.bytes[32..40], &(PADDR + 0x1000).to_le_bytes(), "the device address of the checked span");
        assert_eq!(&p.bytes[40..44], &0x4000u32.to_le_bytes());
        assert_eq!(attach(0x1000, 0x4000, &mut res).unwrap_err(), GpuStatus::ErrUnspec, "attached already");
        res.undo(p.undo);
        assert!(attach(0x1000, 0x4000, &mut res).is_ok());
    }

    #[test]
    fn transfers_are_clipped_and_stay_in_the_backing() {
        let (_h, data, mut res) = setup();
        create(&mut res, &data, 1, 100, 50);
        let t = |rect, off, res: &mut Resources| {
            plan(GpuCommand::TransferTo2d { resource_id: 1, rect, mem_offset: off }, res, 1, &data)
        };
        assert_eq!(t(GpuRect::new(0, 0, 1, 1), 0, &mut res).unwrap_err(), GpuStatus::InvalidParameter, "no backing");
        let full = 100 * 50 * 4;
        plan(GpuCommand::AttachBacking { resource_id: 1, mem_offset: 0, mem_size: full }, &mut res, 1, &data).unwrap();
        let p = t(GpuRect::new(90, 40, 1000, 1000), 40 * 400 + 360, &mut res).unwrap();
        assert_eq!(&p.bytes[24..40], Rect::new(90, 40, 10, 10).as_bytes(), "clipped to the resource");
        assert_eq!(t(GpuRect::new(100, 0, 1, 1), 0, &mut res).unwrap_err(), GpuStatus::InvalidBounds);
        assert_eq!(t(GpuRect::new(0, 0, 100, 50), 0, &mut res).map(|p| p.len), Ok(56), "the whole resource");
        assert_eq!(t(GpuRect::new(0, 0, 100, 50), 4, &mut res).unwrap_err(), GpuStatus::InvalidBounds, "one past");
        assert_eq!(t(GpuRect::new(0, 49, 100, 1), u64::MAX, &mut res).unwrap_err(), GpuStatus::InvalidBounds);
        let flush = GpuCommand::Flush { resource_id: 1, rect: GpuRect::new(0, 0, u32::MAX, u32::MAX) };
        assert_eq!(&plan(flush, &mut res, 1, &data).unwrap().bytes[24..40], Rect::new(0, 0, 100, 50).as_bytes());
    }

    /// Random requests, fields biased to edges: `plan` never panics, and
    /// whatever it lets through stays inside the client's region, the
    /// resource and its backing.
    #[test]
    fn nothing_a_client_sends_escapes_the_checks() {
        let (_h, data, mut res) = setup();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Ids, sizes, offsets and lengths near every boundary the checks
        // draw (64x64 x 4 = 16384 bytes; the region's end; u32's).
        let pool = [0u32, 1, 2, 3, 4, 7, 63, 64, 65, 100, 16383, 16384, DATA as u32 - 1, DATA as u32, u32::MAX];
        let mut accepted = [0u32; 4];
        for _ in 0..200_000 {
            let (kind, bits) = (next() % 9, next());
            let mut v = || pool[next() as usize % pool.len()];
            let rect = GpuRect::new(v(), v(), v(), v());
            let offset = u64::from(v()) | if v() % 4 == 0 { u64::from(v()) << 32 } else { 0 };
            let (id, scanout_id) = ((bits % 8) as u32, (bits >> 8) as u32 % 3);
            let command = match kind {
                0 => GpuCommand::GetDisplayInfo { mem_offset: offset },
                1 => GpuCommand::Create2d { resource_id: id, width: v(), height: v(), format: v() % 10 },
                // Sizes from the pool, and a pool of framebuffer-like ones.
                2 => {
                    let mem_size = if bits & (1 << 21) != 0 { v() } else { v().wrapping_mul(256) };
                    GpuCommand::AttachBacking { resource_id: id, mem_offset: offset % 4096, mem_size }
                }
                3 => GpuCommand::DetachBacking { resource_id: id },
                4 => GpuCommand::SetScanout { resource_id: id, scanout_id, rect },
                // Half the transfers start near the backing's start.
                5 | 6 => {
                    let mem_offset = if bits & (1 << 20) != 0 { offset } else { offset % 512 };
                    GpuCommand::TransferTo2d { resource_id: id, rect, mem_offset }
                }
                7 => GpuCommand::Flush { resource_id: id, rect },
                _ => GpuCommand::Unref { resource_id: id },
            };
            let before = res;
            let Ok(p) = plan(command, &mut res, 1, &data) else { continue };
            assert!(p.len <= 64 && p.len >= 24);
            let word = |at: usize| u32::from_le_bytes(p.bytes[at..at + 4].try_into().unwrap());
            let rect_inside = |rid: u32| {
                let r = res.get(rid).or(before.get(rid)).unwrap();
                let (x, y, w, h) = (word(24), word(28), word(32), word(36));
                w > 0
                    && h > 0
                    && u64::from(x) + u64::from(w) <= u64::from(r.width)
                    && u64::from(y) + u64::from(h) <= u64::from(r.height)
            };
            match p.ty {
                ctrl::RESOURCE_ATTACH_BACKING => {
                    accepted[0] += 1;
                    let addr = u64::from_le_bytes(p.bytes[32..40].try_into().unwrap());
                    let len = u64::from(word(40));
                    assert!(addr >= PADDR && addr + len <= PADDR + DATA as u64, "{addr:#x}+{len:#x}");
                }
                ctrl::TRANSFER_TO_HOST_2D => {
                    accepted[1] += 1;
                    let rid = word(48);
                    assert!(rect_inside(rid));
                    let r = res.get(rid).unwrap();
                    let (_, blen) = r.backing.unwrap();
                    let offset = u64::from_le_bytes(p.bytes[40..48].try_into().unwrap());
                    let end = offset + u64::from(word(36) - 1) * u64::from(r.width) * 4 + u64::from(word(32)) * 4;
                    assert!(end <= blen, "reads {end} of a {blen}-byte backing");
                }
                ctrl::RESOURCE_FLUSH => {
                    accepted[2] += 1;
                    assert!(rect_inside(word(40)));
                }
                ctrl::SET_SCANOUT if word(44) != 0 => {
                    accepted[3] += 1;
                    assert!(rect_inside(word(44)));
                }
                _ => {}
            }
            // Now and then the device refuses: the record is taken back.
            if next() % 4 == 0 {
                res.undo(p.undo);
            }
            if next() % 200 == 0 {
                res.clear();
            }
        }
        assert!(accepted.iter().all(|n| *n > 30), "each kind got through often enough to mean something: {accepted:?}");
    }

    #[test]
    fn scanouts_cursors_and_display_info() {
        let (_h, data, mut res) = setup();
        create(&mut res, &data, 1, 64, 64);
        create(&mut res, &data, 2, 32, 32);
        let set = |scanout_id, resource_id, res: &mut Resources| {
            plan(GpuCommand::SetScanout { resource_id, scanout_id, rect: GpuRect::new(0, 0, 64, 64) }, res, 1, &data)
        };
        assert_eq!(set(1, 1, &mut res).unwrap_err(), GpuStatus::InvalidScanoutId);
        assert_eq!(set(0, 3, &mut res).unwrap_err(), GpuStatus::InvalidResourceId);
        assert!(set(0, 0, &mut res).is_ok(), "resource 0 turns the scanout off");
        let cursor = |resource_id, res: &mut Resources| {
            plan(GpuCommand::UpdateCursor { resource_id, scanout_id: 0, x: 5, y: 6, hot_x: 1, hot_y: 1 }, res, 1, &data)
        };
        assert_eq!(cursor(1, &mut res).map(|p| (p.queue, p.len)), Ok((Queue::Cursor, 56)));
        assert_eq!(cursor(2, &mut res).unwrap_err(), GpuStatus::InvalidParameter, "not 64x64");
        let info = |off, res: &mut Resources| plan(GpuCommand::GetDisplayInfo { mem_offset: off }, res, 1, &data);
        assert_eq!(info(0x200, &mut res).unwrap().display_info_at, Some(0x200));
        assert_eq!(info(DATA as u64 - 100, &mut res).unwrap_err(), GpuStatus::InvalidBounds);
        assert_eq!(plan(GpuCommand::Unsupported(1), &mut res, 1, &data).unwrap_err(), GpuStatus::ErrUnspec);
        plan(GpuCommand::Unref { resource_id: 1 }, &mut res, 1, &data).unwrap();
        assert_eq!(cursor(1, &mut res).unwrap_err(), GpuStatus::InvalidResourceId, "gone");
    }
}
