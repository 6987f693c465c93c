//! The binding table: a page the bus writes and transports and drivers
//! map read-only.
//!
//! Layout (bytes, little-endian u32 words):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic [`TABLE_MAGIC`] ("sevB") |
//! | 4 | version [`TABLE_VERSION`] |
//! | 8 | generation: even when stable, odd while the bus writes |
//! | 12 | capacity: number of entry slots that follow |
//! | 16 + 16*i | entry i |
//!
//! Entry (16 bytes): `{state u8 @0 (0 empty, 1 bound), driver u8 @1,
//! transport u8 @2, kind u8 @3 (0 mmio, 1 pci), location u32 @4 (slot or
//! BDF), device_id u32 @8, vendor_id u32 @12}`. Every word is read and
//! written as an atomic u32.
//!
//! Torn reads: the bus bumps the generation to odd (relaxed store, then a
//! release fence), writes the entries, and stores the next even value
//! (release). A reader loads the generation (acquire), reads the entries,
//! puts an acquire fence, and loads the generation again: equal and even
//! means the snapshot is whole (a seqlock). Otherwise
//! [`TableError::Torn`]: read again.

use crate::{Binding, DriverId, TransportId};
use core::sync::atomic::{
    Ordering::{Acquire, Relaxed, Release},
    fence,
};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::{Bdf, Location};

/// Reads of a torn table a reader makes before it gives up until the
/// bus's next notification (drivers and transports alike).
///
/// On seL4 a driver never sees the table mid-write: the bus runs above
/// it and finishes each write before anything below runs. Where PDs run
/// at once (sim's processes, or several cores) the bus may be paused
/// between its two generation stores while a reader reads, and the bus's
/// next notification goes only to the PDs whose binding that write
/// changed: a reader that gave up early would miss its own binding for
/// good (seen in sim under load: `rpmsg: binding table unreadable:
/// Torn`, then no bring-up). So a torn read is retried long enough to
/// outlast a descheduled writer (each try is a few hundred loads).
pub const TORN_READ_ATTEMPTS: u32 = 1 << 20;

/// "sevB" little-endian.
pub const TABLE_MAGIC: u32 = u32::from_le_bytes(*b"sevB");
/// Layout version.
pub const TABLE_VERSION: u32 = 1;
/// Header bytes before the entries.
pub const TABLE_HEADER_SIZE: usize = 16;
/// Bytes per entry.
pub const TABLE_ENTRY_SIZE: usize = 16;
/// Entries in a 4 KiB page.
pub const TABLE_PAGE_CAPACITY: u32 = ((4096 - TABLE_HEADER_SIZE) / TABLE_ENTRY_SIZE) as u32;

const MAGIC: usize = 0;
const VERSION: usize = 4;
const GENERATION: usize = 8;
const CAPACITY: usize = 12;

/// Why the table cannot be read or written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The region cannot hold the header and the entries.
    TooSmall,
    /// No magic: the bus has not initialised the table yet.
    NotInitialised,
    /// Another layout version.
    Version(u32),
    /// The bus was writing meanwhile; read again.
    Torn,
    /// More bindings than entry slots (writer).
    Full,
    /// An entry the bus wrote does not decode (bad state, kind or BDF).
    BadEntry {
        /// Entry index.
        index: u32,
    },
}

fn check(mem: &SharedMemory, capacity: u32) -> Result<(), TableError> {
    let need = (capacity as usize).checked_mul(TABLE_ENTRY_SIZE).and_then(|n| n.checked_add(TABLE_HEADER_SIZE));
    match need {
        Some(n) if n <= mem.len() && mem.addr().is_multiple_of(4) => Ok(()),
        _ => Err(TableError::TooSmall),
    }
}

fn entry_words(b: &Binding) -> [u32; 4] {
    let (kind, loc) = match b.location {
        Location::Mmio { slot } => (0u32, slot),
        // An out-of-range BDF cannot be stored; encode it as BDF 0xffff
        // with kind 0xff so readers reject the entry.
        Location::Pci(bdf) => match bdf.to_u16() {
            Some(v) => (1, u32::from(v)),
            None => (0xff, 0xffff),
        },
        Location::Rproc { entry } => (2, entry),
    };
    [1 | u32::from(b.driver.0) << 8 | u32::from(b.transport.0) << 16 | kind << 24, loc, b.device_id, b.vendor_id]
}

fn decode_entry(index: u32, w: [u32; 4]) -> Result<Option<Binding>, TableError> {
    let bad = TableError::BadEntry { index };
    match w[0] & 0xff {
        0 => return Ok(None),
        1 => {}
        _ => return Err(bad),
    }
    let location = match w[0] >> 24 {
        0 => Location::Mmio { slot: w[1] },
        1 if w[1] <= 0xffff => Location::Pci(Bdf::from_u16(w[1] as u16)),
        2 => Location::Rproc { entry: w[1] },
        _ => return Err(bad),
    };
    Ok(Some(Binding {
        driver: DriverId((w[0] >> 8) as u8),
        transport: TransportId((w[0] >> 16) as u8),
        location,
        device_id: w[2],
        vendor_id: w[3],
    }))
}

/// The bus's (only) writer of a binding table.
#[derive(Debug)]
pub struct TableWriter {
    mem: SharedMemory,
    capacity: u32,
    generation: u32,
}

