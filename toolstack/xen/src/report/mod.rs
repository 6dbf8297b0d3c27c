//! xl-compatible text output of the control verbs, as pure functions of fixed inputs (so the
//! formats are unit-tested without a hypervisor).

pub mod info;
pub mod list;
pub mod uptime;
pub mod vcpu;
