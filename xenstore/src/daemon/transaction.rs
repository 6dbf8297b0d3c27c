//! Transactions with per-node generation counts, and the [`View`] every operation runs on.
//!
//! A transaction keeps an overlay of the nodes it changed and the generation of every
//! node it *read* (first access was a read). Commit fails with `EAGAIN` only if such a
//! node changed (or appeared/vanished) since; nodes only written are never checked, so
//! blind writes never conflict. Commit re-applies the overlay as operations on the live
//! tree (child lists are maintained by the live tree, never copied back), so a node
//! created concurrently under a parent the transaction merely linked into is kept, and a
//! transaction that created children under a parent removed meanwhile fails instead of
//! leaving orphans (XSA-415).

use std::collections::HashMap;

use super::path;
use super::store::{Node, Store};
use super::watch::Change;
use crate::wire::{Perms, XsErrno};

/// A pending node in a transaction's overlay.
#[derive(Debug, Clone)]
struct Pending {
    /// New state; `None` = removed.
    node: Option<Node>,
    /// Value or permissions were set by the transaction (not merely its child list).
    dirty: bool,
    /// Order of first change, so siblings created in one transaction keep their order.
    seq: u64,
}

/// An open transaction.
#[derive(Debug, Default, Clone)]
pub struct Transaction {
    overlay: HashMap<String, Pending>,
    reads: HashMap<String, Option<u64>>,
    /// Nodes as first read: later reads in the transaction see the same state even if
    /// the node changes outside meanwhile (the commit then fails).
    seen: HashMap<String, Option<Node>>,
    events: Vec<Change>,
    owner_delta: HashMap<u32, isize>,
    deletes: bool,
    seq: u64,
    /// Opened before a live update: its reads were not carried, so it can only fail.
    aborted: bool,
}

impl Transaction {
    /// Records `p`'s new state, keeping its original change order.
    fn put(&mut self, p: String, node: Option<Node>, dirty: bool) {
        self.seq += 1;
        let seq = self.overlay.get(&p).map_or(self.seq, |x| x.seq);
        self.overlay.insert(p, Pending { node, dirty, seq });
    }

    /// A transaction that was open across a live update: operations inside it still
    /// work, but its commit fails with `EAGAIN` (the protocol's "retry the whole
    /// transaction"), since what it read before the update was not carried.
    pub fn aborted() -> Transaction {
        Transaction {
            aborted: true,
            ..Transaction::default()
        }
    }

    /// Net nodes this transaction adds per owner (owners that gain nodes only).
    pub fn node_growth(&self) -> Vec<(u32, usize)> {
        self.owner_delta
            .iter()
            .filter(|(_, d)| **d > 0)
            .map(|(o, d)| (*o, *d as usize))
            .collect()
    }

    /// Number of nodes read or changed (the `transaction-nodes` quota).
    pub fn touched(&self) -> usize {
        self.overlay.len() + self.reads.len()
    }
}

/// Where an operation reads and writes: the live tree, or a transaction over it.
pub enum View<'a> {
    /// Outside a transaction: changes apply at once.
    Live(&'a mut Store),
    /// Inside a transaction.
    Txn(&'a Store, &'a mut Transaction),
}