impl TableWriter {
    /// Initialise the table with `capacity` empty slots (generation 0),
    /// magic last (release). Caller: the bus, at init.
    pub fn init(mem: SharedMemory, capacity: u32) -> Result<Self, TableError> {
        check(&mem, capacity)?;
        let w = TableWriter { mem, capacity, generation: 0 };
        w.store(GENERATION, 0, Relaxed)?;
        w.store(CAPACITY, capacity, Relaxed)?;
        w.store(VERSION, TABLE_VERSION, Relaxed)?;
        for i in 0..capacity as usize * 4 {
            w.store(TABLE_HEADER_SIZE + 4 * i, 0, Relaxed)?;
        }
        w.store(MAGIC, TABLE_MAGIC, Release)?;
        Ok(w)
    }

    fn store(&self, off: usize, v: u32, o: core::sync::atomic::Ordering) -> Result<(), TableError> {
        self.mem.store_u32(off, v, o).map_err(|_| TableError::TooSmall)
    }

    /// The generation after the last write.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Replace the table's contents with `bindings` (the rest of the slots
    /// become empty). Caller: the bus, then it notifies transports and
    /// drivers. Fails with [`TableError::Full`] before touching anything
    /// if there are more bindings than slots.
    pub fn write(&mut self, bindings: impl Iterator<Item = Binding> + Clone) -> Result<u32, TableError> {
        if bindings.clone().count() > self.capacity as usize {
            return Err(TableError::Full);
        }
        let odd = self.generation.wrapping_add(1);
        self.store(GENERATION, odd, Relaxed)?;
        fence(Release);
        let mut i = 0usize;
        for b in bindings {
            for (k, word) in entry_words(&b).into_iter().enumerate() {
                self.store(TABLE_HEADER_SIZE + i * TABLE_ENTRY_SIZE + 4 * k, word, Relaxed)?;
            }
            i += 1;
        }
        for j in i..self.capacity as usize {
            self.store(TABLE_HEADER_SIZE + j * TABLE_ENTRY_SIZE, 0, Relaxed)?;
        }
        self.generation = odd.wrapping_add(1);
        self.store(GENERATION, self.generation, Release)?;
        Ok(self.generation)
    }
}

/// A read-only view of a binding table (transports, drivers).
#[derive(Copy, Clone, Debug)]
pub struct TableReader {
    mem: SharedMemory,
    capacity: u32,
}

impl TableReader {
    /// Open a table the bus initialised: checks magic (acquire), version
    /// and that the capacity the bus wrote fits the region.
    pub fn open(mem: SharedMemory) -> Result<Self, TableError> {
        check(&mem, 0)?;
        if mem.load_u32(MAGIC, Acquire) != Some(TABLE_MAGIC) {
            return Err(TableError::NotInitialised);
        }
        let version = mem.load_u32(VERSION, Relaxed).ok_or(TableError::TooSmall)?;
        if version != TABLE_VERSION {
            return Err(TableError::Version(version));
        }
        let capacity = mem.load_u32(CAPACITY, Relaxed).ok_or(TableError::TooSmall)?;
        check(&mem, capacity)?;
        Ok(TableReader { mem, capacity })
    }

    /// Entry slots.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Call `f` with each binding of one consistent snapshot; returns its
    /// generation. On [`TableError::Torn`] `f` may have seen part of a
    /// snapshot: discard what it gathered and call again.
    pub fn for_each(&self, mut f: impl FnMut(Binding)) -> Result<u32, TableError> {
        let g1 = self.mem.load_u32(GENERATION, Acquire).ok_or(TableError::TooSmall)?;
        if g1 % 2 == 1 {
            return Err(TableError::Torn);
        }
        let mut bad = None;
        for i in 0..self.capacity {
            let base = TABLE_HEADER_SIZE + i as usize * TABLE_ENTRY_SIZE;
            let mut w = [0u32; 4];
            for (k, word) in w.iter_mut().enumerate() {
                *word = self.mem.load_u32(base + 4 * k, Relaxed).ok_or(TableError::TooSmall)?;
            }
            match decode_entry(i, w) {
                Ok(Some(b)) => f(b),
                Ok(None) => {}
                Err(e) => bad = bad.or(Some(e)),
            }
        }
        fence(Acquire);
        let g2 = self.mem.load_u32(GENERATION, Relaxed).ok_or(TableError::TooSmall)?;
        if g1 != g2 {
            return Err(TableError::Torn);
        }
        match bad {
            Some(e) => Err(e),
            None => Ok(g1),
        }
    }

    /// The first binding (in one consistent snapshot) that `pred` accepts,
    /// retrying torn reads up to `attempts` times.
    pub fn find(&self, attempts: u32, mut pred: impl FnMut(&Binding) -> bool) -> Result<Option<Binding>, TableError> {
        let mut last = TableError::Torn;
        for _ in 0..attempts {
            let mut found = None;
            match self.for_each(|b| {
                if found.is_none() && pred(&b) {
                    found = Some(b)
                }
            }) {
                Ok(_) => return Ok(found),
                Err(TableError::Torn) => {
                    last = TableError::Torn;
                    // The writer is between its two generation stores.
                    core::hint::spin_loop();
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// The device bound to `driver`, if any (driver side).
    pub fn binding_of_driver(&self, driver: DriverId, attempts: u32) -> Result<Option<Binding>, TableError> {
        self.find(attempts, |b| b.driver == driver)
    }

    /// The driver bound to the device at `location` on `transport`, if any
    /// (transport side: is this driver allowed to touch this device?).
    pub fn binding_of_device(
        &self,
        transport: TransportId,
        location: Location,
        attempts: u32,
    ) -> Result<Option<Binding>, TableError> {
        self.find(attempts, |b| b.transport == transport && b.location == location)
    }
}
