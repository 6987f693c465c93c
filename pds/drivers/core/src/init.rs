//! Device bring-up (VIRTIO 1.2 §3.1.1), as a typestate.
//!
//! The spec's order, and who does what here:
//!
//! 1-2. reset, ACKNOWLEDGE, DRIVER: [`Bringup::start`] asks the transport
//!      for the device's info, checks the device id, and sends `Reset`
//!      (the transport's reset also sets ACKNOWLEDGE | DRIVER);
//! 3-6. features: [`Bringup::negotiate`] reads the offer, accepts
//!      `wanted ∩ offered`, writes it (`DriverFeatures`); the transport
//!      sets FEATURES_OK and says whether it stuck. A modern device must
//!      offer VIRTIO_F_VERSION_1 (§6.1: "A driver MUST accept
//!      VIRTIO_F_VERSION_1 if it is offered", and without it a modern
//!      device is not one we can drive); a legacy one (virtio-mmio
//!      version 1, legacy virtio-pci: `DeviceInfo.version == 1`) has no
//!      feature bits above 31, so VERSION_1 is never asked of it;
//! 7.   device-specific setup on [`Configuring`]: config reads,
//!      [`Configuring::queue`] (QueueMaxSize, carve memory, QueueSetup,
//!      QueueReady);
//! 8.   DRIVER_OK: [`Configuring::driver_ok`].
//!
//! "If any of these steps go irrecoverably wrong, the driver SHOULD set
//! the FAILED status bit" (§3.1.1): the transport protocol has no FAILED
//! request, so every failure after the reset sends `Reset` instead (best
//! effort), which also stops the device from using our memory.

use crate::dma::{DmaCarver, DmaError};
use crate::queue::DriverQueue;
use crate::transport::{CallError, Transport, call_ok};
use sevio_transport_protocol::config::{ConfigReadError, read_config};
use sevio_transport_protocol::{DeviceInfo, Reply, Request, TransportKind, Width};
use sevio_virtio::features::{Features, general};
use sevio_virtio::{DeviceId, IndirectPool, PackedLayout, PackedQueue, RingPlacement, SplitLayout, SplitQueue};

/// Attempts at a consistent config read while the generation changes.
pub const CONFIG_ATTEMPTS: u32 = 8;

/// Which step of bring-up failed, and why. One variant per step.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `DeviceInfo` failed (`Refused(NotBound)`: the transport has not
    /// seen the binding yet).
    DeviceInfo(CallError),
    /// The bound device is not the kind this driver drives.
    WrongDevice {
        /// Device id the driver serves.
        expected: DeviceId,
        /// Device id found.
        found: DeviceId,
    },
    /// `Reset` failed.
    Reset(CallError),
    /// `DeviceFeatures` failed.
    DeviceFeatures(CallError),
    /// The device does not offer a feature the driver cannot do without
    /// (VERSION_1 on a modern device, or one of the driver's own).
    RequiredFeaturesMissing {
        /// What the device offered.
        offered: Features,
        /// What the driver required.
        required: Features,
    },
    /// `DriverFeatures` failed.
    DriverFeatures(CallError),
    /// The device did not keep FEATURES_OK for the features written.
    FeatureNegotiationFailed {
        /// What the device offered.
        offered: Features,
        /// What the driver accepted and wrote.
        wanted: Features,
    },
    /// A config-space read failed or never became consistent.
    ConfigRead(ConfigReadError<core::convert::Infallible>),
    /// A config-space write failed.
    ConfigWrite(CallError),
    /// `QueueMaxSize` failed.
    QueueMaxSize {
        /// The queue.
        queue: u16,
        /// Why.
        error: CallError,
    },
    /// The device has no such queue (maximum size 0), or its maximum is
    /// below what the driver needs.
    QueueUnavailable {
        /// The queue.
        queue: u16,
        /// The device's maximum size.
        max: u16,
    },
    /// The DMA region has no room (or alignment) for the queue.
    QueueMemory {
        /// The queue.
        queue: u16,
        /// Why.
        error: DmaError,
    },
    /// The queue (split or packed) could not be built on that memory.
    QueueBuild {
        /// The queue.
        queue: u16,
        /// Why.
        error: sevio_virtio::Error,
    },
    /// `QueueSetup` failed.
    QueueSetup {
        /// The queue.
        queue: u16,
        /// Why.
        error: CallError,
    },
    /// `QueueReady` failed.
    QueueReady {
        /// The queue.
        queue: u16,
        /// Why.
        error: CallError,
    },
    /// `DriverOk` failed (the device set FAILED or NEEDS_RESET).
    DriverOk(CallError),
}

