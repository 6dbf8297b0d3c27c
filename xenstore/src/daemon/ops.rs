//! Node operations on a [`View`], with permission and quota checks.

use super::path;
use super::perms::{Caller, access, inherit, may_set_perms};
use super::quota::Quotas;
use super::store::Node;
use super::transaction::View;
use super::watch::Change;
use crate::wire::{PAYLOAD_MAX, Perms, XsErrno, join_strings};

/// What an operation needs on the node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Write,
}

/// Looks `p` up for `caller`. A missing node is `ENOENT` only if the caller may read its
/// nearest existing ancestor; otherwise `EACCES`, so existence does not leak.
fn checked<'v>(
    v: &'v mut View<'_>,
    caller: &Caller,
    p: &str,
    need: Need,
    record: bool,
) -> Result<&'v Node, XsErrno> {
    // Borrowed, not cloned: a READ or DIRECTORY copies only what its reply needs. (Two
    // lookups because returning the first borrow from one branch is rejected by today's
    // borrow checker; the second finds what the first recorded.)
    if v.get(p, record).is_some() {
        let n = v.get(p, false).expect("the node was just found");
        let a = access(caller, &n.perms);
        let ok = match need {
            Need::Read => a.read,
            Need::Write => a.write,
        };
        return if ok { Ok(n) } else { Err(XsErrno::EACCES) };
    }
    for anc in path::ancestors(p).into_iter().rev() {
        if let Some(n) = v.get(anc, false) {
            return if access(caller, &n.perms).read {
                Err(XsErrno::ENOENT)
            } else {
                Err(XsErrno::EACCES)
            };
        }
    }
    Err(XsErrno::ENOENT)
}

fn check_txn_size(v: &View<'_>, caller: &Caller, quotas: &Quotas) -> Result<(), XsErrno> {
    if !caller.privileged && !quotas.allows(caller.domid, "transaction-nodes", v.touched() + 1) {
        return Err(XsErrno::ENOSPC);
    }
    Ok(())
}

/// READ: the value, no trailing NUL.
pub fn read(v: &mut View<'_>, caller: &Caller, p: &str) -> Result<Vec<u8>, XsErrno> {
    Ok(checked(v, caller, p, Need::Read, true)?.value.clone())
}

/// DIRECTORY: children, each NUL-terminated. `E2BIG` if over one payload (use
/// DIRECTORY_PART).
pub fn directory(v: &mut View<'_>, caller: &Caller, p: &str) -> Result<Vec<u8>, XsErrno> {
    let out = join_strings(&checked(v, caller, p, Need::Read, true)?.children);
    if out.len() > PAYLOAD_MAX {
        Err(XsErrno::E2BIG)
    } else {
        Ok(out)
    }
}

/// DIRECTORY_PART: `generation\0` then whole children from byte `offset` that fit, plus
/// an extra NUL once the list is complete.
pub fn directory_part(
    v: &mut View<'_>,
    caller: &Caller,
    p: &str,
    offset: u32,
) -> Result<Vec<u8>, XsErrno> {
    let node = checked(v, caller, p, Need::Read, true)?;
    let all = join_strings(&node.children);
    let off = offset as usize;
    if off > all.len() || (off > 0 && all[off - 1] != 0) {
        return Err(XsErrno::EINVAL);
    }
    let mut out = join_strings([node.generation.to_string()]);
    let mut end = off;
    while end < all.len() {
        let next = end
            + all[end..]
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(all.len() - end)
            + 1;
        if out.len() + (next - off) + 1 > PAYLOAD_MAX {
            break;
        }
        end = next;
    }
    out.extend_from_slice(&all[off..end]);
    if end == all.len() {
        out.push(0);
    }
    Ok(out)
}

/// GET_PERMS of a tree node.
pub fn get_perms(v: &mut View<'_>, caller: &Caller, p: &str) -> Result<Vec<u8>, XsErrno> {
    Ok(join_strings(
        checked(v, caller, p, Need::Read, true)?.perms.to_strings(),
    ))
}

