//! `/dev/xen/evtchn`: event channels bound from dom0 user space (crate `rxl-xendev`).
//!
//! Its errors convert into [`crate::error::XenError`] with `?`.

pub use rxl_xendev::evtchn::{EVTCHN_PATH, EventChannels};
