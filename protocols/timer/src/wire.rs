//! The timer protocol's messages, both ways: what a client sends and the
//! driver decodes, and what the driver replies. PDs move them through the
//! runtime's `PpcMessage` of [`MAX_WORDS`] words (`encode` writes into its
//! buffer; `decode` reads exactly the words a message carried).

/// `SDDF_TIMER_GET_TIME`: no words; the reply's MR0 is the time in
/// nanoseconds.
pub const LABEL_GET_TIME: u64 = 0;
/// `SDDF_TIMER_SET_TIMEOUT`: MR0 is a relative timeout in nanoseconds.
pub const LABEL_SET_TIMEOUT: u64 = 1;

/// The label of every reply (sDDF's driver replies with label 0).
pub const REPLY_LABEL: u64 = 0;

/// The most words a message of this protocol carries, either way.
pub const MAX_WORDS: usize = 1;

/// A client's request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// What time is it (ns)?
    GetTime,
    /// Notify me this many nanoseconds from now (replacing any timeout
    /// I have pending).
    SetTimeout {
        /// Relative timeout, ns.
        relative_ns: u64,
    },
}

/// Why a message was refused: the driver answers a request it refuses
/// with an empty reply (as sDDF's driver answers a label it does not
/// know) and logs it; the client reads a reply it cannot decode as no
/// time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No request has this label.
    UnknownLabel(u64),
    /// The message has the wrong number of words for its label: sDDF's
    /// client sends exactly the words the label needs (none for
    /// GET_TIME, one for SET_TIMEOUT), and fewer would leave a stale MR0
    /// to be read as the timeout.
    WrongLength {
        /// The message's label.
        label: u64,
        /// Words that label takes.
        expected: usize,
        /// Words it carried.
        got: usize,
    },
}

/// The words of a message whose label takes exactly `N`.
fn exact<const N: usize>(label: u64, mr: &[u64]) -> Result<[u64; N], RequestError> {
    mr.try_into().map_err(|_| RequestError::WrongLength { label, expected: N, got: mr.len() })
}

impl Request {
    /// Encode into `mr` (at least [`MAX_WORDS`] long); returns
    /// `(label, number of words)`.
    pub fn encode(&self, mr: &mut [u64]) -> (u64, usize) {
        match *self {
            Request::GetTime => (LABEL_GET_TIME, 0),
            Request::SetTimeout { relative_ns } => match mr.first_mut() {
                Some(word) => {
                    *word = relative_ns;
                    (LABEL_SET_TIMEOUT, 1)
                }
                // No room: a message the driver refuses, never one read
                // from whatever MR0 holds.
                None => (LABEL_SET_TIMEOUT, 0),
            },
        }
    }

    /// Decode a request; `mr` is exactly the words the message carried.
    pub fn decode(label: u64, mr: &[u64]) -> Result<Request, RequestError> {
        match label {
            LABEL_GET_TIME => exact::<0>(label, mr).map(|[]| Request::GetTime),
            LABEL_SET_TIMEOUT => exact::<1>(label, mr).map(|[relative_ns]| Request::SetTimeout { relative_ns }),
            other => Err(RequestError::UnknownLabel(other)),
        }
    }
}

/// The driver's reply to a [`Request`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The time, ns (to [`Request::GetTime`]).
    Time(u64),
    /// Nothing (to [`Request::SetTimeout`], and to a refused request).
    Empty,
}

impl Reply {
    /// Encode into `mr` (at least [`MAX_WORDS`] long); returns
    /// `(label, number of words)`.
    pub fn encode(&self, mr: &mut [u64]) -> (u64, usize) {
        match (*self, mr.first_mut()) {
            (Reply::Time(ns), Some(word)) => {
                *word = ns;
                (REPLY_LABEL, 1)
            }
            // A time without room goes out as no time, which the client
            // reads as such.
            (Reply::Time(_), None) | (Reply::Empty, _) => (REPLY_LABEL, 0),
        }
    }

    /// Decode a reply; `mr` is exactly the words the message carried.
    /// One word is a time, none is empty; the label is not checked, as
    /// sDDF's client does not check it either.
    pub fn decode(mr: &[u64]) -> Result<Reply, RequestError> {
        match *mr {
            [] => Ok(Reply::Empty),
            [ns] => Ok(Reply::Time(ns)),
            _ => Err(RequestError::WrongLength { label: REPLY_LABEL, expected: 1, got: mr.len() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sddfs() {
        // include/sddf/timer/protocol.h, sDDF 0.7.0.
        assert_eq!(LABEL_GET_TIME, 0);
        assert_eq!(LABEL_SET_TIMEOUT, 1);
    }

    #[test]
    fn decodes_both_requests_and_refuses_the_rest() {
        assert_eq!(Request::decode(0, &[]), Ok(Request::GetTime));
        assert_eq!(Request::decode(1, &[5_000]), Ok(Request::SetTimeout { relative_ns: 5_000 }));
        assert_eq!(Request::decode(1, &[]), Err(RequestError::WrongLength { label: 1, expected: 1, got: 0 }));
        assert_eq!(Request::decode(1, &[1, 2]), Err(RequestError::WrongLength { label: 1, expected: 1, got: 2 }));
        assert_eq!(Request::decode(0, &[7]), Err(RequestError::WrongLength { label: 0, expected: 0, got: 1 }));
        assert_eq!(Request::decode(2, &[1]), Err(RequestError::UnknownLabel(2)));
        assert_eq!(Request::decode(u64::MAX, &[]), Err(RequestError::UnknownLabel(u64::MAX)));
    }

    #[test]
    fn requests_and_replies_round_trip_in_sddfs_layout() {
        for request in
            [Request::GetTime, Request::SetTimeout { relative_ns: 0 }, Request::SetTimeout { relative_ns: u64::MAX }]
        {
            let mut mr = [0xdead; MAX_WORDS];
            let (label, len) = request.encode(&mut mr);
            assert_eq!(Request::decode(label, &mr[..len]), Ok(request));
        }
        let mut mr = [0; MAX_WORDS];
        assert_eq!(Request::SetTimeout { relative_ns: 42 }.encode(&mut mr), (LABEL_SET_TIMEOUT, 1));
        assert_eq!(mr, [42]);
        for reply in [Reply::Time(123), Reply::Empty] {
            let mut mr = [0xdead; MAX_WORDS];
            let (label, len) = reply.encode(&mut mr);
            assert_eq!(label, REPLY_LABEL);
            assert_eq!(Reply::decode(&mr[..len]), Ok(reply));
        }
    }

    #[test]
    fn no_room_makes_a_message_that_is_refused_not_a_stale_one() {
        let (label, len) = Request::SetTimeout { relative_ns: 9 }.encode(&mut []);
        assert!(Request::decode(label, &[0; 0][..len]).is_err());
        assert_eq!(Reply::Time(9).encode(&mut []), (REPLY_LABEL, 0));
    }

    #[test]
    fn a_reply_of_more_words_than_a_time_is_refused() {
        assert_eq!(Reply::decode(&[1, 2]), Err(RequestError::WrongLength { label: REPLY_LABEL, expected: 1, got: 2 }));
    }
}
