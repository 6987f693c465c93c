//! PCI configuration space: the access trait, the ECAM implementation,
//! and the register offsets this crate uses (PCI Local Bus 3.0 §6.1,
//! PCI-to-PCI Bridge 1.2 §3.2).

use crate::regs::Registers;
use sevio_transport_protocol::Bdf;

/// Byte-granular access to every function's config space. A function
/// that does not exist reads all-ones and ignores writes.
pub trait ConfigSpace {
    /// 8-bit read.
    fn read8(&self, f: Bdf, offset: u16) -> u8;
    /// 16-bit read (aligned).
    fn read16(&self, f: Bdf, offset: u16) -> u16;
    /// 32-bit read (aligned).
    fn read32(&self, f: Bdf, offset: u16) -> u32;
    /// 8-bit write.
    fn write8(&self, f: Bdf, offset: u16, value: u8);
    /// 16-bit write (aligned).
    fn write16(&self, f: Bdf, offset: u16, value: u16);
    /// 32-bit write (aligned).
    fn write32(&self, f: Bdf, offset: u16, value: u32);
}

/// Bytes of config space per function under ECAM.
pub const FUNCTION_SPACE: usize = 4096;
/// Bytes of ECAM per bus (32 devices x 8 functions x 4 KiB).
pub const BUS_SPACE: usize = 1 << 20;

/// The Enhanced Configuration Access Mechanism (PCIe 4.0 §7.2.2): the
/// config space of bus `b`, device `d`, function `f` at
/// `b << 20 | d << 15 | f << 12` from the start of the window, which
/// covers buses `0..buses()`.
pub struct Ecam<R> {
    regs: R,
}

impl<R: Registers> Ecam<R> {
    /// ECAM over `regs`, whose first byte is bus 0's.
    pub fn new(regs: R) -> Self {
        Ecam { regs }
    }

    /// Buses the window covers (at most 256).
    pub fn buses(&self) -> usize {
        (self.regs.size() / BUS_SPACE).min(256)
    }

    fn offset(&self, f: Bdf, offset: u16, width: usize) -> Option<usize> {
        let inside = f.device < 32 && f.function < 8 && (offset as usize) + width <= FUNCTION_SPACE;
        inside.then_some(
            (f.bus as usize) << 20 | (f.device as usize) << 15 | (f.function as usize) << 12 | offset as usize,
        )
    }
}

impl<R: Registers> ConfigSpace for Ecam<R> {
    fn read8(&self, f: Bdf, offset: u16) -> u8 {
        self.offset(f, offset, 1).map_or(u8::MAX, |o| self.regs.read8(o))
    }
    fn read16(&self, f: Bdf, offset: u16) -> u16 {
        self.offset(f, offset, 2).map_or(u16::MAX, |o| self.regs.read16(o))
    }
    fn read32(&self, f: Bdf, offset: u16) -> u32 {
        self.offset(f, offset, 4).map_or(u32::MAX, |o| self.regs.read32(o))
    }
    fn write8(&self, f: Bdf, offset: u16, value: u8) {
        if let Some(o) = self.offset(f, offset, 1) {
            self.regs.write8(o, value)
        }
    }
    fn write16(&self, f: Bdf, offset: u16, value: u16) {
        if let Some(o) = self.offset(f, offset, 2) {
            self.regs.write16(o, value)
        }
    }
    fn write32(&self, f: Bdf, offset: u16, value: u32) {
        if let Some(o) = self.offset(f, offset, 4) {
            self.regs.write32(o, value)
        }
    }
}

/// Config-space register offsets.
pub mod reg {
    /// Vendor id (16 bits); 0xffff: no function.
    pub const VENDOR_ID: u16 = 0x00;
    /// Device id (16 bits).
    pub const DEVICE_ID: u16 = 0x02;
    /// Command (16 bits), see [`super::command`].
    pub const COMMAND: u16 = 0x04;
    /// Revision id (8 bits) and class code (24 bits).
    pub const CLASS_REVISION: u16 = 0x08;
    /// Header type (8 bits): bit 7 multi-function, bits 0..7 layout.
    pub const HEADER_TYPE: u16 = 0x0e;
    /// BAR 0; BAR n at `BAR0 + 4 n`.
    pub const BAR0: u16 = 0x10;
    /// Type 0: subsystem id (16 bits).
    pub const SUBSYSTEM_ID: u16 = 0x2e;
    /// Interrupt pin (8 bits): 0 none, 1..=4 INTA..INTD.
    pub const INTERRUPT_PIN: u16 = 0x3d;
    /// Type 1: primary (8), secondary (8), subordinate (8) bus, latency (8).
    pub const BUS_NUMBERS: u16 = 0x18;
    /// Type 1: I/O base (8) and I/O limit (8).
    pub const IO_BASE_LIMIT: u16 = 0x1c;
    /// Type 1: memory base (16) and memory limit (16).
    pub const MEMORY_BASE_LIMIT: u16 = 0x20;
    /// Type 1: prefetchable memory base (16) and limit (16).
    pub const PREF_BASE_LIMIT: u16 = 0x24;
    /// Type 1: prefetchable base, upper 32 bits.
    pub const PREF_BASE_UPPER: u16 = 0x28;
    /// Type 1: prefetchable limit, upper 32 bits.
    pub const PREF_LIMIT_UPPER: u16 = 0x2c;
    /// Type 1: I/O base (16) and limit (16), upper halves.
    pub const IO_UPPER: u16 = 0x30;
}

/// Command register bits.
pub mod command {
    /// Respond to I/O space accesses.
    pub const IO: u16 = 1 << 0;
    /// Respond to memory space accesses.
    pub const MEMORY: u16 = 1 << 1;
    /// May master the bus (DMA; for a bridge: forward upstream).
    pub const BUS_MASTER: u16 = 1 << 2;
    /// INTx disabled.
    pub const INTX_DISABLE: u16 = 1 << 10;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeRegisters;
    use crate::regs::Registers;

    #[test]
    fn ecam_addresses_bus_device_function() {
        let (regs, _) = FakeRegisters::memory(2 * BUS_SPACE);
        let ecam = Ecam::new(regs.clone());
        assert_eq!(ecam.buses(), 2);
        let f = Bdf { bus: 1, device: 3, function: 5 };
        ecam.write32(f, 0x10, 0xdead_beef);
        assert_eq!(regs.read32(1 << 20 | 3 << 15 | 5 << 12 | 0x10), 0xdead_beef);
        assert_eq!(ecam.read16(f, 0x12), 0xdead);
        assert_eq!(ecam.read8(f, 0x10), 0xef);
    }

    #[test]
    fn ecam_outside_the_mapped_buses_reads_all_ones_and_writes_nothing() {
        let (regs, mem) = FakeRegisters::memory(BUS_SPACE);
        let ecam = Ecam::new(regs);
        let beyond = Bdf { bus: 1, device: 0, function: 0 };
        assert_eq!(ecam.read32(beyond, 0), u32::MAX);
        ecam.write32(beyond, 0, 0);
        assert_eq!(ecam.read32(Bdf { bus: 0, device: 32, function: 0 }, 0), u32::MAX);
        assert_eq!(ecam.read32(Bdf { bus: 0, device: 0, function: 8 }, 0), u32::MAX);
        assert_eq!(ecam.read32(Bdf { bus: 0, device: 0, function: 0 }, 4094), u32::MAX, "past the function");
        assert!(mem.writes().is_empty());
    }
}
