//! seL4 message info and message registers, and [`PpcMessage`], the
//! one way a PD moves a message through them.

use crate::Channel;

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
/// carries them in its messages. Private: PDs move whole messages with
/// [`PpcMessage`], so every PD has the same rule for their length.
pub(crate) struct MessageRegisters;

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

/// A message longer than the buffer it has to fit: refused whole, never
/// cut to size (a truncated request could decode as a different, valid
/// one).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TooLong {
    /// The label of the message.
    pub label: u64,
    /// Words the message has.
    pub len: usize,
    /// Words that fit.
    pub max: usize,
}

impl core::fmt::Display for TooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "message (label {}) of {} words refused: at most {} fit", self.label, self.len, self.max)
    }
}

/// One PPC message: a label and at most `N` words (and never more than
/// [`MAX_MESSAGE_REGISTERS`]). The one way sevio PDs put messages into
/// and take them out of the message registers, so every PD has the same
/// answer to a message that is too long: [`TooLong`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PpcMessage<const N: usize> {
    label: u64,
    len: usize,
    words: [u64; N],
}

impl<const N: usize> PpcMessage<N> {
    /// The most words this message can carry.
    pub const CAPACITY: usize = if N < MAX_MESSAGE_REGISTERS { N } else { MAX_MESSAGE_REGISTERS };

    /// A message of `label` and `words`.
    pub fn new(label: u64, words: &[u64]) -> Result<Self, TooLong> {
        if words.len() > Self::CAPACITY {
            return Err(TooLong { label, len: words.len(), max: Self::CAPACITY });
        }
        let mut message = PpcMessage { label, len: words.len(), words: [0; N] };
        message.words[..words.len()].copy_from_slice(words);
        Ok(message)
    }

    /// A message an encoder writes: `encode` fills the buffer and returns
    /// `(label, words used)`, as the sevio protocols' `encode` methods do.
    pub fn encode(encode: impl FnOnce(&mut [u64; N]) -> (u64, usize)) -> Result<Self, TooLong> {
        let mut words = [0; N];
        let (label, len) = encode(&mut words);
        if len > Self::CAPACITY {
            return Err(TooLong { label, len, max: Self::CAPACITY });
        }
        Ok(PpcMessage { label, len, words })
    }

    /// The message `info` announces, read from the message registers (a
    /// PPC received, or the reply to one). Its length is the peer's word:
    /// more than this message can hold is refused.
    pub fn receive(info: MessageInfo) -> Result<Self, TooLong> {
        let len = info.length();
        if len > Self::CAPACITY {
            return Err(TooLong { label: info.label(), len, max: Self::CAPACITY });
        }
        let mut words = [0; N];
        for (i, w) in words.iter_mut().enumerate().take(len) {
            *w = MessageRegisters::get(i);
        }
        Ok(PpcMessage { label: info.label(), len, words })
    }

    /// Write the message into the message registers and return the tag
    /// that sends it (as a PPC, or as the reply to one).
    pub fn send(&self) -> MessageInfo {
        for (i, w) in self.words().iter().enumerate() {
            MessageRegisters::set(i, *w);
        }
        MessageInfo::new(self.label, self.len)
    }

    /// PPC `channel` with this message and receive the reply, which must
    /// fit `N` words as well.
    pub fn call(&self, channel: Channel) -> Result<Self, TooLong> {
        Self::receive(channel.pp_call(self.send()))
    }

    /// The label.
    pub const fn label(&self) -> u64 {
        self.label
    }

    /// The words.
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len]
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

    // The message registers below are the hosted backend's (one set per
    // thread), so each test sees only its own.

    #[test]
    fn a_message_goes_through_the_registers_unchanged() {
        let sent = PpcMessage::<4>::new(9, &[1, 2, 3]).unwrap();
        let info = sent.send();
        assert_eq!((info.label(), info.length()), (9, 3));
        assert_eq!((0..3).map(MessageRegisters::get).collect::<std::vec::Vec<_>>(), [1, 2, 3]);
        let received = PpcMessage::<4>::receive(info).unwrap();
        assert_eq!(received, sent);
        assert_eq!(received.words(), [1, 2, 3]);
        let empty = PpcMessage::<4>::receive(MessageInfo::new(5, 0)).unwrap();
        assert_eq!((empty.label(), empty.words()), (5, &[][..]));
    }

    #[test]
    fn a_longer_message_than_the_buffer_is_refused_not_truncated() {
        for i in 0..8 {
            MessageRegisters::set(i, 100 + i as u64);
        }
        assert_eq!(PpcMessage::<6>::receive(MessageInfo::new(3, 7)), Err(TooLong { label: 3, len: 7, max: 6 }));
        assert_eq!(PpcMessage::<6>::receive(MessageInfo::new(3, 6)).unwrap().words(), [100, 101, 102, 103, 104, 105]);
        // A tag claiming the most registers the kernel allows.
        let max = MessageInfo::from_raw(0x7f);
        assert_eq!(PpcMessage::<6>::receive(max), Err(TooLong { label: 0, len: MAX_MESSAGE_REGISTERS, max: 6 }));
        let err = PpcMessage::<6>::receive(MessageInfo::new(3, 7)).unwrap_err();
        assert_eq!(std::format!("{err}"), "message (label 3) of 7 words refused: at most 6 fit");
    }

    #[test]
    fn an_outgoing_message_must_fit_too() {
        assert_eq!(PpcMessage::<2>::new(1, &[1, 2, 3]), Err(TooLong { label: 1, len: 3, max: 2 }));
        let too_many = PpcMessage::<2>::encode(|_| (4, 3));
        assert_eq!(too_many, Err(TooLong { label: 4, len: 3, max: 2 }));
        let encoded = PpcMessage::<2>::encode(|w| {
            w[0] = 7;
            (4, 1)
        });
        assert_eq!(encoded.unwrap().words(), [7]);
        // Never more than the kernel carries, whatever N says.
        assert_eq!(PpcMessage::<200>::CAPACITY, MAX_MESSAGE_REGISTERS);
        let huge = [0u64; MAX_MESSAGE_REGISTERS + 1];
        assert!(PpcMessage::<200>::new(0, &huge).is_err());
    }
}
