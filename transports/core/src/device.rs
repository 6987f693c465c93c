//! The operations a transport provides for one device (VIRTIO 1.2 §3.1,
//! expressed over whatever registers the transport has).

use sevio_virtio::{PlacementError, RingFormat, RingPlacement};

/// Why a device operation was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The queue index is past what the device offers.
    NoSuchQueue,
    /// The queue is already live.
    QueueInUse,
    /// Size zero, not a power of two, or above the device's maximum.
    BadQueueSize,
    /// Addresses the interface cannot express or that are misaligned.
    BadQueueAddress,
    /// A config access outside the device's config space or of a width
    /// other than 1, 2, 4 or 8.
    BadConfigAccess,
    /// The config generation kept changing during a read.
    ConfigUnstable,
    /// The device maps the queue's interrupt to no MSI-X vector (it read
    /// back NO_VECTOR for every vector offered): the queue would never
    /// interrupt.
    NoInterruptVector,
}

impl From<PlacementError> for DeviceError {
    fn from(e: PlacementError) -> Self {
        match e {
            PlacementError::NoSuchQueue => DeviceError::NoSuchQueue,
            PlacementError::BadSize { .. } => DeviceError::BadQueueSize,
            PlacementError::Misaligned { .. }
            | PlacementError::NotContiguous { .. }
            | PlacementError::Wraps { .. }
            | PlacementError::OutsideWindow { .. }
            | PlacementError::BadPageFrame { .. }
            | PlacementError::PackedNeedsModern => DeviceError::BadQueueAddress,
        }
    }
}

/// One device's register-level operations.
pub trait VirtioDevice {
    /// VirtIO device id.
    fn device_id(&self) -> u32;
    /// Vendor id.
    fn vendor_id(&self) -> u32;
    /// 1 for a legacy register interface, 2 for a modern one.
    fn version(&self) -> u32;
    /// Reset the device and leave it reset.
    fn reset(&mut self);
    /// Reset, then ACKNOWLEDGE | DRIVER: ready for feature negotiation.
    fn reset_and_acknowledge(&mut self);
    /// The device's feature bits.
    fn device_features(&mut self) -> u64;
    /// Write the driver's features (only bits the device offered) and, on
    /// a modern interface, set FEATURES_OK; true when it stuck.
    fn set_driver_features(&mut self, wanted: u64) -> bool;
    /// The maximum size of queue `index`; 0 when it does not exist.
    fn queue_max(&mut self, index: u16) -> u16;
    /// Give queue `index` its size and addresses and make it live, after
    /// checking them with [`RingPlacement::check_format`] for `format`
    /// (packed when the driver negotiated VIRTIO_F_RING_PACKED), this
    /// device's maximum and its register interface.
    fn setup_queue(&mut self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError>;
    /// Read `width` bytes of config space with the generation they belong to.
    fn config_read(&mut self, offset: usize, width: usize) -> Result<(u64, u32), DeviceError>;
    /// Write `width` bytes of config space.
    fn config_write(&mut self, offset: usize, width: usize, value: u64) -> Result<(), DeviceError>;
    /// The config generation now.
    fn config_generation(&mut self) -> u32;
    /// Set DRIVER_OK; true when the device accepted it.
    fn driver_ok(&mut self) -> bool;
    /// The device status byte.
    fn status(&mut self) -> u8;
    /// Tell the device queue `index` has new buffers.
    fn notify(&mut self, index: u16);
    /// Read and acknowledge the interrupt causes (bit 0 used buffer, bit 1
    /// config change); 0 when the device did not interrupt.
    fn take_interrupt(&mut self) -> u32;
}
