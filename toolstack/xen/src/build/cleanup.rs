//! The rollback guard: whatever a failed build created is undone, newest first.
//!
//! Event channels and grant entries live in the new domain's own tables, so destroying the
//! domain frees them; the guard therefore tracks the domain, whether xenstored was told about
//! it, the xenstore subtrees written for it, and whether devices were added (their hotplug
//! scripts set up loop devices and bridge ports, which [`crate::devices::teardown`] undoes).

use rxl_xenstore::client::Client;

use super::xs_tree::{self, DomainFacts};
use crate::ctl::Xen;

/// What has been created so far.
#[derive(Debug, Default)]
pub struct Rollback {
    domid: Option<u32>,
    facts: Option<DomainFacts>,
    introduced: bool,
    devices: bool,
}

impl Rollback {
    /// Nothing created yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The domain exists.
    pub fn created(&mut self, domid: u32) {
        self.domid = Some(domid);
    }

    /// Its xenstore tree is (about to be) written.
    pub fn wrote_tree(&mut self, facts: DomainFacts) {
        self.facts = Some(facts);
    }

    /// xenstored knows the domain.
    pub fn introduced(&mut self) {
        self.introduced = true;
    }

    /// Disk or vif nodes were written (their hotplug scripts may have run).
    pub fn added_devices(&mut self) {
        self.devices = true;
    }

    /// Undoes everything; returns the problems met (the build error stays the main error).
    pub fn undo(self, xen: &Xen, xs: Option<&Client>) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(domid) = self.domid else {
            return problems;
        };
        // Destroy first, as `rxl destroy` and libxl do: xenstored (which mapped the store ring at
        // INTRODUCE) sees the domain die, unmaps the ring and fires @releaseDomain, on which
        // xenconsoled unmaps the console ring. An explicit RELEASE before the destroy would make
        // xenstored forget the domain while it still lives, so @releaseDomain would come too
        // early for xenconsoled and its mapping would keep the dead domain around as a zombie.
        let destroyed = xen.destroy_domain(domid);
        if let Err(e) = &destroyed {
            problems.push(format!("destroying domain {domid}: {e}"));
        }
        if let Some(xs) = xs {
            if self.devices {
                problems.extend(crate::devices::teardown(xs, domid));
            }
            if self.introduced
                && destroyed.is_err()
                && let Err(e) = xs.release(domid)
            {
                problems.push(format!("xenstore release of domain {domid}: {e}"));
            }
            if let Some(f) = &self.facts
                && let Err(e) = xs_tree::remove(xs, f)
            {
                problems.push(format!(
                    "removing the xenstore nodes of domain {domid}: {e}"
                ));
            }
        }
        problems
    }
}
