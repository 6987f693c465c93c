//! Misbehaving devices and clients, bindings that come late or go away.

mod common;

use common::*;
use sevio_driver_console::{ConsoleConfig, ConsoleDriver, ConsoleError, RX_BUFFERS, SerialLink};
use sevio_driver_core::{
    DmaError, DmaRegion, DriverStatus, InitError, RegionSetvars, SystemMaps, Unusable, VirtioDriver,
};
use sevio_queue::QueueError;
use sevio_sharedmem::HeapRegion;
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::{DeviceFault, Error};
use std::sync::atomic::Ordering::Relaxed;

fn device_fault(rig: &mut Rig) -> Option<DeviceFault> {
    match rig.h.last_error() {
        Some(ConsoleError::Queue(Error::Device(f))) => Some(f),
        _ => None,
    }
}

#[test]
fn a_used_length_beyond_the_rx_buffer_fails_the_device() {
    let mut rig = Rig::ready();
    let resets = rig.h.device.state().resets;
    let chain = rig.h.device.pop_avail(RECEIVEQ).unwrap();
    rig.h.device.write(chain.bufs[0].addr, b"hi");
    rig.h.device.push_used(RECEIVEQ, chain.head as u32, 4096);
    rig.h.device.raise_interrupt();
    assert!(rig.h.deliver_interrupt());
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(matches!(device_fault(&mut rig), Some(DeviceFault::UsedLenTooLarge { len: 4096, writable: 1024, .. })));
    assert_eq!(rig.h.device.state().resets, resets + 1, "the device is reset");
    assert!(!rig.h.device.live());
    assert!(rig.client_read().is_empty(), "nothing from a device that lied");
    assert_eq!(rig.h.driver().rx_posted(), 0);
}

#[test]
fn a_used_id_not_in_flight_fails_the_device_and_output_waits_for_the_next() {
    let mut rig = Rig::ready();
    rig.client_write(b"held output\n");
    let chain = rig.h.device.pop_avail(TRANSMITQ).unwrap();
    // The device names a descriptor that is no chain's head.
    rig.h.device.push_used(TRANSMITQ, chain.head as u32 + 5, 0);
    rig.h.device.raise_interrupt();
    rig.h.deliver_interrupt();
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(matches!(device_fault(&mut rig), Some(DeviceFault::UsedIdNotInFlight { .. })));
    assert_eq!(rig.tx.free().unwrap(), 4096 - 12, "not consumed: the head stays");
    // More output while failed stays in the client's queue: the device
    // is neither set up again nor kicked.
    let resets = rig.h.device.state().resets;
    let notifies = rig.h.device.state().notifies.len();
    rig.client_write(b"more\n");
    assert_eq!(rig.h.device.state().resets, resets, "no bring-up of a failed device");
    assert_eq!(rig.h.device.state().notifies.len(), notifies, "no kick for a failed device");
    assert_eq!(rig.h.device.state().queues[TRANSMITQ as usize], None);
    // A new binding: the held buffer goes out first, then the rest.
    rig.h.unbind();
    rig.h.bind();
    assert_eq!(rig.h.status(), DriverStatus::Ready);
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
    rig.h.device.pop_avail(TRANSMITQ); // taken, never completed
    // The interrupt for the input comes, then the bus unbinds.
    rig.maybe_interrupt();
    rig.h.unbind();
    assert_eq!(rig.h.status(), DriverStatus::Unbound);
    assert!(!rig.h.device.live(), "the transport reset the device");
    assert_eq!(rig.client_read(), b"typed before unbind\n");
    assert_eq!(rig.h.driver().tx_outstanding(), 1);
    rig.h.bind();
    rig.device_output();
    rig.maybe_interrupt();
    assert_eq!(rig.output, b"written before unbind\n", "sent once, on the new device");
    assert_eq!(rig.h.driver().rx_posted(), RX_BUFFERS);
}

