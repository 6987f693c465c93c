//! Virtio over PCI (VIRTIO 1.2 §4.1): ids, the vendor-specific
//! capabilities that locate the modern register structures, the common
//! configuration layout, and the legacy I/O register layout.
//!
//! [`parse_cap`] is a checked parser: it takes the bytes of one capability
//! as read from config space and either returns a [`VirtioCap`] or a
//! [`CapError`]; [`caps`] walks a config-space snapshot's capability list
//! with loop and bounds protection ([`cap_list`]: every capability id);
//! [`msix_cap`] finds the MSI-X capability (PCI Local Bus 3.0 §6.8.2).
//! None panics on any input.

use crate::DeviceId;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// PCI vendor id of every virtio device (Red Hat / Qumranet).
pub const VENDOR_ID: u16 = 0x1af4;
/// Modern PCI device id = this + virtio device id (VIRTIO 1.2 §4.1.2).
pub const MODERN_DEVICE_ID_BASE: u16 = 0x1040;
/// PCI capability id of vendor-specific capabilities.
pub const CAP_ID_VENDOR: u8 = 0x09;
/// Config-space offset of the capabilities pointer.
pub const CAP_POINTER: usize = 0x34;
/// Config-space offset of the status register (bit 4: capability list).
pub const STATUS_REG: usize = 0x06;

/// The virtio device id for a PCI device id: modern ids (0x1040 + id) map
/// directly; transitional ids (0x1000..=0x103f) by the table of
/// VIRTIO 1.2 §4.1.2.3 (other transitional ids need the subsystem id).
pub const fn virtio_device_id(pci_device_id: u16) -> Option<DeviceId> {
    match pci_device_id {
        0x1040..=0x107f => Some(DeviceId((pci_device_id - MODERN_DEVICE_ID_BASE) as u32)),
        0x1000 => Some(DeviceId::NET),
        0x1001 => Some(DeviceId::BLK),
        0x1002 => Some(DeviceId::BALLOON),
        0x1003 => Some(DeviceId::CONSOLE),
        0x1004 => Some(DeviceId::SCSI),
        0x1005 => Some(DeviceId::RNG),
        0x1009 => Some(DeviceId::P9),
        _ => None,
    }
}

/// `cfg_type` values (VIRTIO 1.2 §4.1.4).
pub mod cfg_type {
    /// Common configuration.
    pub const COMMON: u8 = 1;
    /// Notifications.
    pub const NOTIFY: u8 = 2;
    /// ISR status.
    pub const ISR: u8 = 3;
    /// Device-specific configuration.
    pub const DEVICE: u8 = 4;
    /// PCI configuration access window.
    pub const PCI: u8 = 5;
    /// Shared memory region.
    pub const SHARED_MEMORY: u8 = 8;
    /// Vendor-specific data.
    pub const VENDOR: u8 = 9;
}

/// `struct virtio_pci_cap` (VIRTIO 1.2 §4.1.4), 16 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PciCapRaw {
    /// 0x09.
    pub cap_vndr: u8,
    /// Next capability's offset.
    pub cap_next: u8,
    /// This capability's length.
    pub cap_len: u8,
    /// One of [`cfg_type`].
    pub cfg_type: u8,
    /// BAR holding the structure (0..=5).
    pub bar: u8,
    /// Distinguishes several capabilities of one type.
    pub id: u8,
    /// Padding.
    pub padding: [u8; 2],
    /// Offset within the BAR.
    pub offset: U32,
    /// Length of the structure.
    pub length: U32,
}

/// `struct virtio_pci_notify_cap`: the cap plus `notify_off_multiplier`, 20 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct NotifyCapRaw {
    /// The common part.
    pub cap: PciCapRaw,
    /// Queue notify address = offset + queue_notify_off * this.
    pub notify_off_multiplier: U32,
}

/// `struct virtio_pci_cap64` (shared memory): 64-bit offset and length, 24 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PciCap64Raw {
    /// The common part (low halves).
    pub cap: PciCapRaw,
    /// High 32 bits of the offset.
    pub offset_hi: U32,
    /// High 32 bits of the length.
    pub length_hi: U32,
}

