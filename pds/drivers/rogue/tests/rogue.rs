//! The rogue driver against the real transport core and a mock
//! virtio-blk: it attacks exactly once, only with its device up and the
//! canary ready, and points the data buffer at the canary's page.

use sevio_driver_core::harness::Harness;
use sevio_driver_rogue::{Attack, CANARY_BYTES, RogueDriver, RogueSetvars};
use sevio_transport_core::mock::MockDevice;

const CANARY: u64 = 0x4830_0000;
const F_VERSION_1: u64 = 1 << 32;

fn rig() -> Harness<RogueDriver> {
    let device = MockDevice::new(2, 2, F_VERSION_1, 1, 16);
    device.state().config = vec![0u8; 64];
    Harness::<RogueDriver>::new("rogue", device, |_| RogueSetvars { canary_paddr: CANARY })
}

#[test]
fn it_waits_for_both_the_device_and_the_canary_then_reads_into_the_canary_page_once() {
    for canary_first in [true, false] {
        let mut h = rig();
        if canary_first {
            h.client_notifies();
            assert_eq!(h.driver().attack, Attack::Waiting, "no device yet");
            h.bind();
        } else {
            h.bind();
            assert!(h.device.pop_avail(0).is_none(), "the canary has not said its page is filled");
            h.client_notifies();
        }
        let chain = h.device.pop_avail(0).expect("the attack");
        assert_eq!(chain.bufs.len(), 3);
        let data = chain.bufs[1];
        assert!(data.writable && data.addr == CANARY && data.len == CANARY_BYTES);
        assert_eq!(h.driver().attack, Attack::Posted);
        h.client_notifies();
        assert!(h.device.pop_avail(0).is_none(), "once");
        // The device answers: the canary is told to look.
        h.device.write(chain.bufs[2].addr, &[0]);
        h.device.push_used(0, chain.head.into(), 1 + CANARY_BYTES);
        h.interrupt(0);
        assert_eq!(h.driver().attack, Attack::Answered(0));
        assert!(h.take_client_notify());
    }
}

#[test]
fn losing_the_device_before_its_answer_tells_the_canary_too() {
    let mut h = rig();
    h.bind();
    h.client_notifies();
    assert!(h.device.pop_avail(0).is_some());
    h.take_client_notify();
    h.unbind();
    assert!(h.take_client_notify());
    assert_eq!(h.driver().attack, Attack::Over);
    h.bind();
    h.client_notifies();
    assert!(h.device.pop_avail(0).is_none(), "never again");
}
