//! GPU device, 2D subset (VIRTIO 1.2 §5.7): config space, the control
//! header, the 2D and cursor commands, and the one check of a device's
//! answer ([`check_response`]).
//!
//! Every command starts with a [`CtrlHdr`] (24 bytes) and is answered in
//! a device-writable buffer that starts with one too. The layouts are
//! little-endian and unaligned (`zerocopy`), so a command is built on the
//! stack and copied into DMA memory, and an answer is copied out before it
//! is looked at: nothing here ever holds a reference into device memory.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Feature bits (VIRTIO 1.2 §5.7.3). The 2D driver takes none of them.
pub mod features {
    use crate::features::FeatureBit;
    /// 3D mode (virgl).
    pub const VIRGL: FeatureBit = FeatureBit::of(0);
    /// EDID is supported.
    pub const EDID: FeatureBit = FeatureBit::of(1);
    /// Resources can be given UUIDs.
    pub const RESOURCE_UUID: FeatureBit = FeatureBit::of(2);
    /// Blob resources.
    pub const RESOURCE_BLOB: FeatureBit = FeatureBit::of(3);
    /// Context types other than virgl.
    pub const CONTEXT_INIT: FeatureBit = FeatureBit::of(4);
}

/// The controlq (VIRTIO 1.2 §5.7.2).
pub const CONTROLQ: u16 = 0;
/// The cursorq.
pub const CURSORQ: u16 = 1;
/// At most this many scanouts (`VIRTIO_GPU_MAX_SCANOUTS`).
pub const MAX_SCANOUTS: usize = 16;
/// `events_read` bit: the display configuration changed.
pub const EVENT_DISPLAY: u32 = 1;
/// A cursor image is this many pixels square (QEMU refuses other sizes).
pub const CURSOR_SIZE: u32 = 64;
/// Bytes per pixel of every 2D format.
pub const BYTES_PER_PIXEL: u32 = 4;

/// `struct virtio_gpu_config` (VIRTIO 1.2 §5.7.4), 16 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpuConfig {
    /// Pending events (read only).
    pub events_read: U32,
    /// Write bits here to clear them from `events_read`.
    pub events_clear: U32,
    /// Scanouts the device has (1..=16).
    pub num_scanouts: U32,
    /// Capability sets (3D only).
    pub num_capsets: U32,
}

/// Config-space offset of `events_clear`.
pub const EVENTS_CLEAR_OFFSET: u32 = 4;

/// Command and response types (`enum virtio_gpu_ctrl_type`).
pub mod ctrl {
    /// Scanout geometry.
    pub const GET_DISPLAY_INFO: u32 = 0x0100;
    /// Create a host-side 2D resource.
    pub const RESOURCE_CREATE_2D: u32 = 0x0101;
    /// Destroy a resource.
    pub const RESOURCE_UNREF: u32 = 0x0102;
    /// Show a resource (or nothing) on a scanout.
    pub const SET_SCANOUT: u32 = 0x0103;
    /// Show a rectangle's new contents.
    pub const RESOURCE_FLUSH: u32 = 0x0104;
    /// Copy a rectangle from guest memory into the resource.
    pub const TRANSFER_TO_HOST_2D: u32 = 0x0105;
    /// Give a resource its guest memory.
    pub const RESOURCE_ATTACH_BACKING: u32 = 0x0106;
    /// Take it back.
    pub const RESOURCE_DETACH_BACKING: u32 = 0x0107;
    /// Cursor image and position.
    pub const UPDATE_CURSOR: u32 = 0x0300;
    /// Cursor position only.
    pub const MOVE_CURSOR: u32 = 0x0301;
    /// Success without data.
    pub const RESP_OK_NODATA: u32 = 0x1100;
    /// Success with a [`RespDisplayInfo`](super::RespDisplayInfo).
    pub const RESP_OK_DISPLAY_INFO: u32 = 0x1101;
    /// Unspecified error.
    pub const RESP_ERR_UNSPEC: u32 = 0x1200;
    /// The host ran out of memory.
    pub const RESP_ERR_OUT_OF_MEMORY: u32 = 0x1201;
    /// No such scanout.
    pub const RESP_ERR_INVALID_SCANOUT_ID: u32 = 0x1202;
    /// No such resource.
    pub const RESP_ERR_INVALID_RESOURCE_ID: u32 = 0x1203;
    /// No such context.
    pub const RESP_ERR_INVALID_CONTEXT_ID: u32 = 0x1204;
    /// A parameter was refused.
    pub const RESP_ERR_INVALID_PARAMETER: u32 = 0x1205;
}

