//! Input and output through the driver PD, the real transport core and a
//! mock device.

mod common;

use common::*;
use sevio_driver_console::{BUFFER_SIZE, RX_BUFFERS, TX_BUFFERS};
use sevio_driver_core::DriverStatus;
use sevio_virtio::mmio::DeviceStatus;

#[test]
fn brings_up_port0_without_multiport_and_posts_every_rx_buffer() {
    for version in [2, 1] {
        let mut rig = Rig::new(device(version, QEMU_LIKE));
        assert_eq!(rig.h.status(), DriverStatus::Unbound);
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        assert!(rig.h.device.live());
        let dev = rig.h.device.state();
        let features = dev.features.unwrap();
        assert_eq!(features & F_MULTIPORT, 0, "port 0 only: MULTIPORT refused");
        assert_eq!(features & F_EMERG_WRITE, 0);
        assert_ne!(features & F_EVENT_IDX, 0);
        assert_eq!(features & F_VERSION_1 != 0, version == 2);
        assert_eq!(dev.status & DeviceStatus::FEATURES_OK.0 != 0, version == 2);
        assert!(dev.queues[0].is_some_and(|q| q.ready) && dev.queues[1].is_some_and(|q| q.ready));
        assert!(dev.queues[2].is_none() && dev.queues[3].is_none(), "no control queues");
        drop(dev);
        assert_eq!(rig.avail_waiting(RECEIVEQ) as usize, RX_BUFFERS, "version {version}");
        assert_eq!(rig.h.driver().rx_posted(), RX_BUFFERS);
        assert_eq!(rig.avail_waiting(TRANSMITQ), 0);
        assert_eq!(rig.kicks(RECEIVEQ), 1, "one kick for the posted buffers, after DRIVER_OK");
    }
}

#[test]
fn a_line_longer_than_a_buffer_arrives_whole_and_in_order() {
    let mut rig = Rig::ready();
    let mut line = text(3 * 1024 - 100, 3);
    line.push(b'\n');
    assert_eq!(rig.device_input(&line), line.len());
    assert!(rig.maybe_interrupt(), "the device interrupts for used RX buffers");
    assert_eq!(rig.notified(), only(RX), "the rx peer is told, on its channel");
    assert_same(&rig.client_read(), &line, "the long line");
    assert_eq!(rig.h.driver().rx_posted(), RX_BUFFERS, "the three buffers are posted again");
    assert_eq!(rig.h.driver().stats().rx_bytes, line.len() as u64);
    // Again, more than the client's queue holds: the reposted buffers
    // are used too, and the rest follows once the client read.
    let more = text(5000, 7);
    assert_eq!(rig.device_input(&more), 5000);
    rig.maybe_interrupt();
    let mut got = rig.client_read();
    assert_eq!(got.len(), 4096, "the client's queue was full");
    got.extend(rig.client_read());
    assert_same(&got, &more, "5000 bytes after the line");
}

/// Feed `input` through the device while the client reads `per_read`
/// bytes at most per turn (0: it does not read), until nothing moves.
fn pump_input(rig: &mut Rig, input: &[u8], got: &mut Vec<u8>, per_read: usize) -> usize {
    let mut fed = 0;
    loop {
        let n = rig.device_input(&input[fed..]);
        fed += n;
        let irq = rig.maybe_interrupt();
        let mut read = 0;
        if per_read > 0 {
            let mut buf = vec![0u8; per_read];
            read = rig.rx.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..read]);
            if read > 0 && rig.rx.require_signal().unwrap() {
                rig.h.peer_notifies(RX);
            }
        }
        if n == 0 && !irq && read == 0 {
            return fed;
        }
    }
}

#[test]
fn a_full_client_queue_pauses_input_and_nothing_is_lost() {
    // The client's rx queue holds 1 KiB; the device has 20 KiB to give.
    let mut rig = Rig::with_queues(device(2, QEMU_LIKE), 1024, 4096);
    rig.h.bind();
    let input = text(20_000, 11);
    let mut got = Vec::new();
    let fed = pump_input(&mut rig, &input, &mut got, 0);
    // The client's queue is full, every buffer is filled and held: the
    // device was given no room for more.
    assert_eq!(fed, 1024 + RX_BUFFERS * BUFFER_SIZE);
    assert!(rig.h.driver().rx_paused());
    assert_eq!(rig.h.driver().rx_posted(), 0, "no RX buffer is posted while the client is full");
    assert_eq!(rig.avail_waiting(RECEIVEQ), 0);
    assert_eq!(rig.rx_flag(), 0, "the driver asked the client for a signal");
    assert_eq!(rig.h.driver().stats().rx_pauses, 1);
    // A slow client: 300 bytes per turn. Everything arrives, in order.
    let fed_more = pump_input(&mut rig, &input[fed..], &mut got, 300);
    assert_eq!(fed + fed_more, input.len());
    got.extend(rig.client_read());
    assert_eq!(got.len(), input.len());
    assert_same(&got, &input, "input through a full queue");
    assert!(!rig.h.driver().rx_paused());
    assert_eq!(rig.h.driver().rx_posted(), RX_BUFFERS, "every buffer is back with the device");
}

