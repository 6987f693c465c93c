//! timer: the timer driver PD (see the crate docs and README.md).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_driver_timer::pd::TimerPd;

sevio_runtime::protection_domain!(init);

fn init() -> TimerPd {
    TimerPd::start()
}
