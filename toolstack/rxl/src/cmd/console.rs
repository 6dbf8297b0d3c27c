//! `rxl console DOM`: the guest's PV console through the pty xenconsoled allocated for it
//! (`/local/domain/<id>/console/tty`). Ctrl-] detaches, as with `xl console`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use rxl_xen::Control;

use super::CmdResult;

/// The detach key (Ctrl-]).
const ESCAPE: u8 = 0x1d;

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

/// Waits (up to 10 s: xenconsoled attaches right after the domain is introduced) for the
/// console's pty and copies between it and this terminal.
pub fn attach(ctl: &Control, domid: u32) -> CmdResult {
    let path = format!("/local/domain/{domid}/console/tty");
    let start = Instant::now();
    let tty = loop {
        match ctl.with_store(|s| s.read(&path))? {
            Some(t) if !t.is_empty() => break t,
            _ if start.elapsed() > Duration::from_secs(10) => {
                return Err(format!(
                    "domain {domid} has no console pty ({path} is empty): is xenconsoled running?"
                )
                .into());
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let pty = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&tty)
        .map_err(|e| format!("opening the console pty {tty}: {e}"))?;
    let mut reader = pty.try_clone()?;
    let _raw = RawMode::enter();
    // Guest output until the pty closes (the domain is gone).
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut out = std::io::stdout();
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    let mut input = std::io::stdin();
    let mut writer = pty;
    let mut buf = [0u8; 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            // No more input (e.g. stdin is /dev/null): keep showing output until the guest
            // goes away or the user interrupts.
            loop {
                std::thread::park();
            }
        }
        if let Some(pos) = buf[..n].iter().position(|&b| b == ESCAPE) {
            writer.write_all(&buf[..pos])?;
            return Ok(ExitCode::SUCCESS);
        }
        writer.write_all(&buf[..n])?;
    }
}
