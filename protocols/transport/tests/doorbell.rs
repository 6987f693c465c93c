//! The doorbell page: layout, versioning, and no lost bits under
//! concurrency.

use core::sync::atomic::Ordering::Relaxed;
use sevio_sharedmem::HeapRegion;
use sevio_transport_protocol::doorbell::*;

#[test]
fn layout_and_version_checks() {
    let r = HeapRegion::new(4096);
    let m = r.memory();
    assert_eq!(DriverDoorbell::open(m).unwrap_err(), DoorbellError::NotInitialised(0));
    let t = TransportDoorbell::init(m).unwrap();
    let mut head = [0u8; 16];
    m.copy_out(0, &mut head).unwrap();
    assert_eq!(&head[..8], &[b's', b'e', b'v', b'D', 1, 0, 0, 0]);
    let d = DriverDoorbell::open(m).unwrap();
    assert_eq!(d.ring(0b101), 0);
    assert_eq!(d.ring(DriverDoorbell::queue_bit(1)), 0b101);
    assert_eq!(m.load_u32(8, Relaxed), Some(0b111), "doorbell word at 8");
    assert_eq!(t.take_kicks(), 0b111);
    assert_eq!(t.take_kicks(), 0);
    t.raise(INT_USED_BUFFER);
    t.raise(INT_CONFIG_CHANGE);
    assert_eq!(m.load_u32(12, Relaxed), Some(3), "interrupt word at 12");
    assert_eq!(d.take_interrupts(), INT_USED_BUFFER | INT_CONFIG_CHANGE);
    assert_eq!(d.take_interrupts(), 0);
    assert_eq!(DriverDoorbell::queue_bit(31), 1 << 31);
    assert_eq!(DriverDoorbell::queue_bit(32), 0);
    m.store_u32(4, 2, Relaxed).unwrap();
    assert_eq!(DriverDoorbell::open(m).unwrap_err(), DoorbellError::Version(2));
    assert_eq!(TransportDoorbell::init(m.slice(0, 12).unwrap()).unwrap_err(), DoorbellError::TooSmall);
}

#[test]
fn concurrent_kicks_are_never_lost() {
    let r = HeapRegion::new(4096);
    let m = r.memory();
    let t = TransportDoorbell::init(m).unwrap();
    let d = DriverDoorbell::open(m).unwrap();
    const N: u32 = 20_000;
    let driver = std::thread::spawn(move || {
        for i in 0..N {
            // Wait until the previous kick of this queue was taken, so each
            // kick is a distinct event the transport must see.
            let bit = 1 << (i % 4);
            while d.ring(bit) & bit != 0 {
                std::hint::spin_loop();
            }
        }
    });
    let mut seen = [0u32; 4];
    let mut total = 0;
    while total < N {
        let k = t.take_kicks();
        for (q, s) in seen.iter_mut().enumerate() {
            if k & (1 << q) != 0 {
                *s += 1;
                total += 1;
            }
        }
    }
    driver.join().unwrap();
    assert_eq!(seen, [N / 4; 4]);
}
