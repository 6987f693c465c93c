//! seL4 message info and message registers.

/// How many message registers a PPC may carry (seL4_MsgMaxLength).
pub const MAX_MESSAGE_REGISTERS: usize = 120;

/// An seL4 message tag: `label << 12 | caps_unwrapped << 9 | extra_caps << 7 | length`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub struct MessageInfo(u64);

impl MessageInfo {
    const LABEL_SHIFT: u32 = 12;
    const LENGTH_MASK: u64 = 0x7f;

    /// A message with this label and `length` message registers (no caps).
    /// `length` is clamped to [`MAX_MESSAGE_REGISTERS`], as the kernel would.
    pub const fn new(label: u64, length: usize) -> Self {
        let length = if length > MAX_MESSAGE_REGISTERS { MAX_MESSAGE_REGISTERS } else { length };
        MessageInfo((label << Self::LABEL_SHIFT) | length as u64)
    }
    /// A message tag as the kernel hands it over.
    pub const fn from_raw(raw: u64) -> Self {
        MessageInfo(raw)
    }
    /// The encoded tag.
    pub const fn raw(self) -> u64 {
        self.0
    }
    /// The label (52 bits).
    pub const fn label(self) -> u64 {
        self.0 >> Self::LABEL_SHIFT
    }
    /// Number of message registers, clamped to [`MAX_MESSAGE_REGISTERS`]:
    /// a peer's tag is never trusted to index past the buffer.
    pub const fn length(self) -> usize {
        let len = (self.0 & Self::LENGTH_MASK) as usize;
        if len > MAX_MESSAGE_REGISTERS { MAX_MESSAGE_REGISTERS } else { len }
    }
    /// Extra caps field.
    pub const fn extra_caps(self) -> u64 {
        (self.0 >> 7) & 0x3
    }
    /// Caps-unwrapped field.
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 9) & 0x7
    }
}

/// The message registers of this PD's IPC buffer.
///
/// On seL4 they live in the IPC buffer at 0xFF_FFFF_F000 (MR0-MR3 also
/// travel in x2-x5; the backend copies them at each syscall). Hosted, sim
/// carries them in its messages.
pub struct MessageRegisters;

impl MessageRegisters {
    /// Message register `i`; 0 for an index past the buffer.
    pub fn get(i: usize) -> u64 {
        if i >= MAX_MESSAGE_REGISTERS {
            return 0;
        }
        crate::kernel::platform_mr_get(i)
    }
    /// Set message register `i`; ignored for an index past the buffer.
    pub fn set(i: usize, value: u64) {
        if i < MAX_MESSAGE_REGISTERS {
            crate::kernel::platform_mr_set(i, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_label_and_length() {
        let info = MessageInfo::new(0x1234, 6);
        assert_eq!(info.raw(), (0x1234 << 12) | 6);
        assert_eq!(info.label(), 0x1234);
        assert_eq!(info.length(), 6);
        assert_eq!(info.extra_caps(), 0);
    }

    #[test]
    fn decodes_all_fields() {
        let raw = (7u64 << 12) | (5 << 9) | (2 << 7) | 3;
        let info = MessageInfo::from_raw(raw);
        assert_eq!((info.label(), info.caps_unwrapped(), info.extra_caps(), info.length()), (7, 5, 2, 3));
    }

    #[test]
    fn length_is_clamped() {
        assert_eq!(MessageInfo::new(0, 500).length(), MAX_MESSAGE_REGISTERS);
        assert_eq!(MessageInfo::from_raw(0x7f).length(), MAX_MESSAGE_REGISTERS);
    }
}
