//! Virtio over PCI (VIRTIO 1.2 §4.1). Filled in below.

/// A malformed virtio PCI capability.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CapError {
    /// Fewer bytes than the capability needs.
    TooShort,
}
