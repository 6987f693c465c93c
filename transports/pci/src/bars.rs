//! Base address registers: sizing (PCI Local Bus 3.0 §6.2.5.1: write
//! all-ones, read back, restore) and assignment inside the address
//! windows this PD owns.

use crate::config_space::{ConfigSpace, reg};
use sevio_transport_protocol::Bdf;

/// Address space of a BAR.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Space {
    /// PCI I/O ports.
    Io,
    /// PCI memory (a 32- or 64-bit BAR).
    Memory,
}

/// One implemented BAR.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Which address space.
    pub space: Space,
    /// A 64-bit memory BAR (it also occupies the next register).
    pub wide: bool,
    /// Prefetchable memory.
    pub prefetchable: bool,
    /// Bytes (a power of two).
    pub size: u64,
    /// Bus address (port number for I/O) once assigned; 0 before.
    pub addr: u64,
}

/// What can be wrong with a function's BARs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BarError {
    /// The read-back is not a BAR: a reserved memory type, reserved bits
    /// set, or a size that is not a power of two (an all-ones read-back
    /// is one of these).
    Malformed {
        /// BAR index.
        bar: u8,
        /// What was read back after writing all-ones.
        readback: u32,
    },
    /// A 64-bit BAR in the last register, with no upper half.
    Truncated {
        /// BAR index.
        bar: u8,
    },
    /// The BAR is larger than what is left of the window for its space.
    DoesNotFit {
        /// BAR index.
        bar: u8,
        /// Its size.
        size: u64,
        /// The window it needed.
        space: Space,
    },
}

/// The BARs of one function, by index; the upper half of a 64-bit BAR
/// is `None`.
pub type Bars = [Option<Bar>; 6];

/// A bump allocator over one window of bus addresses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddressWindow {
    base: u64,
    end: u64,
    next: u64,
}

impl AddressWindow {
    /// The window `base..base + size`.
    pub const fn new(base: u64, size: u64) -> Self {
        AddressWindow { base, end: base.saturating_add(size), next: base }
    }

    /// First address of the window.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// The first address not yet handed out.
    pub const fn next(&self) -> u64 {
        self.next
    }

    /// `size` bytes aligned to `align` (a power of two), if they fit.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        let at = self.next.checked_next_multiple_of(align)?;
        let end = at.checked_add(size)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        Some(at)
    }

    /// Move the next address up to a multiple of `align`, at most to the
    /// end of the window (bridge windows have 1 MiB / 4 KiB granules).
    pub fn align_next(&mut self, align: u64) {
        self.next = self.next.checked_next_multiple_of(align).map_or(self.end, |n| n.min(self.end));
    }
}

/// The windows BARs are placed in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Memory (bus addresses, 32-bit so any BAR can hold them).
    pub mem: AddressWindow,
    /// I/O ports.
    pub io: AddressWindow,
}

/// Bridge memory windows are 1 MiB granular.
pub const BRIDGE_MEM_GRANULE: u64 = 1 << 20;
/// Bridge I/O windows are 4 KiB granular.
pub const BRIDGE_IO_GRANULE: u64 = 1 << 12;

impl Windows {
    /// Windows over memory `mem = (base, size)` and ports `io = (base,
    /// size)`; `None` unless they are bridge-granule aligned (so a bridge
    /// window never reaches past them) and the memory window lies below
    /// 4 GiB.
    pub fn new(mem: (u64, u64), io: (u64, u64)) -> Option<Self> {
        let aligned = |(base, size): (u64, u64), g: u64| base % g == 0 && size % g == 0;
        let mem_end = mem.0.checked_add(mem.1)?;
        let io_end = io.0.checked_add(io.1)?;
        (aligned(mem, BRIDGE_MEM_GRANULE) && aligned(io, BRIDGE_IO_GRANULE) && mem_end <= 1 << 32 && io_end <= 1 << 16)
            .then(|| Windows { mem: AddressWindow::new(mem.0, mem.1), io: AddressWindow::new(io.0, io.1) })
    }
}

fn bar_offset(i: usize) -> u16 {
    reg::BAR0 + 4 * i as u16
}

/// Write all-ones to the register, read back, restore.
fn probe_register<C: ConfigSpace>(cfg: &C, f: Bdf, offset: u16) -> u32 {
    let saved = cfg.read32(f, offset);
    cfg.write32(f, offset, u32::MAX);
    let readback = cfg.read32(f, offset);
    cfg.write32(f, offset, saved);
    readback
}

