//! Which virtio device a function is and where its registers are:
//! VIRTIO 1.2 §4.1.2 (PCI device ids) and §4.1.4 (the capabilities that
//! locate the modern structures), each structure checked against its BAR.

use crate::bars::{Bar, Space};
use crate::config_space::{ConfigSpace, reg};
use crate::enumerate::Function;
use crate::problem::Problem;
use crate::regs::Registers;
use sevio_virtio::pci::{CapKind, MODERN_DEVICE_ID_BASE, VENDOR_ID, VirtioCap, caps, common, virtio_device_id};

/// Whether `vendor:device` is a virtio function (VIRTIO 1.2 §4.1.2:
/// "Any PCI device with PCI Vendor ID 0x1AF4, and PCI Device ID 0x1000
/// through 0x107F inclusive is a virtio device").
pub fn is_virtio(vendor: u16, device: u16) -> bool {
    vendor == VENDOR_ID && (0x1000..=0x107f).contains(&device)
}

/// A transitional PCI device id (0x1000..=0x103f), which also has the
/// legacy interface.
pub fn is_transitional(device: u16) -> bool {
    (0x1000..MODERN_DEVICE_ID_BASE).contains(&device)
}

/// The virtio device id of a virtio function. Modern ids are 0x1040 +
/// type; for transitional ids "the PCI Subsystem Device ID [matches] the
/// Virtio Device ID" (VIRTIO 1.2 §4.1.2.1), with the table of §4.1.2.3
/// for a subsystem id of 0.
pub fn virtio_type(device: u16, subsystem: u16) -> Result<u32, Problem> {
    if !is_transitional(device) {
        return Ok((device - MODERN_DEVICE_ID_BASE) as u32);
    }
    if subsystem != 0 {
        return Ok(subsystem as u32);
    }
    virtio_device_id(device).map(|id| id.0).ok_or(Problem::UnknownDeviceType { device, subsystem })
}

/// One structure: `length` bytes at `offset` in BAR `bar`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Structure {
    /// The BAR.
    pub bar: u8,
    /// Offset in the BAR.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
}

/// Where a virtio function's registers are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The modern interface (VIRTIO 1.2 §4.1.4).
    Modern {
        /// Common configuration.
        common: Structure,
        /// Notification area.
        notify: Structure,
        /// Bytes per `queue_notify_off` unit.
        multiplier: u32,
        /// ISR status byte.
        isr: Structure,
        /// Device-specific configuration, if the device has one.
        device: Option<Structure>,
    },
    /// The legacy interface in I/O BAR 0 (VIRTIO 1.2 §4.1.4.10).
    Legacy {
        /// The I/O BAR's size.
        size: u64,
    },
}

/// Smallest common configuration: through `queue_device` (VIRTIO 1.0's
/// structure; 1.2 adds `queue_notify_data` and `queue_reset`).
pub const COMMON_MIN: u64 = common::QUEUE_DEVICE as u64 + 8;

/// The first 256 bytes of config space, read as dwords.
fn snapshot<C: ConfigSpace>(cfg: &C, f: &Function) -> [u8; 256] {
    let mut bytes = [0u8; 256];
    for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&cfg.read32(f.bdf, 4 * i as u16).to_le_bytes());
    }
    bytes
}

/// The checked structure of one capability: its BAR must be an
/// implemented memory BAR and the structure must lie inside it.
fn structure(f: &Function, cap: &VirtioCap) -> Result<Structure, Problem> {
    let Some(bar) = f.bars.get(cap.bar as usize).copied().flatten() else {
        return Err(Problem::CapBarMissing { kind: cap.kind, bar: cap.bar });
    };
    if bar.space != Space::Memory {
        return Err(Problem::CapInIoBar { kind: cap.kind, bar: cap.bar });
    }
    if !cap.fits_in_bar(bar.size) {
        return Err(Problem::CapOutsideBar {
            kind: cap.kind,
            bar: cap.bar,
            offset: cap.offset,
            length: cap.length,
            bar_size: bar.size,
        });
    }
    let min = match cap.kind {
        CapKind::Common => COMMON_MIN,
        CapKind::Notify { .. } => 2,
        CapKind::Isr => 1,
        _ => 0,
    };
    if cap.length < min {
        return Err(Problem::CapTooShort { kind: cap.kind, length: cap.length });
    }
    Ok(Structure { bar: cap.bar, offset: cap.offset, length: cap.length })
}

