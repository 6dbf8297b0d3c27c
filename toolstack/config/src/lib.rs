//! The xl.cfg language: parser, typed domain model and device specs.

pub mod spec;

/// The typed domain configuration (placeholder until the parser lands).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainConfig {
    /// The domain name (`name=`).
    pub name: String,
}
