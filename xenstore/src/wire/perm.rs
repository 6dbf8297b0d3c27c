//! Node permission entries: `<letter><domid>` with letters `n`, `r`, `w`, `b`.

use thiserror::Error;

/// What one permission entry grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermKind {
    /// `n`: no access.
    None,
    /// `r`: read.
    Read,
    /// `w`: write.
    Write,
    /// `b`: read and write.
    Both,
}

impl PermKind {
    /// The wire letter.
    pub fn letter(self) -> char {
        match self {
            PermKind::None => 'n',
            PermKind::Read => 'r',
            PermKind::Write => 'w',
            PermKind::Both => 'b',
        }
    }
    /// Whether this grants read access.
    pub fn can_read(self) -> bool {
        matches!(self, PermKind::Read | PermKind::Both)
    }
    /// Whether this grants write access.
    pub fn can_write(self) -> bool {
        matches!(self, PermKind::Write | PermKind::Both)
    }
}

/// One entry: a domain and what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perm {
    /// Access granted.
    pub kind: PermKind,
    /// Domain the entry is about.
    pub domid: u32,
}

/// A permission string that is not `<n|r|w|b><decimal domid>`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid permission {0:?}: expected n|r|w|b followed by a domain id, e.g. r0 or b5")]
pub struct PermParseError(pub String);

impl std::str::FromStr for Perm {
    type Err = PermParseError;
    fn from_str(s: &str) -> Result<Perm, PermParseError> {
        let err = || PermParseError(s.to_string());
        let mut chars = s.chars();
        let kind = match chars.next() {
            Some('n') => PermKind::None,
            Some('r') => PermKind::Read,
            Some('w') => PermKind::Write,
            Some('b') => PermKind::Both,
            _ => return Err(err()),
        };
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let domid: u32 = digits.parse().map_err(|_| err())?;
        if domid > 0xffff {
            return Err(err());
        }
        Ok(Perm { kind, domid })
    }
}

impl std::fmt::Display for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.kind.letter(), self.domid)
    }
}

/// A node's permission list. The first entry names the owner and its letter is the
/// default for every domain without an entry of its own; it is never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Perms(Vec<Perm>);

impl Perms {
    /// Builds a list; `None` when empty.
    pub fn new(list: Vec<Perm>) -> Option<Perms> {
        if list.is_empty() {
            None
        } else {
            Some(Perms(list))
        }
    }
    /// Owner `domid` with default `kind` for everyone else.
    pub fn owner(domid: u32, kind: PermKind) -> Perms {
        Perms(vec![Perm { kind, domid }])
    }
    /// The entries, owner first.
    pub fn entries(&self) -> &[Perm] {
        &self.0
    }
    /// The owning domain.
    pub fn owner_id(&self) -> u32 {
        self.0[0].domid
    }
    /// Replaces the owner, keeping the default letter and the ACL.
    pub fn set_owner(&mut self, domid: u32) {
        self.0[0].domid = domid;
    }
    /// Parses NUL-separated wire strings.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Perms, PermParseError> {
        let list = items
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<Perm>, _>>()?;
        Perms::new(list).ok_or_else(|| PermParseError(String::new()))
    }
    /// The entries as strings, e.g. `["b0", "r5"]`.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Perm::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let p = Perms::parse(["r0", "b5", "n65535"]).unwrap();
        assert_eq!(p.owner_id(), 0);
        assert_eq!(p.to_strings(), ["r0", "b5", "n65535"]);
        for bad in ["", "x1", "r", "r-1", "r65536", "r1a", "r123456"] {
            assert!(bad.parse::<Perm>().is_err(), "{bad}");
        }
        assert!(Perms::parse(Vec::<&str>::new()).is_err());
    }
}