/// Find the function's register layout: the modern structures when it
/// has virtio capabilities, else (a transitional device with its modern
/// interface off) the legacy I/O BAR.
pub fn layout<C: ConfigSpace>(cfg: &C, f: &Function) -> Result<Layout, Problem> {
    let config = snapshot(cfg, f);
    let (mut common, mut notify, mut isr, mut device) = (None, None, None, None);
    let mut any = false;
    for cap in caps(&config) {
        let cap = cap?;
        // VIRTIO 1.2 §4.1.4.1: "The driver SHOULD use the first instance
        // of each virtio structure type they can support."
        let slot = match cap.kind {
            CapKind::Common => &mut common,
            CapKind::Notify { multiplier } => {
                if notify.is_none() {
                    notify = Some((structure(f, &cap)?, multiplier));
                }
                any = true;
                continue;
            }
            CapKind::Isr => &mut isr,
            CapKind::Device => &mut device,
            // Other structures (the PCI config window, shared memory,
            // vendor data, reserved types) are not used here.
            _ => continue,
        };
        any = true;
        if slot.is_none() {
            *slot = Some(structure(f, &cap)?);
        }
    }
    if !any {
        if !is_transitional(f.device) {
            return Err(Problem::MissingCap(CapKind::Common));
        }
        return match f.bars[0] {
            Some(Bar { space: Space::Io, size, .. }) => Ok(Layout::Legacy { size }),
            _ => Err(Problem::NoLegacyBar),
        };
    }
    let common = common.ok_or(Problem::MissingCap(CapKind::Common))?;
    let (notify, multiplier) = notify.ok_or(Problem::MissingCap(CapKind::Notify { multiplier: 0 }))?;
    let isr = isr.ok_or(Problem::MissingCap(CapKind::Isr))?;
    Ok(Layout::Modern { common, notify, multiplier, isr, device })
}

/// The function's MSI-X capability, if it has one.
pub fn msix<C: ConfigSpace>(
    cfg: &C,
    f: &Function,
) -> Result<Option<sevio_virtio::pci::MsixCap>, sevio_virtio::pci::CapError> {
    sevio_virtio::pci::msix_cap(&snapshot(cfg, f))
}

/// The subsystem id of a type 0 function.
pub fn subsystem<C: ConfigSpace>(cfg: &C, f: &Function) -> u16 {
    cfg.read16(f.bdf, reg::SUBSYSTEM_ID)
}

/// The windows this PD maps: bus addresses (ports) from `*_base` on are
/// at offset 0 of the region.
pub struct Apertures<R> {
    /// The mapped memory window.
    pub mem: R,
    /// Bus address of its first byte.
    pub mem_base: u64,
    /// The mapped I/O window.
    pub io: R,
    /// Port number of its first byte.
    pub io_base: u64,
}

impl<R: Registers> Apertures<R> {
    /// `length` bytes at `offset` in BAR `bar` of `f`.
    pub fn window(&self, f: &Function, bar: u8, offset: u64, length: u64) -> Result<R, Problem> {
        let Some(b) = f.bars.get(bar as usize).copied().flatten() else { return Err(Problem::NotMapped) };
        let (region, base) = match b.space {
            Space::Memory => (&self.mem, self.mem_base),
            Space::Io => (&self.io, self.io_base),
        };
        let start = b.addr.checked_sub(base).and_then(|o| o.checked_add(offset)).ok_or(Problem::NotMapped)?;
        let (start, length) = (usize::try_from(start), usize::try_from(length));
        match (start, length) {
            (Ok(s), Ok(l)) => region.window(s, l).ok_or(Problem::NotMapped),
            _ => Err(Problem::NotMapped),
        }
    }

    /// A structure's registers.
    pub fn structure(&self, f: &Function, s: &Structure) -> Result<R, Problem> {
        self.window(f, s.bar, s.offset, s.length)
    }
}
