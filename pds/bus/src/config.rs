//! The bus's channels and variables (see system.xml).
//!
//! Bus-side channel ids: 0..8 transports, 8.. drivers. Which driver may
//! bind on which transport is fixed here and by the channels system.xml
//! grants; which device it gets is the bus's choice at run time.

use crate::broker::{DriverPort, TransportKindInfo, TransportPort};
use crate::restart::RestartPolicy;
use sevio_bus_protocol::{DriverId, TransportId};

/// The virtio-mmio transport of QEMU arm virt: 32 slots of 0x200 bytes
/// from 0x0a00_0000, GIC INTIDs 48..80.
pub const MMIO: TransportId = TransportId(0);
/// The PCI transport.
pub const PCI: TransportId = TransportId(1);
/// The remoteproc transport (vdevs of a resource table in shared memory).
pub const RPROC: TransportId = TransportId(2);

/// Transports, by bus-side channel.
pub static TRANSPORTS: [TransportPort; 3] = [
    TransportPort {
        channel: 0,
        id: MMIO,
        kind: TransportKindInfo::Mmio { base: 0x0a00_0000, stride: 0x200, irq_base: 48 },
    },
    TransportPort { channel: 1, id: PCI, kind: TransportKindInfo::Pci },
    TransportPort { channel: 2, id: RPROC, kind: TransportKindInfo::Rproc },
];

/// Drivers, by bus-side channel: driver k is on channel 8 + k. Which
/// transport each may bind on, the transports tell the bus
/// (ServesDrivers), from the channels system.xml gives them.
pub static DRIVERS: [DriverPort; 16] = {
    let mut ports = [DriverPort { channel: 0, id: DriverId(0) }; 16];
    let mut k = 0;
    while k < 16 {
        ports[k] = DriverPort { channel: 8 + k as u8, id: DriverId(k as u8) };
        k += 1;
    }
    ports
};

/// The IOMMU PD's confinement channel, bus side (its driver channel is
/// 8 + k like every driver's; this second one carries only "look at the
/// confinement pages", both ways).
pub const IOMMU_CHANNEL: u8 = 7;

sevio_runtime::shared_region!(
    /// The confinement requests page (rw here, read-only in the IOMMU
    /// PD). Unset in a system without an IOMMU.
    pub fn confine_requests() = "bus_confine_requests_vaddr", 4096
);
sevio_runtime::shared_region!(
    /// The confinement answers page (read-only here).
    pub fn confine_answers() = "bus_confine_answers_vaddr", 4096
);

sevio_runtime::shared_region!(
    /// The binding table page (rw here, read-only elsewhere).
    pub fn binding_table() = "bus_bindings_vaddr", 4096
);

/// When a faulted driver is restarted: after 1 ms, doubling with each
/// fault in a 10 s window up to 16 ms; the 12th fault in the window
/// leaves it down. (The bus waits out the back-off itself, as no timer
/// serves it: the ceiling keeps that short.)
pub const RESTART_POLICY: RestartPolicy = RestartPolicy {
    max_faults: 12,
    window_ns: 10_000_000_000,
    first_backoff_ns: 1_000_000,
    max_backoff_ns: 16_000_000,
};