#[test]
fn transport_not_bound_yet_is_retried_on_the_next_event() {
    let mut rig = Rig::new(device(2, QEMU_LIKE));
    // The table names the device before the transport has caught up.
    rig.h.publish_binding();
    assert_eq!(rig.h.status(), DriverStatus::Unbound);
    assert_eq!(rig.h.last_error(), None, "refused NotBound: not a failure");
    rig.client_write(b"early\n");
    assert_eq!(rig.h.status(), DriverStatus::Unbound, "the retry is refused too");
    rig.h.transport_sees_binding();
    assert_eq!(rig.h.device.state().resets, 0, "no event reached the driver yet");
    rig.h.peer_notifies(TX);
    assert_eq!(rig.h.status(), DriverStatus::Ready);
    rig.device_output();
    assert_eq!(rig.output, b"early\n", "output written before the device came is sent");
}

#[test]
fn a_device_that_is_not_a_console_is_refused() {
    let mut rig = Rig::new(MockDevice::new(4, 2, QEMU_LIKE, 1, 128));
    rig.h.bind();
    assert!(matches!(rig.h.last_error(), Some(ConsoleError::Init(InitError::WrongDevice { .. }))));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(!rig.h.device.live());
}

#[test]
fn impossible_client_indices_stop_serving_the_client_only() {
    let mut rig = Rig::ready();
    // The client claims 5000 characters in a 4096-character queue.
    rig.tx_header.store_u32(0, 5000, Relaxed).unwrap();
    rig.h.peer_notifies(TX);
    assert!(!rig.h.driver().serving_client());
    assert!(matches!(rig.h.driver().client_error(), Some(QueueError::PeerIndex { .. })));
    assert_eq!(rig.h.last_error(), None, "the device did nothing wrong");
    assert_eq!(rig.h.status(), DriverStatus::Ready, "the device is fine");
    assert_eq!(rig.avail_waiting(TRANSMITQ), 0, "nothing sent on the client's word");
    rig.device_input(b"ignored");
    rig.maybe_interrupt();
    assert!(rig.notified().is_empty());
}

/// Whether the driver's constructor accepts these regions (the driver
/// is dropped at once: it never outlives them).
fn construct(dma: &HeapRegion, rx_data: &HeapRegion, tx_data: &HeapRegion) -> Result<(), Unusable> {
    let page = HeapRegion::new(4096);
    let vars = |region, heap: &HeapRegion| RegionSetvars {
        region,
        vaddr: heap.memory().addr() as u64,
        size: heap.memory().len() as u64,
    };
    let link = |queue, data, heap, channel| SerialLink { queue: vars(queue, &page), data: vars(data, heap), channel };
    let setvars = ConsoleConfig {
        rx: Some(link("console_rx_queue", "console_rx_data", rx_data, RX)),
        tx: link("console_tx_queue", "console_tx_data", tx_data, TX),
    };
    // SAFETY: every region named is a heap region that outlives the
    // token and the driver, both dropped before this returns.
    let maps = unsafe { SystemMaps::vouched() };
    let mut carver = DmaRegion::new(dma.memory(), 0x4100_0000).unwrap().carver();
    ConsoleDriver::new(setvars, &maps, &mut carver).map(drop)
}

#[test]
fn unusable_memory_is_refused_at_construction() {
    let (data, odd, small, dma) =
        (HeapRegion::new(4096), HeapRegion::new(3000), HeapRegion::new(0x2000), HeapRegion::new(0x1_0000));
    assert!(construct(&dma, &data, &data).is_ok());
    assert!(matches!(construct(&small, &data, &data), Err(Unusable::DmaRoom(DmaError::Exhausted { .. }))));
    assert_eq!(construct(&dma, &odd, &data).err(), Some(Unusable::Layout("console_rx_data")), "capacity 3000");
    assert_eq!(construct(&dma, &data, &odd).err(), Some(Unusable::Layout("console_tx_data")));
}