/// `struct virtio_pci_cfg_cap`: a window onto BAR memory through config
/// space, 20 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PciCfgCapRaw {
    /// The common part (bar, offset, length select the access).
    pub cap: PciCapRaw,
    /// The data window.
    pub pci_cfg_data: [u8; 4],
}

/// `struct virtio_pci_common_cfg` (VIRTIO 1.2 §4.1.4.3), 0x3c bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CommonCfg {
    /// Device feature word select (RW).
    pub device_feature_select: U32,
    /// Device features (R).
    pub device_feature: U32,
    /// Driver feature word select (RW).
    pub driver_feature_select: U32,
    /// Driver features (RW).
    pub driver_feature: U32,
    /// MSI-X vector for config changes (RW).
    pub config_msix_vector: U16,
    /// Number of queues (R).
    pub num_queues: U16,
    /// Device status (RW).
    pub device_status: u8,
    /// Config generation (R).
    pub config_generation: u8,
    /// Queue select (RW).
    pub queue_select: U16,
    /// Queue size; 0 = no queue (RW).
    pub queue_size: U16,
    /// MSI-X vector of the queue (RW).
    pub queue_msix_vector: U16,
    /// Queue enable (RW).
    pub queue_enable: U16,
    /// Notify offset of the queue (R).
    pub queue_notify_off: U16,
    /// Descriptor table address (RW).
    pub queue_desc: U64,
    /// Available ring address (RW).
    pub queue_driver: U64,
    /// Used ring address (RW).
    pub queue_device: U64,
    /// Notification data (R, NOTIF_CONFIG_DATA).
    pub queue_notify_data: U16,
    /// Queue reset (RW, RING_RESET).
    pub queue_reset: U16,
}

/// Byte offsets inside [`CommonCfg`], for register-by-register access.
pub mod common {
    /// device_feature_select.
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    /// device_feature.
    pub const DEVICE_FEATURE: usize = 0x04;
    /// driver_feature_select.
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    /// driver_feature.
    pub const DRIVER_FEATURE: usize = 0x0c;
    /// config_msix_vector.
    pub const CONFIG_MSIX_VECTOR: usize = 0x10;
    /// num_queues.
    pub const NUM_QUEUES: usize = 0x12;
    /// device_status.
    pub const DEVICE_STATUS: usize = 0x14;
    /// config_generation.
    pub const CONFIG_GENERATION: usize = 0x15;
    /// queue_select.
    pub const QUEUE_SELECT: usize = 0x16;
    /// queue_size.
    pub const QUEUE_SIZE: usize = 0x18;
    /// queue_msix_vector.
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    /// queue_enable.
    pub const QUEUE_ENABLE: usize = 0x1c;
    /// queue_notify_off.
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    /// queue_desc.
    pub const QUEUE_DESC: usize = 0x20;
    /// queue_driver.
    pub const QUEUE_DRIVER: usize = 0x28;
    /// queue_device.
    pub const QUEUE_DEVICE: usize = 0x30;
    /// queue_notify_data.
    pub const QUEUE_NOTIFY_DATA: usize = 0x38;
    /// queue_reset.
    pub const QUEUE_RESET: usize = 0x3a;
    /// Size of the structure as VIRTIO 1.2 defines it.
    pub const SIZE: usize = 0x3c;
    /// MSI-X "no vector".
    pub const NO_VECTOR: u16 = 0xffff;
}

/// ISR status bits (VIRTIO 1.2 §4.1.4.5); reading the register clears it.
pub mod isr {
    /// A queue interrupt.
    pub const QUEUE: u8 = 1;
    /// A config change.
    pub const CONFIG: u8 = 2;
}

