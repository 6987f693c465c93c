//! A virtio PCI function as the transport core sees it: one
//! [`VirtioDevice`] over either interface.

use crate::config_space::ConfigSpace;
use crate::enumerate::Function;
use crate::legacy::Legacy;
use crate::modern::Modern;
use crate::probe::{Apertures, Layout, layout, subsystem, virtio_type};
use crate::problem::Problem;
use crate::regs::Registers;
use sevio_transport_core::{DeviceError, VirtioDevice};
use sevio_transport_protocol::Bdf;
use sevio_virtio::mmio::DeviceStatus;
use sevio_virtio::pci::VENDOR_ID;
use sevio_virtio::{RingFormat, RingPlacement};

/// The device status byte, which both interfaces have (VIRTIO 1.2 §2.1),
/// and the status sequences built on it.
pub(crate) trait StatusByte {
    fn read_status(&self) -> u8;
    fn write_status(&self, value: u8);

    fn add_status(&self, bits: DeviceStatus) {
        self.write_status(DeviceStatus(self.read_status()).union(bits).0);
    }

    /// Write 0 and wait (bounded: a stuck device is no reason to hang)
    /// until it reads back 0.
    fn reset_and_wait(&self) {
        self.write_status(0);
        for _ in 0..1000 {
            if self.read_status() == 0 {
                break;
            }
        }
    }

    /// ACKNOWLEDGE, then DRIVER (VIRTIO 1.2 §3.1.1 steps 2-3).
    fn acknowledge(&self) {
        self.add_status(DeviceStatus::ACKNOWLEDGE);
        self.add_status(DeviceStatus::DRIVER);
    }

    /// Set FEATURES_OK and read it back (VIRTIO 1.2 §3.1.1 steps 5-6).
    fn features_ok(&self) -> bool {
        self.add_status(DeviceStatus::FEATURES_OK);
        DeviceStatus(self.read_status()).contains(DeviceStatus::FEATURES_OK)
    }

    /// Set DRIVER_OK; whether the device took it and has not failed.
    fn driver_ok(&self) -> bool {
        self.add_status(DeviceStatus::DRIVER_OK);
        let s = DeviceStatus(self.read_status());
        s.contains(DeviceStatus::DRIVER_OK)
            && !s.contains(DeviceStatus::FAILED)
            && !s.contains(DeviceStatus::DEVICE_NEEDS_RESET)
    }
}

/// The register interface a function is driven through.
pub enum Interface<R> {
    /// VIRTIO 1.x capabilities in memory BARs.
    Modern(Modern<R>),
    /// The legacy I/O BAR.
    Legacy(Legacy<R>),
}

/// One virtio PCI function.
pub struct PciDevice<R> {
    bdf: Bdf,
    device_id: u32,
    line: Option<u8>,
    interface: Interface<R>,
}

impl<R: Registers> PciDevice<R> {
    /// Identify `f` (a virtio function from [`enumerate`](crate::enumerate::enumerate)),
    /// find and check its register layout, and map it through `apertures`.
    /// Touches config space only, no BAR.
    pub fn probe<C: ConfigSpace>(cfg: &C, f: &Function, apertures: &Apertures<R>) -> Result<Self, Problem> {
        let id = virtio_type(f.device, subsystem(cfg, f))?;
        Self::new(f, id, &layout(cfg, f)?, apertures)
    }

    /// The device at `f` with register `layout`, its structures mapped
    /// through `apertures`.
    pub fn new(f: &Function, device_id: u32, layout: &Layout, apertures: &Apertures<R>) -> Result<Self, Problem> {
        let interface = match layout {
            Layout::Modern { common, notify, multiplier, isr, device } => {
                let device = match device {
                    Some(s) => Some(apertures.structure(f, s)?),
                    None => None,
                };
                Interface::Modern(Modern::new(
                    apertures.structure(f, common)?,
                    apertures.structure(f, notify)?,
                    *multiplier,
                    apertures.structure(f, isr)?,
                    device,
                ))
            }
            Layout::Legacy { size } => Interface::Legacy(Legacy::new(apertures.window(f, 0, 0, *size)?)),
        };
        Ok(PciDevice { bdf: f.bdf, device_id, line: f.line, interface })
    }

