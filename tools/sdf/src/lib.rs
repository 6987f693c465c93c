//! Reads and checks Microkit system descriptions (`system.xml`, Microkit
//! 2.3.0's SDF) for sevio's host tools.
//!
//! - [`parse`] / [`load`]: XML text or file to a checked [`System`], or
//!   every [`SdfError`] found (all of them, in file order, each naming the
//!   element, attribute, line and column).
//! - [`check`]: the same rules on a [`System`] built in code.
//! - [`lint`]: warnings the microkit tool would accept (unused regions,
//!   passive PDs nothing can wake, idle channels).
//! - [`describe`]: a human summary (`sevio-sdf info`).
//!
//! The rules follow the microkit tool's own checks
//! (`tool/microkit/src/sdf.rs` at tag 2.3.0); [`limits`] holds its numbers.
//! Where sevio-sdf is stricter, the README says so.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod check;
pub mod error;
mod info;
pub mod limits;
pub mod model;
mod scan;
mod span;
mod xml;

use std::path::Path;

pub use error::{LoadError, Rule, SdfError};
pub use info::describe;
pub use model::{ChannelDef, ChannelEnd, Irq, Map, MemoryRegion, Perms, ProtectionDomain, Setvar, System, Trigger};

/// Parses and checks `xml`; errors name the file `system.xml`.
pub fn parse(xml: &str) -> Result<System, Vec<SdfError>> {
    parse_named(xml, "system.xml")
}

/// Parses and checks `xml`; errors name the file `file`.
pub fn parse_named(xml: &str, file: &str) -> Result<System, Vec<SdfError>> {
    let mut report = span::Report::new(file);
    let Some((system, spans)) = xml::read(xml, &mut report) else {
        return Err(report.into_sorted());
    };
    check::check(&system, &spans, &mut report);
    if report.errors.is_empty() { Ok(system) } else { Err(report.into_sorted()) }
}

/// Reads the file at `path`, then [`parse_named`]s it under that path.
pub fn load(path: impl AsRef<Path>) -> Result<System, LoadError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let xml = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: name.clone(), source })?;
    parse_named(&xml, &name).map_err(LoadError::Invalid)
}

/// Runs every rule on a system built in code (positions come from the
/// `line` fields; columns are 0). Empty when the system is valid.
pub fn check(system: &System) -> Vec<SdfError> {
    let mut report = span::Report::new("system.xml");
    check::check(system, &span::Spans::from_model(system), &mut report);
    report.into_sorted()
}

/// Warnings for a valid system: findings the microkit tool accepts but that
/// are probably mistakes ([`Rule::is_warning`]).
pub fn lint(system: &System) -> Vec<SdfError> {
    let mut report = span::Report::new("system.xml");
    check::lint(system, &mut report);
    report.into_sorted()
}