/// The legacy (transitional) I/O BAR 0 layout (VIRTIO 1.2 §4.1.4, legacy interfaces).
pub mod legacy {
    /// Device features bits 0..31 (R, 32 bits).
    pub const HOST_FEATURES: usize = 0x00;
    /// Driver features bits 0..31 (RW, 32 bits).
    pub const GUEST_FEATURES: usize = 0x04;
    /// Queue page frame number, address / 4096 (RW, 32 bits).
    pub const QUEUE_ADDRESS: usize = 0x08;
    /// Queue size (R, 16 bits).
    pub const QUEUE_SIZE: usize = 0x0c;
    /// Queue select (RW, 16 bits).
    pub const QUEUE_SELECT: usize = 0x0e;
    /// Queue notify (RW, 16 bits).
    pub const QUEUE_NOTIFY: usize = 0x10;
    /// Device status (RW, 8 bits).
    pub const DEVICE_STATUS: usize = 0x12;
    /// ISR status (R, 8 bits).
    pub const ISR_STATUS: usize = 0x13;
    /// With MSI-X enabled: config vector (RW, 16 bits).
    pub const MSIX_CONFIG_VECTOR: usize = 0x14;
    /// With MSI-X enabled: queue vector (RW, 16 bits).
    pub const MSIX_QUEUE_VECTOR: usize = 0x16;
    /// Page size and ring alignment of the legacy layout.
    pub const QUEUE_ALIGN: usize = 4096;
    /// Where the device config starts.
    pub const fn config_offset(msix_enabled: bool) -> usize {
        if msix_enabled { 0x18 } else { 0x14 }
    }
}

const _: () = {
    use core::mem::size_of;
    assert!(size_of::<PciCapRaw>() == 16);
    assert!(size_of::<NotifyCapRaw>() == 20);
    assert!(size_of::<PciCap64Raw>() == 24);
    assert!(size_of::<PciCfgCapRaw>() == 20);
    assert!(size_of::<CommonCfg>() == common::SIZE);
    assert!(core::mem::offset_of!(CommonCfg, queue_desc) == common::QUEUE_DESC);
    assert!(core::mem::offset_of!(CommonCfg, queue_reset) == common::QUEUE_RESET);
    assert!(core::mem::offset_of!(CommonCfg, device_status) == common::DEVICE_STATUS);
};

/// What a virtio capability locates.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CapKind {
    /// Common configuration ([`CommonCfg`]).
    Common,
    /// Notification area, with its `notify_off_multiplier`.
    Notify {
        /// Bytes between queue notify addresses per `queue_notify_off`.
        multiplier: u32,
    },
    /// ISR status byte.
    Isr,
    /// Device-specific configuration.
    Device,
    /// The PCI configuration access window.
    PciCfg,
    /// A shared memory region (64-bit offset and length).
    SharedMemory,
    /// Vendor-specific data.
    Vendor,
    /// A reserved `cfg_type`: VIRTIO 1.2 §4.1.4.1 "The driver MUST ignore
    /// any vendor-specific capability structure which has a reserved
    /// cfg_type value." Returned so the caller can skip it knowingly.
    Reserved(u8),
}

/// A parsed virtio PCI capability.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VirtioCap {
    /// What it locates.
    pub kind: CapKind,
    /// BAR index (0..=5).
    pub bar: u8,
    /// `id` field (several shared memory regions etc.).
    pub id: u8,
    /// Offset within the BAR.
    pub offset: u64,
    /// Length of the structure.
    pub length: u64,
    /// Offset of the next capability (0 = end).
    pub next: u8,
}

impl VirtioCap {
    /// Whether the structure lies inside a BAR of `bar_len` bytes.
    pub const fn fits_in_bar(&self, bar_len: u64) -> bool {
        match self.offset.checked_add(self.length) {
            Some(end) => end <= bar_len,
            None => false,
        }
    }
}

/// A malformed virtio PCI capability or capability list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CapError {
    /// Fewer bytes than the capability needs.
    TooShort,
    /// Not a vendor-specific capability (`cap_vndr` != 0x09).
    NotVendorSpecific(u8),
    /// `cap_len` is smaller than its type's structure.
    BadCapLen(u8),
    /// VIRTIO 1.2 §4.1.4.1: "The driver MUST ignore any vendor-specific
    /// capability structure which has a reserved bar value." (bar > 5)
    ReservedBar(u8),
    /// VIRTIO 1.2 §4.1.4.4: "The device MUST either present
    /// notify_off_multiplier as an even power of 2, or present
    /// notify_off_multiplier as 0."
    BadNotifyMultiplier(u32),
    /// A structure offset the spec requires aligned is not (notify:
    /// 2 bytes; device config: 4 bytes).
    Misaligned(u64),
    /// A capability pointer outside config space or below 0x40.
    BadPointer(u8),
    /// The capability list does not end (a loop).
    Loop,
}

