//! The remoteproc transport's logic, with no syscalls: the vdevs of a
//! resource table ([`sevio_virtio::rproc`]) as devices of the shared
//! transport core, and the PD handler around it. `main.rs` maps the table
//! and the mailbox.
//!
//! Where mmio has registers, rproc has fields of the table: the driver
//! side writes `gfeatures`, `status` and each vring's `da`, reads
//! `dfeatures` and the config space, and rings doorbells through the
//! [`Mailbox`] and the one channel to the device side. The table is the
//! other side's and untrusted: it is checked once, when this transport
//! starts ([`probe_table`]); a bad entry is logged by its index and the
//! rest of the table is served. What a transport needs of a vdev (ids,
//! features offered, vring sizes, alignments and fixed addresses, the
//! config length) is the snapshot taken then; the other side cannot
//! change it under a driver.
//!
//! - [`RprocDevice`]: one vdev as a [`VirtioDevice`];
//! - [`probe_table`]: every good vdev into a [`Transport`];
//! - [`RprocPd`]: waits for the table, then serves as every transport does.
//!
//! Panic contract: nothing here panics on anything the table, the
//! mailbox or a driver holds.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod config;

#[cfg(test)]
mod tests;

use sevio_runtime::{Channel, ChannelSet, Handler, MessageInfo, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::shell::{TransportPd, Wiring};
use sevio_transport_core::{DeviceError, Transport, VirtioDevice};
use sevio_transport_protocol::Location;
use sevio_transport_protocol::doorbell::{INT_CONFIG_CHANGE, INT_USED_BUFFER};
use sevio_virtio::mmio::DeviceStatus;
use sevio_virtio::rproc::{ADDR_ANY, Direction, MAX_ENTRIES, Mailbox, ResourceTable, TableError, Vdev};
use sevio_virtio::{RingFormat, RingInterface, RingPlacement};

/// How this transport tells the device side to look at the mailbox.
pub trait Bell {
    /// Notify the device side.
    fn ring(&self);
}

/// One vdev of the table, driven through its fields and doorbells.
pub struct RprocDevice<B> {
    table: ResourceTable,
    vdev: Vdev,
    mailbox: Mailbox,
    bell: B,
    /// Bit q: vring q was set up since the last reset.
    live: u8,
}

impl<B: Bell> RprocDevice<B> {
    /// The vdev `vdev` of `table` (as [`ResourceTable::vdevs`] checked it).
    pub fn new(table: ResourceTable, vdev: Vdev, mailbox: Mailbox, bell: B) -> Self {
        RprocDevice { table, vdev, mailbox, bell, live: 0 }
    }

    /// The vdev as checked.
    pub fn vdev(&self) -> &Vdev {
        &self.vdev
    }

    /// Write `status` and tell the device side (its own notify id).
    fn set_status(&mut self, status: u8) {
        let _ = self.table.set_status(&self.vdev, status);
        self.mailbox.ring(Direction::ToDevice, self.vdev.notifyid);
        self.bell.ring();
    }
}

fn config_width(width: usize) -> Result<(), DeviceError> {
    match width {
        1 | 2 | 4 | 8 => Ok(()),
        _ => Err(DeviceError::BadConfigAccess),
    }
}

impl<B: Bell> VirtioDevice for RprocDevice<B> {
    fn device_id(&self) -> u32 {
        self.vdev.id
    }
    /// The resource table carries no vendor.
    fn vendor_id(&self) -> u32 {
        0
    }
    /// 32 feature bits, no FEATURES_OK, legacy vring layout: what a
    /// legacy interface is to the driver framework.
    fn version(&self) -> u32 {
        1
    }
    fn reset(&mut self) {
        self.live = 0;
        self.set_status(0);
    }
    fn reset_and_acknowledge(&mut self) {
        self.reset();
        self.set_status(DeviceStatus::ACKNOWLEDGE.union(DeviceStatus::DRIVER).0);
    }
    fn device_features(&mut self) -> u64 {
        u64::from(self.vdev.dfeatures)
    }
    /// Only bits offered are written (`gfeatures`); a legacy interface
    /// has no FEATURES_OK to refuse, so it always sticks.
    fn set_driver_features(&mut self, wanted: u64) -> bool {
        let features = wanted & u64::from(self.vdev.dfeatures);
        self.table.set_gfeatures(&self.vdev, features as u32).is_ok()
    }
    fn queue_max(&mut self, index: u16) -> u16 {
        self.vdev.vring(index as usize).map_or(0, |v| v.num)
    }
    /// The table decides: exactly its `num` entries, the legacy layout
    /// with its `align`, at its `da` if it fixed one, below 4 GiB (`da`
    /// is 32 bits). The driver's address goes into `da` and `pa`.
    fn setup_queue(&mut self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError> {
        let vring = self.vdev.vring(index as usize).ok_or(DeviceError::NoSuchQueue)?;
        if self.live & (1 << index) != 0 {
            return Err(DeviceError::QueueInUse);
        }
        ring.check_format(format, vring.num, RingInterface::Legacy { queue_align: u64::from(vring.align) })?;
        if ring.size != vring.num {
            return Err(DeviceError::BadQueueSize);
        }
        let da = u32::try_from(ring.desc).map_err(|_| DeviceError::BadQueueAddress)?;
        if da == ADDR_ANY || (vring.da != ADDR_ANY && vring.da != da) {
            return Err(DeviceError::BadQueueAddress);
        }
        self.table.set_vring_addr(&self.vdev, index as usize, da).map_err(|_| DeviceError::BadQueueAddress)?;
        self.live |= 1 << index;
        Ok(())
    }
    /// `config_len` bounds every access (the table's own length, checked
    /// against its entry when the table was read).
    fn config_read(&mut self, offset: usize, width: usize) -> Result<(u64, u32), DeviceError> {
        config_width(width)?;
        let mut bytes = [0u8; 8];
        let out = bytes.get_mut(..width).ok_or(DeviceError::BadConfigAccess)?;
        self.table.read_config(&self.vdev, offset, out).map_err(|_| DeviceError::BadConfigAccess)?;
        Ok((u64::from_le_bytes(bytes), 0))
    }
    fn config_write(&mut self, offset: usize, width: usize, value: u64) -> Result<(), DeviceError> {
        config_width(width)?;
        let bytes = value.to_le_bytes();
        let src = bytes.get(..width).ok_or(DeviceError::BadConfigAccess)?;
        self.table.write_config(&self.vdev, offset, src).map_err(|_| DeviceError::BadConfigAccess)
    }
    /// The table has no generation counter.
    fn config_generation(&mut self) -> u32 {
        0
    }
    fn driver_ok(&mut self) -> bool {
        let status = DeviceStatus(self.table.status(&self.vdev)).union(DeviceStatus::DRIVER_OK);
        self.set_status(status.0);
        true
    }
    fn status(&mut self) -> u8 {
        self.table.status(&self.vdev)
    }
    fn notify(&mut self, index: u16) {
        if let Some(vring) = self.vdev.vring(index as usize) {
            self.mailbox.ring(Direction::ToDevice, vring.notifyid);
            self.bell.ring();
        }
    }
    /// Each vring doorbell the device side rang is a used-buffer cause;
    /// the vdev's own is a config change.
    fn take_interrupt(&mut self) -> u32 {
        let mut causes = 0;
        for q in 0..self.vdev.num_vrings as usize {
            if let Some(v) = self.vdev.vring(q)
                && self.mailbox.take(Direction::ToDriver, v.notifyid)
            {
                causes |= INT_USED_BUFFER;
            }
        }
        if self.mailbox.take(Direction::ToDriver, self.vdev.notifyid) {
            causes |= INT_CONFIG_CHANGE;
        }
        causes
    }
}

/// The transport over one table's vdevs (index = entry index).
pub type RprocTransport<B> = Transport<RprocDevice<B>, MAX_ENTRIES>;

/// Check the table in `table` and put every good vdev into a transport,
/// at its entry index; every bad entry is logged by its index and left
/// out. `bell(entry)` makes each device's doorbell.
pub fn probe_table<B: Bell>(
    table: SharedMemory,
    mailbox: Mailbox,
    mut bell: impl FnMut() -> B,
) -> Result<RprocTransport<B>, TableError> {
    let table = ResourceTable::open(table)?;
    let mut transport = Transport::new();
    for vdev in table.vdevs(|e| debug_println!("rproc: {e}; entry skipped")) {
        let name = sevio_virtio::DeviceId(vdev.id).name();
        debug_println!("rproc: entry {}: virtio-{name}, {} vring(s)", vdev.entry, vdev.num_vrings);
        let device = RprocDevice::new(table, vdev, mailbox, bell());
        // Cannot fail: entry indices are below MAX_ENTRIES and distinct.
        let _ = transport.insert(vdev.entry as usize, Location::Rproc { entry: u32::from(vdev.entry) }, device);
    }
    Ok(transport)
}

/// The rproc transport PD: waiting for the device side to publish its
/// table, then the shared transport shell over the table's vdevs.
// One value for the PD's whole life, and no heap to box into: the size
// difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum RprocPd<B: Bell> {
    /// No valid table yet: the device side notifies once it wrote one.
    Waiting {
        /// The table region.
        table: SharedMemory,
        /// The mailbox.
        mailbox: Mailbox,
        /// Makes each device's doorbell.
        bell: fn() -> B,
    },
    /// Serving.
    Serving(TransportPd<RprocDevice<B>, MAX_ENTRIES>),
}

impl<B: Bell> RprocPd<B> {
    /// Start serving if the table is there (at init, and whenever the
    /// device side notifies while waiting).
    pub fn try_start(self) -> Self {
        let RprocPd::Waiting { table, mailbox, bell } = self else { return self };
        match probe_table(table, mailbox, bell) {
            Ok(transport) => {
                let wiring = Wiring { name: "rproc", id: config::TRANSPORT_ID };
                RprocPd::Serving(TransportPd::start(transport, wiring))
            }
            Err(e) => {
                debug_println!("rproc: no resource table yet ({e:?}); waiting for the device side");
                RprocPd::Waiting { table, mailbox, bell }
            }
        }
    }
}

impl<B: Bell> Handler for RprocPd<B> {
    fn notified(&mut self, channels: ChannelSet) {
        for ch in channels {
            match self {
                RprocPd::Waiting { table, mailbox, bell } if ch == config::DEVICE => {
                    let waiting = RprocPd::Waiting { table: *table, mailbox: *mailbox, bell: *bell };
                    *self = waiting.try_start();
                }
                RprocPd::Waiting { .. } => {}
                RprocPd::Serving(pd) if ch == config::DEVICE => {
                    // The device side rang: pass each vdev's causes to its
                    // driver.
                    let drivers = pd.transport.interrupt_all(|_| true);
                    pd.notify_drivers(drivers);
                }
                RprocPd::Serving(pd) => pd.notified_channel(ch),
            }
        }
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        match self {
            RprocPd::Serving(pd) => pd.protected(channel, info),
            RprocPd::Waiting { .. } => sevio_transport_core::shell::refuse_not_bound(),
        }
    }
}
