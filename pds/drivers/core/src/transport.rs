//! Calling the transport PD.
//!
//! One [`Request`] in, one [`Reply`] out (protocols/transport). A reply
//! that does not decode, or a reply of the wrong length, is turned into
//! `Reply::Error(TransportError::Malformed)`: a driver treats it like any
//! other refusal, never panics on it.

use sevio_runtime::{Channel, PpcMessage};
use sevio_transport_protocol::{MAX_WORDS, Reply, Request, TransportError};

/// A driver's line to its transport.
pub trait Transport {
    /// Send `request` and return the transport's answer.
    fn call(&mut self, request: Request) -> Reply;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn call(&mut self, request: Request) -> Reply {
        (**self).call(request)
    }
}

/// The kick path every template driver uses: after ringing its doorbell
/// page (a bit per queue with new buffers), the driver notifies the
/// transport, which takes the bits and notifies the device of each queue
/// (`transports/core` `Transport::kick`).
///
/// Why the doorbell and not the `QueueNotify` PPC: one notification
/// carries every queue kicked during an event (net kicks receive and
/// transmit together), it is a signal rather than a call with a reply, so
/// the driver never waits on the transport to kick, and the transport
/// already drops kicks of a driver it has not bound. Kicks are sent after
/// the event, so never before DRIVER_OK (VIRTIO 1.2 §3.1.1: the device
/// is live only after step 8).
pub trait TransportNotify {
    /// Tell the transport the doorbell page has kicks.
    fn notify(&mut self);
}

/// Why a call did not get the answer it needed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The transport refused (or the reply was malformed:
    /// [`TransportError::Malformed`]).
    Refused(TransportError),
    /// A well-formed reply of the wrong kind for the request.
    Unexpected(Reply),
}

impl CallError {
    /// The error a reply that is not the one expected stands for.
    pub fn from_reply(reply: Reply) -> CallError {
        match reply {
            Reply::Error(e) => CallError::Refused(e),
            other => CallError::Unexpected(other),
        }
    }
}

/// Call and expect [`Reply::Ok`].
pub fn call_ok<T: Transport + ?Sized>(t: &mut T, request: Request) -> Result<(), CallError> {
    match t.call(request) {
        Reply::Ok => Ok(()),
        other => Err(CallError::from_reply(other)),
    }
}

/// One PPC exchange, independent of the kernel: encode `request`, hand
/// `(label, words)` to `send`, which puts the reply's words into the
/// buffer it is given and returns `(label, length)`; decode strictly.
/// A reply longer than [`MAX_WORDS`] or that does not decode is
/// `Reply::Error(TransportError::Malformed)`.
pub fn exchange(request: Request, send: impl FnOnce(u64, &[u64], &mut [u64; MAX_WORDS]) -> (u64, usize)) -> Reply {
    let mut words = [0u64; MAX_WORDS];
    let (label, len) = request.encode(&mut words);
    let mut reply = [0u64; MAX_WORDS];
    let (reply_label, reply_len) = send(label, &words[..len.min(MAX_WORDS)], &mut reply);
    if reply_len > MAX_WORDS {
        return Reply::Error(TransportError::Malformed);
    }
    Reply::decode(reply_label, &reply[..reply_len]).unwrap_or(Reply::Error(TransportError::Malformed))
}

/// The transport reached by PPC on a channel (the driver end has
/// `pp="true"`; the transport has the higher priority).
#[derive(Copy, Clone, Debug)]
pub struct PpcTransport {
    channel: Channel,
}

impl PpcTransport {
    /// The transport on `channel`.
    pub const fn new(channel: Channel) -> Self {
        PpcTransport { channel }
    }
}

impl Transport for PpcTransport {
    fn call(&mut self, request: Request) -> Reply {
        let channel = self.channel;
        exchange(request, |label, words, reply| {
            // A message of more than MAX_WORDS is refused, not cut: its
            // length goes back so `exchange` answers Malformed.
            match PpcMessage::<MAX_WORDS>::new(label, words).and_then(|message| message.call(channel)) {
                Ok(answer) => {
                    reply[..answer.words().len()].copy_from_slice(answer.words());
                    (answer.label(), answer.words().len())
                }
                Err(too_long) => (too_long.label, too_long.len),
            }
        })
    }
}

impl TransportNotify for PpcTransport {
    fn notify(&mut self) {
        self.channel.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_transport_protocol::DeviceInfo;
    use sevio_transport_protocol::Location;

    /// A transport that decodes what it got and answers `answer`.
    fn serve(answer: Reply) -> impl FnOnce(u64, &[u64], &mut [u64; MAX_WORDS]) -> (u64, usize) {
        move |label, words, reply| {
            let req = Request::decode(label, words).expect("the driver side encodes valid requests");
            assert_eq!(req, Request::QueueMaxSize { queue: 3 });
            answer.encode(reply)
        }
    }

    #[test]
    fn round_trips_through_message_words() {
        assert_eq!(
            exchange(Request::QueueMaxSize { queue: 3 }, serve(Reply::QueueMaxSize(256))),
            Reply::QueueMaxSize(256)
        );
        let info = DeviceInfo { device_id: 2, vendor_id: 7, location: Location::Mmio { slot: 31 }, version: 2 };
        assert_eq!(
            exchange(Request::QueueMaxSize { queue: 3 }, serve(Reply::DeviceInfo(info))),
            Reply::DeviceInfo(info)
        );
    }

    #[test]
    fn malformed_replies_are_errors() {
        let malformed = Reply::Error(TransportError::Malformed);
        // Unknown label.
        assert_eq!(exchange(Request::Reset, |_, _, _| (99, 0)), malformed);
        // Wrong length for the label.
        assert_eq!(
            exchange(Request::Reset, |_, _, _| (sevio_transport_protocol::wire::reply_label::FEATURES, 0)),
            malformed
        );
        // A length past the buffer (a peer's tag is not trusted).
        assert_eq!(exchange(Request::Reset, |_, _, _| (0, MAX_WORDS + 1)), malformed);
        // FeaturesOk must be 0 or 1.
        assert_eq!(
            exchange(Request::Reset, |_, _, r| {
                r[0] = 2;
                (sevio_transport_protocol::wire::reply_label::FEATURES_OK, 1)
            }),
            malformed
        );
    }

    #[test]
    fn call_ok_sorts_replies() {
        struct Fixed(Reply);
        impl Transport for Fixed {
            fn call(&mut self, _: Request) -> Reply {
                self.0
            }
        }
        assert_eq!(call_ok(&mut Fixed(Reply::Ok), Request::DriverOk), Ok(()));
        assert_eq!(
            call_ok(&mut Fixed(Reply::Error(TransportError::NotBound)), Request::DriverOk),
            Err(CallError::Refused(TransportError::NotBound))
        );
        assert_eq!(
            call_ok(&mut Fixed(Reply::Status(1)), Request::DriverOk),
            Err(CallError::Unexpected(Reply::Status(1)))
        );
    }
}