/// Creates `p` and missing parents (each inheriting its parent's permissions), then sets
/// the value if given. Returns whether anything changed.
fn create_or_write(
    v: &mut View<'_>,
    caller: &Caller,
    quotas: &Quotas,
    p: &str,
    value: Option<Vec<u8>>,
) -> Result<bool, XsErrno> {
    if p == "/" && value.is_none() {
        return Ok(false);
    }
    if let Some(n) = v.get(p, false) {
        if !access(caller, &n.perms).write {
            return Err(XsErrno::EACCES);
        }
        if value.is_none() {
            return Ok(false);
        }
        check_txn_size(v, caller, quotas)?;
        v.set(p, value, None);
        return Ok(true);
    }
    // Find the deepest existing ancestor; the caller needs write access to it.
    let mut missing = vec![p.to_string()];
    let mut anc = path::parent(p);
    let base = loop {
        let Some(a) = anc else {
            return Err(XsErrno::ENOENT);
        };
        if let Some(n) = v.get(a, false) {
            break n.clone();
        }
        missing.push(a.to_string());
        anc = path::parent(a);
    };
    if !access(caller, &base.perms).write {
        return Err(XsErrno::EACCES);
    }
    let mut perms = inherit(caller, &base.perms);
    if !caller.privileged {
        let owned = v.owned_by(perms.owner_id());
        if !quotas.allows(caller.domid, "nodes", owned + missing.len()) {
            return Err(XsErrno::ENOSPC);
        }
        if !quotas.allows(
            caller.domid,
            "transaction-nodes",
            v.touched() + missing.len() + 1,
        ) {
            return Err(XsErrno::ENOSPC);
        }
    }
    let last = missing.len() - 1;
    for (i, q) in missing.iter().rev().enumerate() {
        let val = if i == last { value.clone() } else { None };
        if !v.set(q, val.or(Some(Vec::new())), Some(perms.clone())) {
            return Err(XsErrno::ENOENT);
        }
        // Later components inherit from the node just made.
        perms = inherit(caller, &perms);
    }
    Ok(true)
}

/// WRITE: sets the value, creating the node and missing parents.
pub fn write(
    v: &mut View<'_>,
    caller: &Caller,
    quotas: &Quotas,
    p: &str,
    value: Vec<u8>,
) -> Result<Option<Change>, XsErrno> {
    if !caller.privileged && !quotas.allows(caller.domid, "node-size", value.len()) {
        return Err(XsErrno::ENOSPC);
    }
    create_or_write(v, caller, quotas, p, Some(value))?;
    Ok(v.changed(Change::Write {
        path: p.to_string(),
    }))
}

/// MKDIR: creates the node and parents; an existing node is left untouched.
pub fn mkdir(
    v: &mut View<'_>,
    caller: &Caller,
    quotas: &Quotas,
    p: &str,
) -> Result<Option<Change>, XsErrno> {
    if create_or_write(v, caller, quotas, p, None)? {
        Ok(v.changed(Change::Write {
            path: p.to_string(),
        }))
    } else {
        Ok(None)
    }
}

/// RM: removes the subtree. A missing node is fine if its parent exists.
pub fn rm(
    v: &mut View<'_>,
    caller: &Caller,
    quotas: &Quotas,
    p: &str,
) -> Result<Option<Change>, XsErrno> {
    if p == "/" {
        return Err(XsErrno::EINVAL);
    }
    match checked(v, caller, p, Need::Write, false) {
        Ok(_) => {}
        Err(XsErrno::ENOENT) => {
            let parent = path::parent(p).unwrap_or("/");
            return if v.get(parent, false).is_some() {
                Ok(None)
            } else {
                Err(XsErrno::ENOENT)
            };
        }
        Err(e) => return Err(e),
    }
    check_txn_size(v, caller, quotas)?;
    let removed = v.remove(p);
    Ok(v.changed(Change::Remove {
        path: p.to_string(),
        removed,
    }))
}

