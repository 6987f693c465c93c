//! The smallest real driver: it drives a virtio entropy device and logs
//! [`ROUNDS`] lines of [`BYTES`] random bytes. README.md's "Writing a
//! driver" shows the part between the `README` markers, and
//! `tests/minimal.rs` fails when the two differ; it also drives the
//! driver through the harness.
//!
//! `cargo run -p sevio-driver-core --example minimal` runs it against the
//! real transport core and a mock virtio-rng that answers counting bytes.

// README: from here
use sevio_driver_core::{
    Ctx, DmaCarver, DmaError, DmaSlice, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, SystemMaps, Unusable,
    VirtioDriver,
};
use sevio_runtime::debug_println;
use sevio_virtio::{Buffer, DeviceId, Features};

/// Bytes asked of the device at a time.
pub const BYTES: usize = 8;
/// Answers logged before the driver stops asking.
pub const ROUNDS: u32 = 3;

/// A virtio-rng driver that logs a few random bytes.
pub struct Entropy {
    /// The one buffer the device fills, in the driver's DMA region.
    buffer: DmaSlice,
    /// The device's last answer and its length.
    pub last: ([u8; BYTES], usize),
    /// Answers so far.
    pub rounds: u32,
}

impl VirtioDriver for Entropy {
    const DEVICE: DeviceId = DeviceId::RNG;
    type Queues = DriverQueue<2>;
    /// VIRTIO 1.2 §5.4.2: requestq is queue 0.
    const QUEUES: QueueSpec =
        QueueSpec { index: 0, params: QueueParams { max_size: 2, min_size: 1, indirect_descs: 0 } };
    type Error = DriverError;
    /// No regions besides the framework's (no client).
    type Setvars = ();

    fn new((): (), _maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let buffer = dma.take(BYTES, 8).map_err(Unusable::DmaRoom)?;
        Ok(Entropy { buffer, last: ([0; BYTES], 0), rounds: 0 })
    }

    fn features(&self) -> (Features, Features) {
        (Features::EMPTY, Features::EMPTY)
    }

    /// The queue is set up: hand the device the buffer (the framework
    /// kicks once DRIVER_OK is set).
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), DriverError> {
        self.ask(device.queues)
    }

    /// The buffer lives in the DMA region and the next device is asked
    /// afresh in `probe`: nothing to forget.
    fn remove(&mut self) {}

    fn interrupt(&mut self, ctx: &mut Ctx<'_, Self>, _causes: u32) {
        if let Err(e) = self.harvest(ctx) {
            ctx.fail(e);
        }
    }

    /// No client.
    fn client_notified(&mut self, _ctx: &mut Ctx<'_, Self>) {}
}

impl Entropy {
    /// VIRTIO 1.2 §5.4.6.1: "The driver MUST NOT place driver-readable
    /// buffers into the queue": one device-writable buffer.
    fn ask(&self, queue: &mut DriverQueue<2>) -> Result<(), DriverError> {
        let buffer = Buffer::writable(self.buffer.paddr, BYTES as u32);
        queue.add(&[buffer]).map(|_| ()).map_err(DriverError::Queue)
    }

    /// Log what the device wrote; ask again until [`ROUNDS`] answers.
    fn harvest(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), DriverError> {
        let Some(device) = ctx.device() else { return Ok(()) };
        while let Some(used) = device.queues.pop_used().map_err(DriverError::Queue)? {
            // The split queue refused a used length beyond the buffer
            // (VIRTIO 1.2 §2.7.8), so `len` fits.
            let len = (used.len as usize).min(BYTES);
            let mut bytes = [0; BYTES];
            let copied = self.buffer.mem.copy_out(0, &mut bytes[..len]);
            copied.map_err(|_| DriverError::Dma(DmaError::BadRequest))?;
            self.last = (bytes, len);
            self.rounds += 1;
            debug_println!("{len} random bytes: {:02x?}", &bytes[..len]);
            if self.rounds < ROUNDS {
                self.ask(&mut device.queues)?;
            }
        }
        Ok(())
    }
}
// README: to here

use sevio_driver_core::harness::Harness;
use sevio_transport_core::mock::MockDevice;

/// Feature bit VERSION_1 (VIRTIO 1.2 §6): a modern device.
const VERSION_1: u64 = 1 << 32;

/// The driver bound to a mock virtio-rng behind the real transport core.
pub fn bound_driver() -> Harness<Entropy> {
    let device = MockDevice::new(DeviceId::RNG.0, 2, VERSION_1, 1, 8);
    let mut harness = Harness::<Entropy>::new("entropy", device, |_| ());
    harness.bind();
    harness
}

/// The device fills each buffer the driver gives it with `fill(round)`
/// and interrupts, while it is live; returns the rounds it answered.
pub fn run_device(harness: &mut Harness<Entropy>, fill: impl Fn(u8) -> Vec<u8>) -> u8 {
    let mut round = 0;
    while harness.device.live()
        && let Some(chain) = harness.device.pop_avail(0)
    {
        let bytes = fill(round);
        harness.device.write(chain.bufs[0].addr, &bytes);
        harness.device.push_used(0, chain.head.into(), bytes.len() as u32);
        harness.interrupt(0);
        round += 1;
    }
    round
}

fn main() {
    let mut harness = bound_driver();
    run_device(&mut harness, |round| (0..BYTES as u8).map(|i| round * 16 + i).collect());
}
