//! Register windows: what the transport reads and writes, whether it is
//! ECAM config space, a memory BAR or the I/O port window.
//!
//! On the PD this is [`sevio_runtime::mmio::DeviceRegion`] (device
//! memory on seL4, proxied to QEMU under sim); tests use fakes.

/// A window of registers with 8/16/32-bit accesses. An access outside the
/// window reads all-ones and writes nothing (as a bus with nothing behind
/// it, and as `DeviceRegion` does).
pub trait Registers: Sized {
    /// Bytes in the window.
    fn size(&self) -> usize;
    /// The sub-window `offset..offset + size`, if it lies inside.
    fn window(&self, offset: usize, size: usize) -> Option<Self>;
    /// 8-bit read.
    fn read8(&self, offset: usize) -> u8;
    /// 16-bit read.
    fn read16(&self, offset: usize) -> u16;
    /// 32-bit read.
    fn read32(&self, offset: usize) -> u32;
    /// 8-bit write.
    fn write8(&self, offset: usize, value: u8);
    /// 16-bit write.
    fn write16(&self, offset: usize, value: u16);
    /// 32-bit write.
    fn write32(&self, offset: usize, value: u32);
}

impl Registers for sevio_runtime::mmio::DeviceRegion {
    fn size(&self) -> usize {
        sevio_runtime::mmio::DeviceRegion::size(self)
    }
    fn window(&self, offset: usize, size: usize) -> Option<Self> {
        sevio_runtime::mmio::DeviceRegion::window(self, offset, size)
    }
    fn read8(&self, offset: usize) -> u8 {
        sevio_runtime::mmio::DeviceRegion::read8(self, offset)
    }
    fn read16(&self, offset: usize) -> u16 {
        sevio_runtime::mmio::DeviceRegion::read16(self, offset)
    }
    fn read32(&self, offset: usize) -> u32 {
        sevio_runtime::mmio::DeviceRegion::read32(self, offset)
    }
    fn write8(&self, offset: usize, value: u8) {
        sevio_runtime::mmio::DeviceRegion::write8(self, offset, value)
    }
    fn write16(&self, offset: usize, value: u16) {
        sevio_runtime::mmio::DeviceRegion::write16(self, offset, value)
    }
    fn write32(&self, offset: usize, value: u32) {
        sevio_runtime::mmio::DeviceRegion::write32(self, offset, value)
    }
}

/// Read `width` (1, 2, 4 or 8) bytes at `offset` with accesses of the
/// field's own width where it is aligned (VIRTIO 1.2 §4.1.3.1: "the
/// driver MUST use 8-bit wide accesses for 8-bit wide fields, 16-bit wide
/// and aligned accesses for 16-bit wide fields and 32-bit wide and aligned
/// accesses for 32-bit and 64-bit wide fields"), byte by byte otherwise.
pub fn read_field<R: Registers>(regs: &R, offset: usize, width: usize) -> u64 {
    match width {
        1 => regs.read8(offset) as u64,
        2 if offset % 2 == 0 => regs.read16(offset) as u64,
        4 if offset % 4 == 0 => regs.read32(offset) as u64,
        8 if offset % 4 == 0 => regs.read32(offset) as u64 | (regs.read32(offset + 4) as u64) << 32,
        _ => (0..width).fold(0, |v, i| v | (regs.read8(offset + i) as u64) << (8 * i)),
    }
}

/// Write `width` bytes at `offset`, with the access widths of [`read_field`].
pub fn write_field<R: Registers>(regs: &R, offset: usize, width: usize, value: u64) {
    match width {
        1 => regs.write8(offset, value as u8),
        2 if offset % 2 == 0 => regs.write16(offset, value as u16),
        4 if offset % 4 == 0 => regs.write32(offset, value as u32),
        8 if offset % 4 == 0 => {
            regs.write32(offset, value as u32);
            regs.write32(offset + 4, (value >> 32) as u32);
        }
        _ => (0..width).for_each(|i| regs.write8(offset + i, (value >> (8 * i)) as u8)),
    }
}
