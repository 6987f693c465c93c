//! The remoteproc resource table (Linux `include/linux/remoteproc.h`,
//! OpenAMP `remoteproc.h`), byte for byte: how a processor, VM or PD that
//! shares memory with us describes the virtio devices it offers.
//!
//! Layout (little-endian, every field 4-byte aligned):
//!
//! ```text
//! header  { ver u32 = 1, num u32, reserved [u32; 2], offset [u32; num] }
//! entry   { type u32, ... }                       at each offset
//! vdev    { type = 3, id, notifyid, dfeatures, gfeatures, config_len: u32,
//!           status u8, num_of_vrings u8, reserved [u8; 2],
//!           vring [{ da, align, num, notifyid, pa: u32 }; num_of_vrings],
//!           config [u8; config_len] }
//! ```
//!
//! The table is written by the other side and lives in memory it can
//! change at any time, so nothing in it is believed: [`ResourceTable::open`]
//! checks the header and snapshots the offsets, [`ResourceTable::entry`]
//! checks one entry and snapshots what a transport needs ([`Vdev`]), and a
//! bad entry is an [`EntryError`] that names it while every other entry
//! still parses. An entry's room is from its offset to the next entry's
//! (or the table's end); nothing of it may cross into another entry.
//!
//! The fields the driver side writes (`gfeatures`, `status`, each vring's
//! `da`) and the config space are reached at offsets checked here, through
//! [`SharedMemory`], never a reference.
//!
//! Panic contract: nothing here panics, whatever the table holds.

use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// The table version this parser reads (`ver`).
pub const TABLE_VERSION: u32 = 1;
/// Bytes of the header before the offset array.
pub const HEADER_SIZE: usize = 16;
/// Entry type: a physically contiguous memory region (`RSC_CARVEOUT`).
pub const RSC_CARVEOUT: u32 = 0;
/// Entry type: a device memory mapping (`RSC_DEVMEM`).
pub const RSC_DEVMEM: u32 = 1;
/// Entry type: a trace buffer (`RSC_TRACE`).
pub const RSC_TRACE: u32 = 2;
/// Entry type: a virtio device (`RSC_VDEV`).
pub const RSC_VDEV: u32 = 3;
/// `da`/`pa` value meaning "not allocated yet: the driver side picks"
/// (`FW_RSC_ADDR_ANY`).
pub const ADDR_ANY: u32 = u32::MAX;
/// Bytes of a vdev entry before its vrings.
pub const VDEV_SIZE: usize = 28;
/// Bytes of one vring descriptor of a vdev entry.
pub const VRING_SIZE: usize = 20;
/// Bytes of a carveout or devmem entry (`{type, da, pa, len, flags,
/// reserved, name[32]}`).
pub const CARVEOUT_SIZE: usize = 56;
/// Bytes of a trace entry (`{type, da, len, reserved, name[32]}`).
pub const TRACE_SIZE: usize = 48;
/// Entries a table may have here.
pub const MAX_ENTRIES: usize = 16;
/// Vrings a vdev may have here.
pub const MAX_VRINGS: usize = 8;
/// Notify ids are below this: each is one doorbell word
/// (see [`Mailbox`]).
pub const MAX_NOTIFY_IDS: u32 = 32;

/// Offsets inside a vdev entry.
mod vdev {
    pub const ID: usize = 4;
    pub const NOTIFYID: usize = 8;
    pub const DFEATURES: usize = 12;
    pub const GFEATURES: usize = 16;
    pub const CONFIG_LEN: usize = 20;
    pub const STATUS: usize = 24;
    pub const NUM_OF_VRINGS: usize = 25;
    pub const DA: usize = 0;
    pub const ALIGN: usize = 4;
    pub const NUM: usize = 8;
    pub const NOTIFYID_OF_VRING: usize = 12;
    pub const PA: usize = 16;
}

/// Why the table as a whole cannot be read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The region cannot hold the header.
    TooSmall {
        /// Bytes of the region.
        len: usize,
    },
    /// `ver` is not [`TABLE_VERSION`].
    BadVersion(u32),
    /// More entries than [`MAX_ENTRIES`], or an offset array past the
    /// region's end.
    TooManyEntries {
        /// `num` as the table says.
        num: u32,
    },
}