/// Pixel formats (`enum virtio_gpu_formats`).
pub mod format {
    /// Bytes B, G, R, A.
    pub const B8G8R8A8_UNORM: u32 = 1;
    /// Bytes B, G, R, unused.
    pub const B8G8R8X8_UNORM: u32 = 2;
    /// Bytes A, R, G, B.
    pub const A8R8G8B8_UNORM: u32 = 3;
    /// Bytes unused, R, G, B.
    pub const X8R8G8B8_UNORM: u32 = 4;
    /// Bytes R, G, B, A.
    pub const R8G8B8A8_UNORM: u32 = 67;
    /// Bytes unused, B, G, R.
    pub const X8B8G8R8_UNORM: u32 = 68;
    /// Bytes A, B, G, R.
    pub const A8B8G8R8_UNORM: u32 = 121;
    /// Bytes R, G, B, unused.
    pub const R8G8B8X8_UNORM: u32 = 134;
}

/// `struct virtio_gpu_ctrl_hdr`, 24 bytes: the start of every command and
/// every response.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CtrlHdr {
    /// A command or response type ([`ctrl`]).
    pub ty: U32,
    /// `VIRTIO_GPU_FLAG_FENCE` and friends.
    pub flags: U32,
    /// Echoed when fenced.
    pub fence_id: U64,
    /// 3D context (0 in 2D).
    pub ctx_id: U32,
    /// Ring index (CONTEXT_INIT only).
    pub ring_idx: u8,
    /// Zero.
    pub padding: [u8; 3],
}

impl CtrlHdr {
    /// The header of a command of type `ty`.
    pub fn command(ty: u32) -> Self {
        CtrlHdr { ty: ty.into(), ..Default::default() }
    }
}

/// `struct virtio_gpu_rect`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Rect {
    /// Left edge.
    pub x: U32,
    /// Top edge.
    pub y: U32,
    /// Width.
    pub width: U32,
    /// Height.
    pub height: U32,
}

impl Rect {
    /// The rectangle at (`x`, `y`) of `width` x `height`.
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Rect { x: x.into(), y: y.into(), width: width.into(), height: height.into() }
    }
}

/// One scanout in [`RespDisplayInfo`] (`virtio_gpu_display_one`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DisplayOne {
    /// Its preferred position and size.
    pub r: Rect,
    /// Non-zero when a display is connected.
    pub enabled: U32,
    /// Flags (none defined).
    pub flags: U32,
}

/// `struct virtio_gpu_resp_display_info`, 408 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RespDisplayInfo {
    /// `RESP_OK_DISPLAY_INFO`.
    pub hdr: CtrlHdr,
    /// One per possible scanout.
    pub pmodes: [DisplayOne; MAX_SCANOUTS],
}

/// `struct virtio_gpu_resource_create_2d`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ResourceCreate2d {
    /// `RESOURCE_CREATE_2D`.
    pub hdr: CtrlHdr,
    /// The id to give it (non-zero).
    pub resource_id: U32,
    /// A [`format`].
    pub format: U32,
    /// Width in pixels.
    pub width: U32,
    /// Height in pixels.
    pub height: U32,
}

/// `struct virtio_gpu_resource_unref` and `virtio_gpu_resource_detach_backing`
/// (the same layout).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ResourceOnly {
    /// `RESOURCE_UNREF` or `RESOURCE_DETACH_BACKING`.
    pub hdr: CtrlHdr,
    /// The resource.
    pub resource_id: U32,
    /// Zero.
    pub padding: U32,
}

/// `struct virtio_gpu_set_scanout`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SetScanout {
    /// `SET_SCANOUT`.
    pub hdr: CtrlHdr,
    /// The part of the resource to show.
    pub r: Rect,
    /// The scanout.
    pub scanout_id: U32,
    /// The resource (0: scanout off).
    pub resource_id: U32,
}

