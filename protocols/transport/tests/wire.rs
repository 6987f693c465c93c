//! Encode/decode of the driver <-> transport messages: golden encodings,
//! round trips, and every malformed-input rejection.

use proptest::prelude::*;
use sevio_transport_protocol::wire::{label, reply_label};
use sevio_transport_protocol::*;

fn enc_req(r: &Request) -> (u64, Vec<u64>) {
    let mut mr = [0u64; MAX_WORDS];
    let (l, n) = r.encode(&mut mr);
    (l, mr[..n].to_vec())
}

fn enc_reply(r: &Reply) -> (u64, Vec<u64>) {
    let mut mr = [0u64; MAX_WORDS];
    let (l, n) = r.encode(&mut mr);
    (l, mr[..n].to_vec())
}

#[test]
fn golden_encodings() {
    let setup = Request::QueueSetup { queue: 1, size: 256, desc: 0x4000_0000, avail: 0x4000_1000, used: 0x4000_2000 };
    assert_eq!(enc_req(&setup), (5, vec![1, 256, 0x4000_0000, 0x4000_1000, 0x4000_2000]));
    assert_eq!(enc_req(&Request::ConfigRead { offset: 0x14, width: Width::W4 }), (8, vec![0x14, 4]));
    assert_eq!(enc_req(&Request::ConfigWrite { offset: 2, width: Width::W1, value: 0xff }), (9, vec![2, 1, 0xff]));
    assert_eq!(enc_req(&Request::DriverFeatures { features: 1 << 32 }), (3, vec![1 << 32]));
    assert_eq!(enc_req(&Request::Reset), (12, vec![]));
    let info = DeviceInfo { device_id: 2, vendor_id: 0x554d_4551, location: Location::Mmio { slot: 31 }, version: 2 };
    assert_eq!(enc_reply(&Reply::DeviceInfo(info)), (1, vec![2, 0x554d_4551, 0, 31, 2]));
    let pci = Location::Pci(Bdf { bus: 0, device: 1, function: 0 });
    assert_eq!(pci.to_word(), Some(1 << 32 | 0x08));
    assert_eq!(enc_reply(&Reply::ConfigValue { value: 7, generation: 3 }), (5, vec![7, 3]));
    assert_eq!(enc_reply(&Reply::Error(TransportError::NotBound)), (15, vec![1]));
}

#[test]
fn rejects_malformed_requests() {
    use DecodeError::*;
    assert_eq!(Request::decode(99, &[]), Err(UnknownLabel(99)));
    assert_eq!(Request::decode(0, &[]), Err(UnknownLabel(0)));
    assert_eq!(Request::decode(label::RESET, &[0]), Err(WrongLength { label: 12, expected: 0, got: 1 }));
    assert_eq!(Request::decode(label::QUEUE_SETUP, &[0, 8, 0, 0]), Err(WrongLength { label: 5, expected: 5, got: 4 }));
    assert_eq!(Request::decode(label::CONFIG_READ, &[0, 3]), Err(BadWidth(3)));
    assert_eq!(Request::decode(label::CONFIG_READ, &[0, 16]), Err(BadWidth(16)));
    assert_eq!(Request::decode(label::CONFIG_READ, &[1 << 32, 4]), Err(BadValue { label: 8, value: 1 << 32 }));
    assert_eq!(Request::decode(label::CONFIG_WRITE, &[0, 2, 0x1_0000]), Err(BadValue { label: 9, value: 0x1_0000 }));
    assert!(Request::decode(label::CONFIG_WRITE, &[0, 8, u64::MAX]).is_ok());
    for bad in [0, 3, 100, 1 << 16, u64::MAX] {
        assert!(Request::decode(label::QUEUE_SETUP, &[0, bad, 0, 0, 0]).is_err(), "size {bad}");
    }
    assert_eq!(Request::decode(label::QUEUE_SETUP, &[0, 6, 0, 0, 0]), Err(QueueSizeNotPowerOfTwo(6)));
    assert!(Request::decode(label::QUEUE_SETUP, &[0, 32768, 0, 0, 0]).is_ok());
    assert_eq!(Request::decode(label::QUEUE_READY, &[0x1_0000]), Err(BadValue { label: 6, value: 0x1_0000 }));
}