/// What is wrong with one entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EntryProblem {
    /// Its offset is past the table's end.
    OutOfTable {
        /// The offset.
        offset: u32,
    },
    /// Its offset is not a multiple of 4.
    Misaligned {
        /// The offset.
        offset: u32,
    },
    /// Its offset lies inside the header or the offset array.
    InsideHeader {
        /// The offset.
        offset: u32,
    },
    /// It starts where an earlier entry starts, or its fixed part runs
    /// into another entry.
    Overlaps {
        /// The other entry.
        other: u16,
    },
    /// Its fixed part runs past the table's end.
    Truncated {
        /// Bytes the fixed part needs.
        need: usize,
        /// Bytes it has.
        room: usize,
    },
    /// A vdev's `num_of_vrings` descriptors do not fit its room.
    VringsPastEntry {
        /// `num_of_vrings`.
        num_of_vrings: u8,
        /// Bytes of room after the vdev's fixed part.
        room: usize,
    },
    /// More vrings than [`MAX_VRINGS`].
    TooManyVrings {
        /// `num_of_vrings`.
        num_of_vrings: u8,
    },
    /// A vdev's config space runs past its room.
    ConfigPastEnd {
        /// `config_len`.
        config_len: u32,
        /// Bytes of room after the vrings.
        room: usize,
    },
    /// A notify id at or above [`MAX_NOTIFY_IDS`], or one used twice in
    /// the entry.
    BadNotifyId {
        /// The id.
        notifyid: u32,
    },
    /// A vring whose size is not a power of two in 1..=32768 (VIRTIO 1.2
    /// §2.7: "Queue Size value is always a power of 2. The maximum Queue
    /// Size value is 32768"), or whose alignment is not a power of two of
    /// at least 16 (the descriptor table's own alignment, §2.7.1).
    BadVring {
        /// Which vring.
        vring: u8,
        /// Its `num`.
        num: u32,
        /// Its `align`.
        align: u32,
    },
}

/// One entry's problem, naming the entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    /// Index of the entry in the offset array.
    pub entry: u16,
    /// What is wrong with it.
    pub problem: EntryProblem,
}

impl core::fmt::Display for EntryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "resource table entry {}: {:?}", self.entry, self.problem)
    }
}

/// One vring of a vdev, as the table gave it when it was checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VringInfo {
    /// Device address of the ring, or [`ADDR_ANY`].
    pub da: u32,
    /// The legacy layout's Queue Align.
    pub align: u32,
    /// Entries (fixed: the driver side uses exactly this many).
    pub num: u16,
    /// Its doorbell.
    pub notifyid: u32,
}

/// A checked vdev entry: a snapshot of what the other side cannot be
/// allowed to change under us, and the offsets of what it may.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Vdev {
    /// Index of the entry.
    pub entry: u16,
    /// Byte offset of the entry in the table.
    pub offset: usize,
    /// VirtIO device id.
    pub id: u32,
    /// The vdev's own doorbell (config changes).
    pub notifyid: u32,
    /// The device's features (`dfeatures`).
    pub dfeatures: u32,
    /// Bytes of config space.
    pub config_len: u32,
    /// Its vrings (the first `num_vrings`).
    pub vrings: [VringInfo; MAX_VRINGS],
    /// How many vrings.
    pub num_vrings: u8,
}

