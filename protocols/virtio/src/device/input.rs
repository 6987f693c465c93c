//! Input device (VIRTIO 1.2 §5.8): the event, the paged config space and
//! the one check of what a config page says ([`page_len`]).
//!
//! The config space is `select u8, subsel u8, size u8, reserved [u8; 5]`
//! then a 128-byte union. The driver writes `select` and `subsel`; the
//! device answers with `size` and the union's first `size` bytes (a name
//! or serial string, device ids, a bitmap of event types or codes, an
//! absolute axis' range). Strings are not NUL-terminated: `size` is
//! their length.

use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The eventq (VIRTIO 1.2 §5.8.2).
pub const EVENTQ: u16 = 0;
/// The statusq.
pub const STATUSQ: u16 = 1;

/// Config-space offset of `select`.
pub const SELECT_OFFSET: u32 = 0;
/// Config-space offset of `subsel`.
pub const SUBSEL_OFFSET: u32 = 1;
/// Config-space offset of `size`.
pub const SIZE_OFFSET: u32 = 2;
/// Config-space offset of the union.
pub const UNION_OFFSET: u32 = 8;
/// Bytes in the union: the most `size` may say.
pub const UNION_SIZE: usize = 128;

/// `enum virtio_input_config_select`.
pub mod select {
    /// Nothing selected.
    pub const UNSET: u8 = 0x00;
    /// The device's name (a string).
    pub const ID_NAME: u8 = 0x01;
    /// Its serial number (a string).
    pub const ID_SERIAL: u8 = 0x02;
    /// [`DevIds`](super::DevIds).
    pub const ID_DEVIDS: u8 = 0x03;
    /// Input properties bitmap.
    pub const PROP_BITS: u8 = 0x10;
    /// `subsel` = an event type: the codes of that type it sends (bitmap).
    pub const EV_BITS: u8 = 0x11;
    /// `subsel` = an absolute axis: [`AbsInfo`](super::AbsInfo).
    pub const ABS_INFO: u8 = 0x12;
}

/// Linux evdev event types and the codes sevio's clients look at.
pub mod evdev {
    /// Synchronisation: the end of one update.
    pub const EV_SYN: u16 = 0x00;
    /// Keys and buttons (value 1 press, 0 release, 2 repeat).
    pub const EV_KEY: u16 = 0x01;
    /// Relative axes (mice).
    pub const EV_REL: u16 = 0x02;
    /// Absolute axes (tablets).
    pub const EV_ABS: u16 = 0x03;
    /// Miscellaneous.
    pub const EV_MSC: u16 = 0x04;
    /// LEDs (the statusq's events).
    pub const EV_LED: u16 = 0x11;
    /// Event types there are (bitmaps have this many bits at most).
    pub const EV_CNT: u16 = 0x20;
    /// EV_SYN code: end of an update.
    pub const SYN_REPORT: u16 = 0;
    /// EV_SYN code: events were lost between the last update and this.
    pub const SYN_DROPPED: u16 = 3;
    /// EV_REL / EV_ABS codes: the x and y axes.
    pub const AXIS_X: u16 = 0x00;
    /// The y axis.
    pub const AXIS_Y: u16 = 0x01;
    /// The vertical wheel (EV_REL).
    pub const REL_WHEEL: u16 = 0x08;
    /// Mouse buttons (EV_KEY).
    pub const BTN_LEFT: u16 = 0x110;
    /// The right button.
    pub const BTN_RIGHT: u16 = 0x111;
    /// The middle button.
    pub const BTN_MIDDLE: u16 = 0x112;
}

/// `struct virtio_input_event`, 8 bytes: the entries of both queues.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct InputEvent {
    /// An evdev type (`EV_*`).
    pub ty: U16,
    /// A code of that type.
    pub code: U16,
    /// Its value.
    pub value: U32,
}

/// Bytes in one [`InputEvent`].
pub const EVENT_SIZE: u32 = 8;

/// `struct virtio_input_devids`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DevIds {
    /// Bus type (BUS_VIRTUAL 6 on QEMU).
    pub bustype: U16,
    /// Vendor.
    pub vendor: U16,
    /// Product.
    pub product: U16,
    /// Version.
    pub version: U16,
}

/// `struct virtio_input_absinfo`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct AbsInfo {
    /// Smallest value.
    pub min: U32,
    /// Largest value.
    pub max: U32,
    /// Noise filter.
    pub fuzz: U32,
    /// Dead zone.
    pub flat: U32,
    /// Units per mm.
    pub res: U32,
}

const _: () = {
    assert!(core::mem::size_of::<InputEvent>() == EVENT_SIZE as usize);
    assert!(core::mem::size_of::<DevIds>() == 8);
    assert!(core::mem::size_of::<AbsInfo>() == 20);
};

/// Why a config page was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConfigFault {
    /// `size` says more than the union holds.
    SizeTooLarge {
        /// What `size` said.
        size: u8,
    },
    /// `size` says less than the structure selected needs (a [`DevIds`]
    /// or [`AbsInfo`] cut short).
    TooShort {
        /// What `size` said.
        size: u8,
        /// What the structure needs.
        needed: usize,
    },
}

/// The one check of a config page's `size`: how many bytes of the union
/// to read. `needed` is the structure's size for fixed-size selections
/// (0 for strings and bitmaps, which may be any length; 0 also means the
/// selection is unsupported, VIRTIO 1.2 §5.8.5.2: "A device MUST set the
/// size field to zero if it doesn't support a given select and subsel
/// combination").
///
/// VIRTIO 1.2 §5.8.5.1: "A driver SHOULD check the size field before
/// accessing the configuration information": a size past the union is a
/// device fault, not something to read.
pub fn page_len(size: u8, needed: usize) -> Result<usize, ConfigFault> {
    let len = usize::from(size);
    if len > UNION_SIZE {
        return Err(ConfigFault::SizeTooLarge { size });
    }
    if len != 0 && len < needed {
        return Err(ConfigFault::TooShort { size, needed });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::config_from_bytes;

    #[test]
    fn golden_event_and_config_bytes() {
        let e: InputEvent = config_from_bytes(&[1, 0, 0x1e, 0, 1, 0, 0, 0]);
        assert_eq!((e.ty.get(), e.code.get(), e.value.get()), (evdev::EV_KEY, 0x1e, 1));
        let a: AbsInfo = config_from_bytes(&[0, 0, 0, 0, 0xff, 0x7f, 0, 0]);
        assert_eq!((a.min.get(), a.max.get()), (0, 0x7fff));
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(page_len(0, 8), Ok(0), "unsupported selection");
        assert_eq!(page_len(11, 0), Ok(11));
        assert_eq!(page_len(128, 0), Ok(128));
        assert_eq!(page_len(129, 0), Err(ConfigFault::SizeTooLarge { size: 129 }));
        assert_eq!(page_len(7, 8), Err(ConfigFault::TooShort { size: 7, needed: 8 }));
    }
}
