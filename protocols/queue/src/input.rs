//! The input client protocol: one page per input device, holding what the
//! device is and a queue of its events (driver -> client). sevio's own:
//! sDDF 0.7.0 has no input class.
//!
//! Page layout (bytes, little-endian):
//!
//! | offset | field | written by |
//! |---|---|---|
//! | 0 | `magic` [`INFO_MAGIC`] ("SVI1": version 1); 0 while not ready | driver (release, last) |
//! | 4 | `name_len` (0..=128) | driver |
//! | 8 | `name`, `name_len` bytes (the device's, unterminated) | driver |
//! | 136 | `bustype, vendor, product, version` u16s | driver |
//! | 144 | `ev_types`: bit t set when the device sends events of type t | driver |
//! | 148 | `abs_x_min`, `abs_x_max`, `abs_y_min`, `abs_y_max` (i32; EV_ABS only) | driver |
//! | 512 | event queue header `{head u32 @0, tail u32 @4, dropped u32 @8}` | client (head), driver (tail, dropped) |
//! | 528 | events `{type u16, code u16, value u32}` (Linux evdev), `capacity` of them | driver |
//!
//! The queue is the same single-producer single-consumer machine as every
//! sDDF queue ([`crate::ring`]), full at `capacity` entries. Events arrive
//! in the device's order. The driver never waits for the client: when
//! the queue is full it drops the event, adds one to `dropped` and, once
//! there is room again, enqueues one `EV_SYN`/`SYN_DROPPED` marker
//! ([`InputEvent::dropped_marker`]) whose value is the number of events
//! lost since the previous marker, before any later event. Events between
//! a drop and the end of that device update (the next `SYN_REPORT`) are
//! dropped too, so everything after a marker is whole updates (as evdev
//! clients expect after `SYN_DROPPED`).
//!
//! Panic contract: nothing here panics on any page contents.

use crate::QueueError;
use crate::mem::{RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// "SVI1": the info is written and this is layout version 1.
pub const INFO_MAGIC: u32 = u32::from_le_bytes(*b"SVI1");
/// Where the event queue starts in the page.
pub const QUEUE_OFFSET: usize = 512;
/// The longest name kept.
pub const NAME_MAX: usize = 128;
/// `EV_SYN`.
pub const EV_SYN: u16 = 0;
/// `SYN_REPORT`: the end of one device update.
pub const SYN_REPORT: u16 = 0;
/// `SYN_DROPPED`: events were lost before this marker.
pub const SYN_DROPPED: u16 = 3;

const NAME_LEN: usize = 4;
const NAME: usize = 8;
const IDS: usize = 136;
const EV_TYPES: usize = 144;
const ABS: usize = 148;
const DROPPED: usize = 8;

/// One input event (Linux evdev: `type`, `code`, `value`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct InputEvent {
    /// `EV_*`.
    pub ty: u16,
    /// A code of that type.
    pub code: u16,
    /// Its value (a signed quantity for relative axes: read as i32).
    pub value: u32,
}

impl InputEvent {
    /// The marker that says `lost` events were dropped before it.
    pub fn dropped_marker(lost: u32) -> Self {
        InputEvent { ty: EV_SYN, code: SYN_DROPPED, value: lost }
    }

    /// Whether this ends a device update (`EV_SYN`/`SYN_REPORT`).
    pub fn is_report(&self) -> bool {
        self.ty == EV_SYN && self.code == SYN_REPORT
    }
}

impl Entry for InputEvent {
    const SIZE: usize = 8;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        Some(InputEvent { ty: r.read_u16(0)?, code: r.read_u16(2)?, value: r.read_u32(4)? })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u16(0, self.ty)?;
        r.write_u16(2, self.code)?;
        r.write_u32(4, self.value)
    }
}

/// Layout of the event queue.
#[derive(Debug)]
pub struct InputEventQueue;
impl QueueKind for InputEventQueue {
    type Index = u32;
    type Entry = InputEvent;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 16;
    const SLACK: u32 = 0;
}
impl InlineKind for InputEventQueue {}

/// Driver side of the event queue.
pub type InputEventProducer<M = SharedMemory> = Producer<InputEventQueue, M>;
/// Client side of the event queue.
pub type InputEventConsumer<M = SharedMemory> = Consumer<InputEventQueue, M>;

/// What the device is, as its config space said.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InputInfo {
    /// The name (`name_len` bytes used).
    pub name: [u8; NAME_MAX],
    /// How many bytes of `name` are the name.
    pub name_len: usize,
    /// bustype, vendor, product, version.
    pub ids: [u16; 4],
    /// Bit t: sends events of type t.
    pub ev_types: u32,
    /// The x axis' range (EV_ABS devices).
    pub abs_x: (i32, i32),
    /// The y axis' range.
    pub abs_y: (i32, i32),
}

impl Default for InputInfo {
    fn default() -> Self {
        InputInfo { name: [0; NAME_MAX], name_len: 0, ids: [0; 4], ev_types: 0, abs_x: (0, 0), abs_y: (0, 0) }
    }
}

