//! The PD shell: channels, setvars, the runtime [`Handler`].
//!
//! system.xml gives paint channel 0 to the gpu driver and 1, 2, 3 to up
//! to three input drivers (notifications both ways), the gpu request and
//! response queues (`gpu_requests_vaddr`, `gpu_responses_vaddr`, a page
//! each), the data region (`gpu_client_data_vaddr` + `_size`, at least
//! 4 MiB) and one page per input driver (`input<k>_page_vaddr`; an unset
//! one is no device).

use crate::app::{App, InputPort};
use sevio_queue::gpu::{GpuRequestProducer, GpuResponseConsumer, SEVIO_CAPACITY};
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};
use sevio_sharedmem::SharedMemory;

/// The gpu driver.
pub const GPU: Channel = Channel::new(0);
/// Input driver k is on channel 1 + k.
pub const INPUTS: [Channel; 3] = [Channel::new(1), Channel::new(2), Channel::new(3)];
/// Events each input page holds (the input driver's `CAPACITY`).
pub const INPUT_CAPACITY: u32 = 256;
const PAGE: u64 = 0x1000;

sevio_runtime::setvar!(
    /// vaddr of the gpu request queue.
    pub fn requests_vaddr() = "gpu_requests_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the gpu response queue.
    pub fn responses_vaddr() = "gpu_responses_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the data region (framebuffer, cursor, display info).
    pub fn data_vaddr() = "gpu_client_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the data region.
    pub fn data_size() = "gpu_client_data_size"
);
sevio_runtime::setvar!(
    /// vaddr of input driver 0's page.
    pub fn input0_vaddr() = "input0_page_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of input driver 1's page.
    pub fn input1_vaddr() = "input1_page_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of input driver 2's page.
    pub fn input2_vaddr() = "input2_page_vaddr"
);

/// The one unsafe step: a mapping becomes shared memory.
#[allow(unsafe_code)]
fn region(vaddr: u64, size: u64) -> Option<SharedMemory> {
    // SAFETY: vaddr..vaddr+size is a <map> system.xml gives this PD (sim
    // maps the same) of at least that size, present for the PD's whole
    // life; the PD makes no Rust reference into it. A zero vaddr (unset
    // setvar) is refused by `mapped`.
    unsafe { sevio_driver_core::dma::mapped(vaddr, usize::try_from(size).ok()?) }
}

/// The PD: `None` once it cannot go on.
pub struct PaintPd {
    app: Option<App>,
    verdict_given: bool,
}

impl PaintPd {
    /// Open the regions, ask for the display information.
    pub fn start() -> PaintPd {
        Self::start_with(|app| app)
    }

    /// [`start`](Self::start), the app adjusted by `adjust` (the
    /// benchmark's image sets a frame count).
    pub fn start_with(adjust: impl FnOnce(App) -> App) -> PaintPd {
        let req = region(requests_vaddr(), PAGE).map(|m| GpuRequestProducer::new(m, SEVIO_CAPACITY));
        let resp = region(responses_vaddr(), PAGE).map(|m| GpuResponseConsumer::new(m, SEVIO_CAPACITY));
        let (Some(Ok(requests)), Some(Ok(responses)), Some(data)) = (req, resp, region(data_vaddr(), data_size()))
        else {
            debug_println!("paint: gpu_requests / gpu_responses / gpu_client_data missing or unusable");
            verdict::fail("bad configuration");
            return PaintPd { app: None, verdict_given: true };
        };
        let port = |vaddr| region(vaddr, PAGE).and_then(|p| InputPort::new(p, INPUT_CAPACITY).ok());
        let inputs = [port(input0_vaddr()), port(input1_vaddr()), port(input2_vaddr())];
        PaintPd { app: Some(adjust(App::new(requests, responses, data, inputs))), verdict_given: false }
    }
}

impl Handler for PaintPd {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(app) = &mut self.app else { return };
        if channels.contains(GPU) {
            app.gpu_notified();
        }
        let took = app.input_notified();
        for (k, t) in took.iter().enumerate() {
            if *t {
                // Room in the page: an owed SYN_DROPPED marker can go.
                INPUTS[k].notify();
            }
        }
        if !self.verdict_given {
            if let Some(why) = app.failed {
                self.verdict_given = true;
                verdict::fail(why);
            } else if app.passed {
                self.verdict_given = true;
                verdict::pass();
            }
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        let app = self.app.as_mut()?;
        app.take_notify_gpu().then_some(DeferredAction::Notify(GPU))
    }
}
