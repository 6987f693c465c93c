//! paint-bench: paint that, once set up, shows 200 full-screen frames
//! (transfer + flush each) and prints frames per second
//! (systems/gpu-bench.xml, `make bench`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_paint::pd::PaintPd;

sevio_runtime::protection_domain!(init);

/// Frames shown.
const FRAMES: u32 = 200;

fn init() -> PaintPd {
    PaintPd::start_with(|app| app.bench(FRAMES))
}
