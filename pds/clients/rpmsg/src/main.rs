//! The rpmsg test client PD: the checks of [`Mode::Check`].
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_rpmsg::Mode;
use sevio_client_rpmsg::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Check)
}
