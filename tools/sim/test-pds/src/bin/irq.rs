//! simtest-irq: makes QEMU's virtio-rng (slot 31, INTID 79, our id 5)
//! raise its interrupt and checks sim's IRQ semantics:
//!
//! 1. Request 1 completes: the IRQ arrives on id 5 (and no other id).
//! 2. Without acking it, clear the device's interrupt status and make
//!    request 2: the line goes low and high again. A round trip through
//!    the echo PD shows the IRQ is *not* delivered while unacked.
//! 3. Ack it: the line is still high, so it is delivered again (level).
//! 4. Clear the status (the device lowers the line), then ack: a round
//!    trip through the echo PD shows it is not delivered again, then PASS
//!    (the lowering reached sim before the ack did).
//!
//! The virtqueue (4 entries, modern layout) is built by hand in the RAM
//! region `vq`: descriptors at 0, driver ring at 0x100, device ring at
//! 0x200, 64-byte buffers from 0x1000.
#![no_std]

use core::sync::atomic::{Ordering, fence};
use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::{Channel, ChannelSet, Handler, debug_println, verdict};
use sevio_virtio::mmio::{DeviceStatus, MAGIC_VALUE, interrupt, reg};

const IRQ: Channel = Channel::new(5);
const ECHO: Channel = Channel::new(1);
/// Slot 31's registers in the mapped page (slots 24..31).
const SLOT_OFFSET: usize = 0xe00;
const QUEUE_SIZE: u16 = 4;
const AVAIL: usize = 0x100;
const USED: usize = 0x200;
const BUFFERS: usize = 0x1000;
const BUFFER_LEN: u32 = 64;
/// Register reads to wait for request 2 before giving up.
const POLL_LIMIT: u32 = 100_000;

sevio_runtime::setvar!(fn mmio_vaddr() = "mmio_vaddr");
sevio_runtime::setvar!(fn vq_vaddr() = "vq_vaddr");
sevio_runtime::setvar!(fn vq_paddr() = "vq_paddr");

sevio_runtime::protection_domain!(init);

#[derive(Copy, Clone, Debug, PartialEq)]
enum Stage {
    First,
    Masked,
    Redeliver,
    Quiet,
    Done,
}

struct IrqTest {
    regs: DeviceRegion,
    vq: *mut u8,
    vq_paddr: u64,
    stage: Stage,
}

fn init() -> IrqTest {
    // SAFETY: irq.xml maps the virtio-mmio page of slots 24..31 uncached
    // at `mmio_vaddr`; slot 31's 0x200 bytes lie inside it.
    let page = unsafe { DeviceRegion::new(mmio_vaddr() as usize, 0x1000) };
    let regs = page.window(SLOT_OFFSET, 0x200).expect("slot 31 inside the page");
    let mut t = IrqTest { regs, vq: vq_vaddr() as *mut u8, vq_paddr: vq_paddr(), stage: Stage::First };
    if let Err(why) = t.set_up() {
        t.fail(why);
    } else {
        t.submit(0);
    }
    t
}

impl IrqTest {
    fn fail(&mut self, why: &str) {
        self.stage = Stage::Done;
        verdict::fail(why);
    }

    fn write_vq<T: Copy>(&self, offset: usize, value: T) {
        // SAFETY: every offset used is inside the 0x2000-byte `vq` region
        // irq.xml maps read-write at `vq`, and aligned for `T`.
        unsafe { self.vq.add(offset).cast::<T>().write_volatile(value) }
    }

    fn read_vq<T: Copy>(&self, offset: usize) -> T {
        // SAFETY: as in `write_vq`.
        unsafe { self.vq.add(offset).cast::<T>().read_volatile() }
    }

    fn set_status(&self, s: DeviceStatus) {
        self.regs.write32(reg::STATUS, s.0 as u32);
    }

