//! The device side of remoteproc (the counterpart of NuttX's
//! `drivers/vhost`): a PD that plays a remote processor. It publishes a
//! resource table ([`TABLE`]: an rpmsg vdev and an rng vdev), waits for
//! the driver side to set DRIVER_OK, then serves each vdev's vrings in the
//! drivers' memory: [`echo`] (an rpmsg endpoint it announces by name and
//! that sends every message back) and [`rng`] (a deterministic byte
//! stream, for tests).
//!
//! Nothing the driver side writes is trusted: the status and ring
//! addresses in the table are re-read and checked
//! ([`RingPlacement::check`]); the rings themselves are served by
//! [`DeviceQueue`], which validates the available ring and every
//! descriptor, and reaches only the windows of [`DriverWindows`] (the
//! drivers' DMA regions, which system.xml maps here). A driver that breaks
//! a rule gets its vdev stopped until it resets it.
//!
//! Panic contract: nothing here panics on anything in the table, the
//! mailbox or the rings.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod echo;
pub mod rng;

#[cfg(test)]
mod tests;

use sevio_runtime::debug_println;
use sevio_sharedmem::SharedMemory;
use sevio_virtio::device::rpmsg::F_NS;
use sevio_virtio::mmio::DeviceStatus;
use sevio_virtio::queue::{DeviceQueue, DriverFault, DriverMemory};
use sevio_virtio::rproc::{ADDR_ANY, Direction, Mailbox, ResourceTable, TableError, Vdev, VdevSpec, write_table};
use sevio_virtio::{DeviceId, RingInterface, RingPlacement, SplitLayout};

/// The vrings' Queue Align.
pub const VRING_ALIGN: u32 = 4096;
/// Entries of the rng vring (the rng driver sets up at most 8).
pub const RNG_VRING_NUM: u32 = 8;

/// The table this PD publishes: rpmsg (notify ids 0, 1 = rx, 2 = tx) and
/// rng (3, 4 = requestq).
pub const TABLE: [VdevSpec; 2] = [
    VdevSpec {
        id: DeviceId::RPMSG.0,
        notifyid: 0,
        dfeatures: 1 << F_NS.bit(),
        config_len: 0,
        vrings: &[(echo::VRING_NUM as u32, VRING_ALIGN, 1), (echo::VRING_NUM as u32, VRING_ALIGN, 2)],
    },
    VdevSpec {
        id: DeviceId::RNG.0,
        notifyid: 3,
        dfeatures: 0,
        config_len: 0,
        vrings: &[(RNG_VRING_NUM, VRING_ALIGN, 4)],
    },
];

/// The drivers' memory this PD may reach: `(device address, mapping)`
/// of each driver's DMA region.
pub struct DriverWindows<const K: usize>(pub [(u64, SharedMemory); K]);

impl<const K: usize> DriverMemory for DriverWindows<K> {
    fn window(&self, addr: u64, len: u64) -> Option<SharedMemory> {
        self.0.iter().find_map(|&(base, mem)| {
            let offset = addr.checked_sub(base)?;
            let end = offset.checked_add(len)?;
            if end > mem.len() as u64 {
                return None;
            }
            mem.slice(usize::try_from(offset).ok()?, usize::try_from(len).ok()?)
        })
    }
}

/// What a vdev is doing.
// Two per PD for its whole life, and no heap to box into.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// Waiting for DRIVER_OK.
    Idle,
    /// Serving its vrings.
    Running([Option<DeviceQueue<{ echo::VRING_NUM }>>; 2]),
    /// The driver broke a rule; waiting for it to reset the vdev.
    Stopped,
}

struct Served {
    vdev: Vdev,
    phase: Phase,
}

/// What the device side serves.
pub struct Vhost<M> {
    table: ResourceTable,
    mailbox: Mailbox,
    memory: M,
    rpmsg: Option<Served>,
    rng: Option<Served>,
    /// The echo device.
    pub echo: echo::Echo,
    /// The entropy device.
    pub entropy: rng::Entropy,
}

/// Why the table could not be published.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PublishError {
    /// The region cannot hold it.
    TooSmall,
    /// It does not read back (cannot happen: it is ours).
    Table(TableError),
}

impl<M: DriverMemory> Vhost<M> {
    /// Write [`TABLE`] into `table` and serve it. Tell the transport
    /// afterwards (it reads the table when notified).
    pub fn publish(table: SharedMemory, mailbox: Mailbox, memory: M) -> Result<Self, PublishError> {
        write_table(&table, &TABLE).map_err(|_| PublishError::TooSmall)?;
        let table = ResourceTable::open(table).map_err(PublishError::Table)?;
        let (mut rpmsg, mut rng) = (None, None);
        for vdev in table.vdevs(|e| debug_println!("vhost: own table: {e}")) {
            let served = Some(Served { vdev, phase: Phase::Idle });
            match DeviceId(vdev.id) {
                DeviceId::RPMSG => rpmsg = served,
                DeviceId::RNG => rng = served,
                _ => {}
            }
        }
        Ok(Vhost { table, mailbox, memory, rpmsg, rng, echo: Default::default(), entropy: Default::default() })
    }