impl View<'_> {
    /// The node at `p` as this view sees it. `record` marks the access as a read the
    /// transaction depends on.
    pub fn get(&mut self, p: &str, record: bool) -> Option<&Node> {
        match self {
            View::Live(s) => s.get(p),
            View::Txn(store, txn) => {
                if txn.overlay.contains_key(p) {
                    return txn.overlay.get(p).and_then(|x| x.node.as_ref());
                }
                if txn.deletes
                    && path::ancestors(p)
                        .iter()
                        .any(|a| matches!(txn.overlay.get(*a), Some(Pending { node: None, .. })))
                {
                    return None;
                }
                if txn.seen.contains_key(p) {
                    return txn.seen.get(p).and_then(Option::as_ref);
                }
                if !record {
                    return store.get(p);
                }
                txn.reads.insert(p.to_string(), store.generation(p));
                txn.seen.insert(p.to_string(), store.get(p).cloned());
                txn.seen.get(p).and_then(Option::as_ref)
            }
        }
    }

    /// Nodes owned by `domid` as this view sees it.
    pub fn owned_by(&self, domid: u32) -> usize {
        match self {
            View::Live(s) => s.owned_by(domid),
            View::Txn(s, t) => s
                .owned_by(domid)
                .saturating_add_signed(t.owner_delta.get(&domid).copied().unwrap_or(0)),
        }
    }

    /// Nodes touched by the transaction (0 outside one).
    pub fn touched(&self) -> usize {
        match self {
            View::Live(_) => 0,
            View::Txn(_, t) => t.touched(),
        }
    }

    /// Creates (parent must exist in the view) or updates `p`. `None` keeps the current
    /// value/permissions (a new node: empty value, parent's permissions).
    pub fn set(&mut self, p: &str, value: Option<Vec<u8>>, perms: Option<Perms>) -> bool {
        if let View::Live(s) = self {
            return s.upsert(p, value, perms);
        }
        let existing = self.get(p, false).cloned();
        let parent_node = match existing {
            Some(_) => None,
            None => match path::parent(p).and_then(|pp| self.get(pp, false).cloned()) {
                Some(n) => Some(n),
                None => return false,
            },
        };
        let View::Txn(_, txn) = self else {
            return false;
        };
        let node = match (existing, parent_node) {
            (Some(mut n), _) => {
                if let Some(v) = value {
                    n.value = v;
                }
                if let Some(pr) = perms {
                    if pr.owner_id() != n.perms.owner_id() {
                        *txn.owner_delta.entry(n.perms.owner_id()).or_default() -= 1;
                        *txn.owner_delta.entry(pr.owner_id()).or_default() += 1;
                    }
                    n.perms = pr;
                }
                n
            }
            (None, Some(mut pn)) => {
                let parent = path::parent(p).unwrap_or("/").to_string();
                pn.children.push(path::basename(p).to_string());
                let perms = perms.unwrap_or_else(|| pn.perms.clone());
                let dirty = txn.overlay.get(&parent).is_some_and(|x| x.dirty);
                txn.put(parent, Some(pn), dirty);
                *txn.owner_delta.entry(perms.owner_id()).or_default() += 1;
                Node {
                    value: value.unwrap_or_default(),
                    perms,
                    children: Vec::new(),
                    generation: 0,
                    writer: 0,
                }
            }
            (None, None) => return false,
        };
        txn.put(p.to_string(), Some(node), true);
        true
    }

    /// Removes `p` and its subtree; returns removed paths with their permissions.
    pub fn remove(&mut self, p: &str) -> Vec<(String, Perms)> {
        if let View::Live(s) = self {
            return s.remove(p);
        }
        // Walk the subtree as the transaction sees it, recording each node as read so a
        // child added concurrently makes the commit fail instead of surviving orphaned.
        let mut removed = Vec::new();
        let mut stack = vec![p.to_string()];
        while let Some(cur) = stack.pop() {
            let Some(n) = self.get(&cur, true) else {
                continue;
            };
            for c in n.children.iter().rev() {
                stack.push(path::join(&cur, c));
            }
            removed.push((cur.clone(), n.perms.clone()));
        }
        let parent = path::parent(p)
            .and_then(|pp| self.get(pp, false).cloned().map(|n| (pp.to_string(), n)));
        let View::Txn(_, txn) = self else {
            return Vec::new();
        };
        for (q, perms) in &removed {
            *txn.owner_delta.entry(perms.owner_id()).or_default() -= 1;
            txn.put(q.clone(), None, true);
        }
        if let Some((pp, mut pn)) = parent {
            let name = path::basename(p);
            pn.children.retain(|c| c != name);
            let dirty = txn.overlay.get(&pp).is_some_and(|x| x.dirty);
            txn.put(pp, Some(pn), dirty);
        }
        txn.deletes = true;
        removed
    }

    /// Records a change: returned for immediate firing outside a transaction, kept for
    /// commit inside one (watch events of a transaction fire only when it commits).
    pub fn changed(&mut self, change: Change) -> Option<Change> {
        match self {
            View::Live(_) => Some(change),
            View::Txn(_, t) => {
                t.events.push(change);
                None
            }
        }
    }
}

/// A node `txn` read that has changed since, if any: the node whose writer made the
/// commit fail (conflict accounting).
pub fn first_conflict<'t>(store: &Store, txn: &'t Transaction) -> Option<&'t str> {
    if txn.aborted {
        // Nobody's write caused it: no domain is blamed.
        return None;
    }
    txn.reads
        .iter()
        .find(|(p, generation)| store.generation(p) != **generation)
        .map(|(p, _)| p.as_str())
}