/// Whether `info` describes a legacy (pre-1.0) interface: the
/// transports report version 1 for virtio-mmio version 1 and for the
/// legacy virtio-pci I/O interface, 2 for the modern ones.
pub fn is_legacy(info: &DeviceInfo) -> bool {
    info.version == 1
}

/// Whether the device fixes its queue sizes: the legacy PCI interface's
/// Queue Size register is read-only (VIRTIO 1.2 §4.1.5.1.4.1 legacy
/// interfaces), and a remoteproc resource table gives each vring its
/// `num`, so the driver must use exactly that size.
pub fn fixed_queue_size(info: &DeviceInfo) -> bool {
    match info.kind() {
        TransportKind::Pci => is_legacy(info),
        TransportKind::Rproc => true,
        TransportKind::Mmio => false,
    }
}

/// Step 1-2 done: the device is reset and acknowledged.
pub struct Bringup<'t, T: Transport + ?Sized> {
    t: &'t mut T,
    info: DeviceInfo,
}

/// Features accepted: device-specific setup (config, queues) may run.
pub struct Configuring<'t, T: Transport + ?Sized> {
    t: &'t mut T,
    info: DeviceInfo,
    offered: Features,
    features: Features,
}

/// A live device: DRIVER_OK is set.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The device.
    pub info: DeviceInfo,
    /// What it offered.
    pub offered: Features,
    /// The features in force.
    pub features: Features,
}

impl Negotiated {
    /// Whether the device is a legacy one.
    pub fn legacy(&self) -> bool {
        is_legacy(&self.info)
    }
}

/// How to size and build one queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueueParams {
    /// The largest size wanted (the device's maximum and the queue type's
    /// `N` also cap it; the result is rounded down to a power of two).
    pub max_size: u16,
    /// The smallest size the driver can work with.
    pub min_size: u16,
    /// Descriptors per indirect table, 0 for no indirect pool (also none
    /// unless INDIRECT_DESC was negotiated).
    pub indirect_descs: u16,
}

fn reset_quietly<T: Transport + ?Sized>(t: &mut T) {
    let _ = t.call(Request::Reset);
}

impl<'t, T: Transport + ?Sized> Bringup<'t, T> {
    /// Steps 1-2: learn the device, check it is a `device_id`, reset it.
    pub fn start(t: &'t mut T, device_id: DeviceId) -> Result<Self, InitError> {
        let info = match t.call(Request::DeviceInfo) {
            Reply::DeviceInfo(info) => info,
            other => return Err(InitError::DeviceInfo(CallError::from_reply(other))),
        };
        if info.device_id != device_id.0 {
            return Err(InitError::WrongDevice { expected: device_id, found: DeviceId(info.device_id) });
        }
        call_ok(t, Request::Reset).map_err(InitError::Reset)?;
        Ok(Bringup { t, info })
    }

    /// The device.
    pub fn info(&self) -> DeviceInfo {
        self.info
    }

