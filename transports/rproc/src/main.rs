//! The remoteproc transport PD.
//!
//! It maps the resource table another PD (or processor) publishes and the
//! mailbox beside it, reports each vdev to the bus, and serves each driver
//! the vdev the bus bound to that driver's channel, and nothing else. The
//! logic is in the library; this maps the regions.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_rproc::{Bell, RprocPd, config};
use sevio_virtio::rproc::Mailbox;

sevio_runtime::protection_domain!(init);

/// The channel to the device side.
#[derive(Copy, Clone)]
struct DeviceChannel;

impl Bell for DeviceChannel {
    fn ring(&self) {
        config::DEVICE.notify();
    }
}

fn init() -> RprocPd<DeviceChannel> {
    let table = config::table().unwrap_or_else(|e| panic!("rproc: {e}"));
    let mailbox = config::mailbox().unwrap_or_else(|e| panic!("rproc: {e}"));
    let Some(mailbox) = Mailbox::new(mailbox) else { panic!("rproc: the mailbox page is too small") };
    RprocPd::Waiting { table, mailbox, bell: || DeviceChannel }.try_start()
}