/// Commits `txn` into `store`: `EAGAIN` on a conflict (nothing applied), otherwise the
/// changes to fire watches for.
pub fn commit(store: &mut Store, txn: Transaction) -> Result<Vec<Change>, XsErrno> {
    if txn.aborted {
        return Err(XsErrno::EAGAIN);
    }
    for (p, generation) in &txn.reads {
        if store.generation(p) != *generation {
            return Err(XsErrno::EAGAIN);
        }
    }
    for (p, pend) in &txn.overlay {
        if pend.node.is_none() || store.get(p).is_some() {
            continue;
        }
        // A node the transaction only linked children into vanished meanwhile.
        if !pend.dirty {
            return Err(XsErrno::EAGAIN);
        }
        let parent = path::parent(p).unwrap_or("/");
        let parent_ok = match txn.overlay.get(parent) {
            Some(pp) => pp.node.is_some(),
            None => store.get(parent).is_some(),
        };
        if !parent_ok {
            return Err(XsErrno::EAGAIN);
        }
    }
    let mut entries: Vec<(String, Pending)> = txn.overlay.into_iter().collect();
    entries.sort_by_key(|(p, x)| (path::depth(p), x.seq));
    for (p, pend) in &entries {
        if pend.node.is_none() && store.get(p).is_some() {
            store.remove(p);
        }
    }
    for (p, pend) in entries {
        if let (Some(n), true) = (pend.node, pend.dirty) {
            store.upsert(&p, Some(n.value), Some(n.perms));
        }
    }
    Ok(txn.events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(store: &Store, t: &mut Transaction, p: &str) -> Option<Vec<u8>> {
        View::Txn(store, t).get(p, true).map(|n| n.value.clone())
    }
    fn write(store: &Store, t: &mut Transaction, p: &str, v: &str) {
        assert!(View::Txn(store, t).set(p, Some(v.as_bytes().to_vec()), None));
    }

    fn store_with(nodes: &[(&str, &str)]) -> Store {
        let mut s = Store::new();
        for (p, v) in nodes {
            assert!(s.upsert(p, Some(v.as_bytes().to_vec()), None));
        }
        s
    }

    // The four cases of the header comment of xenstored's transaction.c.
    #[test]
    fn read_a_write_b_commits() {
        let mut s = store_with(&[("/a", "1"), ("/b", "2")]);
        let mut t = Transaction::default();
        assert_eq!(read(&s, &mut t, "/a").unwrap(), b"1");
        write(&s, &mut t, "/b", "3");
        assert_eq!(s.get("/b").unwrap().value, b"2", "isolated until commit");
        commit(&mut s, t).unwrap();
        assert_eq!(s.get("/b").unwrap().value, b"3");
    }

    #[test]
    fn concurrent_write_of_read_node_conflicts() {
        let mut s = store_with(&[("/a", "1"), ("/b", "2")]);
        let mut t = Transaction::default();
        read(&s, &mut t, "/a");
        write(&s, &mut t, "/b", "3");
        s.upsert("/a", Some(b"9".to_vec()), None);
        assert_eq!(commit(&mut s, t).unwrap_err(), XsErrno::EAGAIN);
        assert_eq!(s.get("/b").unwrap().value, b"2", "nothing applied");
    }

    #[test]
    fn concurrent_delete_of_read_node_conflicts() {
        let mut s = store_with(&[("/a", "1"), ("/b", "2")]);
        let mut t = Transaction::default();
        read(&s, &mut t, "/a");
        write(&s, &mut t, "/b", "3");
        s.remove("/a");
        assert_eq!(commit(&mut s, t).unwrap_err(), XsErrno::EAGAIN);
    }

    #[test]
    fn crossed_read_write_first_commit_wins() {
        let mut s = store_with(&[("/a", "1"), ("/b", "2")]);
        let (mut t1, mut t2) = (Transaction::default(), Transaction::default());
        read(&s, &mut t1, "/a");
        write(&s, &mut t1, "/b", "x");
        read(&s, &mut t2, "/b");
        write(&s, &mut t2, "/a", "y");
        commit(&mut s, t1).unwrap();
        assert_eq!(commit(&mut s, t2).unwrap_err(), XsErrno::EAGAIN);
    }

    #[test]
    fn reads_repeat_inside_a_transaction() {
        // test-xenstore's "ta err": a node changed outside still reads as first seen.
        let mut s = store_with(&[("/a", "a")]);
        let mut t = Transaction::default();
        assert_eq!(read(&s, &mut t, "/a").unwrap(), b"a");
        s.upsert("/a", Some(b"b".to_vec()), None);
        assert_eq!(read(&s, &mut t, "/a").unwrap(), b"a");
        write(&s, &mut t, "/a", "c");
        assert_eq!(read(&s, &mut t, "/a").unwrap(), b"c");
        assert_eq!(commit(&mut s, t).unwrap_err(), XsErrno::EAGAIN);
        assert_eq!(s.get("/a").unwrap().value, b"b");
    }

    #[test]
    fn blind_writes_never_conflict() {
        let mut s = store_with(&[("/a", "1")]);
        let mut t = Transaction::default();
        write(&s, &mut t, "/a", "t");
        s.upsert("/a", Some(b"outside".to_vec()), None);
        commit(&mut s, t).unwrap();
        assert_eq!(s.get("/a").unwrap().value, b"t");
    }

    #[test]
    fn read_modify_write_loses_no_update() {
        let mut s = store_with(&[("/n", "0")]);
        let (mut t1, mut t2) = (Transaction::default(), Transaction::default());
        for t in [&mut t1, &mut t2] {
            let v: u32 = String::from_utf8(read(&s, t, "/n").unwrap())
                .unwrap()
                .parse()
                .unwrap();
            write(&s, t, "/n", &(v + 1).to_string());
        }
        commit(&mut s, t1).unwrap();
        assert_eq!(commit(&mut s, t2).unwrap_err(), XsErrno::EAGAIN);
        assert_eq!(s.get("/n").unwrap().value, b"1");
    }

    #[test]
    fn sibling_created_outside_survives_commit() {
        let mut s = store_with(&[("/d", "")]);
        let mut t = Transaction::default();
        write(&s, &mut t, "/d/mine", "1");
        s.upsert("/d/theirs", Some(b"2".to_vec()), None);
        for i in 0..20 {
            write(&s, &mut t, &format!("/d/m{i}"), "1");
        }
        commit(&mut s, t).unwrap();
        let mut want = vec!["theirs".to_string(), "mine".to_string()];
        want.extend((0..20).map(|i| format!("m{i}")));
        assert_eq!(s.get("/d").unwrap().children, want, "creation order kept");
    }

    #[test]
    fn create_under_parent_removed_outside_fails_xsa415() {
        let mut s = store_with(&[("/a", "")]);
        let mut t = Transaction::default();
        write(&s, &mut t, "/a/b", "1");
        s.remove("/a");
        assert_eq!(commit(&mut s, t).unwrap_err(), XsErrno::EAGAIN);
        assert!(s.get("/a/b").is_none() && s.get("/a").is_none());
    }

    #[test]
    fn remove_and_recreate_inside_transaction_xsa421() {
        let mut s = store_with(&[("/a", "1"), ("/a/old", "x")]);
        let mut t = Transaction::default();
        let removed = View::Txn(&s, &mut t).remove("/a");
        assert_eq!(removed.len(), 2);
        assert!(read(&s, &mut t, "/a/old").is_none());
        write(&s, &mut t, "/a", "");
        write(&s, &mut t, "/a/new", "2");
        assert_eq!(View::Txn(&s, &mut t).owned_by(0), s.owned_by(0));
        commit(&mut s, t).unwrap();
        assert!(s.get("/a/old").is_none());
        assert_eq!(s.get("/a/new").unwrap().value, b"2");
        assert_eq!(s.get("/a").unwrap().children, ["new"]);
        assert_eq!(s.owned_by(0), 2, "accounting exact after create+delete");
    }

    #[test]
    fn concurrent_child_under_removed_subtree_conflicts() {
        let mut s = store_with(&[("/a", "")]);
        let mut t = Transaction::default();
        View::Txn(&s, &mut t).remove("/a");
        s.upsert("/a/late", None, None);
        assert_eq!(commit(&mut s, t).unwrap_err(), XsErrno::EAGAIN);
        assert!(s.get("/a/late").is_some());
    }
}
