//! Where a device sits on its transport.

/// A PCI function address.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device number, 0..32.
    pub device: u8,
    /// Function number, 0..8.
    pub function: u8,
}

impl Bdf {
    /// The conventional 16-bit encoding `bus << 8 | device << 3 | function`;
    /// `None` if device or function is out of range.
    pub fn to_u16(self) -> Option<u16> {
        if self.device >= 32 || self.function >= 8 {
            return None;
        }
        Some(u16::from(self.bus) << 8 | u16::from(self.device) << 3 | u16::from(self.function))
    }

    /// Decode `bus << 8 | device << 3 | function`.
    pub fn from_u16(v: u16) -> Bdf {
        Bdf { bus: (v >> 8) as u8, device: ((v >> 3) & 0x1f) as u8, function: (v & 7) as u8 }
    }
}

/// The kind of transport a device is reached through.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TransportKind {
    /// virtio-mmio.
    Mmio = 0,
    /// virtio over PCI (modern).
    Pci = 1,
    /// A vdev of a remoteproc resource table.
    Rproc = 2,
}

/// A device's address on its transport: an MMIO slot, a PCI function or
/// a resource-table entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    /// virtio-mmio slot (on QEMU arm virt, 0..32).
    Mmio {
        /// Slot index.
        slot: u32,
    },
    /// A PCI function.
    Pci(Bdf),
    /// Entry `entry` of a remoteproc resource table.
    Rproc {
        /// Index of the vdev's entry in the table.
        entry: u32,
    },
}

impl Location {
    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        match self {
            Location::Mmio { .. } => TransportKind::Mmio,
            Location::Pci(_) => TransportKind::Pci,
            Location::Rproc { .. } => TransportKind::Rproc,
        }
    }

    /// One-word encoding: kind in bits 32..40, slot or BDF in bits 0..32.
    /// `None` for a BDF with an out-of-range device/function.
    pub fn to_word(&self) -> Option<u64> {
        Some(match self {
            Location::Mmio { slot } => u64::from(*slot),
            Location::Pci(bdf) => 1 << 32 | u64::from(bdf.to_u16()?),
            Location::Rproc { entry } => 2 << 32 | u64::from(*entry),
        })
    }

    /// Decode [`to_word`](Self::to_word); `None` for an unknown kind or
    /// stray bits.
    pub fn from_word(w: u64) -> Option<Location> {
        match w >> 32 {
            0 => Some(Location::Mmio { slot: w as u32 }),
            1 if w & 0xffff_ffff <= 0xffff => Some(Location::Pci(Bdf::from_u16(w as u16))),
            2 => Some(Location::Rproc { entry: w as u32 }),
            _ => None,
        }
    }
}
