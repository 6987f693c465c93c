//! The client against a driver the test plays on the control region.

use crate::{Mode, RpmsgClient, State};
use sevio_queue::rpmsg::{CONTROL_SIZE, ClientPort, DriverPort, EndpointName, Event, Refusal, Request};
use sevio_sharedmem::HeapRegion;

/// Serve every request: endpoints at 1024, the echo at 1024 announced
/// once, sends echoed (`corrupt` flips a byte of echo `n`), oversized
/// ones refused. Returns the client's state once nothing moves.
fn run(mode: Mode, corrupt: Option<u32>) -> State {
    let region = HeapRegion::new(CONTROL_SIZE);
    let mut client = RpmsgClient::new(ClientPort::new(region.memory()).unwrap(), mode);
    let mut driver = DriverPort::new(region.memory()).unwrap();
    client.start().unwrap();
    let mut echoes = 0;
    for _ in 0..10_000 {
        let mut moved = false;
        while driver.events.free().unwrap() > 2 {
            let Some(raw) = driver.requests.dequeue().unwrap() else { break };
            moved = true;
            let ev = match Request::decode(&raw).unwrap() {
                Request::Create { name } => {
                    driver.events.enqueue(Event::Created { local: 1024, name }.encode()).unwrap();
                    let echo = EndpointName::new(b"rpmsg-echo").unwrap();
                    Event::Announced { remote: 1024, name: echo, created: true }
                }
                Request::Send { local, remote, payload } => match payload.bytes() {
                    None => Event::Refused { local, remote, len: payload.len(), why: Refusal::TooLarge },
                    Some(bytes) => {
                        let mut copy = [0u8; 496];
                        copy[..bytes.len()].copy_from_slice(bytes);
                        if corrupt == Some(echoes) {
                            copy[0] ^= 1;
                        }
                        echoes += 1;
                        let payload = sevio_queue::rpmsg::Payload::new(&copy[..bytes.len()]);
                        Event::Received { local, remote, payload }
                    }
                },
            };
            driver.events.enqueue(ev.encode()).unwrap();
        }
        if client.notified().is_err() || !moved && !client.take_notify() {
            break;
        }
    }
    client.state
}

#[test]
fn the_checks_pass_against_a_faithful_echo() {
    assert_eq!(run(Mode::Check, None), State::Passed);
    assert_eq!(run(Mode::Bench { rounds: 50 }, None), State::Passed);
}

#[test]
fn an_echo_that_differs_fails_the_run() {
    assert_eq!(run(Mode::Check, Some(1)), State::Failed, "the 496-byte echo");
    assert_eq!(run(Mode::Check, Some(40)), State::Failed, "one in the burst");
}
