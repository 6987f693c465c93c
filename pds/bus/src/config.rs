//! The bus's channels and variables (see system.xml).
//!
//! Bus-side channel ids: 0..8 transports, 8.. drivers. Which driver may
//! bind on which transport is fixed here and by the channels system.xml
//! grants; which device it gets is the bus's choice at run time.

use crate::broker::{DriverPort, TransportKindInfo, TransportPort};
use crate::restart::RestartPolicy;
use sevio_bus_protocol::{DriverId, TransportId};
use sevio_runtime::Channel;
use sevio_sharedmem::SharedMemory;

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

/// The timer PD, in a system that gives the bus any driver's heartbeat
/// (that system must wire it: bus end `pp="true"`): the bus reads the
/// heartbeats on its timeouts (`crate::hang`).
pub const TIMER: Channel = Channel::new(60);

/// Maps the heartbeat page of driver `k`, if system.xml sets its
/// `driver<k>_heartbeat_vaddr`. Looked up each time rather than kept: the
/// bus of some systems runs on the default stack, and 16 kept mappings
/// would cost it.
macro_rules! heartbeat_setvars {
    ($($k:literal $symbol:literal),*) => {
        /// The heartbeat page of driver (child) `k`, read-only, if
        /// system.xml maps it into the bus (`driver<k>_heartbeat_vaddr`).
        pub fn heartbeat(k: usize) -> Option<SharedMemory> {
            match k {
                $(
                    $k => {
                        sevio_runtime::shared_region!(fn page() = $symbol, 4096);
                        page().ok()
                    }
                )*
                _ => None,
            }
        }
    };
}
heartbeat_setvars!(0 "driver0_heartbeat_vaddr", 1 "driver1_heartbeat_vaddr", 2 "driver2_heartbeat_vaddr", 3 "driver3_heartbeat_vaddr", 4 "driver4_heartbeat_vaddr", 5 "driver5_heartbeat_vaddr", 6 "driver6_heartbeat_vaddr", 7 "driver7_heartbeat_vaddr", 8 "driver8_heartbeat_vaddr", 9 "driver9_heartbeat_vaddr", 10 "driver10_heartbeat_vaddr", 11 "driver11_heartbeat_vaddr", 12 "driver12_heartbeat_vaddr", 13 "driver13_heartbeat_vaddr", 14 "driver14_heartbeat_vaddr", 15 "driver15_heartbeat_vaddr");

sevio_runtime::config_section!(
    /// The system's restart policy, if its build wrote one
    /// ([`crate::restart::POLICY_SECTION`]).
    fn restart_policy_section() -> [u8; crate::restart::POLICY_SECTION_SIZE] = ".sevio_restart_policy"
);

/// The restart policy of this system: its [`crate::restart::POLICY_SECTION`]
/// if the build filled it, else [`RESTART_POLICY`]. A section that is
/// filled but wrong is logged, naming what is wrong, and the built-in
/// policy is used: a bus that refused to start would take every driver
/// down with it.
pub fn restart_policy() -> RestartPolicy {
    match RestartPolicy::from_section(&restart_policy_section()) {
        Ok(Some(policy)) => {
            sevio_runtime::debug_println!("bus: restart policy from {}: {policy}", crate::restart::POLICY_SECTION);
            policy
        }
        Ok(None) => RESTART_POLICY,
        Err(e) => {
            sevio_runtime::debug_println!(
                "bus: {} refused: {e}; using the built-in policy: {RESTART_POLICY}",
                crate::restart::POLICY_SECTION
            );
            RESTART_POLICY
        }
    }
}

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