#[test]
fn rejects_malformed_replies() {
    use DecodeError::*;
    assert_eq!(Reply::decode(reply_label::FEATURES_OK, &[2]), Err(BadValue { label: 3, value: 2 }));
    assert_eq!(Reply::decode(reply_label::ERROR, &[77]), Err(BadValue { label: 15, value: 77 }));
    // kind word says PCI, location word says MMIO
    assert!(matches!(Reply::decode(reply_label::DEVICE_INFO, &[2, 0, 1, 5, 2]), Err(BadValue { .. })));
    // unknown location kind
    assert!(matches!(Reply::decode(reply_label::DEVICE_INFO, &[2, 0, 3, 3 << 32, 2]), Err(BadValue { .. })));
    assert!(matches!(Reply::decode(reply_label::GENERATION, &[1 << 40]), Err(BadValue { .. })));
    assert!(matches!(Reply::decode(reply_label::STATUS, &[256]), Err(BadValue { .. })));
    assert_eq!(Reply::decode(42, &[]), Err(UnknownLabel(42)));
}

#[test]
fn short_buffer_yields_a_message_the_receiver_rejects() {
    let mut mr = [0u64; 2];
    let (l, n) = Request::QueueSetup { queue: 0, size: 8, desc: 1, avail: 2, used: 3 }.encode(&mut mr);
    assert_eq!(n, 5);
    assert!(Request::decode(l, &mr[..]).is_err());
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W1), Just(Width::W2), Just(Width::W4), Just(Width::W8)]
}

fn location() -> impl Strategy<Value = Location> {
    prop_oneof![
        any::<u32>().prop_map(|slot| Location::Mmio { slot }),
        (any::<u8>(), 0u8..32, 0u8..8).prop_map(|(bus, device, function)| Location::Pci(Bdf { bus, device, function })),
        any::<u32>().prop_map(|entry| Location::Rproc { entry }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::DeviceInfo),
        Just(Request::DeviceFeatures),
        any::<u64>().prop_map(|features| Request::DriverFeatures { features }),
        any::<u16>().prop_map(|queue| Request::QueueMaxSize { queue }),
        (any::<u16>(), 0u32..16, any::<u64>(), any::<u64>(), any::<u64>())
            .prop_map(|(queue, s, desc, avail, used)| Request::QueueSetup { queue, size: 1 << s, desc, avail, used }),
        any::<u16>().prop_map(|queue| Request::QueueReady { queue }),
        any::<u16>().prop_map(|queue| Request::QueueDisable { queue }),
        (any::<u32>(), width()).prop_map(|(offset, width)| Request::ConfigRead { offset, width }),
        (any::<u32>(), width(), any::<u64>()).prop_map(|(offset, width, v)| Request::ConfigWrite {
            offset,
            width,
            value: v & width.max_value()
        }),
        Just(Request::ConfigGeneration),
        Just(Request::DriverOk),
        Just(Request::Reset),
        Just(Request::Status),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        Just(Reply::Ok),
        (any::<u32>(), any::<u32>(), location(), any::<u32>()).prop_map(|(device_id, vendor_id, location, version)| {
            Reply::DeviceInfo(DeviceInfo { device_id, vendor_id, location, version })
        }),
        any::<u64>().prop_map(Reply::Features),
        any::<bool>().prop_map(Reply::FeaturesOk),
        any::<u16>().prop_map(Reply::QueueMaxSize),
        (any::<u64>(), any::<u32>()).prop_map(|(value, generation)| Reply::ConfigValue { value, generation }),
        any::<u32>().prop_map(Reply::Generation),
        any::<u8>().prop_map(Reply::Status),
        (1u64..10).prop_map(|c| Reply::Error(TransportError::from_code(c).unwrap())),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(r in request()) {
        let (l, words) = enc_req(&r);
        prop_assert!(words.len() <= MAX_WORDS);
        prop_assert_eq!(Request::decode(l, &words), Ok(r));
    }

    #[test]
    fn replies_round_trip(r in reply()) {
        let (l, words) = enc_reply(&r);
        prop_assert_eq!(Reply::decode(l, &words), Ok(r));
    }

    /// Whatever decodes re-encodes to the same words (decode is strict:
    /// no two encodings of one message).
    #[test]
    fn decode_is_canonical(l in 0u64..20, words in prop::collection::vec(prop_oneof![0u64..40, any::<u64>()], 0..7)) {
        if let Ok(r) = Request::decode(l, &words) {
            prop_assert_eq!(enc_req(&r), (l, words.clone()));
        }
        if let Ok(r) = Reply::decode(l, &words) {
            prop_assert_eq!(enc_reply(&r), (l, words));
        }
    }
}