/// Size the first `count` BARs (6 for a type 0 header, 2 for a bridge).
/// The function's decoding must be off (command register).
pub fn size_bars<C: ConfigSpace>(cfg: &C, f: Bdf, count: usize) -> Result<Bars, BarError> {
    let mut bars: Bars = [None; 6];
    let mut i = 0;
    while i < count.min(6) {
        let readback = probe_register(cfg, f, bar_offset(i));
        let malformed = BarError::Malformed { bar: i as u8, readback };
        if readback == 0 {
            i += 1;
            continue;
        }
        let bar = if readback & 1 == 1 {
            // I/O: bit 1 is reserved; devices that decode only 16 bits
            // of port address read the upper half back as zero.
            if readback & 2 != 0 {
                return Err(malformed);
            }
            let mut mask = readback & !3;
            if mask >> 16 == 0 {
                mask |= 0xffff_0000;
            }
            let size = (!mask).wrapping_add(1) as u64;
            Bar { space: Space::Io, wide: false, prefetchable: false, size, addr: 0 }
        } else {
            let prefetchable = readback & 8 != 0;
            let (wide, mask) = match (readback >> 1) & 3 {
                0 => (false, 0xffff_ffff_0000_0000 | (readback & !0xf) as u64),
                2 => {
                    if i + 1 >= count.min(6) {
                        return Err(BarError::Truncated { bar: i as u8 });
                    }
                    let high = probe_register(cfg, f, bar_offset(i + 1));
                    (true, (high as u64) << 32 | (readback & !0xf) as u64)
                }
                _ => return Err(malformed),
            };
            let size = (!mask).wrapping_add(1);
            Bar { space: Space::Memory, wide, prefetchable, size, addr: 0 }
        };
        if !bar.size.is_power_of_two() {
            return Err(malformed);
        }
        bars[i] = Some(bar);
        i += if bar.wide { 2 } else { 1 };
    }
    Ok(bars)
}

