//! The rpmsg benchmark client PD: round trips to the echo endpoint, one
//! at a time (`BENCH rpmsg_round_trips_per_s`,
//! `BENCH rpmsg_notifications_per_message`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_rpmsg::Mode;
use sevio_client_rpmsg::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Bench { rounds: 2000 })
}
