//! The rproc transport's channels and variables (see systems/rproc.xml).
//!
//! Channel 0 is the device side (the PD that publishes the resource
//! table): notifications both ways, each meaning "look at the mailbox".
//! The bus and driver channels and the driver setvars follow the
//! convention every transport shares (`sevio_transport_core::shell`).

use sevio_bus_protocol::TransportId;
use sevio_runtime::Channel;

/// This transport's id on the bus.
pub const TRANSPORT_ID: TransportId = TransportId(2);
/// The device side.
pub const DEVICE: Channel = Channel::new(0);

sevio_runtime::shared_region!(
    /// The resource table region (written by the device side; the
    /// driver-side fields by this PD).
    pub fn table() = "rproc_table_vaddr", 0x1000
);
sevio_runtime::shared_region!(
    /// The mailbox page beside the table.
    pub fn mailbox() = "rproc_mailbox_vaddr", 0x1000
);
