//! Xenstore for rxl: the wire protocol ([`wire`]), a pure-Rust client ([`client`]), and the
//! `rxenstored` daemon ([`daemon`]) that serves Debian's xenstore tools and libxenstore.
//!
//! The protocol follows Xen 4.17's `io/xs_wire.h` and `docs/misc/xenstore.txt`; see
//! `docs/xenstore.md` for the design.

pub mod cli;
pub mod client;
pub mod daemon;
pub mod spin;
pub mod wire;
