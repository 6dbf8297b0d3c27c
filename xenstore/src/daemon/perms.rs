//! Who may do what to a node.
//!
//! The first entry names the owner (full access) and its letter is the default; later
//! entries grant per-domain rights; privileged callers (dom0, the socket) may do anything;
//! a domain given a target by SET_TARGET acts with that target's rights as well.

use crate::wire::{PermKind, Perms};

/// The identity a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Caller's domain.
    pub domid: u32,
    /// dom0 or a socket connection: bypasses every check and quota.
    pub privileged: bool,
    /// Domain whose rights the caller also holds (SET_TARGET).
    pub target: Option<u32>,
}

impl Caller {
    /// A privileged dom0 caller.
    pub fn dom0() -> Caller {
        Caller {
            domid: 0,
            privileged: true,
            target: None,
        }
    }
    /// An unprivileged domain.
    pub fn domain(domid: u32) -> Caller {
        Caller {
            domid,
            privileged: false,
            target: None,
        }
    }
    fn is(&self, domid: u32) -> bool {
        self.domid == domid || self.target == Some(domid)
    }
}

/// Rights on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// May read value, children and permissions.
    pub read: bool,
    /// May write, create children, remove.
    pub write: bool,
    /// May change the permissions.
    pub owner: bool,
}

/// Computes `caller`'s rights on a node with `perms`.
pub fn access(caller: &Caller, perms: &Perms) -> Access {
    let full = Access {
        read: true,
        write: true,
        owner: true,
    };
    if caller.privileged || caller.is(perms.owner_id()) {
        return full;
    }
    let entries = &perms.entries()[1..];
    let kind = entries
        .iter()
        .find(|p| p.domid == caller.domid)
        .or_else(|| {
            caller
                .target
                .and_then(|t| entries.iter().find(|p| p.domid == t))
        })
        .map_or(perms.entries()[0].kind, |p| p.kind);
    Access {
        read: kind.can_read(),
        write: kind.can_write(),
        owner: false,
    }
}

/// Whether `caller` may replace `old` with `new`: it must own the node, and only a
/// privileged caller (or one targeting the current owner) may hand ownership over (XSA-352).
pub fn may_set_perms(caller: &Caller, old: &Perms, new: &Perms) -> bool {
    if caller.privileged {
        return true;
    }
    if !access(caller, old).owner {
        return false;
    }
    new.owner_id() == old.owner_id()
        || caller.target == Some(old.owner_id()) && caller.is(new.owner_id())
}

/// Permissions of a node created by `caller` under a parent with `parent`: inherited,
/// with an unprivileged creator (or the target it acts for) as owner.
pub fn inherit(caller: &Caller, parent: &Perms) -> Perms {
    let mut p = parent.clone();
    if !caller.privileged {
        p.set_owner(caller.target.unwrap_or(caller.domid));
    }
    p
}

/// The default permissions of the root and of the special watch nodes.
pub fn root_perms() -> Perms {
    Perms::owner(0, PermKind::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Perms {
        Perms::parse(s.iter().copied()).unwrap()
    }

    #[test]
    fn owner_has_full_access_and_sets_default() {
        let perms = p(&["r5", "w7", "n8"]);
        assert_eq!(
            access(&Caller::domain(5), &perms),
            Access {
                read: true,
                write: true,
                owner: true
            }
        );
        // 6 has no entry: default letter of the first entry (r).
        assert_eq!(
            access(&Caller::domain(6), &perms),
            Access {
                read: true,
                write: false,
                owner: false
            }
        );
        assert_eq!(
            access(&Caller::domain(7), &perms),
            Access {
                read: false,
                write: true,
                owner: false
            }
        );
        assert_eq!(
            access(&Caller::domain(8), &perms),
            Access {
                read: false,
                write: false,
                owner: false
            }
        );
        assert!(access(&Caller::dom0(), &p(&["n5"])).owner);
        // dom0 over a ring is only privileged if marked so.
        assert!(!access(&Caller::domain(0), &p(&["n5"])).read);
    }

    #[test]
    fn target_gets_targets_rights() {
        let perms = p(&["n3", "b4"]);
        let dm = Caller {
            domid: 9,
            privileged: false,
            target: Some(3),
        };
        assert!(access(&dm, &perms).owner);
        let dm4 = Caller {
            domid: 9,
            privileged: false,
            target: Some(4),
        };
        assert_eq!(
            access(&dm4, &perms),
            Access {
                read: true,
                write: true,
                owner: false
            }
        );
    }

    #[test]
    fn ownership_changes_need_privilege_xsa352() {
        let old = p(&["b5"]);
        assert!(may_set_perms(&Caller::domain(5), &old, &p(&["r5", "b6"])));
        assert!(!may_set_perms(&Caller::domain(5), &old, &p(&["b6"])));
        assert!(!may_set_perms(&Caller::domain(6), &old, &p(&["b6"])));
        assert!(may_set_perms(&Caller::dom0(), &old, &p(&["b6"])));
        let dm = Caller {
            domid: 9,
            privileged: false,
            target: Some(5),
        };
        assert!(may_set_perms(&dm, &old, &p(&["b9"])));
    }

    #[test]
    fn inheritance_makes_creator_owner() {
        let parent = p(&["n0", "b5"]);
        assert_eq!(inherit(&Caller::domain(5), &parent), p(&["n5", "b5"]));
        assert_eq!(inherit(&Caller::dom0(), &parent), parent);
    }
}
