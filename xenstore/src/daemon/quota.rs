//! Quotas: global values with per-domain overrides. They bind unprivileged domains only.

use std::collections::{BTreeMap, HashMap};

/// Quota names and the C xenstored defaults (`tools/xenstored/domain.c`).
pub const DEFAULTS: &[(&str, u32)] = &[
    ("nodes", 1000),
    ("watches", 128),
    ("outstanding", 20),
    ("transactions", 10),
    ("node-size", 2048),
    ("permissions", 5),
    ("transaction-nodes", 1024),
];

/// Current quota values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    global: BTreeMap<String, u32>,
    per_domain: HashMap<u32, BTreeMap<String, u32>>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            global: DEFAULTS.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            per_domain: HashMap::new(),
        }
    }
}

impl Quotas {
    /// The names, blank-separated (GET_QUOTA without arguments).
    pub fn names(&self) -> String {
        self.global.keys().cloned().collect::<Vec<_>>().join(" ")
    }

    /// Value of `name` for `domid` (its override, else the global one); `None` for an
    /// unknown name.
    pub fn get(&self, domid: Option<u32>, name: &str) -> Option<u32> {
        let global = *self.global.get(name)?;
        Some(
            domid
                .and_then(|d| self.per_domain.get(&d)?.get(name).copied())
                .unwrap_or(global),
        )
    }

    /// Sets `name` globally or for `domid`; `false` for an unknown name.
    pub fn set(&mut self, domid: Option<u32>, name: &str, value: u32) -> bool {
        if !self.global.contains_key(name) {
            return false;
        }
        match domid {
            None => {
                self.global.insert(name.to_string(), value);
            }
            Some(d) => {
                self.per_domain
                    .entry(d)
                    .or_default()
                    .insert(name.to_string(), value);
            }
        }
        true
    }

    /// Whether `domid` may hold `count` of `name` (a quota of 0 disables the check).
    pub fn allows(&self, domid: u32, name: &str, count: usize) -> bool {
        match self.get(Some(domid), name) {
            None | Some(0) => true,
            Some(limit) => count <= limit as usize,
        }
    }

    /// Forgets a released domain's overrides (XSA-483: nothing survives the domain).
    pub fn forget(&mut self, domid: u32) {
        self.per_domain.remove(&domid);
    }

    /// `name=value` pairs of the global quotas.
    pub fn global(&self) -> &BTreeMap<String, u32> {
        &self.global
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_zero() {
        let mut q = Quotas::default();
        assert_eq!(q.get(None, "nodes"), Some(1000));
        assert_eq!(q.get(Some(3), "watches"), Some(128));
        assert_eq!(q.get(None, "outstanding"), Some(20));
        assert_eq!(q.get(None, "transactions"), Some(10));
        assert_eq!(q.get(None, "node-size"), Some(2048));
        assert_eq!(q.get(None, "permissions"), Some(5));
        assert!(q.set(Some(3), "nodes", 2));
        assert!(q.allows(3, "nodes", 2) && !q.allows(3, "nodes", 3));
        assert!(q.allows(4, "nodes", 1000));
        assert!(q.set(None, "nodes", 0));
        assert!(q.allows(4, "nodes", usize::MAX));
        assert!(!q.set(None, "bogus", 1));
        assert_eq!(q.get(None, "bogus"), None);
        q.forget(3);
        assert_eq!(q.get(Some(3), "nodes"), Some(0));
        assert!(q.names().contains("node-size"));
    }
}