impl From<CapError> for crate::Error {
    fn from(e: CapError) -> Self {
        crate::Error::PciCap(e)
    }
}

/// Parse one capability from `bytes`, which start at the capability (its
/// `cap_vndr` byte) and may run past its end.
pub fn parse_cap(bytes: &[u8]) -> Result<VirtioCap, CapError> {
    let (raw, _) = PciCapRaw::read_from_prefix(bytes).map_err(|_| CapError::TooShort)?;
    if raw.cap_vndr != CAP_ID_VENDOR {
        return Err(CapError::NotVendorSpecific(raw.cap_vndr));
    }
    let need = match raw.cfg_type {
        cfg_type::NOTIFY | cfg_type::PCI => 20,
        cfg_type::SHARED_MEMORY => 24,
        _ => 16,
    };
    // VIRTIO 1.2 §4.1.4.1: "The driver MUST accept a cap_len value which
    // is larger than specified here."; smaller cannot hold the fields.
    if (raw.cap_len as usize) < need {
        return Err(CapError::BadCapLen(raw.cap_len));
    }
    if bytes.len() < need {
        return Err(CapError::TooShort);
    }
    if raw.bar > 5 {
        return Err(CapError::ReservedBar(raw.bar));
    }
    let mut offset = raw.offset.get() as u64;
    let mut length = raw.length.get() as u64;
    let kind = match raw.cfg_type {
        cfg_type::COMMON => CapKind::Common,
        cfg_type::NOTIFY => {
            let (n, _) = NotifyCapRaw::read_from_prefix(bytes).map_err(|_| CapError::TooShort)?;
            let m = n.notify_off_multiplier.get();
            // Read leniently as "a power of two": devices in the field
            // use 4 and 4096; a non-power is certainly malformed.
            if m != 0 && !m.is_power_of_two() {
                return Err(CapError::BadNotifyMultiplier(m));
            }
            // VIRTIO 1.2 §4.1.4.4: "The cap.offset MUST be 2-byte aligned."
            if offset % 2 != 0 {
                return Err(CapError::Misaligned(offset));
            }
            CapKind::Notify { multiplier: m }
        }
        cfg_type::ISR => CapKind::Isr,
        cfg_type::DEVICE => {
            // VIRTIO 1.2 §4.1.4.6: "The offset for the device-specific
            // configuration MUST be 4-byte aligned."
            if offset % 4 != 0 {
                return Err(CapError::Misaligned(offset));
            }
            CapKind::Device
        }
        cfg_type::PCI => CapKind::PciCfg,
        cfg_type::SHARED_MEMORY => {
            let (c, _) = PciCap64Raw::read_from_prefix(bytes).map_err(|_| CapError::TooShort)?;
            offset |= (c.offset_hi.get() as u64) << 32;
            length |= (c.length_hi.get() as u64) << 32;
            CapKind::SharedMemory
        }
        cfg_type::VENDOR => CapKind::Vendor,
        other => CapKind::Reserved(other),
    };
    Ok(VirtioCap { kind, bar: raw.bar, id: raw.id, offset, length, next: raw.cap_next })
}

/// Walk the capability list of a config-space snapshot (256 or 4096
/// bytes), yielding each virtio (vendor-specific) capability parsed, and
/// skipping other capability ids. Stops after an error.
pub fn caps(config: &[u8]) -> Caps<'_> {
    Caps { list: cap_list(config) }
}

/// Iterator returned by [`caps`].
pub struct Caps<'a> {
    list: CapList<'a>,
}

