//! paint's logic over its shared regions: the GPU conversation (display
//! info, framebuffer and cursor set-up, then a transfer and a flush per
//! change) and the input pages (events in, the picture updated).
//!
//! Data region layout: the framebuffer at 0 (width x height x 4 bytes,
//! B8G8R8X8), the 64x64 cursor image at [`CURSOR_AT`], the display
//! information at [`INFO_AT`].

use crate::scene::{Canvas, Fnv, Paint, union};
use sevio_queue::QueueError;
use sevio_queue::gpu::{
    DisplayInfo, GpuCommand, GpuRect, GpuRequest, GpuRequestProducer, GpuResponseConsumer, GpuStatus,
};
use sevio_queue::input::{InputEvent, InputEventConsumer, InputInfo, queue_region};
use sevio_runtime::debug_println;
use sevio_sharedmem::SharedMemory;

/// Where the cursor image lives in the data region.
pub const CURSOR_AT: usize = 0x3e_8000;
/// Where GET_DISPLAY_INFO writes.
pub const INFO_AT: usize = 0x3f_0000;
/// The framebuffer's resource id.
pub const FB: u32 = 1;
/// The cursor's resource id.
pub const CURSOR: u32 = 2;
/// Cursor side in pixels.
pub const CURSOR_SIZE: u32 = 64;
/// sDDF format 1: B8G8R8X8.
const FORMAT_BGRX: u32 = 1;
/// sDDF format 0: B8G8R8A8 (the cursor has transparency).
const FORMAT_BGRA: u32 = 0;
/// Events logged one by one (the e2e test reads them); later ones are
/// only counted, so a benchmark's flood does not flood the log.
pub const LOG_LIMIT: u64 = 2000;
/// KEY_Q: report the frame.
const KEY_Q: u16 = 16;

/// The framebuffer in the data region.
pub struct Framebuffer {
    mem: SharedMemory,
    width: u32,
}

impl Canvas for Framebuffer {
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u32) {
        for row in y..y + h {
            let base = (row as usize * self.width as usize + x as usize) * 4;
            for i in 0..w as usize {
                // Inside: every caller clips to the screen, whose bytes
                // were checked to fit the region.
                let _ = self.mem.write::<u32>(base + 4 * i, colour.to_le());
            }
        }
    }
}

impl Framebuffer {
    /// FNV-1a of every pixel.
    pub fn hash(&self, height: u32) -> u64 {
        let mut f = Fnv::default();
        for i in 0..(self.width as usize * height as usize) {
            f.pixel(self.mem.read::<u32>(4 * i).map(u32::from_le).unwrap_or(0));
        }
        f.0
    }
}

/// One input device's page.
pub struct InputPort {
    page: SharedMemory,
    queue: InputEventConsumer,
    info: Option<InputInfo>,
}

impl InputPort {
    /// The client end of the page (`capacity` events).
    pub fn new(page: SharedMemory, capacity: u32) -> Result<Self, QueueError> {
        let q = queue_region(&page).ok_or(QueueError::OutOfBounds)?;
        Ok(InputPort { page, queue: InputEventConsumer::new(q, capacity)?, info: None })
    }
}

/// The full-screen benchmark's progress.
#[derive(Copy, Clone, Debug)]
struct Bench {
    frames: u32,
    sent: u32,
    start_ns: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Display,
    Setup,
    Ready,
    Failed,
}

/// paint.
pub struct App {
    requests: GpuRequestProducer,
    responses: GpuResponseConsumer,
    data: SharedMemory,
    inputs: [Option<InputPort>; 3],
    phase: Phase,
    next_id: u32,
    outstanding: u32,
    paint: Option<Paint>,
    fb: Option<Framebuffer>,
    dirty: Option<GpuRect>,
    cursor_moved: bool,
    events: u64,
    report: bool,
    notify_gpu: bool,
    /// Benchmark: full-screen transfer+flush frames still to send (one
    /// in flight at a time), and when the first went out.
    bench: Option<Bench>,
    /// Passed once set up (then it keeps running), or once the benchmark
    /// is done.
    pub passed: bool,
    /// Why it failed, once it did.
    pub failed: Option<&'static str>,
}

impl App {
    /// paint over its regions; asks for the display information.
    pub fn new(
        requests: GpuRequestProducer,
        responses: GpuResponseConsumer,
        data: SharedMemory,
        inputs: [Option<InputPort>; 3],
    ) -> App {
        let mut app = App {
            requests,
            responses,
            data,
            inputs,
            phase: Phase::Display,
            next_id: 1,
            outstanding: 0,
            paint: None,
            fb: None,
            dirty: None,
            cursor_moved: false,
            events: 0,
            report: false,
            notify_gpu: false,
            bench: None,
            passed: false,
            failed: None,
        };
        app.send(GpuCommand::GetDisplayInfo { mem_offset: INFO_AT as u64 });
        app
    }

    /// Once set up, show `frames` full-screen frames (transfer + flush,
    /// one frame in flight) and report frames per second, then pass.
    pub fn bench(mut self, frames: u32) -> App {
        self.bench = Some(Bench { frames, sent: 0, start_ns: 0 });
        self
    }

