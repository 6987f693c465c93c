//! The Microkit runtime for sevio protection domains.
//!
//! A PD is a [`Handler`]: it is told about notifications, protected
//! procedure calls (PPCs) and child faults, one event at a time, and acts
//! through [`Channel`]s. The API has the shape of rust-sel4's
//! `sel4-microkit`, so code ports either way.
//!
//! Two backends sit behind the same API, chosen by target:
//! - `target_os = "none"` (aarch64-unknown-none): the Microkit 2.3.0 ABI on
//!   seL4 16.0.0 (MCS): patched symbols, cap slots, inline-assembly syscalls.
//! - any hosted target: a Linux process driven by `tools/sim`, which routes
//!   events and proxies device registers to QEMU.
//!
//! Everything above the [`kernel::Kernel`] seam (message encoding, badge
//! decoding, the event loop, deferred actions) is shared and tested on the
//! host against a fake kernel.
#![no_std]
#![deny(missing_docs)]

#[cfg(not(target_os = "none"))]
extern crate std;

mod channel;
mod event_loop;
pub mod fault;
pub mod generic_timer;
mod handler;
pub mod kernel;
pub mod line;
mod message;
pub mod mmio;
pub mod print;
pub mod restart;
pub mod section;
pub mod stats;
pub mod time;
pub mod var;
pub mod verdict;

#[cfg(not(target_os = "none"))]
pub mod hosted;
#[cfg(target_os = "none")]
pub mod sel4;

pub use channel::{Channel, ChannelSet, ChannelSetIter, Child};
pub use event_loop::{Event, run_event_loop};
pub use handler::{DeferredAction, Handler};
pub use message::{MAX_MESSAGE_REGISTERS, MessageInfo, PpcMessage, TooLong};

/// The backend this build runs on.
#[cfg(not(target_os = "none"))]
pub use hosted::HostedKernel as PlatformKernel;
/// The backend this build runs on.
#[cfg(target_os = "none")]
pub use sel4::Sel4Kernel as PlatformKernel;

/// The PD's name as system.xml gives it (patched by the microkit tool on
/// seL4, passed by sim when hosted).
pub fn pd_name() -> &'static str {
    #[cfg(target_os = "none")]
    {
        sel4::pd_name()
    }
    #[cfg(not(target_os = "none"))]
    {
        hosted::pd_name()
    }
}

/// Declares the PD's entry point: `init` runs once and returns the handler
/// that then receives every event.
///
/// ```ignore
/// sevio_runtime::protection_domain!(init);
/// fn init() -> MyHandler { ... }
/// ```
#[macro_export]
macro_rules! protection_domain {
    ($init:path) => {
        #[cfg(target_os = "none")]
        #[unsafe(no_mangle)]
        extern "C" fn sevio_pd_main() -> ! {
            let handler = $init();
            $crate::run_event_loop(&mut $crate::PlatformKernel::take(), handler)
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            $crate::hosted::start();
            let handler = $init();
            $crate::run_event_loop(&mut $crate::PlatformKernel::take(), handler)
        }
    };
}
