//! Guest consoles on Xen: rxl's own PV console backend and the choice between it and
//! xenconsoled.
//!
//! xenconsoled serves every domain whose `console/type` node reads `xenconsoled`; it ignores
//! any other type. rxl writes `xenconsoled` when that daemon runs and `rxl` otherwise, and
//! then serves the console itself from the domain's monitor ([`ConsoleServer`]), which
//! `rxl console` reaches over a unix socket ([`attach`]). Without either, a Linux guest
//! spins in its console driver once the 2 KiB ring fills, so some backend must always run.

pub mod ring;
pub mod server;

use std::io::ErrorKind;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rxl_hypervisor::Console;

pub use server::{ConsoleServer, RingLocation};

use crate::error::XenError;

/// Directory of the console sockets of rxl's own backend.
pub const SOCKET_DIR: &str = "/run/rxl/xen/console";

/// Who serves a new domain's primary console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Debian's (or any) xenconsoled: `console/type = "xenconsoled"`, pty in `console/tty`.
    Xenconsoled,
    /// rxl's monitor: `console/type = "rxl"`, socket under [`SOCKET_DIR`].
    Rxl,
}

impl Placement {
    /// The value of the domain's `console/type` node.
    pub fn type_node(self) -> &'static str {
        match self {
            Placement::Xenconsoled => "xenconsoled",
            Placement::Rxl => "rxl",
        }
    }

    /// Chooses as an admin would expect: xenconsoled when it runs (so `xl console` and its
    /// logs keep working), else rxl. `RXL_CONSOLE_BACKEND=rxl|xenconsoled` forces one.
    pub fn choose() -> Placement {
        match std::env::var("RXL_CONSOLE_BACKEND").as_deref() {
            Ok("rxl") => Placement::Rxl,
            Ok("xenconsoled") => Placement::Xenconsoled,
            _ if xenconsoled_runs(Path::new("/proc")) => Placement::Xenconsoled,
            _ => Placement::Rxl,
        }
    }
}

/// Whether a process named `xenconsoled` runs (its pid file is optional, its name is not).
pub fn xenconsoled_runs(proc_root: &Path) -> bool {
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return false;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == "xenconsoled")
        })
}

/// The socket of domain `domid`'s console under rxl's backend.
pub fn socket_path(domid: u32) -> PathBuf {
    Path::new(SOCKET_DIR).join(format!("{domid}.sock"))
}

/// How long [`attach`] waits for the monitor's socket: `rxl create -c` attaches while the
/// monitor it just started is still binding it.
const ATTACH_WAIT: Duration = Duration::from_secs(10);

/// Attaches to domain `domid`'s console served by rxl's backend, waiting up to
/// [`ATTACH_WAIT`] for the socket to appear.
pub fn attach(domid: u32) -> Result<Console, XenError> {
    attach_at(domid, &socket_path(domid), ATTACH_WAIT)
}

fn attach_at(domid: u32, path: &Path, wait: Duration) -> Result<Console, XenError> {
    let deadline = Instant::now() + wait;
    let stream = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e)
                if Instant::now() < deadline
                    && matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                return Err(XenError::Console {
                    domid,
                    why: format!(
                        "no console backend answers on {} ({e}); start xenconsoled, or create \
                         the domain with rxl, whose monitor serves it",
                        path.display()
                    ),
                });
            }
        }
    };
    let input = stream.try_clone().map_err(|e| XenError::Console {
        domid,
        why: format!("console socket: {e}"),
    })?;
    Ok(Console {
        output: Box::new(stream),
        input: Box::new(input),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn xenconsoled_is_found_by_its_process_name_only() {
        let root = std::env::temp_dir().join(format!("rxl-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (pid, comm) in [
            ("1", "init\n"),
            ("42", "xenconsoled-not\n"),
            ("self", "x\n"),
        ] {
            std::fs::create_dir_all(root.join(pid)).unwrap();
            std::fs::write(root.join(pid).join("comm"), comm).unwrap();
        }
        assert!(!xenconsoled_runs(&root));
        std::fs::create_dir_all(root.join("77")).unwrap();
        std::fs::write(root.join("77/comm"), "xenconsoled\n").unwrap();
        assert!(xenconsoled_runs(&root));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn type_nodes_are_what_xenconsoled_checks() {
        assert_eq!(Placement::Xenconsoled.type_node(), "xenconsoled");
        assert_ne!(Placement::Rxl.type_node(), "xenconsoled");
        assert_eq!(socket_path(7), Path::new("/run/rxl/xen/console/7.sock"));
    }

    #[test]
    fn attaching_without_a_backend_says_what_to_start() {
        let path = std::env::temp_dir().join(format!("rxl-no-console-{}", std::process::id()));
        let e = attach_at(65_000, &path, Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("xenconsoled") && e.contains("65000"), "{e}");
    }

    #[test]
    fn attach_waits_for_a_socket_that_is_still_being_bound() {
        let path = std::env::temp_dir().join(format!("rxl-late-console-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let p = path.clone();
        let server = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
            let (mut s, _) = l.accept().unwrap();
            std::io::Write::write_all(&mut s, b"hello").unwrap();
        });
        let mut c = attach_at(1, &path, Duration::from_secs(5)).expect("attached once bound");
        let mut got = [0u8; 5];
        c.output.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        server.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}