impl Vdev {
    /// Offset of `gfeatures` in the table.
    pub fn gfeatures_at(&self) -> usize {
        self.offset + vdev::GFEATURES
    }
    /// Offset of `status`.
    pub fn status_at(&self) -> usize {
        self.offset + vdev::STATUS
    }
    /// Offset of vring `i`'s descriptor.
    fn vring_at(&self, i: usize) -> usize {
        self.offset + VDEV_SIZE + i * VRING_SIZE
    }
    /// Offset of vring `i`'s `da`; `None` past `num_vrings`.
    pub fn vring_da_at(&self, i: usize) -> Option<usize> {
        (i < self.num_vrings as usize).then(|| self.vring_at(i) + vdev::DA)
    }
    /// Offset of vring `i`'s `pa`; `None` past `num_vrings`.
    pub fn vring_pa_at(&self, i: usize) -> Option<usize> {
        (i < self.num_vrings as usize).then(|| self.vring_at(i) + vdev::PA)
    }
    /// Offset of the config space.
    pub fn config_at(&self) -> usize {
        self.vring_at(self.num_vrings as usize)
    }
    /// Vring `i`, if the vdev has it.
    pub fn vring(&self, i: usize) -> Option<VringInfo> {
        self.vrings.get(i).copied().filter(|_| i < self.num_vrings as usize)
    }
    /// Bit n for every notify id the vdev uses (its own and its vrings').
    pub fn notify_ids(&self) -> u32 {
        let vrings = self.vrings[..self.num_vrings as usize].iter().fold(0u32, |m, v| m | 1 << v.notifyid);
        vrings | 1 << self.notifyid
    }
    /// Whether `[offset, offset + len)` of config space is inside
    /// `config_len` (the one bounds check of config accesses).
    pub fn config_range(&self, offset: usize, len: usize) -> Option<usize> {
        let end = offset.checked_add(len)?;
        (end <= self.config_len as usize).then(|| self.config_at() + offset)
    }
}

/// What one entry is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A virtio device.
    Vdev(Vdev),
    /// A carveout, devmem or trace entry (not used here; checked for
    /// overlaps only).
    Other {
        /// Its type.
        kind: u32,
    },
    /// A type this parser does not know (skipped, as Linux does).
    Unknown {
        /// Its type.
        kind: u32,
    },
}

/// A resource table: the region and the offsets as they were at
/// [`open`](Self::open).
#[derive(Copy, Clone, Debug)]
pub struct ResourceTable {
    mem: SharedMemory,
    offsets: [u32; MAX_ENTRIES],
    num: u16,
}

fn le32(mem: &SharedMemory, at: usize) -> Option<u32> {
    mem.read::<u32>(at).map(u32::from_le)
}

impl ResourceTable {
    /// Check the header of the table in `mem` and snapshot its offsets.
    pub fn open(mem: SharedMemory) -> Result<Self, TableError> {
        let too_small = TableError::TooSmall { len: mem.len() };
        // Acquire: pairs with the release of `ver` in `write_table`.
        let ver = mem.load_u32(0, core::sync::atomic::Ordering::Acquire).map(u32::from_le).ok_or(too_small)?;
        let num = le32(&mem, 4).ok_or(too_small)?;
        if ver != TABLE_VERSION {
            return Err(TableError::BadVersion(ver));
        }
        let fits = HEADER_SIZE + 4 * (num as usize).min(MAX_ENTRIES + 1) <= mem.len();
        if num as usize > MAX_ENTRIES || !fits {
            return Err(TableError::TooManyEntries { num });
        }
        let mut offsets = [0u32; MAX_ENTRIES];
        for (i, o) in offsets.iter_mut().enumerate().take(num as usize) {
            *o = le32(&mem, HEADER_SIZE + 4 * i).ok_or(TableError::TooManyEntries { num })?;
        }
        Ok(ResourceTable { mem, offsets, num: num as u16 })
    }

