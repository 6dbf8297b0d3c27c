//! Watches: which change fires which watch, and with what event path.

use super::path;
use crate::wire::Perms;

/// A change that may fire watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A node was written or created (or its permissions changed).
    Write {
        /// Absolute path.
        path: String,
    },
    /// A subtree was removed.
    Remove {
        /// Root of the removed subtree.
        path: String,
        /// Every removed node with the permissions it had, for event filtering.
        removed: Vec<(String, Perms)>,
    },
    /// `@introduceDomain` or `@releaseDomain` for `domid`.
    Special {
        /// The special name.
        name: &'static str,
        /// Domain concerned.
        domid: u32,
    },
}

/// One registered watch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Watch {
    /// Canonical absolute path, or a special `@` name.
    pub path: String,
    /// Client token, echoed in events.
    pub token: String,
    /// Depth limit: 0 = the node only, 1 = direct children, ...
    pub depth: Option<u32>,
    /// Prefix to strip from event paths (the watch was registered with a relative path).
    pub strip: Option<String>,
}

impl Watch {
    fn within_depth(&self, event_path: &str) -> bool {
        match self.depth {
            None => true,
            Some(d) => {
                path::depth(event_path).saturating_sub(path::depth(&self.path)) <= d as usize
            }
        }
    }

    /// The absolute event path if `change` fires this watch, plus the node whose read
    /// permission decides whether the event may be delivered (`None` = special node).
    pub fn fires(&self, change: &Change) -> Option<(String, Option<String>)> {
        match change {
            Change::Write { path: p } => (path::is_at_or_below(p, &self.path)
                && self.within_depth(p))
            .then(|| (p.clone(), Some(p.clone()))),
            Change::Remove { path: p, .. } => {
                if path::is_at_or_below(p, &self.path) {
                    self.within_depth(p).then(|| (p.clone(), Some(p.clone())))
                } else if path::is_at_or_below(&self.path, p) {
                    // An ancestor of the watched node went away: the event names the watch.
                    Some((self.path.clone(), Some(self.path.clone())))
                } else {
                    None
                }
            }
            Change::Special { name, domid } => {
                if self.path == *name {
                    if self.depth == Some(1) {
                        Some((format!("{name}/{domid}"), None))
                    } else {
                        Some((name.to_string(), None))
                    }
                } else if self.path == format!("{name}/{domid}") {
                    Some((self.path.clone(), None))
                } else {
                    None
                }
            }
        }
    }

    /// The path to put in the event sent to the client.
    pub fn client_path(&self, event_path: &str) -> String {
        match &self.strip {
            Some(prefix) => event_path
                .strip_prefix(prefix.as_str())
                .map(|s| s.trim_start_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| event_path.to_string()),
            None => event_path.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str, depth: Option<u32>) -> Watch {
        Watch {
            path: p.into(),
            token: "t".into(),
            depth,
            strip: None,
        }
    }

    #[test]
    fn write_matches_path_and_descendants() {
        let c = Change::Write {
            path: "/a/b/c".into(),
        };
        assert_eq!(w("/a", None).fires(&c).unwrap().0, "/a/b/c");
        assert!(w("/a/b/c", None).fires(&c).is_some());
        assert!(w("/a/bb", None).fires(&c).is_none());
        assert!(w("/a/b/c/d", None).fires(&c).is_none());
        assert!(w("/a", Some(1)).fires(&c).is_none());
        assert!(w("/a", Some(2)).fires(&c).is_some());
    }

    #[test]
    fn removal_of_ancestor_names_the_watch() {
        let c = Change::Remove {
            path: "/a".into(),
            removed: vec![],
        };
        assert_eq!(w("/a/b/c", None).fires(&c).unwrap().0, "/a/b/c");
        assert_eq!(w("/", None).fires(&c).unwrap().0, "/a");
    }

    #[test]
    fn special_events() {
        let c = Change::Special {
            name: path::RELEASE_DOMAIN,
            domid: 4,
        };
        assert_eq!(
            w("@releaseDomain", None).fires(&c).unwrap().0,
            "@releaseDomain"
        );
        assert_eq!(
            w("@releaseDomain", Some(1)).fires(&c).unwrap().0,
            "@releaseDomain/4"
        );
        assert!(w("@releaseDomain/4", None).fires(&c).is_some());
        assert!(w("@releaseDomain/5", None).fires(&c).is_none());
        assert!(w("@introduceDomain", None).fires(&c).is_none());
        assert!(w("/", None).fires(&c).is_none());
    }

    #[test]
    fn relative_watch_gets_relative_events() {
        let mut rw = w("/local/domain/3/data", None);
        rw.strip = Some("/local/domain/3".into());
        assert_eq!(rw.client_path("/local/domain/3/data/x"), "data/x");
    }
}
