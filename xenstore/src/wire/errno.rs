//! Error names carried by `ERROR` replies.

/// The errors of `xs_wire.h`'s `xsd_errors` table, in its order. Servers send the name
/// (`"ENOENT\0"`), never the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum XsErrno {
    /// Invalid argument.
    EINVAL,
    /// Permission denied.
    EACCES,
    /// Already exists.
    EEXIST,
    /// Is a directory.
    EISDIR,
    /// No such node.
    ENOENT,
    /// Out of memory.
    ENOMEM,
    /// Quota exceeded.
    ENOSPC,
    /// I/O error.
    EIO,
    /// Directory not empty.
    ENOTEMPTY,
    /// Unsupported request type.
    ENOSYS,
    /// Read-only.
    EROFS,
    /// Busy.
    EBUSY,
    /// Transaction conflict: retry.
    EAGAIN,
    /// Already connected.
    EISCONN,
    /// Argument or reply too big.
    E2BIG,
    /// Operation not permitted.
    EPERM,
}

const ALL: [XsErrno; 16] = [
    XsErrno::EINVAL,
    XsErrno::EACCES,
    XsErrno::EEXIST,
    XsErrno::EISDIR,
    XsErrno::ENOENT,
    XsErrno::ENOMEM,
    XsErrno::ENOSPC,
    XsErrno::EIO,
    XsErrno::ENOTEMPTY,
    XsErrno::ENOSYS,
    XsErrno::EROFS,
    XsErrno::EBUSY,
    XsErrno::EAGAIN,
    XsErrno::EISCONN,
    XsErrno::E2BIG,
    XsErrno::EPERM,
];

impl XsErrno {
    /// The name sent on the wire, e.g. `"ENOENT"`.
    pub fn name(self) -> &'static str {
        match self {
            XsErrno::EINVAL => "EINVAL",
            XsErrno::EACCES => "EACCES",
            XsErrno::EEXIST => "EEXIST",
            XsErrno::EISDIR => "EISDIR",
            XsErrno::ENOENT => "ENOENT",
            XsErrno::ENOMEM => "ENOMEM",
            XsErrno::ENOSPC => "ENOSPC",
            XsErrno::EIO => "EIO",
            XsErrno::ENOTEMPTY => "ENOTEMPTY",
            XsErrno::ENOSYS => "ENOSYS",
            XsErrno::EROFS => "EROFS",
            XsErrno::EBUSY => "EBUSY",
            XsErrno::EAGAIN => "EAGAIN",
            XsErrno::EISCONN => "EISCONN",
            XsErrno::E2BIG => "E2BIG",
            XsErrno::EPERM => "EPERM",
        }
    }

    /// Parses a name; unknown names map to `EINVAL` as libxenstore does.
    pub fn from_name(name: &str) -> XsErrno {
        ALL.into_iter()
            .find(|e| e.name() == name)
            .unwrap_or(XsErrno::EINVAL)
    }

    /// The Linux errno number, for callers that need one.
    pub fn errno(self) -> i32 {
        match self {
            XsErrno::EINVAL => libc::EINVAL,
            XsErrno::EACCES => libc::EACCES,
            XsErrno::EEXIST => libc::EEXIST,
            XsErrno::EISDIR => libc::EISDIR,
            XsErrno::ENOENT => libc::ENOENT,
            XsErrno::ENOMEM => libc::ENOMEM,
            XsErrno::ENOSPC => libc::ENOSPC,
            XsErrno::EIO => libc::EIO,
            XsErrno::ENOTEMPTY => libc::ENOTEMPTY,
            XsErrno::ENOSYS => libc::ENOSYS,
            XsErrno::EROFS => libc::EROFS,
            XsErrno::EBUSY => libc::EBUSY,
            XsErrno::EAGAIN => libc::EAGAIN,
            XsErrno::EISCONN => libc::EISCONN,
            XsErrno::E2BIG => libc::E2BIG,
            XsErrno::EPERM => libc::EPERM,
        }
    }
}

impl std::fmt::Display for XsErrno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in ALL {
            assert_eq!(XsErrno::from_name(e.name()), e);
        }
        assert_eq!(XsErrno::from_name("EWHATEVER"), XsErrno::EINVAL);
        assert_eq!(XsErrno::ENOENT.errno(), 2);
    }
}
