//! Fuzz entry points (feature `fuzzing`): bus message decoding, and the
//! matcher driven by arbitrary operation sequences with its invariants
//! checked after every step. Used by `fuzz/` (cargo-fuzz) and by this
//! crate's tests on random input. Panics only if an invariant breaks.

use crate::matcher::{Action, Matcher};
use crate::wire::{BusReply, BusRequest, MAX_WORDS};
use crate::{Binding, DriverId, TransportId};
use sevio_transport_protocol::Location;
use std::vec::Vec;

/// Decode as a request and a reply; whatever decodes must re-encode to
/// the same label and words.
pub fn decode(data: &[u8]) {
    let (label, words) = sevio_transport_protocol::fuzzing::message(data);
    let label = label % 5;
    let mut mr = [0u64; MAX_WORDS + 1];
    if let Ok(r) = BusRequest::decode(label, &words) {
        let (l, n) = r.encode(&mut mr);
        assert_eq!((l, &mr[..n]), (label, &words[..]), "request {r:?} not canonical");
    }
    if let Ok(r) = BusReply::decode(label, &words) {
        let (l, n) = r.encode(&mut mr);
        assert_eq!((l, &mr[..n]), (label, &words[..]), "reply {r:?} not canonical");
    }
}

const DRIVERS: u8 = 6;
const TRANSPORTS: u8 = 3;

/// The first three bytes say which (driver, transport) pairs are allowed;
/// then 3-byte operations: device found/gone, register, fault, restart.
/// After each operation: the actions, applied to a model, give exactly
/// the matcher's bindings; bindings respect ids, rules and one-to-one;
/// and no unbound device could go to an idle running driver.
pub fn matcher(data: &[u8]) {
    let Some((rules_bytes, ops)) = data.split_at_checked(3) else { return };
    let mask = u32::from_le_bytes([rules_bytes[0], rules_bytes[1], rules_bytes[2], 0]);
    let rules: Vec<_> = (0..DRIVERS)
        .flat_map(|d| (0..TRANSPORTS).map(move |t| (d, t)))
        .filter(|&(d, t)| mask & 1 << (d * TRANSPORTS + t) != 0)
        .map(|(d, t)| (DriverId(d), TransportId(t)))
        .collect();
    let Ok(mut m) = Matcher::<4, 4, 18>::new(&rules) else { return };
    let mut model: Vec<Binding> = Vec::new();
    for op in ops.chunks_exact(3) {
        let (a, c) = (op[1], op[2]);
        let t = TransportId(a % TRANSPORTS);
        let loc = Location::Mmio { slot: u32::from(c % 6) };
        let d = DriverId(a % DRIVERS);
        let result = match op[0] % 5 {
            0 => m.device_found(t, loc, u32::from(c / 6 % 3) + 1, 0),
            1 => m.device_gone(t, loc),
            2 => {
                let ids: Vec<u32> = (1..=3).filter(|i| c & (1 << i) != 0).collect();
                m.register_driver(d, &ids)
            }
            3 => m.driver_fault(d),
            _ => m.driver_restarted(d),
        };
        if let Ok(actions) = result {
            for a in actions {
                match a {
                    Action::Bind(b) => {
                        assert!(!model.contains(&b), "bound twice");
                        model.push(b);
                    }
                    Action::Unbind { binding, .. } => {
                        let i = model.iter().position(|x| *x == binding).expect("unbind of an unknown binding");
                        model.remove(i);
                    }
                }
            }
        }
        check(&m, &model);
    }
}

fn check(m: &Matcher<4, 4, 18>, model: &[Binding]) {
    let bindings: Vec<Binding> = m.bindings().collect();
    assert_eq!(bindings.len(), model.len(), "actions and state disagree");
    for b in &bindings {
        assert!(model.contains(b), "binding without a Bind action");
        assert_eq!(bindings.iter().filter(|x| x.driver == b.driver).count(), 1, "driver bound twice");
        assert!(m.is_allowed(b.driver, b.transport), "rule violated");
        let drv = m.drivers().iter().find(|r| r.id == b.driver).expect("bound driver registered");
        assert!(drv.running && drv.device_ids.contains(&b.device_id), "driver cannot serve this device");
        assert_eq!(m.binding_of(b.driver), Some(*b));
    }
    for dev in m.unbound_devices() {
        for drv in m.idle_drivers() {
            let fits = drv.running && drv.device_ids.contains(&dev.device_id) && m.is_allowed(drv.id, dev.transport);
            assert!(!fits, "device {dev:?} left unbound while {drv:?} idles");
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn decode_survives_random_bytes(data in prop::collection::vec(any::<u8>(), 0..80)) {
            super::decode(&data);
        }

        #[test]
        fn matcher_invariants_hold(data in prop::collection::vec(any::<u8>(), 3..200)) {
            super::matcher(&data);
        }
    }
}
