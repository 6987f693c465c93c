//! The vsock benchmark client PD: round trips to a host echo listener,
//! one at a time, then a stream it echoes (`BENCH
//! vsock_round_trips_per_s`, `BENCH vsock_stream_mb_per_s`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_vsock::Mode;
use sevio_client_vsock::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Bench { rounds: 1000, stream_bytes: 8 << 20 })
}
