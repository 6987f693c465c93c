//! Device registers.
//!
//! On seL4 a device region is mapped uncached and read with volatile
//! loads; under sim there is no device behind the mapping and every access
//! is forwarded to QEMU through the runner. Code that touches registers
//! does so only through [`DeviceRegion`], so it runs unchanged on both.

/// A mapped window of device registers.
#[derive(Copy, Clone, Debug)]
pub struct DeviceRegion {
    base: usize,
    size: usize,
}

impl DeviceRegion {
    /// A region of `size` bytes of device registers mapped at `base`.
    ///
    /// # Safety
    /// `base..base + size` must be a device mapping of this PD (a `map` of
    /// a device memory region in system.xml), and no other code may treat
    /// it as normal memory.
    pub const unsafe fn new(base: usize, size: usize) -> Self {
        DeviceRegion { base, size }
    }

    /// The region's size in bytes.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// The sub-window `offset..offset + size`, if it lies inside.
    pub fn window(&self, offset: usize, size: usize) -> Option<DeviceRegion> {
        let end = offset.checked_add(size)?;
        (end <= self.size).then_some(DeviceRegion { base: self.base + offset, size })
    }

    fn check(&self, offset: usize, width: usize) -> Option<usize> {
        let end = offset.checked_add(width)?;
        (end <= self.size && offset.is_multiple_of(width)).then_some(self.base + offset)
    }

    /// Read a register of `width` bytes (1, 2, 4 or 8). An access outside
    /// the region or misaligned reads as all ones, like a bus with nothing
    /// behind it, and touches nothing.
    fn read(&self, offset: usize, width: usize) -> u64 {
        let Some(addr) = self.check(offset, width) else { return u64::MAX };
        #[cfg(target_os = "none")]
        // SAFETY: `addr` lies inside the device mapping the constructor's
        // contract guarantees, and is aligned to `width`.
        unsafe {
            match width {
                1 => (addr as *const u8).read_volatile() as u64,
                2 => (addr as *const u16).read_volatile() as u64,
                4 => (addr as *const u32).read_volatile() as u64,
                _ => (addr as *const u64).read_volatile(),
            }
        }
        #[cfg(not(target_os = "none"))]
        crate::hosted::mmio_read(addr, width)
    }

    fn write(&self, offset: usize, width: usize, value: u64) {
        let Some(addr) = self.check(offset, width) else { return };
        #[cfg(target_os = "none")]
        // SAFETY: as in `read`.
        unsafe {
            match width {
                1 => (addr as *mut u8).write_volatile(value as u8),
                2 => (addr as *mut u16).write_volatile(value as u16),
                4 => (addr as *mut u32).write_volatile(value as u32),
                _ => (addr as *mut u64).write_volatile(value),
            }
        }
        #[cfg(not(target_os = "none"))]
        crate::hosted::mmio_write(addr, width, value)
    }

    /// 8-bit read.
    pub fn read8(&self, offset: usize) -> u8 {
        self.read(offset, 1) as u8
    }
    /// 16-bit read.
    pub fn read16(&self, offset: usize) -> u16 {
        self.read(offset, 2) as u16
    }
    /// 32-bit read.
    pub fn read32(&self, offset: usize) -> u32 {
        self.read(offset, 4) as u32
    }
    /// 64-bit read.
    pub fn read64(&self, offset: usize) -> u64 {
        self.read(offset, 8)
    }
    /// 8-bit write.
    pub fn write8(&self, offset: usize, value: u8) {
        self.write(offset, 1, value as u64)
    }
    /// 16-bit write.
    pub fn write16(&self, offset: usize, value: u16) {
        self.write(offset, 2, value as u64)
    }
    /// 32-bit write.
    pub fn write32(&self, offset: usize, value: u32) {
        self.write(offset, 4, value as u64)
    }
    /// 64-bit write.
    pub fn write64(&self, offset: usize, value: u64) {
        self.write(offset, 8, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_and_misaligned_reads_are_all_ones() {
        // SAFETY: no access below reaches memory: every one is out of
        // range or misaligned, which `check` refuses before any access.
        let r = unsafe { DeviceRegion::new(0x1000, 0x10) };
        assert_eq!(r.read32(0x10), u32::MAX);
        assert_eq!(r.read32(0x0e), u32::MAX);
        assert_eq!(r.read32(2), u32::MAX);
        assert_eq!(r.read64(usize::MAX - 3), u64::MAX);
        assert!(r.window(0x8, 0x8).is_some());
        assert!(r.window(0x8, 0x9).is_none());
        assert!(r.window(usize::MAX, 2).is_none());
    }
}
