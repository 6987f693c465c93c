//! canary: fills its page and tells the rogue driver (channel 0, which
//! attacks only then); when the rogue says its attack
//! ended (channel 0), reports whether the page changed and passes (the
//! check ran; which verdict is right depends on the system, and the
//! tests that run it say which they expect).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_canary::{Canary, Verdict};
use sevio_runtime::{Channel, ChannelSet, Handler, debug_println, verdict};

sevio_runtime::protection_domain!(init);

/// The rogue driver.
const ROGUE: Channel = Channel::new(0);

sevio_runtime::shared_region!(
    /// The canary page.
    fn canary_page() = "canary_vaddr", 4096
);

fn init() -> CanaryPd {
    match canary_page() {
        Ok(page) => {
            let canary = Canary::new(page);
            debug_println!("canary: page filled");
            // Only now may the rogue point its device at the page.
            ROGUE.notify();
            CanaryPd(Some(canary))
        }
        Err(e) => {
            debug_println!("canary: {e}");
            verdict::fail("no canary page");
            CanaryPd(None)
        }
    }
}

struct CanaryPd(Option<Canary>);

impl Handler for CanaryPd {
    fn notified(&mut self, channels: ChannelSet) {
        let (true, Some(canary)) = (channels.contains(ROGUE), &self.0) else { return };
        match canary.check() {
            Verdict::Intact => debug_println!("canary: intact"),
            Verdict::Changed { bytes, first } => {
                debug_println!("canary: changed: {bytes} of 4096 bytes, the first at offset {first}")
            }
        }
        verdict::pass();
    }
}