impl InputInfo {
    /// The name's bytes.
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len.min(NAME_MAX)]
    }

    /// Whether it sends events of type `ty`.
    pub fn sends(&self, ty: u16) -> bool {
        ty < 32 && self.ev_types & (1 << ty) != 0
    }

    /// Write every field, then the magic (release; pairs with the acquire
    /// in [`read`](Self::read)). Caller: the driver, once the device is up.
    pub fn publish(&self, page: &SharedMemory) -> Result<(), QueueError> {
        self.write_fields(page).map_err(|_| QueueError::OutOfBounds)?;
        page.store_u32(0, INFO_MAGIC, Release).map_err(|_| QueueError::OutOfBounds)
    }

    fn write_fields(&self, page: &SharedMemory) -> Result<(), OutOfBounds> {
        let len = self.name_len.min(NAME_MAX);
        page.write::<u32>(NAME_LEN, (len as u32).to_le())?;
        page.copy_in(NAME, &self.name[..len])?;
        page.fill(NAME + len, NAME_MAX - len, 0)?;
        for (i, id) in self.ids.iter().enumerate() {
            page.write::<u16>(IDS + 2 * i, id.to_le())?;
        }
        page.write::<u32>(EV_TYPES, self.ev_types.to_le())?;
        let (x, y) = (self.abs_x, self.abs_y);
        for (i, v) in [x.0, x.1, y.0, y.1].iter().enumerate() {
            page.write::<u32>(ABS + 4 * i, (*v as u32).to_le())?;
        }
        Ok(())
    }

    /// Clear the magic (release): the device is gone. Caller: driver.
    pub fn retract(page: &SharedMemory) -> Result<(), QueueError> {
        page.store_u32(0, 0, Release).map_err(|_| QueueError::OutOfBounds)
    }

    /// The info once published (acquire), `Ok(None)` before. Caller: a
    /// client; `name_len` is clamped to [`NAME_MAX`].
    pub fn read(page: &SharedMemory) -> Result<Option<InputInfo>, QueueError> {
        if page.load_u32(0, Acquire).ok_or(QueueError::OutOfBounds)? != INFO_MAGIC {
            return Ok(None);
        }
        let word = |at: usize| page.read::<u32>(at).map(u32::from_le).ok_or(QueueError::OutOfBounds);
        let mut info = InputInfo { name_len: (word(NAME_LEN)? as usize).min(NAME_MAX), ..Default::default() };
        page.copy_out(NAME, &mut info.name).map_err(|_| QueueError::OutOfBounds)?;
        for (i, id) in info.ids.iter_mut().enumerate() {
            *id = page.read::<u16>(IDS + 2 * i).map(u16::from_le).ok_or(QueueError::OutOfBounds)?;
        }
        info.ev_types = word(EV_TYPES)?;
        info.abs_x = (word(ABS)? as i32, word(ABS + 4)? as i32);
        info.abs_y = (word(ABS + 8)? as i32, word(ABS + 12)? as i32);
        Ok(Some(info))
    }
}

/// The event queue's part of the page.
pub fn queue_region(page: &SharedMemory) -> Option<SharedMemory> {
    page.slice(QUEUE_OFFSET, page.len().checked_sub(QUEUE_OFFSET)?)
}

/// Events dropped so far (the driver's count; relaxed: a statistic).
pub fn dropped(queue: &SharedMemory) -> Result<u32, QueueError> {
    queue.load_u32(DROPPED, Relaxed).ok_or(QueueError::OutOfBounds)
}

/// Set the drop count. Caller: driver (the only writer).
pub fn set_dropped(queue: &SharedMemory, n: u32) -> Result<(), QueueError> {
    queue.store_u32(DROPPED, n, Relaxed).map_err(|_| QueueError::OutOfBounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn info_is_invisible_until_published_and_round_trips() {
        let heap = HeapRegion::new(4096);
        let page = heap.memory();
        assert_eq!(InputInfo::read(&page), Ok(None));
        let mut info = InputInfo { name_len: 5, ids: [6, 0x0627, 1, 1], ev_types: 0b1111, ..Default::default() };
        info.name[..5].copy_from_slice(b"mouse");
        info.abs_x = (0, 0x7fff);
        info.publish(&page).unwrap();
        assert_eq!(page.read::<u32>(0), Some(u32::from_le_bytes(*b"SVI1")));
        let got = InputInfo::read(&page).unwrap().unwrap();
        assert_eq!((got.name(), got.abs_x, got.ids), (&b"mouse"[..], (0, 0x7fff), [6, 0x0627, 1, 1]));
        assert!(got.sends(3) && !got.sends(4) && !got.sends(40));
        InputInfo::retract(&page).unwrap();
        assert_eq!(InputInfo::read(&page), Ok(None));
        page.write::<u32>(0, INFO_MAGIC).unwrap();
        page.write::<u32>(4, 1000).unwrap();
        assert_eq!(InputInfo::read(&page).unwrap().unwrap().name_len, NAME_MAX, "a lying length is clamped");
    }

    #[test]
    fn events_keep_their_bytes_and_order() {
        let heap = HeapRegion::new(4096);
        let q = queue_region(&heap.memory()).unwrap();
        let mut p = InputEventProducer::new(q, 4).unwrap();
        let mut c = InputEventConsumer::new(q, 4).unwrap();
        let events = [
            InputEvent { ty: 2, code: 0, value: -5i32 as u32 },
            InputEvent { ty: 0, code: 0, value: 0 },
            InputEvent::dropped_marker(7),
            InputEvent { ty: 1, code: 0x1e, value: 1 },
        ];
        for e in events {
            p.enqueue(e).unwrap();
        }
        assert_eq!(p.enqueue(events[0]), Err(QueueError::Full), "full at capacity");
        let mut b = [0u8; 8];
        q.copy_out(16, &mut b).unwrap();
        assert_eq!(b, [2, 0, 0, 0, 0xfb, 0xff, 0xff, 0xff]);
        for e in events {
            assert_eq!(c.take().unwrap(), Some(e));
        }
        set_dropped(&q, 9).unwrap();
        assert_eq!(dropped(&q), Ok(9));
    }
}
