//! system.xml reader and checker (in progress).
pub mod model;