    /// Steps 3-6: accept `wanted ∩ offered`; fail unless every bit of
    /// `required` (plus VERSION_1 on a modern device) is offered, or if
    /// the device refuses FEATURES_OK. On a legacy device VERSION_1 is
    /// dropped from both sets.
    pub fn negotiate(self, wanted: Features, required: Features) -> Result<Configuring<'t, T>, InitError> {
        let Bringup { t, info } = self;
        let (wanted, required) = if is_legacy(&info) {
            (wanted.without(general::VERSION_1), required.without(general::VERSION_1))
        } else {
            // §6.1: "A driver SHOULD accept VIRTIO_F_ACCESS_PLATFORM if it
            // is offered." Every address a sevio driver gives its device is
            // a physical one, which is also the device's address where an
            // IOMMU confines it (identity mappings), so accepting it
            // changes no address. (QEMU puts a virtio device behind its
            // IOMMU only when it offers the bit: `iommu_platform=on`.)
            (wanted.with(general::VERSION_1).with(general::ACCESS_PLATFORM), required.with(general::VERSION_1))
        };
        let offered = match t.call(Request::DeviceFeatures) {
            Reply::Features(f) => Features(f),
            other => {
                reset_quietly(t);
                return Err(InitError::DeviceFeatures(CallError::from_reply(other)));
            }
        };
        if !offered.contains(required) {
            reset_quietly(t);
            return Err(InitError::RequiredFeaturesMissing { offered, required });
        }
        let accepted = wanted.intersect(offered);
        match t.call(Request::DriverFeatures { features: accepted.0 }) {
            Reply::FeaturesOk(true) => {}
            Reply::FeaturesOk(false) => {
                reset_quietly(t);
                return Err(InitError::FeatureNegotiationFailed { offered, wanted: accepted });
            }
            other => {
                reset_quietly(t);
                return Err(InitError::DriverFeatures(CallError::from_reply(other)));
            }
        }
        Ok(Configuring { t, info, offered, features: accepted })
    }
}

impl<'t, T: Transport + ?Sized> Configuring<'t, T> {
    /// The device.
    pub fn info(&self) -> DeviceInfo {
        self.info
    }

    /// The features in force.
    pub fn features(&self) -> Features {
        self.features
    }

    /// Whether the device is a legacy one.
    pub fn legacy(&self) -> bool {
        is_legacy(&self.info)
    }

    fn fail<E>(&mut self, e: InitError) -> Result<E, InitError> {
        reset_quietly(self.t);
        Err(e)
    }

    /// Read `out.len()` bytes of device config at `offset` as one
    /// consistent snapshot (generation-checked).
    pub fn read_config(&mut self, offset: u32, out: &mut [u8]) -> Result<(), InitError> {
        let t = &mut *self.t;
        match read_config(&mut |r| Ok(t.call(r)), offset, out, CONFIG_ATTEMPTS) {
            Ok(_) => Ok(()),
            Err(e) => self.fail(InitError::ConfigRead(e)),
        }
    }

    /// Write `value` (`width` bytes) to device config at `offset`.
    pub fn write_config(&mut self, offset: u32, width: Width, value: u64) -> Result<(), InitError> {
        match call_ok(self.t, Request::ConfigWrite { offset, width, value }) {
            Ok(()) => Ok(()),
            Err(e) => self.fail(InitError::ConfigWrite(e)),
        }
    }

    /// Set up queue `index`: ask its maximum size, pick the largest power
    /// of two within `params` and `N` (a legacy PCI device's own size,
    /// which the driver cannot change, if it is at most `N`), carve its
    /// memory (packed when VIRTIO_F_RING_PACKED is in force, else the
    /// legacy or modern split layout, as the device needs) and an
    /// indirect pool from `dma`, and hand the addresses to the transport
    /// (QueueSetup, QueueReady).
    pub fn queue<const N: usize>(
        &mut self,
        index: u16,
        params: QueueParams,
        dma: &mut DmaCarver,
    ) -> Result<DriverQueue<N>, InitError> {
        let max = match self.t.call(Request::QueueMaxSize { queue: index }) {
            Reply::QueueMaxSize(m) => m,
            other => {
                return self.fail(InitError::QueueMaxSize { queue: index, error: CallError::from_reply(other) });
            }
        };
        let n = u16::try_from(N).unwrap_or(u16::MAX);
        let size = if fixed_queue_size(&self.info) {
            if max <= n && max.is_power_of_two() { max } else { 0 }
        } else {
            let cap = max.min(params.max_size).min(n);
            if cap == 0 { 0 } else { 1u16 << (15 - cap.leading_zeros().min(15)) }
        };
        if size == 0 || size < params.min_size {
            return self.fail(InitError::QueueUnavailable { queue: index, max });
        }
        // §2.8: with VIRTIO_F_RING_PACKED negotiated every queue is packed
        // (a legacy device has no bit 34 to offer). The builder's result
        // is this one's: passed through, not copied.
        let queue = if self.features.has(general::RING_PACKED) {
            self.packed_queue::<N>(index, size, params, dma)
        } else {
            self.split_queue::<N>(index, size, params, dma)
        };
        if let Err(e) = &queue {
            reset_quietly(self.t);
            return Err(*e);
        }
        queue
    }