    /// VIRTIO 1.2 §3.1.1 driver initialisation, one queue.
    fn set_up(&self) -> Result<(), &'static str> {
        let r = &self.regs;
        if r.read32(reg::MAGIC) != MAGIC_VALUE || r.read32(reg::VERSION) != 2 || r.read32(reg::DEVICE_ID) != 4 {
            return Err("slot 31 is not a modern virtio-rng");
        }
        self.set_status(DeviceStatus::RESET);
        let driver = DeviceStatus::ACKNOWLEDGE.union(DeviceStatus::DRIVER);
        self.set_status(driver);
        r.write32(reg::DEVICE_FEATURES_SEL, 1);
        if r.read32(reg::DEVICE_FEATURES) & 1 == 0 {
            return Err("device does not offer VERSION_1");
        }
        r.write32(reg::DRIVER_FEATURES_SEL, 1);
        r.write32(reg::DRIVER_FEATURES, 1);
        r.write32(reg::DRIVER_FEATURES_SEL, 0);
        r.write32(reg::DRIVER_FEATURES, 0);
        let features_ok = driver.union(DeviceStatus::FEATURES_OK);
        self.set_status(features_ok);
        if !DeviceStatus(r.read32(reg::STATUS) as u8).contains(DeviceStatus::FEATURES_OK) {
            return Err("device refused the features");
        }
        r.write32(reg::QUEUE_SEL, 0);
        if r.read32(reg::QUEUE_NUM_MAX) < QUEUE_SIZE as u32 {
            return Err("queue too small");
        }
        r.write32(reg::QUEUE_NUM, QUEUE_SIZE as u32);
        for (low, offset) in [(reg::QUEUE_DESC_LOW, 0), (reg::QUEUE_DRIVER_LOW, AVAIL), (reg::QUEUE_DEVICE_LOW, USED)] {
            let pa = self.vq_paddr + offset as u64;
            r.write32(low, pa as u32);
            r.write32(low + 4, (pa >> 32) as u32);
        }
        r.write32(reg::QUEUE_READY, 1);
        self.set_status(features_ok.union(DeviceStatus::DRIVER_OK));
        Ok(())
    }

    /// Post buffer `n` (device-writable) and notify the queue.
    fn submit(&self, n: u16) {
        let desc = 16 * n as usize;
        self.write_vq(desc, self.vq_paddr + (BUFFERS + BUFFER_LEN as usize * n as usize) as u64);
        self.write_vq(desc + 8, BUFFER_LEN);
        self.write_vq(desc + 12, 2u16); // VIRTQ_DESC_F_WRITE
        self.write_vq(AVAIL + 4 + 2 * (n % QUEUE_SIZE) as usize, n);
        fence(Ordering::Release);
        self.write_vq(AVAIL + 2, n + 1);
        fence(Ordering::SeqCst);
        self.regs.write32(reg::QUEUE_NOTIFY, 0);
    }

    /// Requests the device has completed, and the length of the last one.
    fn completed(&self) -> (u16, u32) {
        let idx: u16 = self.read_vq(USED + 2);
        fence(Ordering::Acquire);
        let last = (idx.wrapping_sub(1) % QUEUE_SIZE) as usize;
        (idx, self.read_vq(USED + 4 + 8 * last + 4))
    }

    fn step(&mut self, irq: bool, echo: bool) -> Result<(), &'static str> {
        match (self.stage, irq, echo) {
            (Stage::First, true, false) => {
                let (done, len) = self.completed();
                let status = self.regs.read32(reg::INTERRUPT_STATUS);
                if done != 1 || len == 0 || len > BUFFER_LEN || status & interrupt::USED_BUFFER == 0 {
                    return Err("first IRQ without a completed request");
                }
                debug_println!("irq: request 1 done ({len} bytes), IRQ on id {}", IRQ.index());
                self.regs.write32(reg::INTERRUPT_ACK, status);
                self.submit(1);
                let mut polls = 0;
                while self.regs.read32(reg::INTERRUPT_STATUS) & interrupt::USED_BUFFER == 0 {
                    polls += 1;
                    if polls == POLL_LIMIT {
                        return Err("request 2 did not complete");
                    }
                }
                ECHO.notify();
                self.stage = Stage::Masked;
            }
            (Stage::Masked, true, _) => return Err("IRQ delivered again before it was acked"),
            (Stage::Masked, false, true) => {
                debug_println!("irq: line high again, not delivered while unacked");
                IRQ.irq_ack();
                self.stage = Stage::Redeliver;
            }
            (Stage::Redeliver, true, false) => {
                let (done, _) = self.completed();
                let status = self.regs.read32(reg::INTERRUPT_STATUS);
                if done != 2 || status & interrupt::USED_BUFFER == 0 {
                    return Err("redelivered IRQ without request 2 done");
                }
                debug_println!("irq: delivered again after the ack (line still high)");
                self.regs.write32(reg::INTERRUPT_ACK, status);
                IRQ.irq_ack();
                ECHO.notify();
                self.stage = Stage::Quiet;
            }
            (Stage::Quiet, true, _) => return Err("IRQ delivered again after the device lowered the line"),
            (Stage::Quiet, false, true) => {
                debug_println!("irq: acknowledged at the device, then acked: not delivered again");
                self.stage = Stage::Done;
                verdict::pass();
            }
            _ => return Err("unexpected event for this stage"),
        }
        Ok(())
    }
}

impl Handler for IrqTest {
    fn notified(&mut self, channels: ChannelSet) {
        if self.stage == Stage::Done {
            return;
        }
        let known = (1 << IRQ.index()) | (1 << ECHO.index());
        if channels.bits() & !known != 0 {
            return self.fail("notified on an id that is neither the IRQ nor echo");
        }
        if let Err(why) = self.step(channels.contains(IRQ), channels.contains(ECHO)) {
            debug_println!("irq: stage {:?}, notified {:?}", self.stage, channels);
            self.fail(why);
        }
    }
}
