//! The committed tree.
//!
//! Nodes live in a map keyed by absolute path, so no operation recurses over tree depth
//! (XSA-418): subtree walks use an explicit stack. Every change stamps the node with a
//! fresh generation from a global counter; adding or removing a child changes the
//! parent's generation too, because the parent's child list is part of what a
//! transaction may have read.

use std::collections::HashMap;

use super::path;
use super::perms::root_perms;
use crate::wire::Perms;

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Raw value (may be empty).
    pub value: Vec<u8>,
    /// Permissions, owner first.
    pub perms: Perms,
    /// Child names in creation order.
    pub children: Vec<String>,
    /// Generation of the last change to this node.
    pub generation: u64,
    /// Domain whose request made that change (conflict accounting, [`super::conflict`]).
    pub writer: u32,
}

/// The tree plus per-owner node counts for the `nodes` quota.
#[derive(Debug, Clone)]
pub struct Store {
    nodes: HashMap<String, Node>,
    next_gen: u64,
    owned: HashMap<u32, usize>,
    /// Domain of the request being applied: stamped on every node it changes.
    writer: u32,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A tree holding only `/`.
    pub fn new() -> Store {
        let mut nodes = HashMap::new();
        nodes.insert(
            "/".to_string(),
            Node {
                value: Vec::new(),
                perms: root_perms(),
                children: Vec::new(),
                generation: 0,
                writer: 0,
            },
        );
        Store {
            nodes,
            next_gen: 1,
            owned: HashMap::new(),
            writer: 0,
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Sets the domain the following changes are made for.
    pub fn set_writer(&mut self, domid: u32) {
        self.writer = domid;
    }

    /// The domain that last changed `p` or, if `p` is gone, its nearest existing ancestor
    /// (whose child list the removal changed).
    pub fn last_writer(&self, p: &str) -> Option<u32> {
        if let Some(n) = self.nodes.get(p) {
            return Some(n.writer);
        }
        path::ancestors(p)
            .iter()
            .rev()
            .find_map(|a| self.nodes.get(*a))
            .map(|n| n.writer)
    }

    /// The node at `p`.
    pub fn get(&self, p: &str) -> Option<&Node> {
        self.nodes.get(p)
    }

    /// Generation of `p`, `None` if absent.
    pub fn generation(&self, p: &str) -> Option<u64> {
        self.nodes.get(p).map(|n| n.generation)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether only the root exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// Nodes owned by `domid` (the root is not counted).
    pub fn owned_by(&self, domid: u32) -> usize {
        self.owned.get(&domid).copied().unwrap_or(0)
    }

    fn account(&mut self, owner: u32, delta: isize) {
        let c = self.owned.entry(owner).or_insert(0);
        *c = c.saturating_add_signed(delta);
        if *c == 0 {
            self.owned.remove(&owner);
        }
    }

    /// Creates `p` (its parent must exist) or updates it. `value`/`perms` of `None` keep
    /// the current ones; a new node needs both (missing ones default to empty/parent's).
    /// Returns `false` when the parent is missing.
    pub fn upsert(&mut self, p: &str, value: Option<Vec<u8>>, perms: Option<Perms>) -> bool {
        let generation = self.bump();
        if let Some(node) = self.nodes.get_mut(p) {
            let old_owner = node.perms.owner_id();
            if let Some(v) = value {
                node.value = v;
            }
            if let Some(pr) = perms {
                node.perms = pr;
            }
            node.generation = generation;
            node.writer = self.writer;
            let new_owner = node.perms.owner_id();
            if old_owner != new_owner && p != "/" {
                self.account(old_owner, -1);
                self.account(new_owner, 1);
            }
            return true;
        }
        let Some(parent) = path::parent(p) else {
            return false;
        };
        let Some(pnode) = self.nodes.get_mut(parent) else {
            return false;
        };
        pnode.children.push(path::basename(p).to_string());
        pnode.generation = generation;
        pnode.writer = self.writer;
        let perms = perms.unwrap_or_else(|| pnode.perms.clone());
        self.account(perms.owner_id(), 1);
        self.nodes.insert(
            p.to_string(),
            Node {
                value: value.unwrap_or_default(),
                perms,
                children: Vec::new(),
                generation,
                writer: self.writer,
            },
        );
        true
    }

    /// Paths of `p` and everything below it, parents before children.
    pub fn subtree(&self, p: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![p.to_string()];
        while let Some(cur) = stack.pop() {
            if let Some(n) = self.nodes.get(&cur) {
                for c in n.children.iter().rev() {
                    stack.push(path::join(&cur, c));
                }
                out.push(cur);
            }
        }
        out
    }

    /// Removes `p` and its subtree; returns the removed paths with their permissions.
    /// Removing `/` removes its children only.
    pub fn remove(&mut self, p: &str) -> Vec<(String, Perms)> {
        let paths = self.subtree(p);
        let mut removed = Vec::with_capacity(paths.len());
        for q in paths {
            if q == "/" {
                continue;
            }
            if let Some(n) = self.nodes.remove(&q) {
                self.account(n.perms.owner_id(), -1);
                removed.push((q, n.perms));
            }
        }
        let generation = self.bump();
        if p == "/" {
            if let Some(root) = self.nodes.get_mut("/") {
                root.children.clear();
                root.generation = generation;
                root.writer = self.writer;
            }
        } else if let Some(parent) = path::parent(p).and_then(|pp| self.nodes.get_mut(pp)) {
            let name = path::basename(p);
            parent.children.retain(|c| c != name);
            parent.generation = generation;
            parent.writer = self.writer;
        }
        removed
    }

    /// Every node, parents before children, children in creation order.
    pub fn walk(&self) -> Vec<(&str, &Node)> {
        self.subtree("/")
            .into_iter()
            .filter_map(|p| self.nodes.get_key_value(&p).map(|(k, v)| (k.as_str(), v)))
            .collect()
    }

    /// Paths of nodes owned by `domid`, shallowest first.
    pub fn owned_paths(&self, domid: u32) -> Vec<String> {
        let mut v: Vec<String> = self
            .nodes
            .iter()
            .filter(|(p, n)| p.as_str() != "/" && n.perms.owner_id() == domid)
            .map(|(p, _)| p.clone())
            .collect();
        v.sort_by_key(|p| path::depth(p));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PermKind;

    #[test]
    fn create_update_remove_keep_tree_consistent() {
        let mut s = Store::new();
        assert!(
            !s.upsert("/a/b", Some(b"x".to_vec()), None),
            "parent must exist"
        );
        assert!(s.upsert("/a", None, Some(Perms::owner(5, PermKind::None))));
        let g_a = s.generation("/a").unwrap();
        assert!(s.upsert("/a/b", Some(b"x".to_vec()), None));
        assert!(
            s.generation("/a").unwrap() > g_a,
            "adding a child changes the parent"
        );
        assert_eq!(
            s.get("/a/b").unwrap().perms.owner_id(),
            5,
            "inherits parent perms"
        );
        assert_eq!(s.owned_by(5), 2);
        s.upsert("/a/c", None, None);
        assert_eq!(s.get("/a").unwrap().children, ["b", "c"]);
        let removed = s.remove("/a");
        assert_eq!(removed.len(), 3);
        assert!(s.get("/a/b").is_none());
        assert!(s.get("/").unwrap().children.is_empty());
        assert_eq!(s.owned_by(5), 0);
    }

    #[test]
    fn deep_chain_removal_does_not_recurse_xsa418() {
        let mut s = Store::new();
        let mut p = String::new();
        for _ in 0..10_000 {
            p.push_str("/a");
            assert!(s.upsert(&p, None, None));
        }
        assert_eq!(s.len(), 10_001);
        assert_eq!(s.remove("/a").len(), 10_000);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn ownership_change_moves_accounting() {
        let mut s = Store::new();
        s.upsert("/x", None, Some(Perms::owner(3, PermKind::Read)));
        s.upsert("/x", None, Some(Perms::owner(4, PermKind::Read)));
        assert_eq!((s.owned_by(3), s.owned_by(4)), (0, 1));
        assert_eq!(s.owned_paths(4), ["/x"]);
    }
}
