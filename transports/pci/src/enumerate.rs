//! The bus walk: every function on bus 0 and on the buses behind
//! PCI-to-PCI bridges (which get bus numbers and windows here), BARs sized
//! and assigned for the functions the caller wants, INTx lines worked out
//! through the bridges' swizzle.
//!
//! Nothing is enabled for an endpoint here: [`enable`] does that once the
//! caller has checked the function (so a device with a bad capability is
//! never given the bus).

use crate::bars::{BRIDGE_IO_GRANULE, BRIDGE_MEM_GRANULE, Bars, Space, Windows, assign_bars, size_bars};
use crate::config_space::{ConfigSpace, command, reg};
use crate::problem::Problem;
use sevio_transport_protocol::Bdf;

/// Functions one enumeration keeps.
pub const MAX_FUNCTIONS: usize = 16;
/// Class code (base class, sub-class) of a host bridge.
const HOST_BRIDGE_CLASS: u32 = 0x0600;
/// Bridges deep the walk goes (each level also needs a bus number).
pub const MAX_DEPTH: u8 = 8;

/// A function whose BARs are assigned (decoding still off).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Where it is.
    pub bdf: Bdf,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Its BARs, with bus addresses.
    pub bars: Bars,
    /// The host bridge's INTx line (0..4 = INTA..INTD at the root, i.e.
    /// SPI 3 + line on QEMU arm virt) the function's pin reaches, after
    /// the swizzle of every bridge above it; `None` without a pin.
    pub line: Option<u8>,
}

/// What the walk found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The wanted functions, BARs assigned, in bus order.
    pub functions: heapless::Vec<Function, MAX_FUNCTIONS>,
    /// Bridges configured.
    pub bridges: u8,
    /// The highest bus number given out.
    pub last_bus: u8,
}

struct Walk<'a, C, W, P> {
    cfg: &'a C,
    max_bus: u8,
    windows: &'a mut Windows,
    want: W,
    report: P,
    scan: Scan,
}

/// Walk bus 0 and everything behind it. `buses` is how many buses the
/// config space covers; `want(vendor, device)` picks the endpoints to
/// give BARs; `report` hears of every function left alone and why.
pub fn enumerate<C, W, P>(cfg: &C, buses: usize, windows: &mut Windows, want: W, report: P) -> Scan
where
    C: ConfigSpace,
    W: FnMut(u16, u16) -> bool,
    P: FnMut(Bdf, Problem),
{
    let max_bus = (buses.clamp(1, 256) - 1) as u8;
    let mut walk = Walk { cfg, max_bus, windows, want, report, scan: Scan::default() };
    walk.bus(0, 0, 0);
    walk.scan
}

