//! Bus messages: golden encodings, round trips, rejections.

use proptest::prelude::*;
use sevio_bus_protocol::wire::{MAX_WORDS, label};
use sevio_bus_protocol::*;

fn enc(r: &BusRequest) -> (u64, Vec<u64>) {
    let mut mr = [0u64; MAX_WORDS];
    let (l, n) = r.encode(&mut mr);
    (l, mr[..n].to_vec())
}

#[test]
fn golden_encodings() {
    let found = BusRequest::DeviceFound {
        transport: TransportId(3),
        location: Location::Mmio { slot: 31 },
        device_id: 2,
        vendor_id: 0x554d_4551,
    };
    assert_eq!(enc(&found), (1, vec![3, 31, 2, 0x554d_4551]));
    let gone = BusRequest::DeviceGone {
        transport: TransportId(1),
        location: Location::Pci(Bdf { bus: 0, device: 1, function: 0 }),
    };
    assert_eq!(enc(&gone), (2, vec![1, 1 << 32 | 8]));
    let reg = BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&[1, 2, 3]).unwrap() };
    assert_eq!(enc(&reg), (3, vec![3, 2 << 32 | 1, 3]));
    let serves = BusRequest::ServesDrivers { transport: TransportId(1), drivers: 0b101 };
    assert_eq!(enc(&serves), (4, vec![1, 0b101]));
    let mut mr = [0u64; 1];
    assert_eq!(BusReply::Error(BusError::Full).encode(&mut mr), (15, 1));
    assert_eq!(mr, [3]);
    assert_eq!(BusReply::Registered { driver: DriverId(5) }.encode(&mut mr), (1, 1));
    assert_eq!(mr, [5]);
    assert_eq!(BusReply::decode(1, &[5]), Ok(BusReply::Registered { driver: DriverId(5) }));
}

#[test]
fn rejects_malformed() {
    use DecodeError::*;
    assert_eq!(BusRequest::decode(7, &[]), Err(UnknownLabel(7)));
    assert_eq!(BusRequest::decode(label::DEVICE_FOUND, &[0, 0, 0]), Err(WrongLength { label: 1, expected: 4, got: 3 }));
    assert_eq!(BusRequest::decode(label::DEVICE_FOUND, &[256, 0, 0, 0]), Err(BadValue { label: 1, value: 256 }));
    assert_eq!(
        BusRequest::decode(label::DEVICE_FOUND, &[0, 5 << 32, 0, 0]),
        Err(BadValue { label: 1, value: 5 << 32 })
    );
    assert_eq!(
        BusRequest::decode(label::DEVICE_FOUND, &[0, 0, 1 << 32, 0]),
        Err(BadValue { label: 1, value: 1 << 32 })
    );
    assert_eq!(BusRequest::decode(label::REGISTER_DRIVER, &[]), Err(WrongLength { label: 3, expected: 1, got: 0 }));
    assert_eq!(BusRequest::decode(label::REGISTER_DRIVER, &[0]), Err(BadValue { label: 3, value: 0 }));
    assert_eq!(BusRequest::decode(label::REGISTER_DRIVER, &[9, 0, 0, 0, 0, 0]), Err(BadValue { label: 3, value: 9 }));
    assert_eq!(BusRequest::decode(label::REGISTER_DRIVER, &[3, 0]), Err(WrongLength { label: 3, expected: 3, got: 2 }));
    // Odd count: the unused high half must be zero.
    assert!(matches!(BusRequest::decode(label::REGISTER_DRIVER, &[1, 7 << 32 | 2]), Err(BadValue { .. })));
    assert_eq!(BusRequest::decode(label::SERVES_DRIVERS, &[256, 1]), Err(BadValue { label: 4, value: 256 }));
    assert_eq!(BusRequest::decode(label::SERVES_DRIVERS, &[1]), Err(WrongLength { label: 4, expected: 2, got: 1 }));
    assert_eq!(BusReply::decode(1, &[256]), Err(BadValue { label: 1, value: 256 }));
    assert_eq!(BusReply::decode(1, &[]), Err(WrongLength { label: 1, expected: 1, got: 0 }));
    assert_eq!(BusReply::decode(15, &[99]), Err(BadValue { label: 15, value: 99 }));
    assert_eq!(BusReply::decode(0, &[1]), Err(WrongLength { label: 0, expected: 0, got: 1 }));
}

fn request() -> impl Strategy<Value = BusRequest> {
    let loc = prop_oneof![
        any::<u32>().prop_map(|slot| Location::Mmio { slot }),
        (any::<u8>(), 0u8..32, 0u8..8).prop_map(|(bus, device, function)| Location::Pci(Bdf { bus, device, function })),
    ];
    prop_oneof![
        (any::<u8>(), loc.clone(), any::<u32>(), any::<u32>()).prop_map(|(t, location, device_id, vendor_id)| {
            BusRequest::DeviceFound { transport: TransportId(t), location, device_id, vendor_id }
        }),
        (any::<u8>(), loc).prop_map(|(t, location)| BusRequest::DeviceGone { transport: TransportId(t), location }),
        (any::<u8>(), any::<u64>())
            .prop_map(|(t, drivers)| BusRequest::ServesDrivers { transport: TransportId(t), drivers }),
        prop::collection::vec(any::<u32>(), 1..=MAX_DEVICE_IDS)
            .prop_map(|ids| BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&ids).unwrap() }),
    ]
}

proptest! {
    #[test]
    fn round_trip(r in request()) {
        let (l, w) = enc(&r);
        prop_assert_eq!(BusRequest::decode(l, &w), Ok(r));
    }

    #[test]
    fn decode_is_canonical(l in 0u64..5, words in prop::collection::vec(prop_oneof![0u64..10, any::<u64>()], 0..7)) {
        if let Ok(r) = BusRequest::decode(l, &words) {
            prop_assert_eq!(enc(&r), (l, words));
        }
    }
}