    /// Where it is.
    pub fn bdf(&self) -> Bdf {
        self.bdf
    }

    /// Its INTx line at the host bridge (0..4), if it has a pin.
    pub fn line(&self) -> Option<u8> {
        self.line
    }

    /// Whether it is driven through the legacy interface.
    pub fn is_legacy(&self) -> bool {
        matches!(self.interface, Interface::Legacy(_))
    }

    /// Its queues (modern: num_queues; legacy: not known, 0).
    pub fn num_queues(&self) -> u16 {
        match &self.interface {
            Interface::Modern(d) => d.num_queues(),
            Interface::Legacy(_) => 0,
        }
    }

    /// Interrupt through `vectors` MSI-X entries from now on (see
    /// [`Modern::use_msix`]); false (and INTx) if the device refused, or
    /// for a legacy device (whose register layout MSI-X would move).
    pub fn use_msix(&mut self, vectors: u16) -> bool {
        match &mut self.interface {
            Interface::Modern(d) => d.use_msix(vectors),
            Interface::Legacy(_) => false,
        }
    }

    /// The interrupt causes behind MSI-X entry `entry` (see
    /// [`Modern::msix_causes`]).
    pub fn msix_causes(&mut self, entry: u16) -> u32 {
        match &mut self.interface {
            Interface::Modern(d) => d.msix_causes(entry),
            Interface::Legacy(_) => 0,
        }
    }
}

/// Call the same method on whichever interface the device has.
macro_rules! either {
    ($self:ident, $d:ident => $e:expr) => {
        match &mut $self.interface {
            Interface::Modern($d) => $e,
            Interface::Legacy($d) => $e,
        }
    };
}

impl<R: Registers> VirtioDevice for PciDevice<R> {
    fn device_id(&self) -> u32 {
        self.device_id
    }
    fn vendor_id(&self) -> u32 {
        VENDOR_ID as u32
    }
    fn version(&self) -> u32 {
        if self.is_legacy() { 1 } else { 2 }
    }
    fn reset(&mut self) {
        match &mut self.interface {
            Interface::Modern(d) => d.reset(),
            Interface::Legacy(d) => d.reset_and_wait(),
        }
    }
    fn reset_and_acknowledge(&mut self) {
        self.reset();
        either!(self, d => d.acknowledge())
    }
    fn device_features(&mut self) -> u64 {
        either!(self, d => d.device_features())
    }
    fn set_driver_features(&mut self, wanted: u64) -> bool {
        either!(self, d => d.set_driver_features(wanted))
    }
    fn queue_max(&mut self, index: u16) -> u16 {
        either!(self, d => d.queue_max(index))
    }
    fn setup_queue(&mut self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError> {
        either!(self, d => d.setup_queue(index, ring, format))
    }
    fn config_read(&mut self, offset: usize, width: usize) -> Result<(u64, u32), DeviceError> {
        either!(self, d => d.config_read(offset, width))
    }
    fn config_write(&mut self, offset: usize, width: usize, value: u64) -> Result<(), DeviceError> {
        either!(self, d => d.config_write(offset, width, value))
    }
    fn config_generation(&mut self) -> u32 {
        match &self.interface {
            Interface::Modern(d) => d.generation(),
            Interface::Legacy(_) => 0,
        }
    }
    fn driver_ok(&mut self) -> bool {
        either!(self, d => StatusByte::driver_ok(d))
    }
    fn status(&mut self) -> u8 {
        either!(self, d => d.read_status())
    }
    fn notify(&mut self, index: u16) {
        either!(self, d => d.notify(index))
    }
    fn take_interrupt(&mut self) -> u32 {
        either!(self, d => d.take_interrupt())
    }
}
