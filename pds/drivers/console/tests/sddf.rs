//! The client side as sDDF's serial driver has it: a config from sdfgen's
//! `.serial_driver_config`, an rx and a tx peer on channels of their own,
//! input optional.

mod common;

use common::*;
use sevio_driver_console::{ConsoleConfig, ConsoleDriver, RX_BUFFERS, SerialLink};
use sevio_driver_core::harness::{Harness, config};
use sevio_driver_core::{ChannelRefusal, Unusable, VirtioDriver};
use sevio_queue::SerialProducer;
use sevio_queue::serial::PRODUCER_SIGNALLED_OFFSET;
use sevio_runtime::{Channel, ChannelSet};
use sevio_sddf::{Region, SerialConnection, SerialDriverConfig};
use std::sync::atomic::Ordering::Relaxed;

fn connection(vaddr: u64, capacity: u64, id: u8) -> SerialConnection {
    SerialConnection {
        queue: Region { vaddr, size: 0x1000 },
        data: Region { vaddr: vaddr + 0x1000, size: capacity },
        id,
    }
}

#[test]
fn an_sdfgen_config_names_the_queues_capacities_and_both_peers() {
    let pd = config("console", ConsoleDriver::DEVICE);
    let sddf = SerialDriverConfig {
        rx: Some(connection(0x2000_0000, 0x1_0000, 2)),
        tx: connection(0x2001_1000, 0x2_0000, 3),
        default_baud: 115_200,
    };
    let c = ConsoleConfig::from_sddf(&sddf, &pd).unwrap();
    let rx = c.rx.unwrap();
    assert_eq!((rx.queue.region, rx.queue.vaddr, rx.queue.size), ("rx.queue", 0x2000_0000, 0x1000));
    assert_eq!((rx.data.region, rx.data.vaddr, rx.data.size), ("rx.data", 0x2000_1000, 0x1_0000));
    assert_eq!((c.tx.data.region, c.tx.data.size), ("tx.data", 0x2_0000), "capacity: the tx data region's size");
    assert_eq!((rx.channel, c.tx.channel), (Channel::new(2), Channel::new(3)));

    let tx_only = SerialDriverConfig { rx: None, ..sddf };
    let c = ConsoleConfig::from_sddf(&tx_only, &pd).unwrap();
    assert!(c.rx.is_none());
    assert_eq!(c.tx.channel, Channel::new(3));

    let same = SerialDriverConfig { rx: Some(connection(0x2000_0000, 0x1_0000, 3)), ..sddf };
    let refused = ConsoleConfig::from_sddf(&same, &pd).err();
    assert_eq!(refused, Some(Unusable::Channel { field: "tx.id", id: 3, why: ChannelRefusal::Repeated }));
}

/// sdfgen's output for sDDF's own examples/serial (its uart driver has
/// no bus or transport): rx on channel 1, which in a sevio driver is the
/// transport's. The helper (tools/sdfgen) adds those first, so sdfgen
/// gives the virtualisers 2 and 3.
#[test]
fn sddf_own_example_wiring_is_refused_where_it_meets_the_transport() {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../protocols/sddf/tests/sdfgen/serial/serial_driver_config.data");
    let bytes = std::fs::read(path).unwrap();
    let sddf = SerialDriverConfig::parse(&bytes).unwrap();
    let refused = ConsoleConfig::from_sddf(&sddf, &config("console", ConsoleDriver::DEVICE)).err();
    assert_eq!(refused, Some(Unusable::Channel { field: "rx.id", id: 1, why: ChannelRefusal::Reserved }));
}

#[test]
fn without_rx_the_device_keeps_its_input_and_output_still_flows() {
    let mut h = Harness::<ConsoleDriver>::new("console", device(2, QEMU_LIKE), |mem| ConsoleConfig {
        rx: None,
        tx: SerialLink { queue: mem.region("tx.queue", 4096, 0), data: mem.region("tx.data", 4096, 0), channel: TX },
    });
    h.bind();
    assert_eq!(h.driver().rx_posted(), 0, "no receive buffers: input stays with the device");
    assert!(h.device.pop_avail(RECEIVEQ).is_none());
    let tx = h.vars.tx;
    let mut client = SerialProducer::new(h.memory(tx.queue), h.memory(tx.data), 4096).unwrap();
    // The tx peer waits for its output to leave (as sDDF's virt_tx does
    // when the queue is full): it clears producer_signalled.
    h.memory(tx.queue).store_u32(PRODUCER_SIGNALLED_OFFSET, 0, Relaxed).unwrap();
    assert_eq!(client.write(b"hello\n").unwrap(), 6);
    h.peer_notifies(TX);
    let chain = h.device.pop_avail(TRANSMITQ).expect("output posted");
    let mut out = vec![0u8; chain.bufs[0].len as usize];
    h.device.read(chain.bufs[0].addr, &mut out);
    assert_eq!(out, b"hello\n");
    h.device.push_used(TRANSMITQ, chain.head as u32, 0);
    assert!(h.interrupt(TRANSMITQ));
    assert_eq!(h.take_notifications(), only(TX), "the tx peer, never an rx channel");
    assert_eq!(client.free().unwrap(), 4096);
}

#[test]
fn input_and_output_in_one_event_tell_both_peers() {
    let mut rig = Rig::ready();
    rig.set_tx_flag(0);
    rig.client_write(b"out\n");
    rig.device_output();
    rig.device_input(b"in\n");
    assert!(rig.maybe_interrupt(), "one interrupt for both queues");
    let both = ChannelSet::from_badge(1 << RX.index() | 1 << TX.index());
    assert_eq!(rig.notified(), both, "one deferred notification and one direct");
    assert_eq!(rig.client_read(), b"in\n");
    assert_eq!(rig.h.driver().rx_posted(), RX_BUFFERS);
}

#[test]
fn notifications_on_other_channels_are_not_the_peers() {
    let mut rig = Rig::ready();
    rig.tx.write(b"waiting\n").unwrap();
    rig.h.peer_notifies(Channel::new(9));
    assert_eq!(rig.avail_waiting(TRANSMITQ), 0, "channel 9 is nobody's: the driver does not look");
    rig.h.peer_notifies(TX);
    assert_eq!(rig.avail_waiting(TRANSMITQ), 1);
}