impl Iterator for Caps<'_> {
    type Item = Result<VirtioCap, CapError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let at = match self.list.next()? {
                Ok((CAP_ID_VENDOR, at)) => at,
                Ok(_) => continue,
                Err(e) => return Some(Err(e)),
            };
            let r = parse_cap(&self.list.config[at..]);
            if r.is_err() {
                self.list.done = true;
            }
            return Some(r);
        }
    }
}

/// Walk the capability list of a config-space snapshot: every
/// capability's `(id, offset)`, with loop and bounds protection (an
/// error ends the walk).
pub fn cap_list(config: &[u8]) -> CapList<'_> {
    let has_list = config.get(STATUS_REG).is_some_and(|s| s & 0x10 != 0);
    let first = if has_list { config.get(CAP_POINTER).copied().unwrap_or(0) } else { 0 };
    CapList { config, next: first & !3, steps: 0, done: false }
}

/// Iterator returned by [`cap_list`].
pub struct CapList<'a> {
    config: &'a [u8],
    next: u8,
    steps: u8,
    done: bool,
}

impl Iterator for CapList<'_> {
    type Item = Result<(u8, usize), CapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next == 0 {
            return None;
        }
        let at = self.next as usize;
        // At most 48 capabilities fit in 0x40..0x100 at 4 bytes each.
        self.steps += 1;
        let fail = if self.steps > 48 {
            Some(CapError::Loop)
        } else if at < 0x40 || at + 2 > self.config.len() {
            Some(CapError::BadPointer(self.next))
        } else {
            None
        };
        if let Some(e) = fail {
            self.done = true;
            return Some(Err(e));
        }
        self.next = self.config[at + 1] & !3;
        Some(Ok((self.config[at], at)))
    }
}

/// PCI capability id of MSI-X (PCI Local Bus 3.0 §6.8.2).
pub const CAP_ID_MSIX: u8 = 0x11;
/// Offset of MSI-X Message Control in the capability.
pub const MSIX_CONTROL: usize = 2;
/// Message Control: MSI-X Enable.
pub const MSIX_ENABLE: u16 = 1 << 15;
/// Message Control: Function Mask.
pub const MSIX_FUNCTION_MASK: u16 = 1 << 14;
/// Bytes of one MSI-X table entry: address low, address high, data,
/// vector control.
pub const MSIX_ENTRY_SIZE: u64 = 16;
/// Vector control bit 0: the entry is masked.
pub const MSIX_ENTRY_MASKED: u32 = 1;

/// An MSI-X capability: where its table is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MsixCap {
    /// Config-space offset of the capability.
    pub at: u16,
    /// Table entries (Message Control's Table Size + 1: 1..=2048).
    pub entries: u16,
    /// BAR holding the table (the Table BIR: 0..=5).
    pub bar: u8,
    /// Offset of the table in that BAR (8-byte aligned).
    pub offset: u64,
}

impl MsixCap {
    /// Bytes of the whole table.
    pub fn table_bytes(&self) -> u64 {
        self.entries as u64 * MSIX_ENTRY_SIZE
    }
}