/// `struct virtio_gpu_resource_flush`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ResourceFlush {
    /// `RESOURCE_FLUSH`.
    pub hdr: CtrlHdr,
    /// What changed.
    pub r: Rect,
    /// The resource.
    pub resource_id: U32,
    /// Zero.
    pub padding: U32,
}

/// `struct virtio_gpu_transfer_to_host_2d`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TransferToHost2d {
    /// `TRANSFER_TO_HOST_2D`.
    pub hdr: CtrlHdr,
    /// The rectangle of the resource to update.
    pub r: Rect,
    /// Where its first pixel is in the backing (rows follow at the
    /// resource's width times 4 bytes apart).
    pub offset: U64,
    /// The resource.
    pub resource_id: U32,
    /// Zero.
    pub padding: U32,
}

/// `struct virtio_gpu_resource_attach_backing` with one
/// `virtio_gpu_mem_entry` after it (the driver gives one contiguous
/// region).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct AttachBacking1 {
    /// `RESOURCE_ATTACH_BACKING`.
    pub hdr: CtrlHdr,
    /// The resource.
    pub resource_id: U32,
    /// 1.
    pub nr_entries: U32,
    /// The entry's guest physical address.
    pub addr: U64,
    /// Its length in bytes.
    pub length: U32,
    /// Zero.
    pub padding: U32,
}

/// `struct virtio_gpu_update_cursor` (both cursorq commands).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UpdateCursor {
    /// `UPDATE_CURSOR` or `MOVE_CURSOR`.
    pub hdr: CtrlHdr,
    /// Scanout.
    pub scanout_id: U32,
    /// Position.
    pub x: U32,
    /// Position.
    pub y: U32,
    /// Zero.
    pub pos_padding: U32,
    /// Image (UPDATE_CURSOR; 0 hides the cursor).
    pub resource_id: U32,
    /// Hot spot.
    pub hot_x: U32,
    /// Hot spot.
    pub hot_y: U32,
    /// Zero.
    pub padding: U32,
}

const _: () = {
    use core::mem::size_of;
    assert!(size_of::<GpuConfig>() == 16);
    assert!(size_of::<CtrlHdr>() == 24);
    assert!(size_of::<RespDisplayInfo>() == 24 + 16 * 24);
    assert!(size_of::<ResourceCreate2d>() == 40);
    assert!(size_of::<ResourceOnly>() == 32);
    assert!(size_of::<SetScanout>() == 48);
    assert!(size_of::<ResourceFlush>() == 48);
    assert!(size_of::<TransferToHost2d>() == 56);
    assert!(size_of::<AttachBacking1>() == 48);
    assert!(size_of::<UpdateCursor>() == 56);
};

/// What a device's answer to a controlq command turned out to be.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The type the command calls for (`RESP_OK_NODATA`, or
    /// `RESP_OK_DISPLAY_INFO` for GET_DISPLAY_INFO).
    Ok,
    /// One of the error types (0x1200..=0x12ff): the device refused the
    /// command; the device itself is fine.
    Refused(u32),
}

/// Why an answer cannot be believed: the device broke the protocol.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResponseFault {
    /// Fewer bytes were written than the answer needs (`len` of `needed`).
    Short {
        /// Bytes the device said it wrote.
        len: u32,
        /// Bytes the answer needs.
        needed: u32,
    },
    /// A success of the wrong kind, or no response type at all.
    WrongType {
        /// The command.
        command: u32,
        /// What the device answered.
        answered: u32,
    },
}

/// The success type a command calls for (VIRTIO 1.2 §5.7.6.8: each
/// command's "Response type is ...").
pub fn expected_response(command: u32) -> u32 {
    if command == ctrl::GET_DISPLAY_INFO { ctrl::RESP_OK_DISPLAY_INFO } else { ctrl::RESP_OK_NODATA }
}

/// Bytes the success answer to `command` occupies.
pub fn response_len(command: u32) -> u32 {
    if command == ctrl::GET_DISPLAY_INFO {
        core::mem::size_of::<RespDisplayInfo>() as u32
    } else {
        core::mem::size_of::<CtrlHdr>() as u32
    }
}