impl<C: ConfigSpace, W: FnMut(u16, u16) -> bool, P: FnMut(Bdf, Problem)> Walk<'_, C, W, P> {
    /// Scan bus `bus`; `swizzle` is the sum of the device numbers of the
    /// bridges above it. Returns the highest bus number below it.
    fn bus(&mut self, bus: u8, swizzle: u8, depth: u8) -> u8 {
        let mut last = bus;
        for device in 0..32u8 {
            let f0 = Bdf { bus, device, function: 0 };
            if self.cfg.read16(f0, reg::VENDOR_ID) == 0xffff {
                continue;
            }
            let multi = self.cfg.read8(f0, reg::HEADER_TYPE) & 0x80 != 0;
            for function in 0..if multi { 8 } else { 1 } {
                let f = Bdf { bus, device, function };
                if function > 0 && self.cfg.read16(f, reg::VENDOR_ID) == 0xffff {
                    continue;
                }
                last = last.max(self.function(f, swizzle.wrapping_add(device), depth));
            }
        }
        last
    }

    /// One present function. Returns the highest bus number it uses.
    fn function(&mut self, f: Bdf, swizzle: u8, depth: u8) -> u8 {
        let id = self.cfg.read32(f, reg::VENDOR_ID);
        let class = self.cfg.read32(f, reg::CLASS_REVISION);
        let header = self.cfg.read32(f, reg::HEADER_TYPE & !3);
        if class == u32::MAX && header == u32::MAX {
            (self.report)(f, Problem::AllOnes);
            return f.bus;
        }
        match (header >> 16) as u8 & 0x7f {
            0 => {
                self.endpoint(f, id as u16, (id >> 16) as u16, swizzle, class);
                f.bus
            }
            1 => self.bridge(f, swizzle, depth),
            other => {
                (self.report)(f, Problem::UnknownHeaderType(other));
                f.bus
            }
        }
    }

    fn endpoint(&mut self, f: Bdf, vendor: u16, device: u16, swizzle: u8, class: u32) {
        if !(self.want)(vendor, device) {
            // Nobody else can reach PCI config space, so a function this
            // transport does not drive is quiesced: no decoding, no DMA,
            // and no INTx (which could otherwise hold a shared line
            // asserted with no one to acknowledge it). Host bridges
            // (class 06.00) are left as they are.
            if class >> 16 != HOST_BRIDGE_CLASS {
                self.cfg.write16(f, reg::COMMAND, command::INTX_DISABLE);
            }
            return;
        }
        self.cfg.write16(f, reg::COMMAND, 0);
        let bars = size_bars(self.cfg, f, 6).and_then(|mut bars| {
            assign_bars(self.cfg, f, &mut bars, self.windows)?;
            Ok(bars)
        });
        let bars = match bars {
            Ok(bars) => bars,
            Err(e) => return (self.report)(f, Problem::Bar(e)),
        };
        let pin = self.cfg.read8(f, reg::INTERRUPT_PIN);
        // PCI-to-PCI Bridge 1.2 §9.1: INTx of device d on a secondary bus
        // appears on pin ((pin - 1 + d) mod 4) + 1 of its bridge; the host
        // bridge of QEMU arm virt applies the same rule for bus 0.
        let line = (1..=4).contains(&pin).then(|| (pin - 1).wrapping_add(swizzle) % 4);
        let function = Function { bdf: f, vendor, device, bars, line };
        if self.scan.functions.push(function).is_err() {
            (self.report)(f, Problem::TooManyFunctions);
        }
    }

    /// Give the bridge a bus number, scan behind it, and open its
    /// windows over exactly what was placed behind it.
    fn bridge(&mut self, f: Bdf, swizzle: u8, depth: u8) -> u8 {
        if depth >= MAX_DEPTH || self.scan.last_bus >= self.max_bus {
            (self.report)(f, Problem::NoBusNumber);
            return f.bus;
        }
        self.cfg.write16(f, reg::COMMAND, 0);
        // The bridge's own BARs (QEMU's root ports have an MSI-X BAR)
        // sit in the parent's range, outside its window.
        let assigned = size_bars(self.cfg, f, 2).and_then(|mut bars| assign_bars(self.cfg, f, &mut bars, self.windows));
        if let Err(e) = assigned {
            (self.report)(f, Problem::Bar(e));
            return f.bus;
        }
        self.scan.last_bus += 1;
        let secondary = self.scan.last_bus;
        let latency = self.cfg.read32(f, reg::BUS_NUMBERS) & 0xff00_0000;
        let numbers = |subordinate: u8| latency | (subordinate as u32) << 16 | (secondary as u32) << 8 | f.bus as u32;
        // Until the walk below is done, route every bus we may hand out.
        self.cfg.write32(f, reg::BUS_NUMBERS, numbers(self.max_bus));
        self.windows.mem.align_next(BRIDGE_MEM_GRANULE);
        self.windows.io.align_next(BRIDGE_IO_GRANULE);
        let (mem_start, io_start) = (self.windows.mem.next(), self.windows.io.next());
        let subordinate = self.bus(secondary, swizzle, depth + 1);
        self.windows.mem.align_next(BRIDGE_MEM_GRANULE);
        self.windows.io.align_next(BRIDGE_IO_GRANULE);
        let (mem_end, io_end) = (self.windows.mem.next(), self.windows.io.next());
        self.cfg.write32(f, reg::BUS_NUMBERS, numbers(subordinate));
        self.cfg.write32(f, reg::MEMORY_BASE_LIMIT, window_register(mem_start, mem_end, 16, 0xfff0));
        self.cfg.write16(f, reg::IO_BASE_LIMIT, window_register(io_start, io_end, 8, 0xf0) as u16);
        self.cfg.write32(f, reg::IO_UPPER, 0);
        // No prefetchable window: prefetchable BARs behind the bridge lie
        // in its memory window (allowed: it forwards either kind).
        self.cfg.write32(f, reg::PREF_BASE_LIMIT, 0xfff0);
        self.cfg.write32(f, reg::PREF_BASE_UPPER, 0);
        self.cfg.write32(f, reg::PREF_LIMIT_UPPER, 0);
        self.cfg.write16(f, reg::COMMAND, command::MEMORY | command::IO | command::BUS_MASTER);
        self.scan.bridges += 1;
        subordinate
    }
}

/// A bridge base/limit register pair covering `start..end` (empty: base
/// above limit, which closes the window). `shift` turns an address into
/// the register's granule bits, `mask` keeps them.
fn window_register(start: u64, end: u64, shift: u32, mask: u32) -> u32 {
    if end <= start {
        return mask;
    }
    let base = (start >> shift) as u32 & mask;
    let limit = ((end - 1) >> shift) as u32 & mask;
    base | limit << if shift == 16 { 16 } else { 8 }
}

/// Turn the function on: decoding for the spaces its BARs use, bus
/// mastering when `bus_master` (after the caller has reset the device),
/// INTx enabled.
pub fn enable<C: ConfigSpace>(cfg: &C, function: &Function, bus_master: bool) {
    let mut bits = 0;
    for bar in function.bars.iter().flatten() {
        bits |= match bar.space {
            Space::Io => command::IO,
            Space::Memory => command::MEMORY,
        };
    }
    if bus_master {
        bits |= command::BUS_MASTER;
    }
    cfg.write16(function.bdf, reg::COMMAND, bits);
}

/// Turn the function off again (a device found unusable after its BARs
/// were assigned).
pub fn disable<C: ConfigSpace>(cfg: &C, function: &Function) {
    cfg.write16(function.bdf, reg::COMMAND, command::INTX_DISABLE);
}
