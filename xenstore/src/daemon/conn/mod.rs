//! Connections the daemon serves: unix sockets ([`socket`]) and guests' shared-page
//! rings ([`ring`]).

mod client;
pub mod dominfo;
pub mod engine;
pub mod ring;
pub mod socket;
pub mod uring;
pub mod xendev;
