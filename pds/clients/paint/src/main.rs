//! paint: the gpu and input demo client (see the crate docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_paint::pd::PaintPd;

sevio_runtime::protection_domain!(init);

fn init() -> PaintPd {
    PaintPd::start()
}
