//! The `rxenstored` daemon: the tree ([`store`]), its rules ([`perms`], [`transaction`],
//! [`watch`], [`quota`], [`conflict`]), request dispatch ([`handler`]), persistence ([`persist`]),
//! replacing its own binary without dropping a client ([`liveupdate`]) and the connections
//! it serves ([`conn`]).
//!
//! The core ([`handler::Daemon`]) is pure: it turns one request into replies, watch
//! events and domain effects and does no I/O, so it is unit-tested and fuzzed directly.

pub mod conflict;
pub mod conn;
pub mod domain;
pub mod handler;
pub mod liveupdate;
pub mod ops;
pub mod path;
pub mod perms;
pub mod persist;
pub mod quota;
pub mod store;
pub mod transaction;
pub mod watch;