/// The function's MSI-X capability from a config-space snapshot: `None`
/// when it has none, an error when the list or the capability is
/// malformed (a capability cut short by the snapshot, a reserved BIR).
pub fn msix_cap(config: &[u8]) -> Result<Option<MsixCap>, CapError> {
    for entry in cap_list(config) {
        let (id, at) = entry?;
        if id != CAP_ID_MSIX {
            continue;
        }
        let bytes = config.get(at..at + 12).ok_or(CapError::TooShort)?;
        let control = u16::from_le_bytes([bytes[2], bytes[3]]);
        let table = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let bar = (table & 7) as u8;
        if bar > 5 {
            return Err(CapError::ReservedBar(bar));
        }
        return Ok(Some(MsixCap { at: at as u16, entries: (control & 0x7ff) + 1, bar, offset: (table & !7) as u64 }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(cfg: u8, bar: u8, off: u32, len: u32, cap_len: u8, next: u8) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = CAP_ID_VENDOR;
        b[1] = next;
        b[2] = cap_len;
        b[3] = cfg;
        b[4] = bar;
        b[8..12].copy_from_slice(&off.to_le_bytes());
        b[12..16].copy_from_slice(&len.to_le_bytes());
        b
    }

    /// A config space shaped like QEMU's virtio-blk-pci: an MSI-X cap
    /// (id 0x11) at 0xc0, then common 0x84, ISR 0x70, device 0x60,
    /// notify 0x48 (20 bytes), PCI cfg 0xa0 (20 bytes).
    fn qemu_like() -> [u8; 256] {
        let mut c = [0u8; 256];
        c[0..2].copy_from_slice(&VENDOR_ID.to_le_bytes());
        c[2..4].copy_from_slice(&0x1042u16.to_le_bytes());
        c[STATUS_REG] = 0x10;
        c[CAP_POINTER] = 0xc0;
        c[0xc0] = 0x11;
        c[0xc1] = 0x84;
        c[0x84..0x94].copy_from_slice(&cap(cfg_type::COMMON, 4, 0, 0x1000, 16, 0x70));
        c[0x70..0x80].copy_from_slice(&cap(cfg_type::ISR, 4, 0x1000, 0x1000, 16, 0x60));
        c[0x60..0x70].copy_from_slice(&cap(cfg_type::DEVICE, 4, 0x2000, 0x1000, 16, 0x48));
        c[0x48..0x58].copy_from_slice(&cap(cfg_type::NOTIFY, 4, 0x3000, 0x1000, 20, 0xa0));
        c[0x58..0x5c].copy_from_slice(&4u32.to_le_bytes());
        c[0xa0..0xb0].copy_from_slice(&cap(cfg_type::PCI, 0, 0, 0, 20, 0));
        c
    }

    #[test]
    fn walks_a_qemu_like_list() {
        let c = qemu_like();
        let got: Result<std::vec::Vec<_>, _> = caps(&c).collect();
        let got = got.unwrap();
        let kinds: std::vec::Vec<_> = got.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [CapKind::Common, CapKind::Isr, CapKind::Device, CapKind::Notify { multiplier: 4 }, CapKind::PciCfg]
        );
        assert_eq!((got[2].bar, got[2].offset, got[2].length), (4, 0x2000, 0x1000));
        assert!(got[0].fits_in_bar(0x4000) && !got[3].fits_in_bar(0x3fff));
        assert_eq!(virtio_device_id(0x1042), Some(DeviceId::BLK));
        assert_eq!(virtio_device_id(0x1001), Some(DeviceId::BLK));
        assert_eq!(virtio_device_id(0x1006), None);
    }

    #[test]
    fn rejects_malformed_caps() {
        assert_eq!(parse_cap(&[9, 0, 16]), Err(CapError::TooShort));
        assert_eq!(parse_cap(&cap(1, 0, 0, 0, 16, 0)[..]).map(|c| c.kind), Ok(CapKind::Common));
        let mut b = cap(1, 0, 0, 0, 16, 0);
        b[0] = 0x11;
        assert_eq!(parse_cap(&b), Err(CapError::NotVendorSpecific(0x11)));
        assert_eq!(parse_cap(&cap(1, 6, 0, 0, 16, 0)), Err(CapError::ReservedBar(6)));
        assert_eq!(parse_cap(&cap(1, 0, 0, 0, 15, 0)), Err(CapError::BadCapLen(15)));
        // Notify needs 20 bytes, of cap_len and of input.
        assert_eq!(parse_cap(&cap(2, 0, 0, 0, 16, 0)), Err(CapError::BadCapLen(16)));
        assert_eq!(parse_cap(&cap(2, 0, 0, 0, 20, 0)), Err(CapError::TooShort));
        let mut n = [0u8; 20];
        n[..16].copy_from_slice(&cap(2, 0, 0, 0, 20, 0));
        n[16..].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(parse_cap(&n), Err(CapError::BadNotifyMultiplier(3)));
        n[16..].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(parse_cap(&n).map(|c| c.kind), Ok(CapKind::Notify { multiplier: 0 }));
        n[8] = 1;
        assert_eq!(parse_cap(&n), Err(CapError::Misaligned(1)));
        assert_eq!(parse_cap(&cap(4, 0, 2, 8, 16, 0)), Err(CapError::Misaligned(2)));
        assert_eq!(parse_cap(&cap(7, 0, 0, 0, 16, 0)).map(|c| c.kind), Ok(CapKind::Reserved(7)));
        let mut s = [0u8; 24];
        s[..16].copy_from_slice(&cap(8, 2, 0x10, 0x20, 24, 0));
        s[16..20].copy_from_slice(&1u32.to_le_bytes());
        s[20..24].copy_from_slice(&2u32.to_le_bytes());
        let c = parse_cap(&s).unwrap();
        assert_eq!((c.kind, c.offset, c.length), (CapKind::SharedMemory, 0x1_0000_0010, 0x2_0000_0020));
    }

    #[test]
    fn list_walk_survives_loops_and_bad_pointers() {
        let mut c = qemu_like();
        c[0xa1] = 0x84; // pci cfg cap points back to common: a loop
        let n = caps(&c).take(100).count();
        assert!(n <= 49);
        assert_eq!(caps(&c).last(), Some(Err(CapError::Loop)));
        let mut c = qemu_like();
        c[CAP_POINTER] = 0x10;
        assert_eq!(caps(&c).next(), Some(Err(CapError::BadPointer(0x10))));
        let mut c = qemu_like();
        c[0xc1] = 0xff; // points past the end of a short snapshot
        assert_eq!(caps(&c[..0xfd]).next(), Some(Err(CapError::BadPointer(0xfc))));
        let mut c = qemu_like();
        c[STATUS_REG] = 0;
        assert_eq!(caps(&c).count(), 0, "no capability list");
        assert_eq!(caps(&[]).count(), 0);
    }

    /// QEMU's virtio-pci MSI-X capability: Message Control with Table Size
    /// `entries - 1`, the table at 0 in BAR 1, the PBA at 0x800 there.
    fn with_msix(entries: u16, table: u32) -> [u8; 256] {
        let mut c = qemu_like();
        c[0xc2..0xc4].copy_from_slice(&(entries - 1).to_le_bytes());
        c[0xc4..0xc8].copy_from_slice(&table.to_le_bytes());
        c[0xc8..0xcc].copy_from_slice(&0x801u32.to_le_bytes());
        c
    }

    #[test]
    fn finds_the_msix_capability_and_its_table() {
        let c = with_msix(4, 0x2001);
        let cap = msix_cap(&c).unwrap().unwrap();
        assert_eq!(cap, MsixCap { at: 0xc0, entries: 4, bar: 1, offset: 0x2000 });
        assert_eq!(cap.table_bytes(), 64);
        assert_eq!(msix_cap(&with_msix(2048, 0)).unwrap().unwrap().entries, 2048);
        // The walk also sees the vendor capabilities after it.
        let ids: std::vec::Vec<u8> = cap_list(&c).map(|e| e.unwrap().0).collect();
        assert_eq!(ids, [CAP_ID_MSIX, 9, 9, 9, 9, 9]);
        assert_eq!(caps(&c).count(), 5, "caps() still yields only the virtio ones");
    }

    #[test]
    fn a_missing_or_malformed_msix_capability_is_told_apart() {
        let mut none = qemu_like();
        none[0xc0] = 0x05; // MSI, not MSI-X
        assert_eq!(msix_cap(&none), Ok(None));
        assert_eq!(msix_cap(&with_msix(4, 6)), Err(CapError::ReservedBar(6)));
        assert_eq!(msix_cap(&with_msix(4, 0)[..0xc8]), Err(CapError::TooShort));
        let mut looped = with_msix(4, 0);
        looped[CAP_POINTER] = 0x84;
        looped[0xa1] = 0x84;
        assert_eq!(msix_cap(&looped), Err(CapError::Loop));
    }

    #[test]
    fn legacy_and_common_offsets() {
        assert_eq!(legacy::config_offset(false), 0x14);
        assert_eq!(legacy::config_offset(true), 0x18);
        assert_eq!(legacy::QUEUE_NOTIFY, 0x10);
        assert_eq!(common::QUEUE_NOTIFY_OFF, 0x1e);
    }
}