    /// The transport notified: follow each vdev's status, serve its
    /// rings. True when the transport is to be notified back.
    pub fn notified(&mut self) -> bool {
        let mut ring = false;
        for which in [DeviceId::RPMSG, DeviceId::RNG] {
            let slot = if which == DeviceId::RPMSG { &mut self.rpmsg } else { &mut self.rng };
            let Some(mut served) = slot.take() else { continue };
            // The doorbells are hints; every running vring is looked at.
            for id in 0..32 {
                if served.vdev.notify_ids() & (1 << id) != 0 {
                    self.mailbox.take(Direction::ToDevice, id);
                }
            }
            self.follow_status(&mut served);
            if let Phase::Running(queues) = &mut served.phase {
                let result = match which {
                    DeviceId::RPMSG => serve_rpmsg(&mut self.echo, queues, &self.memory),
                    _ => serve_rng(&mut self.entropy, queues, &self.memory),
                };
                match result {
                    Ok(used) => {
                        for (q, was_used) in used.iter().enumerate() {
                            let wants = queues[q].as_ref().is_some_and(|q| q.wants_interrupt());
                            if let (true, true, Some(v)) = (*was_used, wants, served.vdev.vring(q)) {
                                self.mailbox.ring(Direction::ToDriver, v.notifyid);
                                ring = true;
                            }
                        }
                    }
                    Err(fault) => {
                        debug_println!(
                            "vhost: {}: the driver broke a ring rule: {fault:?}; stopped until reset",
                            which.name()
                        );
                        served.phase = Phase::Stopped;
                    }
                }
            }
            *if which == DeviceId::RPMSG { &mut self.rpmsg } else { &mut self.rng } = Some(served);
        }
        ring
    }

    fn follow_status(&mut self, served: &mut Served) {
        let status = DeviceStatus(self.table.status(&served.vdev));
        let ok = status.contains(DeviceStatus::DRIVER_OK);
        match (&served.phase, ok) {
            (Phase::Idle, true) => {
                served.phase = match self.start(&served.vdev) {
                    Ok(queues) => {
                        let features = self.table.gfeatures(&served.vdev);
                        if served.vdev.id == DeviceId::RPMSG.0 {
                            self.echo.start(features & (1 << F_NS.bit()) != 0);
                        }
                        debug_println!("vhost: {}: driver ready", DeviceId(served.vdev.id).name());
                        Phase::Running(queues)
                    }
                    Err(fault) => {
                        debug_println!(
                            "vhost: {}: refused the driver's rings: {fault:?}",
                            DeviceId(served.vdev.id).name()
                        );
                        Phase::Stopped
                    }
                }
            }
            (Phase::Running(_) | Phase::Stopped, false) => served.phase = Phase::Idle,
            _ => {}
        }
    }

    /// The driver's rings, as the table's `da` now says, checked.
    #[allow(clippy::type_complexity)]
    fn start(&self, vdev: &Vdev) -> Result<[Option<DeviceQueue<{ echo::VRING_NUM }>>; 2], DriverFault> {
        let mut queues = [None, None];
        for (q, slot) in queues.iter_mut().enumerate().take(vdev.num_vrings as usize) {
            let outside = DriverFault::RingOutside { part: sevio_virtio::RingPart::Descriptors };
            let vring = vdev.vring(q).ok_or(outside)?;
            let da = self.table.vring_da(vdev, q).filter(|&da| da != ADDR_ANY).ok_or(outside)?;
            let layout = SplitLayout::legacy(vring.num, vring.align as usize).map_err(|_| outside)?;
            let base = u64::from(da);
            let ring = RingPlacement::new(
                vring.num,
                base,
                base + layout.avail_offset() as u64,
                base + layout.used_offset() as u64,
            );
            ring.check(vring.num, RingInterface::Legacy { queue_align: u64::from(vring.align) })
                .map_err(|_| outside)?;
            *slot = Some(DeviceQueue::new(ring, &self.memory)?);
        }
        Ok(queues)
    }
}

type Queues = [Option<DeviceQueue<{ echo::VRING_NUM }>>; 2];

fn serve_rpmsg(
    echo: &mut echo::Echo,
    queues: &mut Queues,
    memory: &impl DriverMemory,
) -> Result<[bool; 2], DriverFault> {
    let [Some(rx), Some(tx)] = queues else { return Ok([false; 2]) };
    let (rx_used, tx_used) = echo.serve(rx, tx, memory)?;
    Ok([rx_used, tx_used])
}

fn serve_rng(
    entropy: &mut rng::Entropy,
    queues: &mut Queues,
    memory: &impl DriverMemory,
) -> Result<[bool; 2], DriverFault> {
    let Some(q) = &mut queues[0] else { return Ok([false; 2]) };
    let mut used = false;
    while let Some(chain) = q.pop(memory)? {
        let written = entropy.fill(&chain);
        q.push(chain.head, written)?;
        used = true;
    }
    Ok([used, false])
}
