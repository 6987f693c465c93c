//! Shared bits of sevio-sim's test PDs: what the probe expects, and the
//! virtio-mmio slot geometry of QEMU arm virt.
#![no_std]

/// Bytes between two virtio-mmio register blocks.
pub const SLOT_STRIDE: usize = 0x200;
/// virtio-mmio slots on QEMU arm virt.
pub const SLOTS: usize = 32;

/// What the probe test's sim description places: (slot, virtio device id).
/// Every other slot must be empty (device id 0).
pub const EXPECTED_DEVICES: [(usize, u32); 2] = [(31, 2), (30, 4)];

/// A short name for a virtio device id.
pub fn device_name(id: u32) -> &'static str {
    match id {
        0 => "-",
        1 => "net",
        2 => "blk",
        3 => "console",
        4 => "rng",
        9 => "9p",
        16 => "gpu",
        18 => "input",
        19 => "vsock",
        _ => "other",
    }
}

/// The device id `slot` should read under [`EXPECTED_DEVICES`].
pub fn expected_device(slot: usize) -> u32 {
    EXPECTED_DEVICES.iter().find(|(s, _)| *s == slot).map_or(0, |(_, id)| *id)
}
