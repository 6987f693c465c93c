//! The binding table page: layout, versioning, torn-read detection.

use core::sync::atomic::Ordering::Relaxed;
use sevio_bus_protocol::table::*;
use sevio_bus_protocol::*;
use sevio_sharedmem::HeapRegion;

fn b(driver: u8, slot: u32) -> Binding {
    Binding {
        driver: DriverId(driver),
        transport: TransportId(1),
        location: Location::Mmio { slot },
        device_id: 2,
        vendor_id: 0x554d_4551,
    }
}

#[test]
fn layout_golden() {
    let r = HeapRegion::new(4096);
    let m = r.memory();
    assert_eq!(TableReader::open(m).unwrap_err(), TableError::NotInitialised);
    let mut w = TableWriter::init(m, 4).unwrap();
    let pci = Binding { location: Location::Pci(Bdf { bus: 0, device: 2, function: 1 }), ..b(9, 0) };
    assert_eq!(w.write([b(7, 31), pci].into_iter()).unwrap(), 2);
    let mut bytes = [0u8; 16 + 2 * 16];
    m.copy_out(0, &mut bytes).unwrap();
    #[rustfmt::skip]
    let golden: [u8; 48] = [
        b's', b'e', b'v', b'B', 1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0,
        // state 1, driver 7, transport 1, kind mmio; slot 31; device 2; vendor
        1, 7, 1, 0, 31, 0, 0, 0, 2, 0, 0, 0, 0x51, 0x45, 0x4d, 0x55,
        // kind pci; bdf 00:02.1 = 0x11
        1, 9, 1, 1, 0x11, 0, 0, 0, 2, 0, 0, 0, 0x51, 0x45, 0x4d, 0x55,
    ];
    assert_eq!(bytes, golden);
    let rd = TableReader::open(m).unwrap();
    let mut got = vec![];
    assert_eq!(rd.for_each(|x| got.push(x)), Ok(2));
    assert_eq!(got, vec![b(7, 31), pci]);
    assert_eq!(rd.binding_of_driver(DriverId(9), 3), Ok(Some(pci)));
    assert_eq!(rd.binding_of_device(TransportId(1), Location::Mmio { slot: 31 }, 3), Ok(Some(b(7, 31))));
    assert_eq!(rd.binding_of_driver(DriverId(1), 3), Ok(None));
    // Rewriting with fewer bindings clears the rest.
    w.write([pci].into_iter()).unwrap();
    let mut n = 0;
    rd.for_each(|_| n += 1).unwrap();
    assert_eq!(n, 1);
    assert_eq!(w.write((0..5).map(|i| b(i, i as u32))), Err(TableError::Full));
    // A remoteproc entry: kind 2, the entry index in the location word.
    let rproc = Binding { location: Location::Rproc { entry: 5 }, transport: TransportId(2), ..b(3, 0) };
    w.write([rproc].into_iter()).unwrap();
    let mut entry = [0u8; 8];
    m.copy_out(16, &mut entry).unwrap();
    assert_eq!(entry, [1, 3, 2, 2, 5, 0, 0, 0]);
    assert_eq!(rd.binding_of_driver(DriverId(3), 3), Ok(Some(rproc)));
}

#[test]
fn detects_torn_and_bad_tables() {
    let r = HeapRegion::new(4096);
    let m = r.memory();
    let mut w = TableWriter::init(m, 2).unwrap();
    w.write([b(1, 1)].into_iter()).unwrap();
    let rd = TableReader::open(m).unwrap();
    // Writer mid-update: odd generation.
    m.store_u32(8, 3, Relaxed).unwrap();
    assert_eq!(rd.for_each(|_| {}), Err(TableError::Torn));
    assert_eq!(rd.find(3, |_| true), Err(TableError::Torn));
    m.store_u32(8, 4, Relaxed).unwrap();
    // A bad kind byte in entry 1.
    m.store_u32(16 + 16, 1 | 5 << 24, Relaxed).unwrap();
    assert_eq!(rd.for_each(|_| {}), Err(TableError::BadEntry { index: 1 }));
    // A capacity that does not fit the page.
    m.store_u32(12, 1000, Relaxed).unwrap();
    assert_eq!(TableReader::open(m).unwrap_err(), TableError::TooSmall);
    m.store_u32(4, 9, Relaxed).unwrap();
    assert_eq!(TableReader::open(m).unwrap_err(), TableError::Version(9));
    assert_eq!(TableWriter::init(m, TABLE_PAGE_CAPACITY + 1).unwrap_err(), TableError::TooSmall);
    assert!(TableWriter::init(m, TABLE_PAGE_CAPACITY).is_ok());
}

#[test]
fn concurrent_reader_never_sees_a_mixed_snapshot() {
    let r = HeapRegion::new(4096);
    let m = r.memory();
    let mut w = TableWriter::init(m, 8).unwrap();
    w.write((0..8).map(|i| b(0, i)).collect::<Vec<_>>().into_iter()).unwrap();
    let rd = TableReader::open(m).unwrap();
    let writer = std::thread::spawn(move || {
        for round in 1..2000u32 {
            let d = (round % 200) as u8;
            w.write((0..8).map(|i| b(d, i)).collect::<Vec<_>>().into_iter()).unwrap();
        }
    });
    for _ in 0..20_000 {
        let mut drivers = vec![];
        if rd.for_each(|x| drivers.push(x.driver)).is_ok() {
            assert_eq!(drivers.len(), 8);
            assert!(drivers.iter().all(|d| *d == drivers[0]), "mixed snapshot {drivers:?}");
        }
    }
    writer.join().unwrap();
    // On a loaded machine the writer may hold the table odd through every
    // read above (each is then refused, which is right); once it is done
    // a read must succeed and show its last round whole.
    let mut drivers = vec![];
    rd.for_each(|x| drivers.push(x.driver)).expect("a quiet table reads whole");
    assert_eq!(drivers, vec![b((1999 % 200) as u8, 0).driver; 8], "the last round, whole");
}