/// SET_PERMS on a tree node.
pub fn set_perms(
    v: &mut View<'_>,
    caller: &Caller,
    quotas: &Quotas,
    p: &str,
    perms: Perms,
) -> Result<Option<Change>, XsErrno> {
    if !caller.privileged && !quotas.allows(caller.domid, "permissions", perms.entries().len()) {
        return Err(XsErrno::ENOSPC);
    }
    let node = checked(v, caller, p, Need::Read, false)?;
    if !may_set_perms(caller, &node.perms, &perms) {
        return Err(XsErrno::EACCES);
    }
    let old_owner = node.perms.owner_id();
    if !caller.privileged && perms.owner_id() != old_owner {
        let owned = v.owned_by(perms.owner_id());
        if !quotas.allows(perms.owner_id(), "nodes", owned + 1) {
            return Err(XsErrno::ENOSPC);
        }
    }
    check_txn_size(v, caller, quotas)?;
    v.set(p, None, Some(perms));
    Ok(v.changed(Change::Write {
        path: p.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::Store;

    fn perms(s: &[&str]) -> Perms {
        Perms::parse(s.iter().copied()).unwrap()
    }

    #[test]
    fn write_creates_parents_with_inherited_perms() {
        let mut s = Store::new();
        let q = Quotas::default();
        let d0 = Caller::dom0();
        write(&mut View::Live(&mut s), &d0, &q, "/a/b/c", b"v".to_vec()).unwrap();
        assert_eq!(s.get("/a").unwrap().value, b"");
        assert_eq!(s.get("/a/b/c").unwrap().value, b"v");
        set_perms(&mut View::Live(&mut s), &d0, &q, "/a", perms(&["n0", "b5"])).unwrap();
        let d5 = Caller::domain(5);
        write(&mut View::Live(&mut s), &d5, &q, "/a/x/y", b"1".to_vec()).unwrap();
        assert_eq!(
            s.get("/a/x").unwrap().perms,
            perms(&["n5", "b5"]),
            "creator owns, ACL inherited"
        );
        assert_eq!(s.owned_by(5), 2);
    }

    #[test]
    fn permission_checks() {
        let mut s = Store::new();
        let q = Quotas::default();
        let d0 = Caller::dom0();
        let d5 = Caller::domain(5);
        write(&mut View::Live(&mut s), &d0, &q, "/secret/k", b"v".to_vec()).unwrap();
        assert_eq!(
            read(&mut View::Live(&mut s), &d5, "/secret/k"),
            Err(XsErrno::EACCES)
        );
        // Missing node under an unreadable parent: EACCES, not ENOENT.
        assert_eq!(
            read(&mut View::Live(&mut s), &d5, "/secret/none"),
            Err(XsErrno::EACCES)
        );
        assert_eq!(
            read(&mut View::Live(&mut s), &d0, "/secret/none"),
            Err(XsErrno::ENOENT)
        );
        // XSA-353: the root is dom0's.
        assert_eq!(
            write(&mut View::Live(&mut s), &d5, &q, "/x", vec![]).unwrap_err(),
            XsErrno::EACCES
        );
        assert_eq!(
            set_perms(&mut View::Live(&mut s), &d5, &q, "/", perms(&["b5"])).unwrap_err(),
            XsErrno::EACCES
        );
        assert_eq!(
            rm(&mut View::Live(&mut s), &d5, &q, "/secret").unwrap_err(),
            XsErrno::EACCES
        );
        set_perms(
            &mut View::Live(&mut s),
            &d0,
            &q,
            "/secret/k",
            perms(&["r0"]),
        )
        .unwrap();
        assert_eq!(
            read(&mut View::Live(&mut s), &d5, "/secret/k").unwrap(),
            b"v"
        );
        assert_eq!(
            write(&mut View::Live(&mut s), &d5, &q, "/secret/k", vec![]).unwrap_err(),
            XsErrno::EACCES
        );
    }

    #[test]
    fn owner_may_not_give_node_away_xsa352() {
        let mut s = Store::new();
        let q = Quotas::default();
        write(&mut View::Live(&mut s), &Caller::dom0(), &q, "/d", vec![]).unwrap();
        set_perms(
            &mut View::Live(&mut s),
            &Caller::dom0(),
            &q,
            "/d",
            perms(&["b5"]),
        )
        .unwrap();
        let d5 = Caller::domain(5);
        assert_eq!(
            set_perms(&mut View::Live(&mut s), &d5, &q, "/d", perms(&["b6"])).unwrap_err(),
            XsErrno::EACCES
        );
        set_perms(&mut View::Live(&mut s), &d5, &q, "/d", perms(&["n5", "r6"])).unwrap();
        assert_eq!(
            set_perms(
                &mut View::Live(&mut s),
                &Caller::domain(6),
                &q,
                "/d",
                perms(&["b6"])
            )
            .unwrap_err(),
            XsErrno::EACCES
        );
    }

    #[test]
    fn quotas_bind_unprivileged_only() {
        let mut s = Store::new();
        let mut q = Quotas::default();
        q.set(None, "nodes", 3);
        let d0 = Caller::dom0();
        write(&mut View::Live(&mut s), &d0, &q, "/g", vec![]).unwrap();
        set_perms(&mut View::Live(&mut s), &d0, &q, "/g", perms(&["n0", "b5"])).unwrap();
        let d5 = Caller::domain(5);
        write(&mut View::Live(&mut s), &d5, &q, "/g/a/b/c", vec![]).unwrap();
        assert_eq!(
            write(&mut View::Live(&mut s), &d5, &q, "/g/d", vec![]).unwrap_err(),
            XsErrno::ENOSPC
        );
        for i in 0..10 {
            write(
                &mut View::Live(&mut s),
                &d0,
                &q,
                &format!("/g/dom0-{i}"),
                vec![],
            )
            .unwrap();
        }
        assert_eq!(
            write(&mut View::Live(&mut s), &d5, &q, "/g/a", vec![0; 2049]).unwrap_err(),
            XsErrno::ENOSPC
        );
        write(&mut View::Live(&mut s), &d0, &q, "/g/big", vec![0; 4000]).unwrap();
        let six = perms(&["n5", "r1", "r2", "r3", "r4", "r6"]);
        assert_eq!(
            set_perms(&mut View::Live(&mut s), &d5, &q, "/g/a", six).unwrap_err(),
            XsErrno::ENOSPC
        );
    }

    #[test]
    fn rm_rules_and_mkdir_keeps_value() {
        let mut s = Store::new();
        let q = Quotas::default();
        let d0 = Caller::dom0();
        write(&mut View::Live(&mut s), &d0, &q, "/a", b"keep".to_vec()).unwrap();
        assert!(
            mkdir(&mut View::Live(&mut s), &d0, &q, "/a")
                .unwrap()
                .is_none()
        );
        assert_eq!(s.get("/a").unwrap().value, b"keep");
        assert!(
            rm(&mut View::Live(&mut s), &d0, &q, "/a/missing")
                .unwrap()
                .is_none()
        );
        assert_eq!(
            rm(&mut View::Live(&mut s), &d0, &q, "/nope/missing").unwrap_err(),
            XsErrno::ENOENT
        );
        assert_eq!(
            rm(&mut View::Live(&mut s), &d0, &q, "/").unwrap_err(),
            XsErrno::EINVAL
        );
    }

    #[test]
    fn directory_part_pages_large_listings() {
        let mut s = Store::new();
        let q = Quotas::default();
        let d0 = Caller::dom0();
        for i in 0..1500 {
            mkdir(
                &mut View::Live(&mut s),
                &d0,
                &q,
                &format!("/big/child-{i:05}"),
            )
            .unwrap();
        }
        assert_eq!(
            directory(&mut View::Live(&mut s), &d0, "/big").unwrap_err(),
            XsErrno::E2BIG
        );
        let mut names = Vec::new();
        let mut off = 0u32;
        loop {
            let r = directory_part(&mut View::Live(&mut s), &d0, "/big", off).unwrap();
            assert!(r.len() <= PAYLOAD_MAX);
            let gen_end = r.iter().position(|b| *b == 0).unwrap() + 1;
            let data = &r[gen_end..];
            let done = data.ends_with(&[0, 0]) || data == [0];
            let body = if done { &data[..data.len() - 1] } else { data };
            names.extend(
                body.split(|b| *b == 0)
                    .filter(|x| !x.is_empty())
                    .map(|x| String::from_utf8(x.to_vec()).unwrap()),
            );
            off += body.len() as u32;
            if done {
                break;
            }
        }
        assert_eq!(names.len(), 1500);
        assert_eq!(names[1499], "child-01499");
        assert_eq!(
            directory_part(&mut View::Live(&mut s), &d0, "/big", 3).unwrap_err(),
            XsErrno::EINVAL
        );
    }
}
