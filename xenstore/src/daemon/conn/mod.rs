//! Connections the daemon serves: unix sockets ([`socket`]) and guests' shared-page
//! rings ([`ring`]).

pub mod dominfo;
pub mod ring;
pub mod socket;
pub mod xendev;
