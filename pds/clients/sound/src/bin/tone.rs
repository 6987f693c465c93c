//! tone: plays one second of a 440 Hz sine (mono, S16, 48000 Hz) on the
//! first playback stream its sound driver describes (see the crate docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_sound::pd::ClientPd;
use sevio_client_sound::{Role, TONE_FRAMES, TONE_HZ};

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Role::Play { hz: TONE_HZ, frames: TONE_FRAMES })
}