/// The one check of a controlq answer: `hdr` is the header the device
/// wrote, `used_len` how many bytes it said it wrote (already checked
/// against the buffer by the split queue), `command` the type of the
/// command in flight on that chain.
///
/// VIRTIO 1.2 §5.7.6.7: "All requests and responses on the virtqueues
/// have a fixed header", and each command names its response type
/// ("Response type is VIRTIO_GPU_RESP_OK_NODATA", or
/// `RESP_OK_DISPLAY_INFO` for GET_DISPLAY_INFO) or answers one of the
/// `VIRTIO_GPU_RESP_ERR_*` types. An error answer needs only the header;
/// a success needs the whole response. Anything else (no header, another
/// success type, an unknown type) is a device that broke the protocol.
pub fn check_response(command: u32, hdr: &CtrlHdr, used_len: u32) -> Result<Answer, ResponseFault> {
    let header = core::mem::size_of::<CtrlHdr>() as u32;
    if used_len < header {
        return Err(ResponseFault::Short { len: used_len, needed: header });
    }
    let answered = hdr.ty.get();
    if (ctrl::RESP_ERR_UNSPEC..=0x12ff).contains(&answered) {
        return Ok(Answer::Refused(answered));
    }
    if answered != expected_response(command) {
        return Err(ResponseFault::WrongType { command, answered });
    }
    let needed = response_len(command);
    if used_len < needed {
        return Err(ResponseFault::Short { len: used_len, needed });
    }
    Ok(Answer::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    #[test]
    fn feature_numbers() {
        use super::features::*;
        assert_eq!((VIRGL.bit(), EDID.bit(), RESOURCE_BLOB.bit(), CONTEXT_INIT.bit()), (0, 1, 3, 4));
    }

    #[test]
    fn golden_command_bytes() {
        let mut c = TransferToHost2d { hdr: CtrlHdr::command(ctrl::TRANSFER_TO_HOST_2D), ..Default::default() };
        c.r = Rect::new(1, 2, 3, 4);
        c.offset = 0x1_0000_0002u64.into();
        c.resource_id = 7.into();
        let b = c.as_bytes();
        assert_eq!(&b[..4], &[0x05, 0x01, 0, 0]);
        assert_eq!(&b[24..40], &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(&b[40..48], &[2, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&b[48..52], &[7, 0, 0, 0]);
        let cursor = UpdateCursor { resource_id: 9.into(), x: 5.into(), ..Default::default() };
        assert_eq!(&cursor.as_bytes()[28..32], &[5, 0, 0, 0]);
        assert_eq!(&cursor.as_bytes()[40..44], &[9, 0, 0, 0]);
    }

    #[test]
    fn answers_are_checked_against_the_command() {
        let hdr = |ty: u32| CtrlHdr { ty: ty.into(), ..Default::default() };
        let ok = ctrl::RESP_OK_NODATA;
        assert_eq!(check_response(ctrl::RESOURCE_FLUSH, &hdr(ok), 24), Ok(Answer::Ok));
        assert_eq!(
            check_response(ctrl::RESOURCE_FLUSH, &hdr(ok), 23),
            Err(ResponseFault::Short { len: 23, needed: 24 })
        );
        assert_eq!(
            check_response(ctrl::RESOURCE_FLUSH, &hdr(ctrl::RESP_OK_DISPLAY_INFO), 408),
            Err(ResponseFault::WrongType { command: ctrl::RESOURCE_FLUSH, answered: ctrl::RESP_OK_DISPLAY_INFO })
        );
        assert_eq!(
            check_response(ctrl::GET_DISPLAY_INFO, &hdr(ok), 24),
            Err(ResponseFault::WrongType { command: ctrl::GET_DISPLAY_INFO, answered: ok })
        );
        assert_eq!(
            check_response(ctrl::GET_DISPLAY_INFO, &hdr(ctrl::RESP_OK_DISPLAY_INFO), 24),
            Err(ResponseFault::Short { len: 24, needed: 408 })
        );
        assert_eq!(
            check_response(ctrl::GET_DISPLAY_INFO, &hdr(ctrl::RESP_ERR_INVALID_PARAMETER), 24),
            Ok(Answer::Refused(ctrl::RESP_ERR_INVALID_PARAMETER))
        );
        assert_eq!(
            check_response(ctrl::SET_SCANOUT, &hdr(0), 24),
            Err(ResponseFault::WrongType { command: ctrl::SET_SCANOUT, answered: 0 })
        );
    }
}
