//! The one error type: why a function was left alone. Each is a log line
//! in the PD and that function is skipped; the rest of the bus is served.

use crate::bars::BarError;
use sevio_virtio::pci::{CapError, CapKind};

/// Why a function was skipped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The vendor id is valid but the rest of the header reads all-ones.
    AllOnes,
    /// A header layout other than 0 (endpoint) or 1 (PCI-to-PCI bridge).
    UnknownHeaderType(u8),
    /// A BAR that cannot be sized or placed.
    Bar(BarError),
    /// A bridge, but no bus number left in the mapped ECAM range (or
    /// bridges nested deeper than [`MAX_DEPTH`](crate::enumerate::MAX_DEPTH)).
    NoBusNumber,
    /// More wanted functions than the transport keeps.
    TooManyFunctions,
    /// A transitional device id whose subsystem id names no device type.
    UnknownDeviceType {
        /// PCI device id.
        device: u16,
        /// PCI subsystem id.
        subsystem: u16,
    },
    /// A malformed virtio capability or capability list.
    Cap(CapError),
    /// A capability names a BAR the function does not implement.
    CapBarMissing {
        /// What the capability locates.
        kind: CapKind,
        /// The BAR it names.
        bar: u8,
    },
    /// A capability in an I/O BAR (this transport reaches modern
    /// structures through memory BARs only).
    CapInIoBar {
        /// What the capability locates.
        kind: CapKind,
        /// The BAR it names.
        bar: u8,
    },
    /// A capability's structure does not lie inside its BAR.
    CapOutsideBar {
        /// What the capability locates.
        kind: CapKind,
        /// The BAR.
        bar: u8,
        /// Offset of the structure in the BAR.
        offset: u64,
        /// Its length.
        length: u64,
        /// The BAR's size.
        bar_size: u64,
    },
    /// A structure shorter than its layout (common config below 0x38
    /// bytes, notify below 2, ISR below 1).
    CapTooShort {
        /// What the capability locates.
        kind: CapKind,
        /// Its length.
        length: u64,
    },
    /// A modern device without one of the common, notify and ISR
    /// capabilities.
    MissingCap(CapKind),
    /// A legacy-only device without an I/O BAR 0.
    NoLegacyBar,
    /// A BAR outside the windows this PD maps (cannot happen for BARs
    /// this transport assigned; kept so no path needs to panic).
    NotMapped,
}

impl From<BarError> for Problem {
    fn from(e: BarError) -> Self {
        Problem::Bar(e)
    }
}

impl From<CapError> for Problem {
    fn from(e: CapError) -> Self {
        Problem::Cap(e)
    }
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Problem::AllOnes => write!(f, "config space reads all-ones"),
            Problem::UnknownHeaderType(t) => write!(f, "unknown header type {t:#x}"),
            Problem::Bar(BarError::Malformed { bar, readback }) => {
                write!(f, "BAR {bar} is malformed (read back {readback:#010x} after writing all-ones)")
            }
            Problem::Bar(BarError::Truncated { bar }) => write!(f, "BAR {bar} is 64-bit but has no upper half"),
            Problem::Bar(BarError::DoesNotFit { bar, size, space }) => {
                write!(f, "BAR {bar} ({size:#x} bytes of {space:?}) does not fit the window")
            }
            Problem::NoBusNumber => write!(f, "bridge skipped: no bus number left in the mapped ECAM range"),
            Problem::TooManyFunctions => write!(f, "too many virtio functions"),
            Problem::UnknownDeviceType { device, subsystem } => {
                write!(f, "transitional device id {device:#06x} with subsystem id {subsystem:#06x}: unknown type")
            }
            Problem::Cap(e) => write!(f, "malformed virtio capability: {e:?}"),
            Problem::CapBarMissing { kind, bar } => {
                write!(f, "capability {kind:?} names BAR {bar}, which is not implemented")
            }
            Problem::CapInIoBar { kind, bar } => write!(f, "capability {kind:?} is in I/O BAR {bar} (unsupported)"),
            Problem::CapOutsideBar { kind, bar, offset, length, bar_size } => {
                write!(f, "capability {kind:?} points outside BAR {bar}: {offset:#x} + {length:#x} > {bar_size:#x}")
            }
            Problem::CapTooShort { kind, length } => write!(f, "capability {kind:?} is too short ({length:#x} bytes)"),
            Problem::MissingCap(kind) => write!(f, "no {kind:?} capability"),
            Problem::NoLegacyBar => write!(f, "no modern capabilities and no legacy I/O BAR 0"),
            Problem::NotMapped => write!(f, "a BAR lies outside the mapped windows"),
        }
    }
}

/// A function address as `bb:dd.f`.
pub struct BdfText(pub sevio_transport_protocol::Bdf);

impl core::fmt::Display for BdfText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.0.bus, self.0.device, self.0.function)
    }
}
