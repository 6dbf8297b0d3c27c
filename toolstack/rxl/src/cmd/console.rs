//! The terminal side of `rxl console DOM` and `rxl create -c`: raw mode, guest output to
//! stdout, keystrokes to the guest, Ctrl-] detaches (as with `xl console` and `virsh console`).
//! The backend supplies the guest side as a [`Console`] (Xen: the pty xenconsoled allocated;
//! KVM: the VMM's console log and control socket).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::mpsc;

use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use rxl_hypervisor::Console;

use super::CmdResult;

/// The detach key (Ctrl-]).
pub const ESCAPE: u8 = 0x1d;

/// Restores the terminal's mode on drop.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode(None); // not a terminal: nothing to change
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        if tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).is_err() {
            return RawMode(None);
        }
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// Why [`pump`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The user pressed Ctrl-].
    Detached,
    /// The guest's console closed (the guest is gone).
    Closed,
}

/// Copies `console` to `out` and `input` to the console until the user detaches or the
/// console closes. When `input` ends (e.g. stdin is /dev/null) output keeps flowing.
pub fn pump(
    console: Console,
    mut input: impl Read + Send + 'static,
    mut out: impl Write + Send + 'static,
) -> Ended {
    let Console {
        mut output,
        input: mut guest_in,
    } = console;
    let (tx, rx) = mpsc::channel();
    let done = tx.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = output.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                break;
            }
        }
        let _ = done.send(Ended::Closed);
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 {
                return; // no more keystrokes; the output side decides when to end
            }
            let chunk = &buf[..n];
            if let Some(pos) = chunk.iter().position(|&b| b == ESCAPE) {
                let _ = guest_in.write_all(&chunk[..pos]);
                let _ = tx.send(Ended::Detached);
                return;
            }
            if guest_in.write_all(chunk).is_err() {
                return;
            }
        }
    });
    rx.recv().unwrap_or(Ended::Closed)
}

/// Attaches this terminal to `console` until Ctrl-] or the guest goes away.
pub fn attach(console: Console) -> CmdResult {
    let _raw = RawMode::enter();
    pump(console, std::io::stdin(), std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A guest whose output blocks forever (a console that stays open).
    struct Silent;

    impl Read for Silent {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            std::thread::park();
            Ok(0)
        }
    }

    #[test]
    fn ctrl_bracket_detaches_and_keystrokes_before_it_reach_the_guest() {
        let typed = Shared::default();
        let console = Console {
            output: Box::new(Silent),
            input: Box::new(typed.clone()),
        };
        let keys = std::io::Cursor::new(b"ls\r\x1dnot this".to_vec());
        assert_eq!(pump(console, keys, Shared::default()), Ended::Detached);
        assert_eq!(&*typed.0.lock().unwrap(), b"ls\r");
    }

    #[test]
    fn output_flows_until_the_console_closes_even_without_input() {
        let screen = Shared::default();
        let console = Console {
            output: Box::new(std::io::Cursor::new(b"login: ".to_vec())),
            input: Box::new(Shared::default()),
        };
        let ended = pump(console, std::io::empty(), screen.clone());
        assert_eq!(ended, Ended::Closed);
        assert_eq!(&*screen.0.lock().unwrap(), b"login: ");
    }
}