    fn fail(&mut self, why: &'static str) {
        self.phase = Phase::Failed;
        self.failed = Some(why);
    }

    fn send(&mut self, c: GpuCommand) -> bool {
        let id = self.next_id;
        if self.requests.enqueue(GpuRequest::new(id, c)).is_err() {
            return false;
        }
        self.next_id += 1;
        self.outstanding += 1;
        self.notify_gpu = true;
        true
    }

    /// Whether the gpu driver should be notified (and forget it).
    pub fn take_notify_gpu(&mut self) -> bool {
        core::mem::take(&mut self.notify_gpu)
    }

    /// The gpu driver answered.
    pub fn gpu_notified(&mut self) {
        loop {
            let r = match self.responses.take() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => return self.fail("the response queue's indices are impossible"),
            };
            self.outstanding = self.outstanding.saturating_sub(1);
            if r.status != GpuStatus::Ok as u32 {
                debug_println!("paint: FAIL: request {} answered status {}", r.id, r.status);
                return self.fail("a gpu request failed");
            }
        }
        let _ = self.responses.publish();
        match self.phase {
            Phase::Display if self.outstanding == 0 => self.set_up(),
            Phase::Setup if self.outstanding == 0 => {
                self.phase = Phase::Ready;
                if let Some(p) = &self.paint {
                    debug_println!(
                        "paint: ready: {}x{} framebuffer shown, cursor at {},{}",
                        p.width,
                        p.height,
                        p.x,
                        p.y
                    );
                }
                if self.bench.is_some() {
                    return self.bench_step();
                }
                self.passed = true;
                self.input_notified();
            }
            _ if self.bench.is_some() => self.bench_step(),
            _ => self.after_change(),
        }
    }

    /// Display information in: make the framebuffer and the cursor.
    fn set_up(&mut self) {
        let info = match DisplayInfo::read(&self.data, INFO_AT) {
            Ok(i) => i,
            Err(_) => return self.fail("display information unreadable"),
        };
        let s = info.scanouts[0];
        // VIRTIO 1.2 §5.7.5: "If no information is available or all
        // displays are disabled the driver MAY choose to use a fallback,
        // such as 1024x768 at display 0."
        let (w, h) = if s.enabled && s.rect.width > 0 { (s.rect.width, s.rect.height) } else { (1024, 768) };
        let bytes = u64::from(w) * u64::from(h) * 4;
        if bytes > CURSOR_AT as u64 {
            return self.fail("the scanout is larger than the framebuffer room");
        }
        debug_println!("paint: display 0: {}x{} ({} scanouts)", w, h, info.num_scanouts);
        let Some(fb_mem) = self.data.slice(0, bytes as usize) else { return self.fail("data region too small") };
        let mut fb = Framebuffer { mem: fb_mem, width: w };
        let paint = Paint::new(w, h);
        paint.draw_all(&mut fb);
        draw_cursor(&self.data);
        let full = GpuRect::new(0, 0, w, h);
        let cursor_rect = GpuRect::new(0, 0, CURSOR_SIZE, CURSOR_SIZE);
        let cursor_bytes = CURSOR_SIZE * CURSOR_SIZE * 4;
        let (x, y) = (paint.x, paint.y);
        let batch = [
            GpuCommand::Create2d { resource_id: FB, width: w, height: h, format: FORMAT_BGRX },
            GpuCommand::AttachBacking { resource_id: FB, mem_offset: 0, mem_size: bytes as u32 },
            GpuCommand::SetScanout { resource_id: FB, scanout_id: 0, rect: full },
            GpuCommand::TransferTo2d { resource_id: FB, rect: full, mem_offset: 0 },
            GpuCommand::Flush { resource_id: FB, rect: full },
            GpuCommand::Create2d { resource_id: CURSOR, width: CURSOR_SIZE, height: CURSOR_SIZE, format: FORMAT_BGRA },
            GpuCommand::AttachBacking { resource_id: CURSOR, mem_offset: CURSOR_AT as u64, mem_size: cursor_bytes },
            GpuCommand::TransferTo2d { resource_id: CURSOR, rect: cursor_rect, mem_offset: 0 },
            GpuCommand::UpdateCursor { resource_id: CURSOR, scanout_id: 0, x, y, hot_x: 0, hot_y: 0 },
        ];
        for c in batch {
            if !self.send(c) {
                return self.fail("the request queue is too small for the set-up");
            }
        }
        self.paint = Some(paint);
        self.fb = Some(fb);
        self.phase = Phase::Setup;
    }

    /// The next benchmark frame, or the result once all are shown.
    fn bench_step(&mut self) {
        let (Some(mut b), Some(p)) = (self.bench, &self.paint) else { return };
        if self.outstanding > 0 {
            return;
        }
        let full = GpuRect::new(0, 0, p.width, p.height);
        if b.sent == 0 {
            b.start_ns = sevio_runtime::time::now_ns();
        }
        if b.sent < b.frames {
            self.send(GpuCommand::TransferTo2d { resource_id: FB, rect: full, mem_offset: 0 });
            self.send(GpuCommand::Flush { resource_id: FB, rect: full });
            b.sent += 1;
            self.bench = Some(b);
            return;
        }
        let ns = sevio_runtime::time::now_ns().saturating_sub(b.start_ns).max(1);
        let milli_fps = u64::from(b.frames) * 1_000_000_000_000 / ns;
        debug_println!(
            "paint: BENCH gpu_fullscreen_fps {}.{:03} frames/s ({} frames of {}x{}, transfer + flush each)",
            milli_fps / 1000,
            milli_fps % 1000,
            b.frames,
            p.width,
            p.height
        );
        self.bench = None;
        self.passed = true;
    }

    /// Input may have arrived on any page.
    pub fn input_notified(&mut self) -> [bool; 3] {
        let mut took = [false; 3];
        for (k, slot) in self.inputs.iter_mut().enumerate() {
            let Some(port) = slot else { continue };
            if port.info.is_none()
                && let Ok(Some(info)) = InputInfo::read(&port.page)
            {
                let name = core::str::from_utf8(info.name()).unwrap_or("?");
                debug_println!(
                    "paint: input{} is \"{}\": event types {:#x}, x {}..{}, y {}..{}",
                    k,
                    name,
                    info.ev_types,
                    info.abs_x.0,
                    info.abs_x.1,
                    info.abs_y.0,
                    info.abs_y.1
                );
                port.info = Some(info);
            }
        }
        if self.phase != Phase::Ready {
            return took;
        }
        for (k, flag) in took.iter_mut().enumerate() {
            while let Some(port) = &mut self.inputs[k] {
                let ev = match port.queue.take() {
                    Ok(Some(ev)) => ev,
                    Ok(None) => break,
                    Err(_) => {
                        self.fail("an input queue's indices are impossible");
                        return took;
                    }
                };
                *flag = true;
                let abs = port.info.map(|i| (i.abs_x, i.abs_y)).unwrap_or(((0, 0), (0, 0)));
                self.event(k, ev, abs);
            }
            if let Some(port) = &mut self.inputs[k] {
                let _ = port.queue.publish();
            }
        }
        self.after_change();
        took
    }

    fn event(&mut self, k: usize, ev: InputEvent, abs: ((i32, i32), (i32, i32))) {
        self.events += 1;
        if self.events <= LOG_LIMIT {
            debug_println!("paint: input{} event {} {} {}", k, ev.ty, ev.code, ev.value as i32);
        }
        let (Some(p), Some(fb)) = (&mut self.paint, &mut self.fb) else { return };
        let u = p.apply(ev, abs, fb);
        if let Some(d) = u.dirty {
            self.dirty = Some(union(self.dirty, d));
        }
        self.cursor_moved |= u.pointer_moved;
        if ev.ty == 1 && ev.code == KEY_Q && ev.value == 1 {
            self.report = true;
        }
    }

    /// Show what changed; report the frame once everything is shown.
    fn after_change(&mut self) {
        if self.phase != Phase::Ready {
            return;
        }
        let Some(p) = &self.paint else { return };
        let (w, x, y) = (p.width, p.x, p.y);
        if let Some(d) = self.dirty
            && self.requests.free().unwrap_or(0) >= 3
        {
            let offset = (u64::from(d.y) * u64::from(w) + u64::from(d.x)) * 4;
            self.send(GpuCommand::TransferTo2d { resource_id: FB, rect: d, mem_offset: offset });
            self.send(GpuCommand::Flush { resource_id: FB, rect: d });
            self.dirty = None;
        }
        if self.cursor_moved && self.send(GpuCommand::MoveCursor { scanout_id: 0, x, y }) {
            self.cursor_moved = false;
        }
        if self.report
            && self.outstanding == 0
            && self.dirty.is_none()
            && let (Some(p), Some(fb)) = (&self.paint, &self.fb)
        {
            self.report = false;
            debug_println!(
                "paint: frame fnv1a={:016x} after {} events: pointer {},{} colour {} keys {} clicks {} moves {} drops {}",
                fb.hash(p.height),
                self.events,
                p.x,
                p.y,
                p.colour,
                p.keys,
                p.clicks,
                p.moves,
                p.drops
            );
        }
    }
}

/// An arrow: white with a black edge, transparent elsewhere (B8G8R8A8).
fn draw_cursor(data: &SharedMemory) {
    for y in 0..CURSOR_SIZE {
        for x in 0..CURSOR_SIZE {
            let inside = y < 24 && x <= y / 2 + y / 4;
            let edge = inside && (x == 0 || x == y / 2 + y / 4 || y == 23);
            let p: u32 = if edge {
                0xff00_0000
            } else if inside {
                0xffff_ffff
            } else {
                0
            };
            let at = CURSOR_AT + 4 * (y * CURSOR_SIZE + x) as usize;
            let _ = data.write::<u32>(at, p.to_le());
        }
    }
}
