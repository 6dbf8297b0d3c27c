//! Path syntax: validation, canonicalisation of relative paths, ancestry.

use crate::wire::{ABS_PATH_MAX, REL_PATH_MAX, XsErrno};

/// The special watch name fired on INTRODUCE.
pub const INTRODUCE_DOMAIN: &str = "@introduceDomain";
/// The special watch name fired on RELEASE and domain death.
pub const RELEASE_DOMAIN: &str = "@releaseDomain";

/// `/local/domain/<domid>`.
pub fn domain_path(domid: u32) -> String {
    format!("/local/domain/{domid}")
}

fn valid_chars(p: &str) -> bool {
    p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-/_@".contains(&b))
}

/// Whether `p` names a special watch node (`@introduceDomain`, `@releaseDomain[/<domid>]`).
pub fn is_special(p: &str) -> bool {
    p == INTRODUCE_DOMAIN
        || p == RELEASE_DOMAIN
        || p.strip_prefix("@releaseDomain/")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Validates `input` and makes it absolute. Relative paths are relative to the caller's
/// domain path and limited to 2048 bytes; absolute ones to 3072. Special `@` names are
/// accepted only when `allow_special` (watches and permissions on them).
pub fn canonical(domid: u32, input: &str, allow_special: bool) -> Result<String, XsErrno> {
    if input.starts_with('@') {
        return if allow_special && is_special(input) {
            Ok(input.to_string())
        } else {
            Err(XsErrno::EINVAL)
        };
    }
    let abs = if input.starts_with('/') {
        if input.len() > ABS_PATH_MAX {
            return Err(XsErrno::EINVAL);
        }
        input.to_string()
    } else {
        if input.is_empty() || input.len() > REL_PATH_MAX {
            return Err(XsErrno::EINVAL);
        }
        format!("{}/{input}", domain_path(domid))
    };
    if abs.len() > ABS_PATH_MAX || !valid_chars(&abs) || abs.contains("//") || abs.contains('@') {
        return Err(XsErrno::EINVAL);
    }
    if abs.len() > 1 && abs.ends_with('/') {
        return Err(XsErrno::EINVAL);
    }
    Ok(abs)
}

/// Parent of an absolute path other than `/`.
pub fn parent(p: &str) -> Option<&str> {
    if p == "/" {
        return None;
    }
    match p.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&p[..i]),
        None => None,
    }
}

/// Last component.
pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// `base/child`, handling the root.
pub fn join(base: &str, child: &str) -> String {
    if base == "/" {
        format!("/{child}")
    } else {
        format!("{base}/{child}")
    }
}

/// Whether `p` equals `ancestor` or lies below it.
pub fn is_at_or_below(p: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return p.starts_with('/');
    }
    p == ancestor || (p.starts_with(ancestor) && p.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// Number of components (`/` is 0, `/a/b` is 2).
pub fn depth(p: &str) -> usize {
    if p == "/" { 0 } else { p.matches('/').count() }
}

/// The ancestors of `p` from `/` down to its parent.
pub fn ancestors(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut cur = parent(p);
    while let Some(a) = cur {
        out.push(a);
        cur = parent(a);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_and_rejects() {
        assert_eq!(
            canonical(5, "data/x", false).unwrap(),
            "/local/domain/5/data/x"
        );
        assert_eq!(canonical(0, "/", false).unwrap(), "/");
        for bad in [
            "",
            "/a//b",
            "/a/",
            "/local/domain/",
            "/a b",
            "/a\u{e9}",
            "/a@b",
            "@foo",
            "/a\0b",
        ] {
            assert_eq!(canonical(0, bad, false), Err(XsErrno::EINVAL), "{bad:?}");
        }
        assert_eq!(
            canonical(0, "@releaseDomain", true).unwrap(),
            "@releaseDomain"
        );
        assert!(canonical(0, "@releaseDomain", false).is_err());
        assert!(canonical(0, "@releaseDomain/7", true).is_ok());
    }

    #[test]
    fn path_length_limits_xsa323() {
        let abs_ok = format!("/{}", "a".repeat(ABS_PATH_MAX - 1));
        assert!(canonical(0, &abs_ok, false).is_ok());
        let abs_bad = format!("/{}", "a".repeat(ABS_PATH_MAX));
        assert!(canonical(0, &abs_bad, false).is_err());
        assert!(canonical(1, &"a".repeat(REL_PATH_MAX), false).is_ok());
        assert!(canonical(1, &"a".repeat(REL_PATH_MAX + 1), false).is_err());
    }

    #[test]
    fn ancestry() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert!(is_at_or_below("/a/b", "/a"));
        assert!(!is_at_or_below("/ab", "/a"));
        assert!(is_at_or_below("/a", "/"));
        assert_eq!(depth("/a/b"), 2);
        assert_eq!(ancestors("/a/b/c"), vec!["/", "/a", "/a/b"]);
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(basename("/a/b"), "b");
    }
}
