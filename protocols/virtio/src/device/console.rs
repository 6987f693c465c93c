//! Console device (VIRTIO 1.2 §5.3).

use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Feature bits (VIRTIO 1.2 §5.3.3).
pub mod features {
    use crate::features::FeatureBit;
    /// `cols` and `rows` are valid.
    pub const SIZE: FeatureBit = FeatureBit::of(0);
    /// Multiple ports and a control queue pair (`max_nr_ports`).
    pub const MULTIPORT: FeatureBit = FeatureBit::of(1);
    /// Emergency write through `emerg_wr`.
    pub const EMERG_WRITE: FeatureBit = FeatureBit::of(2);
}

/// `struct virtio_console_config` (VIRTIO 1.2 §5.3.4), 12 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ConsoleConfig {
    /// Columns (SIZE).
    pub cols: U16,
    /// Rows (SIZE).
    pub rows: U16,
    /// Most ports (MULTIPORT).
    pub max_nr_ports: U32,
    /// Write a character here to emit it (EMERG_WRITE).
    pub emerg_wr: U32,
}

/// Config-space offset of `emerg_wr`.
pub const EMERG_WR_OFFSET: usize = 8;

const _: () = {
    assert!(core::mem::size_of::<ConsoleConfig>() == 12);
    assert!(core::mem::offset_of!(ConsoleConfig, emerg_wr) == EMERG_WR_OFFSET);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::config_from_bytes;

    #[test]
    fn parses_golden_config_bytes() {
        let c: ConsoleConfig = config_from_bytes(&[80, 0, 25, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!((c.cols.get(), c.rows.get(), c.max_nr_ports.get()), (80, 25, 4));
        assert_eq!(features::EMERG_WRITE.bit(), 2);
    }
}
