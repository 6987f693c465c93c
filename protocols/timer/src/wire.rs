//! The timer protocol's messages: what the driver decodes from a PPC and
//! what it replies.

/// `SDDF_TIMER_GET_TIME`: the reply's MR0 is the time in nanoseconds.
pub const LABEL_GET_TIME: u64 = 0;
/// `SDDF_TIMER_SET_TIMEOUT`: MR0 is a relative timeout in nanoseconds.
pub const LABEL_SET_TIMEOUT: u64 = 1;

/// Words of the reply to [`LABEL_GET_TIME`] (MR0 = now, ns).
pub const GET_TIME_REPLY_WORDS: usize = 1;
/// The label of every reply (sDDF's driver replies with label 0).
pub const REPLY_LABEL: u64 = 0;

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

/// Why a request was refused (answered with an empty reply, as sDDF's
/// driver answers a label it does not know, and logged).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No request has this label.
    UnknownLabel(u64),
    /// A timeout request without MR0.
    MissingTimeout,
}

impl Request {
    /// Decode a PPC's `label` and message length; `mr0` reads MR0 (only
    /// called when the message carries it).
    pub fn decode(label: u64, words: usize, mr0: impl FnOnce() -> u64) -> Result<Request, RequestError> {
        match label {
            LABEL_GET_TIME => Ok(Request::GetTime),
            // sDDF's client sends exactly one word; fewer leaves MR0 stale
            // in the IPC buffer, so such a request is refused rather than
            // read.
            LABEL_SET_TIMEOUT if words >= 1 => Ok(Request::SetTimeout { relative_ns: mr0() }),
            LABEL_SET_TIMEOUT => Err(RequestError::MissingTimeout),
            other => Err(RequestError::UnknownLabel(other)),
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
        assert_eq!(Request::decode(0, 0, || unreachable!()), Ok(Request::GetTime));
        assert_eq!(Request::decode(1, 1, || 5_000), Ok(Request::SetTimeout { relative_ns: 5_000 }));
        assert_eq!(Request::decode(1, 0, || unreachable!()), Err(RequestError::MissingTimeout));
        assert_eq!(Request::decode(2, 1, || unreachable!()), Err(RequestError::UnknownLabel(2)));
        assert_eq!(Request::decode(u64::MAX, 0, || 0), Err(RequestError::UnknownLabel(u64::MAX)));
    }
}
