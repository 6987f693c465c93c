//! What the device is, from its config space (VIRTIO 1.2 §5.8.4).
//!
//! Each question is a page: write `select` and `subsel`, read `size`,
//! read that many bytes of the union. VIRTIO 1.2 §5.8.5.1: "A driver MUST
//! set both select and subsel when querying device configuration, in any
//! order" and "MUST NOT write to configuration fields other than select
//! and subsel" ([`ConfigPages`] writes only those two), and "SHOULD check
//! the size field before accessing the configuration information"
//! (`page_len`, the one check, before any union byte is read). A union
//! read the transport refuses (the config space ends before `size` says)
//! is a failed probe.

use sevio_driver_core::DriverError;
use sevio_queue::input::{InputInfo, NAME_MAX};
use sevio_transport_protocol::Width;
use sevio_virtio::device::input::{
    AbsInfo, ConfigFault, DevIds, SELECT_OFFSET, SIZE_OFFSET, SUBSEL_OFFSET, UNION_OFFSET, UNION_SIZE, evdev, page_len,
    select,
};
use zerocopy::FromBytes;

/// Why the device's identity could not be read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IdentityError {
    /// The transport refused an access (e.g. past the config space).
    Access(DriverError),
    /// A page's size is impossible.
    Page {
        /// The `select` asked.
        select: u8,
        /// The `subsel` asked.
        subsel: u8,
        /// What was wrong.
        fault: ConfigFault,
    },
}

/// Config-space access during probe: the framework's, or a test's.
pub trait ConfigPages {
    /// Write one byte of config at `offset`.
    fn write_byte(&mut self, offset: u32, value: u8) -> Result<(), DriverError>;
    /// Read `out.len()` bytes of config at `offset`.
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), DriverError>;
}

impl<D: sevio_driver_core::VirtioDriver> ConfigPages for sevio_driver_core::Probe<'_, '_, D> {
    fn write_byte(&mut self, offset: u32, value: u8) -> Result<(), DriverError> {
        self.write_config(offset, Width::W1, u64::from(value))
    }
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), DriverError> {
        self.read_config(offset, out)
    }
}

/// Read page (`sel`, `subsel`) into `out`; returns its length (0: the
/// device has no such page). `needed`: the structure's size, or 0.
fn page(
    c: &mut impl ConfigPages,
    sel: u8,
    subsel: u8,
    needed: usize,
    out: &mut [u8; UNION_SIZE],
) -> Result<usize, IdentityError> {
    c.write_byte(SELECT_OFFSET, sel).map_err(IdentityError::Access)?;
    c.write_byte(SUBSEL_OFFSET, subsel).map_err(IdentityError::Access)?;
    let mut size = [0u8; 1];
    c.read(SIZE_OFFSET, &mut size).map_err(IdentityError::Access)?;
    let len = page_len(size[0], needed).map_err(|fault| IdentityError::Page { select: sel, subsel, fault })?;
    if len > 0 {
        c.read(UNION_OFFSET, &mut out[..len]).map_err(IdentityError::Access)?;
    }
    Ok(len)
}

/// The event types the driver asks about (the rest of the 32 are
/// unused by QEMU's devices; asking costs a round trip each).
const TYPES: [u16; 6] = [evdev::EV_KEY, evdev::EV_REL, evdev::EV_ABS, evdev::EV_MSC, evdev::EV_LED, 0x14];

/// Read the device's name, ids, event types and absolute axes.
pub fn read_identity(c: &mut impl ConfigPages) -> Result<InputInfo, IdentityError> {
    let mut buf = [0u8; UNION_SIZE];
    let mut info = InputInfo::default();
    let n = page(c, select::ID_NAME, 0, 0, &mut buf)?;
    // A name is bytes; a NUL inside ends it (some devices pad).
    let n = buf[..n].iter().position(|&b| b == 0).unwrap_or(n).min(NAME_MAX);
    info.name[..n].copy_from_slice(&buf[..n]);
    info.name_len = n;
    if page(c, select::ID_DEVIDS, 0, 8, &mut buf)? > 0 {
        let ids = DevIds::read_from_bytes(&buf[..8]).unwrap_or_default();
        info.ids = [ids.bustype.get(), ids.vendor.get(), ids.product.get(), ids.version.get()];
    }
    info.ev_types = 1 << evdev::EV_SYN;
    for ty in TYPES {
        if page(c, select::EV_BITS, ty as u8, 0, &mut buf)? > 0 {
            info.ev_types |= 1 << ty;
        }
    }
    if info.sends(evdev::EV_ABS) {
        for (axis, out) in [(evdev::AXIS_X, &mut info.abs_x), (evdev::AXIS_Y, &mut info.abs_y)] {
            if page(c, select::ABS_INFO, axis as u8, 20, &mut buf)? > 0 {
                let a = AbsInfo::read_from_bytes(&buf[..20]).unwrap_or_default();
                *out = (a.min.get() as i32, a.max.get() as i32);
            }
        }
    }
    Ok(info)
}