    /// Entries in the table.
    pub fn len(&self) -> u16 {
        self.num
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// The table's memory (for the fields the driver side writes).
    pub fn memory(&self) -> SharedMemory {
        self.mem
    }

    fn header_end(&self) -> usize {
        HEADER_SIZE + 4 * self.num as usize
    }

    /// Bytes from entry `i`'s offset to the next entry's, or to the end.
    fn room(&self, i: usize) -> (usize, Option<u16>) {
        let start = self.offsets[i] as usize;
        let mut end = self.mem.len();
        let mut next = None;
        for (j, &o) in self.offsets[..self.num as usize].iter().enumerate() {
            let o = o as usize;
            if j != i && o > start && o < end {
                end = o;
                next = Some(j as u16);
            }
        }
        (end - start, next)
    }

    /// Check entry `i` and say what it is. Every problem names the entry;
    /// the other entries are unaffected.
    pub fn entry(&self, i: u16) -> Result<Resource, EntryError> {
        let err = |problem| EntryError { entry: i, problem };
        let idx = i as usize;
        if idx >= self.num as usize {
            return Err(err(EntryProblem::OutOfTable { offset: u32::MAX }));
        }
        let offset = self.offsets[idx];
        let start = offset as usize;
        if start.checked_add(4).is_none_or(|end| end > self.mem.len()) {
            return Err(err(EntryProblem::OutOfTable { offset }));
        }
        if start % 4 != 0 {
            return Err(err(EntryProblem::Misaligned { offset }));
        }
        if start < self.header_end() {
            return Err(err(EntryProblem::InsideHeader { offset }));
        }
        // Two entries at one offset: the first keeps it.
        if let Some(other) = self.offsets[..idx].iter().position(|&o| o == offset) {
            return Err(err(EntryProblem::Overlaps { other: other as u16 }));
        }
        let (room, next) = self.room(idx);
        let fits = |need: usize| -> Result<(), EntryError> {
            match (need <= room, next) {
                (true, _) => Ok(()),
                (false, Some(other)) => Err(err(EntryProblem::Overlaps { other })),
                (false, None) => Err(err(EntryProblem::Truncated { need, room })),
            }
        };
        let read = |at: usize| le32(&self.mem, start + at).ok_or(err(EntryProblem::OutOfTable { offset }));
        let kind = read(0)?;
        match kind {
            RSC_CARVEOUT | RSC_DEVMEM => fits(CARVEOUT_SIZE).map(|()| Resource::Other { kind }),
            RSC_TRACE => fits(TRACE_SIZE).map(|()| Resource::Other { kind }),
            RSC_VDEV => {
                fits(VDEV_SIZE)?;
                self.vdev(i, start, room).map(Resource::Vdev)
            }
            _ => Ok(Resource::Unknown { kind }),
        }
    }

    fn vdev(&self, i: u16, start: usize, room: usize) -> Result<Vdev, EntryError> {
        let err = |problem| EntryError { entry: i, problem };
        let oob = err(EntryProblem::Truncated { need: VDEV_SIZE, room });
        let word = |at: usize| le32(&self.mem, start + at).ok_or(oob);
        let num_of_vrings = self.mem.read::<u8>(start + vdev::NUM_OF_VRINGS).ok_or(oob)?;
        let after_fixed = room - VDEV_SIZE;
        if num_of_vrings as usize * VRING_SIZE > after_fixed {
            return Err(err(EntryProblem::VringsPastEntry { num_of_vrings, room: after_fixed }));
        }
        if num_of_vrings as usize > MAX_VRINGS {
            return Err(err(EntryProblem::TooManyVrings { num_of_vrings }));
        }
        let config_len = word(vdev::CONFIG_LEN)?;
        let after_vrings = after_fixed - num_of_vrings as usize * VRING_SIZE;
        if config_len as usize > after_vrings {
            return Err(err(EntryProblem::ConfigPastEnd { config_len, room: after_vrings }));
        }
        let notifyid = word(vdev::NOTIFYID)?;
        let mut seen = 0u64;
        let mut claim = |id: u32| {
            if id >= MAX_NOTIFY_IDS || seen & (1 << id) != 0 {
                return Err(err(EntryProblem::BadNotifyId { notifyid: id }));
            }
            seen |= 1 << id;
            Ok(())
        };
        claim(notifyid)?;
        let none = VringInfo { da: ADDR_ANY, align: 0, num: 0, notifyid: 0 };
        let mut vrings = [none; MAX_VRINGS];
        for (v, slot) in vrings.iter_mut().enumerate().take(num_of_vrings as usize) {
            let at = VDEV_SIZE + v * VRING_SIZE;
            let (da, align, num, id) = (
                word(at + vdev::DA)?,
                word(at + vdev::ALIGN)?,
                word(at + vdev::NUM)?,
                word(at + vdev::NOTIFYID_OF_VRING)?,
            );
            let size_ok = num.is_power_of_two() && num <= crate::queue::MAX_QUEUE_SIZE as u32;
            let align_ok = align.is_power_of_two() && align >= crate::queue::DESC_ALIGN as u32;
            if !size_ok || !align_ok {
                return Err(err(EntryProblem::BadVring { vring: v as u8, num, align }));
            }
            claim(id)?;
            *slot = VringInfo { da, align, num: num as u16, notifyid: id };
        }
        Ok(Vdev {
            entry: i,
            offset: start,
            id: word(vdev::ID)?,
            notifyid,
            dfeatures: word(vdev::DFEATURES)?,
            config_len,
            vrings,
            num_vrings: num_of_vrings,
        })
    }

    /// Every vdev that checks out, with each bad entry reported to
    /// `bad` (in table order). A vdev that reuses a notify id of an
    /// earlier vdev is refused too: a doorbell must name one ring.
    pub fn vdevs(&self, mut bad: impl FnMut(EntryError)) -> impl Iterator<Item = Vdev> + '_ {
        let mut out = [None; MAX_ENTRIES];
        let mut claimed = 0u32;
        for i in 0..self.num {
            match self.entry(i) {
                Ok(Resource::Vdev(v)) => {
                    let ids = v.notify_ids();
                    if ids & claimed != 0 {
                        let notifyid = (ids & claimed).trailing_zeros();
                        bad(EntryError { entry: i, problem: EntryProblem::BadNotifyId { notifyid } });
                        continue;
                    }
                    claimed |= ids;
                    out[i as usize] = Some(v);
                }
                Ok(_) => {}
                Err(e) => bad(e),
            }
        }
        out.into_iter().flatten()
    }

