//! A timer client's config (sDDF `include/sddf/timer/config.h`).
//!
//! Layout (bytes): `timer_client_config_t {char magic[5] @0, uint8_t
//! driver_id @5}` = 6 (no padding: every field is a byte).
//!
//! A client of sDDF's timer driver (a driver PD that needs timeouts is
//! one) calls the timer driver by PPC on channel `driver_id`.

use crate::{ConfigError, MAGIC_LEN, Magic, view};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `timer_client_config_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawTimerClientConfig {
    /// `sDDF\x06`.
    pub magic: [u8; MAGIC_LEN],
    /// The channel to the timer driver.
    pub driver_id: u8,
}

/// A parsed `timer_client_config_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerClientConfig {
    /// The channel to the timer driver (checked where it becomes a
    /// `Channel`).
    pub driver_id: u8,
}

impl TimerClientConfig {
    /// Size of `timer_client_config_t`.
    pub const SIZE: usize = core::mem::size_of::<RawTimerClientConfig>();
    /// Its ELF section, as sDDF's build names it.
    pub const SECTION: &'static str = ".timer_client_config";

    /// Parses and checks the bytes of a `timer_client_config_t`.
    pub fn parse(bytes: &[u8]) -> Result<TimerClientConfig, ConfigError> {
        let raw: &RawTimerClientConfig = view(bytes)?;
        Magic::Timer.check(raw.magic)?;
        Ok(TimerClientConfig { driver_id: raw.driver_id })
    }
}
