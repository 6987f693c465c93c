//! The heartbeat: one word the driver PD writes around every event, for
//! its parent, the bus, to tell a driver that stopped running (stuck in
//! a loop inside an event) from one that is merely idle.
//!
//! The word counts events: it is made odd when an event starts and even
//! when it ends. An odd word that does not change for long means the PD
//! is inside one event and not leaving it; an even one, however old,
//! means it is waiting for work, which is no hang. A driver can only
//! write its own page (system.xml maps it into that driver and, read-only,
//! into the bus), so one driver cannot fake or hide another's hang.
//!
//! ```xml
//! <memory_region name="blk_heartbeat" size="0x1000" />
//! <!-- blk -->  <map mr="blk_heartbeat" vaddr="0x2c06000" perms="rw" setvar_vaddr="heartbeat_vaddr" />
//! <!-- bus -->  <map mr="blk_heartbeat" vaddr="0x2200000" perms="r" setvar_vaddr="driver0_heartbeat_vaddr" />
//! ```
//!
//! Without the map the PD writes nothing and the bus watches nothing.

use core::sync::atomic::Ordering;
use sevio_sharedmem::SharedMemory;

sevio_runtime::shared_region!(
    /// The heartbeat page, if system.xml maps one.
    fn heartbeat_page() = "heartbeat_vaddr", 4096
);

/// Offset of the word in the page.
pub const HEARTBEAT_AT: usize = 0;

/// The PD's side: its page (if any) and its count of events.
pub struct Heartbeat {
    page: Option<SharedMemory>,
    beats: u64,
}

impl Heartbeat {
    /// The page system.xml gives this PD, if it gives one.
    pub fn from_system() -> Heartbeat {
        #[cfg(not(target_os = "none"))]
        if !sevio_runtime::hosted::in_sim() {
            return Heartbeat::none();
        }
        Heartbeat::on(heartbeat_page().ok())
    }

    /// No heartbeat (host tests, systems without the map).
    pub const fn none() -> Heartbeat {
        Heartbeat { page: None, beats: 0 }
    }

    /// A heartbeat written into `page`.
    pub fn on(page: Option<SharedMemory>) -> Heartbeat {
        Heartbeat { page, beats: 0 }
    }

    fn store(&self) {
        if let Some(page) = &self.page {
            let _ = page.store_u64(HEARTBEAT_AT, self.beats, Ordering::Release);
        }
    }

    /// An event starts: the word becomes odd.
    pub fn enter(&mut self) {
        self.beats = (self.beats | 1).wrapping_add(if self.beats & 1 == 0 { 0 } else { 2 });
        self.store();
    }

    /// The event ended: the word becomes even.
    pub fn leave(&mut self) {
        self.beats = (self.beats | 1).wrapping_add(1);
        self.store();
    }
}

/// Whether a heartbeat word says its PD is inside an event.
pub fn inside_event(word: u64) -> bool {
    word & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_is_odd_inside_events_even_between_and_always_moves() {
        let region = sevio_sharedmem::HeapRegion::new(4096);
        let mut hb = Heartbeat::on(Some(region.memory()));
        let read = || region.memory().load_u64(HEARTBEAT_AT, Ordering::Acquire).unwrap();
        let mut seen = std::vec::Vec::new();
        for _ in 0..3 {
            hb.enter();
            assert!(inside_event(read()));
            seen.push(read());
            hb.leave();
            assert!(!inside_event(read()));
            seen.push(read());
        }
        assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
        // An event entered twice (a leave lost) still moves the word on.
        hb.enter();
        let a = read();
        hb.enter();
        assert!(read() > a && inside_event(read()));
    }
}
