//! A driver that misbehaves on purpose, to show what an IOMMU stops.
//!
//! Bound as a blk driver, it asks its device for one read whose data
//! buffer is a page of another PD (the canary's, whose physical address
//! system.xml gives it with `region_paddr`; it never maps the page).
//! Without an IOMMU the device writes the disk's first sectors over the
//! canary; with one, the device's access faults, the IOMMU PD reports it
//! and the bus unbinds this driver. Either way it then notifies the
//! canary PD (its client channel), which checks its page.
//!
//! It is a test driver: no system but the canary systems runs it.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use sevio_driver_core::{
    Ctx, DmaCarver, DmaSlice, DriverError, DriverQueue, QueueParams, QueueSpec, SystemMaps, Unusable, VirtioDriver,
};
use sevio_runtime::debug_println;
use sevio_virtio::device::blk::{ReqHeader, req};
use sevio_virtio::{Buffer, DeviceId, Features};
use zerocopy::IntoBytes;
use zerocopy::little_endian::{U32, U64};

/// Bytes of the canary page the device is told to fill.
pub const CANARY_BYTES: u32 = 4096;

/// Written into the DMA region (which a restart leaves as it was, unlike
/// the PD's own memory) when the attack is posted, cleared when the
/// canary is told to look: a restarted rogue that finds it knows its
/// attack ended with the device it lost (the transport reset it), and
/// tells the canary then.
pub const ATTACK_MARK: u64 = 0x726f_6775_6561_7474;

/// What system.xml tells the rogue.
#[derive(Copy, Clone, Debug)]
pub struct RogueSetvars {
    /// Physical address of the canary page (`region_paddr`).
    pub canary_paddr: u64,
}

/// How far the attack got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Attack {
    /// Not posted yet.
    Waiting,
    /// The read is on the queue.
    Posted,
    /// The device answered it (with this status byte; whether its writes
    /// reached the page, only the canary can tell).
    Answered(u8),
    /// The driver lost its device before the device answered.
    Stopped,
    /// Done: the canary was told; the rogue does nothing more.
    Over,
}

/// The misbehaving driver.
pub struct RogueDriver {
    canary_paddr: u64,
    header: DmaSlice,
    status: DmaSlice,
    /// Holds [`ATTACK_MARK`] from the attack until the canary is told.
    mark: DmaSlice,
    /// How far the attack got.
    pub attack: Attack,
    /// The canary said its page is filled.
    canary_ready: bool,
}

impl VirtioDriver for RogueDriver {
    const DEVICE: DeviceId = DeviceId::BLK;
    type Queues = DriverQueue<4>;
    /// VIRTIO 1.2 §5.2.2: requestq is queue 0.
    const QUEUES: QueueSpec =
        QueueSpec { index: 0, params: QueueParams { max_size: 4, min_size: 4, indirect_descs: 0 } };
    type Error = DriverError;
    type Setvars = RogueSetvars;

    fn new(vars: RogueSetvars, _maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        if vars.canary_paddr == 0 {
            return Err(Unusable::Setvar("canary_paddr is not set in system.xml"));
        }
        let header = dma.take(core::mem::size_of::<ReqHeader>(), 16).map_err(Unusable::DmaRoom)?;
        let status = dma.take(1, 1).map_err(Unusable::DmaRoom)?;
        let mark = dma.take(8, 8).map_err(Unusable::DmaRoom)?;
        // A mark left by the instance before a restart: that attack is over.
        let attack = if mark.mem.read::<u64>(0) == Some(ATTACK_MARK) { Attack::Stopped } else { Attack::Waiting };
        Ok(RogueDriver { canary_paddr: vars.canary_paddr, header, status, mark, attack, canary_ready: false })
    }

    fn features(&self) -> (Features, Features) {
        (Features::EMPTY, Features::EMPTY)
    }

    fn remove(&mut self) {
        if self.attack == Attack::Posted {
            self.attack = Attack::Stopped;
        }
    }

    fn interrupt(&mut self, ctx: &mut Ctx<'_, Self>, _causes: u32) {
        let Some(device) = ctx.device() else { return };
        match device.queues.pop_used() {
            Ok(Some(_)) => {
                let mut status = [0u8; 1];
                let _ = self.status.mem.copy_out(0, &mut status);
                self.attack = Attack::Answered(status[0]);
                debug_println!("rogue: the device answered the read (status {})", status[0]);
                self.tell_canary(ctx);
            }
            Ok(None) => {}
            Err(e) => ctx.fail(DriverError::Queue(e)),
        }
    }

    /// The canary's page is filled.
    fn client_notified(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.canary_ready = true;
        self.attack_if_ready(ctx);
    }

    /// After the binding changed: once the device is gone before it
    /// answered, say so and let the canary look.
    fn after_bind(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.attack == Attack::Stopped {
            debug_println!("rogue: lost its device before the device answered the read");
            self.tell_canary(ctx);
            return;
        }
        self.attack_if_ready(ctx);
    }
}

impl RogueDriver {
    /// The attack is over: the canary may look; never again.
    fn tell_canary(&mut self, ctx: &mut Ctx<'_, Self>) {
        let _ = self.mark.mem.write::<u64>(0, 0);
        if let Attack::Posted | Attack::Stopped = self.attack {
            self.attack = Attack::Over;
        }
        ctx.notify_client();
    }

    /// The attack, once, when the device is up and the canary ready: a
    /// read of sectors 0..8 into the canary's page.
    fn attack_if_ready(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.attack != Attack::Waiting || !self.canary_ready {
            return;
        }
        let Some(device) = ctx.device() else { return };
        let header = ReqHeader { type_: U32::new(req::IN), reserved: U32::new(0), sector: U64::new(0) };
        if self.header.mem.copy_in(0, header.as_bytes()).is_err() || self.mark.mem.write(0, ATTACK_MARK).is_err() {
            return;
        }
        let chain = [
            Buffer::readable(self.header.paddr, core::mem::size_of::<ReqHeader>() as u32),
            Buffer::writable(self.canary_paddr, CANARY_BYTES),
            Buffer::writable(self.status.paddr, 1),
        ];
        if let Err(e) = device.queues.add(&chain) {
            ctx.fail(DriverError::Queue(e));
            return;
        }
        debug_println!(
            "rogue: asked the device to read sectors 0..8 into {:#x} (the canary's page)",
            self.canary_paddr
        );
        self.attack = Attack::Posted;
    }
}
