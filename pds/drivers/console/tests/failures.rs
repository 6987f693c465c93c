//! Misbehaving devices and clients, bindings that come late or go away.

mod common;

use common::*;
use sevio_driver_console::{ConsoleDriver, ConsoleError, ConsoleResources, RX_BUFFERS, SerialRegions};
use sevio_driver_core::fake::FakeTransport;
use sevio_driver_core::{CallError, DmaError, DmaRegion, Driver, DriverStatus, InitError};
use sevio_queue::QueueError;
use sevio_sharedmem::HeapRegion;
use sevio_transport_protocol::TransportError;
use sevio_transport_protocol::wire::label;
use sevio_virtio::{DeviceFault, Error};
use std::sync::atomic::Ordering::Relaxed;

fn device_fault(rig: &Rig) -> Option<DeviceFault> {
    match rig.driver.last_error() {
        Some(ConsoleError::Queue(Error::Device(f))) => Some(f),
        _ => None,
    }
}

#[test]
fn a_used_length_beyond_the_rx_buffer_fails_the_device() {
    let mut rig = Rig::ready();
    let resets = rig.fake.device().resets();
    {
        let mut dev = rig.fake.device();
        let chain = dev.pop_avail(RECEIVEQ).unwrap();
        dev.memory.write(chain.bufs[0].addr, b"hi");
        dev.push_used(RECEIVEQ, chain.head as u32, 4096);
    }
    rig.driver.interrupt();
    assert_eq!(rig.driver.status(), DriverStatus::Failed);
    assert!(matches!(device_fault(&rig), Some(DeviceFault::UsedLenTooLarge { len: 4096, writable: 1024, .. })));
    assert_eq!(rig.fake.device().resets(), resets + 1, "the device is reset");
    assert!(rig.client_read().is_empty(), "nothing from a device that lied");
    assert_eq!(rig.driver.rx_posted(), 0);
}

#[test]
fn a_used_id_not_in_flight_fails_the_device_and_output_waits_for_the_next() {
    let mut rig = Rig::ready();
    rig.client_write(b"held output\n");
    let chain = rig.fake.device().pop_avail(TRANSMITQ).unwrap();
    // The device names a descriptor that is no chain's head.
    rig.fake.device().push_used(TRANSMITQ, chain.head as u32 + 5, 0);
    rig.driver.interrupt();
    assert_eq!(rig.driver.status(), DriverStatus::Failed);
    assert!(matches!(device_fault(&rig), Some(DeviceFault::UsedIdNotInFlight { .. })));
    assert_eq!(rig.tx.free().unwrap(), 4096 - 12, "not consumed: the head stays");
    // More output while failed stays in the client's queue.
    let calls = rig.fake.device().requests.len();
    rig.client_write(b"more\n");
    assert_eq!(rig.fake.device().requests.len(), calls, "no transport call for a failed device");
    // A new binding: the held buffer goes out first, then the rest.
    rig.driver.bind().unwrap();
    assert_eq!(rig.driver.status(), DriverStatus::Ready);
    rig.device_output();
    rig.maybe_interrupt();
    assert_eq!(rig.output, b"held output\nmore\n");
    assert_eq!(rig.tx.free().unwrap(), 4096);
}

#[test]
fn unbinding_keeps_input_already_received_and_output_not_yet_sent() {
    let mut rig = Rig::ready();
    rig.device_input(b"typed before unbind\n");
    rig.client_write(b"written before unbind\n");
    rig.fake.device().pop_avail(TRANSMITQ); // taken, never completed
    // The interrupt for the input comes, then the bus unbinds.
    rig.maybe_interrupt();
    rig.driver.unbind();
    assert_eq!(rig.driver.status(), DriverStatus::Unbound);
    assert_eq!(rig.client_read(), b"typed before unbind\n");
    assert_eq!(rig.driver.tx_outstanding(), 1);
    rig.driver.bind().unwrap();
    rig.device_output();
    rig.maybe_interrupt();
    assert_eq!(rig.output, b"written before unbind\n", "sent once, on the new device");
    assert_eq!(rig.driver.rx_posted(), RX_BUFFERS);
}

#[test]
fn a_refused_kick_fails_the_device() {
    let mut rig = Rig::ready();
    rig.fake.device().refuse = Some((label::QUEUE_NOTIFY, TransportError::NotBound));
    rig.client_write(b"x");
    assert_eq!(rig.driver.status(), DriverStatus::Failed);
    assert_eq!(rig.driver.last_error(), Some(ConsoleError::Transport(CallError::Refused(TransportError::NotBound))));
}

#[test]
fn transport_not_bound_yet_is_retried_on_the_next_event() {
    let mut rig = Rig::new(device(2, QEMU_LIKE));
    rig.fake.device().refuse = Some((label::DEVICE_INFO, TransportError::NotBound));
    assert_eq!(
        rig.driver.bind(),
        Err(ConsoleError::Init(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound))))
    );
    assert_eq!(rig.driver.status(), DriverStatus::Unbound);
    rig.client_write(b"early\n");
    rig.fake.device().refuse = None;
    rig.driver.interrupt();
    assert_eq!(rig.driver.status(), DriverStatus::Ready);
    rig.device_output();
    assert_eq!(rig.output, b"early\n", "output written before the device came is sent");
}

#[test]
fn a_device_that_is_not_a_console_is_refused() {
    let mut rig = Rig::new(sevio_driver_core::fake::FakeDevice::new(4, 2, QEMU_LIKE, 1, 128));
    assert!(matches!(rig.driver.bind(), Err(ConsoleError::Init(InitError::WrongDevice { .. }))));
    assert_eq!(rig.driver.status(), DriverStatus::Failed);
}

#[test]
fn impossible_client_indices_stop_serving_the_client_only() {
    let mut rig = Rig::ready();
    // The client claims 5000 characters in a 4096-character queue.
    rig.tx_header.store_u32(0, 5000, Relaxed).unwrap();
    rig.driver.client_notified();
    assert!(!rig.driver.serving_client());
    assert!(matches!(rig.driver.last_error(), Some(ConsoleError::Client(QueueError::PeerIndex { .. }))));
    assert_eq!(rig.driver.status(), DriverStatus::Ready, "the device is fine");
    assert_eq!(rig.avail_waiting(TRANSMITQ), 0, "nothing sent on the client's word");
    rig.device_input(b"ignored");
    rig.maybe_interrupt();
    assert!(!rig.driver.take_client_notify());
}

#[test]
fn unusable_memory_is_refused_at_construction() {
    let small = HeapRegion::new(0x2000);
    let page = HeapRegion::new(4096);
    let data = HeapRegion::new(4096);
    let odd = HeapRegion::new(3000);
    let serial = |d: &HeapRegion| SerialRegions { queue: page.memory(), data: d.memory() };
    let fake = FakeTransport::new(device(2, QEMU_LIKE));
    let res = |dma: &HeapRegion, data: &HeapRegion| ConsoleResources {
        dma: DmaRegion::new(dma.memory(), DMA_PADDR).unwrap(),
        doorbell: page.memory(),
        rx: serial(data),
        tx: serial(data),
    };
    assert!(matches!(
        ConsoleDriver::new(fake.clone(), res(&small, &data)),
        Err(ConsoleError::Dma(DmaError::Exhausted { .. }))
    ));
    let dma = HeapRegion::new(DMA_SIZE);
    assert!(matches!(
        ConsoleDriver::new(fake, res(&dma, &odd)),
        Err(ConsoleError::Client(QueueError::BadCapacity { capacity: 3000 }))
    ));
}