#[test]
fn output_head_moves_only_when_the_device_has_consumed_it() {
    let mut rig = Rig::ready();
    rig.set_tx_flag(1);
    let data = text(2500, 5);
    assert_eq!(rig.client_write(&data), 2500);
    assert_eq!(rig.avail_waiting(TRANSMITQ), 3, "1024 + 1024 + 452");
    assert_eq!(rig.kicks(TRANSMITQ), 1);
    assert_eq!(rig.h.driver().tx_outstanding(), 3);
    assert_eq!(rig.tx.free().unwrap(), 4096 - 2500, "taken, but not consumed: head unchanged");
    assert!(!rig.maybe_interrupt());
    assert_eq!(rig.device_output(), 2500);
    assert!(rig.maybe_interrupt(), "interrupt once the last chain in flight is used");
    assert_same(&rig.output, &data, "2500 bytes of output");
    assert_eq!(rig.tx.free().unwrap(), 4096, "head published after the device used every chain");
    assert!(rig.notified().is_empty(), "the tx peer did not ask to be told");
    assert_eq!(rig.h.driver().stats().tx_bytes, 2500);

    // The client waits for its output to leave: it clears the flag.
    rig.set_tx_flag(0);
    rig.client_write(b"banner\n");
    rig.device_output();
    assert!(rig.maybe_interrupt());
    assert_eq!(rig.notified(), only(TX), "the tx peer is told once the device consumed it");
    assert_eq!(rig.tx.free().unwrap(), 4096);
    assert_eq!(&rig.output[2500..], b"banner\n");
}

#[test]
fn output_larger_than_every_tx_buffer_goes_out_in_order() {
    let mut rig = Rig::with_queues(device(2, QEMU_LIKE), 4096, 16384);
    rig.h.bind();
    let data = text(12_000, 9);
    assert_eq!(rig.client_write(&data), 12_000);
    assert_eq!(rig.avail_waiting(TRANSMITQ) as usize, TX_BUFFERS, "every TX buffer in flight");
    let mut rounds = 0;
    while rig.output.len() < data.len() {
        assert!(rig.device_output() > 0, "stalled after {} bytes", rig.output.len());
        rig.maybe_interrupt();
        rounds += 1;
    }
    assert_same(&rig.output, &data, "12000 bytes of output");
    assert!(rounds >= 2);
    assert_eq!(rig.tx.free().unwrap(), 16384);
    assert_eq!(rig.h.driver().tx_outstanding(), 0);
}

#[test]
fn both_directions_at_once() {
    let mut rig = Rig::ready();
    rig.client_write(b"out-1 ");
    rig.device_input(b"in-1\n");
    rig.device_output();
    rig.maybe_interrupt();
    rig.client_write(b"out-2\n");
    rig.device_output();
    rig.maybe_interrupt();
    assert_eq!(rig.client_read(), b"in-1\n");
    assert_eq!(rig.output, b"out-1 out-2\n");
    assert_eq!(rig.tx.free().unwrap(), 4096);
}

#[test]
fn output_kicks_only_when_the_device_asks() {
    let mut rig = Rig::ready();
    rig.client_write(b"one ");
    rig.client_write(b"two ");
    assert_eq!(rig.avail_waiting(TRANSMITQ), 2);
    assert_eq!(rig.kicks(TRANSMITQ), 1, "the device has not caught up: it wants no second kick (EVENT_IDX)");
    assert_eq!(rig.kicks(RECEIVEQ), 1, "no new RX buffers, no RX kick");
    // The device takes both and, finding nothing more, asks to be told
    // at the next one.
    rig.device_output();
    rig.maybe_interrupt();
    rig.client_write(b"three\n");
    assert_eq!(rig.kicks(TRANSMITQ), 2);
    rig.device_output();
    assert_eq!(rig.output, b"one two three\n");
}