    /// Read `status` of `vdev` (written by the driver side).
    pub fn status(&self, vdev: &Vdev) -> u8 {
        self.mem.read::<u8>(vdev.status_at()).unwrap_or(0)
    }
    /// Write `status` of `vdev` (driver side).
    pub fn set_status(&self, vdev: &Vdev, status: u8) -> Result<(), OutOfBounds> {
        self.mem.write::<u8>(vdev.status_at(), status)
    }
    /// Read `gfeatures` of `vdev`.
    pub fn gfeatures(&self, vdev: &Vdev) -> u32 {
        le32(&self.mem, vdev.gfeatures_at()).unwrap_or(0)
    }
    /// Write `gfeatures` of `vdev` (driver side).
    pub fn set_gfeatures(&self, vdev: &Vdev, features: u32) -> Result<(), OutOfBounds> {
        self.mem.write::<u32>(vdev.gfeatures_at(), features.to_le())
    }
    /// Read vring `i`'s `da` as it is now (the driver side writes it).
    pub fn vring_da(&self, vdev: &Vdev, i: usize) -> Option<u32> {
        le32(&self.mem, vdev.vring_da_at(i)?)
    }
    /// Write vring `i`'s `da` and `pa` (driver side: where it put the ring).
    pub fn set_vring_addr(&self, vdev: &Vdev, i: usize, addr: u32) -> Result<(), OutOfBounds> {
        self.mem.write::<u32>(vdev.vring_da_at(i).ok_or(OutOfBounds)?, addr.to_le())?;
        self.mem.write::<u32>(vdev.vring_pa_at(i).ok_or(OutOfBounds)?, addr.to_le())
    }
    /// Copy config bytes `offset..offset + out.len()` out (bounds-checked
    /// against `config_len`).
    pub fn read_config(&self, vdev: &Vdev, offset: usize, out: &mut [u8]) -> Result<(), OutOfBounds> {
        let at = vdev.config_range(offset, out.len()).ok_or(OutOfBounds)?;
        self.mem.copy_out(at, out)
    }
    /// Copy config bytes in (bounds-checked against `config_len`).
    pub fn write_config(&self, vdev: &Vdev, offset: usize, bytes: &[u8]) -> Result<(), OutOfBounds> {
        let at = vdev.config_range(offset, bytes.len()).ok_or(OutOfBounds)?;
        self.mem.copy_in(at, bytes)
    }
}

/// One vdev to publish with [`write_table`]: the device side's view.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VdevSpec {
    /// VirtIO device id.
    pub id: u32,
    /// The vdev's notify id.
    pub notifyid: u32,
    /// Device features.
    pub dfeatures: u32,
    /// Bytes of config space.
    pub config_len: u32,
    /// `(num, align, notifyid)` per vring; `da` is left [`ADDR_ANY`].
    pub vrings: &'static [(u32, u32, u32)],
}