/// Place every BAR in `windows` (naturally aligned) and program the
/// addresses. All or nothing: on error no window moves and no BAR is
/// written.
pub fn assign_bars<C: ConfigSpace>(cfg: &C, f: Bdf, bars: &mut Bars, windows: &mut Windows) -> Result<(), BarError> {
    let mut trial = *windows;
    let mut placed = *bars;
    for (i, slot) in placed.iter_mut().enumerate() {
        let Some(bar) = slot else { continue };
        let window = match bar.space {
            Space::Io => &mut trial.io,
            Space::Memory => &mut trial.mem,
        };
        // Natural alignment; at least 16 bytes of memory / 4 ports.
        let align = bar.size.max(if bar.space == Space::Io { 4 } else { 16 });
        bar.addr = window.alloc(bar.size, align).ok_or(BarError::DoesNotFit {
            bar: i as u8,
            size: bar.size,
            space: bar.space,
        })?;
    }
    for (i, bar) in placed.iter().enumerate() {
        let Some(bar) = bar else { continue };
        let flags = cfg.read32(f, bar_offset(i)) & if bar.space == Space::Io { 0x3 } else { 0xf };
        cfg.write32(f, bar_offset(i), bar.addr as u32 | flags);
        if bar.wide {
            cfg.write32(f, bar_offset(i + 1), (bar.addr >> 32) as u32);
        }
    }
    *bars = placed;
    *windows = trial;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeBar, FakeConfig, FakeFunction};

    const F: Bdf = Bdf { bus: 0, device: 2, function: 0 };

    fn windows() -> Windows {
        Windows::new((0x1000_0000, 0x100_0000), (0x1000, 0xf000)).unwrap()
    }

    /// F: an I/O BAR 0, a 32-bit BAR 1, a 64-bit prefetchable BAR 4.
    fn transitional() -> FakeConfig {
        let cfg = FakeConfig::new();
        let f = FakeFunction::endpoint(0x1af4, 0x1001).bar(0, FakeBar::Io(0x40)).bar(1, FakeBar::Mem32(0x1000));
        cfg.add(F, f.bar(4, FakeBar::Mem64 { size: 0x4000, prefetchable: true }));
        cfg
    }

    #[test]
    fn sizes_io_32_and_64_bit_bars() {
        let cfg = transitional();
        let bars = size_bars(&cfg, F, 6).unwrap();
        assert_eq!(bars[0], Some(Bar { space: Space::Io, wide: false, prefetchable: false, size: 0x40, addr: 0 }));
        assert_eq!(bars[1].map(|b| (b.space, b.size, b.wide)), Some((Space::Memory, 0x1000, false)));
        assert_eq!(bars[4].map(|b| (b.size, b.wide, b.prefetchable)), Some((0x4000, true, true)));
        assert_eq!((bars[2], bars[3], bars[5]), (None, None, None));
    }

    #[test]
    fn sizing_restores_the_registers() {
        let cfg = FakeConfig::new();
        cfg.add(F, FakeFunction::endpoint(0x1af4, 0x1042).bar(1, FakeBar::Mem32(0x1000)));
        cfg.write32(F, reg::BAR0 + 4, 0x2000_0000);
        size_bars(&cfg, F, 6).unwrap();
        assert_eq!(cfg.read32(F, reg::BAR0 + 4), 0x2000_0000);
    }

    #[test]
    fn malformed_bars_are_refused() {
        let cfg = FakeConfig::new();
        cfg.add(F, FakeFunction::endpoint(0x1af4, 0x1042).bar(5, FakeBar::Mem64 { size: 0x4000, prefetchable: false }));
        assert_eq!(size_bars(&cfg, F, 6), Err(BarError::Truncated { bar: 5 }));
        let g = Bdf { device: 3, ..F };
        cfg.add(g, FakeFunction::endpoint(0x1af4, 0x1042).bar(0, FakeBar::Raw(u32::MAX)));
        assert_eq!(size_bars(&cfg, g, 6), Err(BarError::Malformed { bar: 0, readback: u32::MAX }));
        let h = Bdf { device: 4, ..F };
        cfg.add(h, FakeFunction::endpoint(0x1af4, 0x1042).bar(2, FakeBar::Raw(0xfff0_f000)));
        assert!(matches!(size_bars(&cfg, h, 6), Err(BarError::Malformed { bar: 2, .. })), "holes in the size mask");
    }

    #[test]
    fn assignment_is_naturally_aligned_and_all_or_nothing() {
        let cfg = transitional();
        let mut w = windows();
        w.mem.alloc(0x10, 1).unwrap();
        let mut bars = size_bars(&cfg, F, 6).unwrap();
        assign_bars(&cfg, F, &mut bars, &mut w).unwrap();
        assert_eq!(bars[0].unwrap().addr, 0x1000);
        assert_eq!(bars[1].unwrap().addr, 0x1000_1000);
        assert_eq!(bars[4].unwrap().addr, 0x1000_4000);
        assert_eq!(cfg.read32(F, reg::BAR0), 0x1001, "I/O flag kept");
        assert_eq!(cfg.read32(F, reg::BAR0 + 16), 0x1000_400c, "64-bit prefetchable flags kept");
        assert_eq!(cfg.read32(F, reg::BAR0 + 20), 0);

        let big = Bdf { device: 6, ..F };
        cfg.add(
            big,
            FakeFunction::endpoint(0x1af4, 0x1041).bar(0, FakeBar::Mem32(0x1000)).bar(1, FakeBar::Mem32(0x400_0000)),
        );
        let mut bars = size_bars(&cfg, big, 6).unwrap();
        let before = w;
        assert_eq!(
            assign_bars(&cfg, big, &mut bars, &mut w),
            Err(BarError::DoesNotFit { bar: 1, size: 0x400_0000, space: Space::Memory })
        );
        assert_eq!(w, before, "nothing allocated");
        assert_eq!(cfg.read32(big, reg::BAR0), 0, "nothing written");
    }

    #[test]
    fn windows_must_be_bridge_aligned() {
        assert!(Windows::new((0x1000_0000, 0x10_0000), (0x1000, 0x1000)).is_some());
        assert!(Windows::new((0x1000_8000, 0x10_0000), (0x1000, 0x1000)).is_none());
        assert!(Windows::new((0x1000_0000, 0x10_0000), (0x1800, 0x1000)).is_none());
        assert!(Windows::new((0xfff0_0000, 0x20_0000), (0, 0x1000)).is_none(), "above 4 GiB");
        let mut w = AddressWindow::new(0x100, 0x100);
        w.align_next(0x1000);
        assert_eq!(w.next(), 0x200, "clamped at the end");
        assert_eq!(w.alloc(1, 1), None);
    }
}
