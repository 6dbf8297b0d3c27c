//! The process-level pieces of a live update, each a safe wrapper: the state's memfd,
//! descriptors inherited across `execve(2)`, the signal mask around it and the exec.

use std::collections::HashSet;
use std::convert::Infallible;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use super::LiveUpdateError;

/// Writes `bytes` to a new memory file (close-on-exec until [`inheritable`] says
/// otherwise), rewound for its reader.
pub fn memfd_with(bytes: &[u8]) -> Result<File, LiveUpdateError> {
    let fd = memfd_create(c"rxenstored-live-update", MFdFlags::MFD_CLOEXEC)
        .map_err(|e| LiveUpdateError::State(e.into()))?;
    let mut f = File::from(fd);
    f.write_all(bytes)
        .and_then(|()| f.seek(SeekFrom::Start(0)).map(drop))
        .map_err(LiveUpdateError::State)?;
    Ok(f)
}

/// Sets or clears `FD_CLOEXEC` on `fd`: `true` keeps it open across `execve(2)`.
pub fn inheritable(fd: BorrowedFd<'_>, keep: bool) -> Result<(), LiveUpdateError> {
    let flags = if keep {
        FdFlag::empty()
    } else {
        FdFlag::FD_CLOEXEC
    };
    fcntl(fd, FcntlArg::F_SETFD(flags))
        .map(drop)
        .map_err(|e| LiveUpdateError::Fd(fd.as_raw_fd(), e))
}

/// Descriptors the previous image handed over, each taken (owned) at most once.
#[derive(Debug, Default)]
pub struct Inherited {
    taken: HashSet<RawFd>,
}

impl Inherited {
    /// Takes ownership of inherited descriptor `fd` (close-on-exec again from now on).
    /// Refuses the standard streams, a descriptor taken before and one that is not open.
    pub fn take(&mut self, fd: RawFd) -> Result<OwnedFd, LiveUpdateError> {
        let bad = |e| LiveUpdateError::Fd(fd, e);
        if fd <= 2 || self.taken.contains(&fd) {
            return Err(bad(nix::errno::Errno::EBADF));
        }
        // SAFETY: F_GETFD only reads the descriptor's flags; on a number that is not an
        // open descriptor it fails with EBADF and touches nothing.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(bad(nix::errno::Errno::last()));
        }
        self.taken.insert(fd);
        // SAFETY: `fd` is open (F_GETFD succeeded); the previous image of this process
        // opened it and named it in the hand-over state, nothing else in this image
        // owns it (it was not opened here: the state names descriptors the exec kept), and
        // `taken` ensures it is turned into an owner only once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        inheritable(owned.as_fd(), false)?;
        Ok(owned)
    }

    /// Reads the hand-over state from inherited memory file `fd`.
    pub fn read_state(&mut self, fd: RawFd) -> Result<Vec<u8>, LiveUpdateError> {
        let mut f = File::from(self.take(fd)?);
        let mut bytes = Vec::new();
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.read_to_end(&mut bytes))
            .map_err(LiveUpdateError::State)?;
        Ok(bytes)
    }
}

/// The signals whose default action would end the daemon between `execve(2)` and the new
/// image's handlers: they stay pending (the mask is inherited) until [`unblock_signals`].
fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
        set.add(s);
    }
    set
}

/// Blocks SIGHUP, SIGTERM and SIGINT (before the exec).
pub fn block_signals() -> Result<(), LiveUpdateError> {
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled_signals()), None)
        .map_err(|e| LiveUpdateError::Exec(std::io::Error::from(e)))
}

/// Unblocks them again: after a failed exec, or in a new image once its handlers are set
/// (a signal that came during the exec is delivered now).
pub fn unblock_signals() {
    // Cannot fail with a valid `how`; nothing to do if it did.
    let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&handled_signals()), None);
}

fn cstring(s: &OsStr) -> Result<CString, LiveUpdateError> {
    CString::new(s.as_bytes()).map_err(|_| {
        LiveUpdateError::Exec(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{s:?} contains a NUL byte"),
        ))
    })
}

/// Replaces the process image with `exe` run with `args` (the first is `argv[0]`). Only
/// returns on failure.
pub fn exec(exe: &Path, args: &[OsString]) -> LiveUpdateError {
    let run = || -> Result<Infallible, LiveUpdateError> {
        let path = cstring(exe.as_os_str())?;
        let argv = args
            .iter()
            .map(|a| cstring(a))
            .collect::<Result<Vec<_>, _>>()?;
        nix::unistd::execv(&path, &argv).map_err(|e| LiveUpdateError::Exec(std::io::Error::from(e)))
    };
    match run() {
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfd_round_trips_through_an_inherited_descriptor() {
        let f = memfd_with(b"state\nbytes").unwrap();
        // What the new image does with the number: here the "inheritance" is a dup.
        let dup = nix::unistd::dup(f.as_fd()).unwrap();
        let n = dup.as_raw_fd();
        std::mem::forget(dup);
        let mut inh = Inherited::default();
        assert_eq!(inh.read_state(n).unwrap(), b"state\nbytes");
        assert!(inh.take(n).is_err(), "taken once only");
        assert!(inh.take(1).is_err(), "standard streams are never taken");
        assert!(Inherited::default().take(9999).is_err(), "not open");
    }

    #[test]
    fn inheritable_toggles_close_on_exec() {
        let f = memfd_with(b"").unwrap();
        let flags = || FdFlag::from_bits_truncate(fcntl(f.as_fd(), FcntlArg::F_GETFD).unwrap());
        assert!(flags().contains(FdFlag::FD_CLOEXEC));
        inheritable(f.as_fd(), true).unwrap();
        assert!(!flags().contains(FdFlag::FD_CLOEXEC));
        inheritable(f.as_fd(), false).unwrap();
        assert!(flags().contains(FdFlag::FD_CLOEXEC));
    }

    #[test]
    fn exec_of_a_non_executable_file_fails_and_returns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("not-a-binary");
        std::fs::write(&p, "garbage").unwrap();
        let e = exec(&p, &[OsString::from("x")]);
        assert!(matches!(e, LiveUpdateError::Exec(_)), "{e}");
    }
}