    /// Hand queue `index`'s placement to the transport (QueueSetup), then
    /// make it live (QueueReady).
    fn program(&mut self, index: u16, placement: RingPlacement) -> Result<(), InitError> {
        let RingPlacement { size, desc, avail, used } = placement;
        call_ok(self.t, Request::QueueSetup { queue: index, size, desc, avail, used })
            .map_err(|error| InitError::QueueSetup { queue: index, error })?;
        call_ok(self.t, Request::QueueReady { queue: index })
            .map_err(|error| InitError::QueueReady { queue: index, error })
    }

    /// An indirect pool for a queue of `size`, if `params` asks for one
    /// and INDIRECT_DESC was negotiated.
    fn indirect_pool(
        &self,
        index: u16,
        size: u16,
        params: QueueParams,
        dma: &mut DmaCarver,
    ) -> Result<Option<IndirectPool>, InitError> {
        if params.indirect_descs < 2 || !self.features.has(general::INDIRECT_DESC) {
            return Ok(None);
        }
        dma.indirect_pool(size, params.indirect_descs)
            .map(Some)
            .map_err(|error| InitError::QueueMemory { queue: index, error })
    }

    // The two builders stay out of line: a queue is kilobytes of driver
    // state (per-descriptor arrays), and a PD's stack is fixed; inlined
    // into `queue` both formats' temporaries would share its frame.

    /// A packed queue of `size` (VIRTIO 1.2 §2.8.10.1's layout) in memory
    /// from `dma`, programmed.
    #[inline(never)]
    fn packed_queue<const N: usize>(
        &mut self,
        index: u16,
        size: u16,
        params: QueueParams,
        dma: &mut DmaCarver,
    ) -> Result<DriverQueue<N>, InitError> {
        let build = |error| InitError::QueueBuild { queue: index, error };
        let layout = PackedLayout::new(size).map_err(build)?;
        let mem = dma.packed_queue(&layout).map_err(|error| InitError::QueueMemory { queue: index, error })?;
        let pool = self.indirect_pool(index, size, params, dma)?;
        let queue = DriverQueue::packed(PackedQueue::<N>::new(mem, layout, self.features, pool).map_err(build)?, index)
            .map_err(build)?;
        self.program(index, queue.placement())?;
        Ok(queue)
    }

    /// A split queue of `size` (legacy or modern layout, as the device
    /// needs) in memory from `dma`, programmed.
    #[inline(never)]
    fn split_queue<const N: usize>(
        &mut self,
        index: u16,
        size: u16,
        params: QueueParams,
        dma: &mut DmaCarver,
    ) -> Result<DriverQueue<N>, InitError> {
        let build = |error| InitError::QueueBuild { queue: index, error };
        let layout = if self.legacy() {
            SplitLayout::legacy(size, sevio_virtio::queue::LEGACY_ALIGN)
        } else {
            SplitLayout::new(size)
        }
        .map_err(build)?;
        let mem = dma.split_queue(&layout).map_err(|error| InitError::QueueMemory { queue: index, error })?;
        let pool = self.indirect_pool(index, size, params, dma)?;
        let split = SplitQueue::<N>::new(mem, layout, self.features, pool).map_err(build)?;
        let queue = DriverQueue::new(split, index, mem.mem, &layout).map_err(build)?;
        self.program(index, queue.placement())?;
        Ok(queue)
    }

    /// The transport, for device-specific requests not covered here.
    pub fn transport(&mut self) -> &mut T {
        self.t
    }

    /// Step 8: set DRIVER_OK.
    pub fn driver_ok(mut self) -> Result<Negotiated, InitError> {
        if let Err(e) = call_ok(self.t, Request::DriverOk) {
            return self.fail(InitError::DriverOk(e));
        }
        Ok(Negotiated { info: self.info, offered: self.offered, features: self.features })
    }
}
