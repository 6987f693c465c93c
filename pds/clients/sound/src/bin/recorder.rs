//! recorder: captures RECORD_FRAMES frames (mono, S16, 48000 Hz) from the
//! first capture stream its sound driver describes (see the crate docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_sound::pd::ClientPd;
use sevio_client_sound::{RECORD_FRAMES, Role};

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Role::Record { frames: RECORD_FRAMES })
}