/// Write a table of `vdevs` into `mem`, entries packed after the offset
/// array, config spaces zeroed. Returns the bytes used; errors if it does
/// not fit. Device side, before it tells anyone the table exists; `ver`
/// is written last, with release order, so a reader that finds version 1
/// (acquire) finds the rest written.
pub fn write_table(mem: &SharedMemory, vdevs: &[VdevSpec]) -> Result<usize, OutOfBounds> {
    let w = |at: usize, v: u32| mem.write::<u32>(at, v.to_le());
    w(0, 0)?;
    w(4, vdevs.len() as u32)?;
    w(8, 0)?;
    w(12, 0)?;
    let mut at = HEADER_SIZE + 4 * vdevs.len();
    for (i, v) in vdevs.iter().enumerate() {
        w(HEADER_SIZE + 4 * i, at as u32)?;
        for (field, value) in [
            (0, RSC_VDEV),
            (vdev::ID, v.id),
            (vdev::NOTIFYID, v.notifyid),
            (vdev::DFEATURES, v.dfeatures),
            (vdev::GFEATURES, 0),
            (vdev::CONFIG_LEN, v.config_len),
            // status 0, num_of_vrings, reserved 0.
            (vdev::STATUS, (v.vrings.len() as u32 & 0xff) << 8),
        ] {
            w(at + field, value)?;
        }
        at += VDEV_SIZE;
        for &(num, align, notifyid) in v.vrings {
            for (field, value) in [
                (vdev::DA, ADDR_ANY),
                (vdev::ALIGN, align),
                (vdev::NUM, num),
                (vdev::NOTIFYID_OF_VRING, notifyid),
                (vdev::PA, ADDR_ANY),
            ] {
                w(at + field, value)?;
            }
            at += VRING_SIZE;
        }
        mem.fill(at, v.config_len as usize, 0)?;
        at = (at + v.config_len as usize).next_multiple_of(4);
    }
    mem.store_u32(0, TABLE_VERSION.to_le(), core::sync::atomic::Ordering::Release)?;
    Ok(at)
}

/// The doorbells between the two sides, one 32-bit word per notify id and
/// direction, in a page of its own beside the table. Linux passes the
/// notify id in a mailbox message; a Microkit notification carries no
/// data, so the sender sets the id's word, then notifies the one channel
/// between the two PDs, and the receiver takes (swaps to 0) the words of
/// the ids it serves. A word is a hint to look at a ring, never more: the
/// rings themselves are checked.
#[derive(Copy, Clone, Debug)]
pub struct Mailbox {
    mem: SharedMemory,
}

/// Which way a doorbell goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Driver side to device side (avail-buffer notifications, status).
    ToDevice,
    /// Device side to driver side (used-buffer notifications, config).
    ToDriver,
}

impl Mailbox {
    /// Bytes a mailbox needs.
    pub const SIZE: usize = 2 * 4 * MAX_NOTIFY_IDS as usize;

    /// The mailbox in `mem`; `None` if it is too small or misaligned.
    pub fn new(mem: SharedMemory) -> Option<Self> {
        (mem.len() >= Self::SIZE && mem.addr() % 4 == 0).then_some(Mailbox { mem })
    }

    fn word(direction: Direction, notifyid: u32) -> Option<usize> {
        let base = match direction {
            Direction::ToDevice => 0,
            Direction::ToDriver => 4 * MAX_NOTIFY_IDS as usize,
        };
        (notifyid < MAX_NOTIFY_IDS).then(|| base + 4 * notifyid as usize)
    }

    /// Mark `notifyid` pending (sender, before it notifies: the release
    /// pairs with the receiver's acquire in [`take`](Self::take), so the
    /// ring updates before it are seen).
    pub fn ring(&self, direction: Direction, notifyid: u32) {
        if let Some(at) = Self::word(direction, notifyid) {
            let _ = self.mem.store_u32(at, 1, core::sync::atomic::Ordering::Release);
        }
    }

    /// Whether `notifyid` was pending; clears it (receiver).
    pub fn take(&self, direction: Direction, notifyid: u32) -> bool {
        Self::word(direction, notifyid)
            .and_then(|at| self.mem.swap_u32(at, 0, core::sync::atomic::Ordering::AcqRel))
            .is_some_and(|v| v != 0)
    }
}

#[cfg(test)]
mod tests;
