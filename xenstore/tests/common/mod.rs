//! Test harness: a real `rxenstored` process on a temporary socket, and a raw protocol
//! connection for sending arbitrary (also broken) messages.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rxl_xenstore::wire::{HEADER_LEN, Header, Message, MsgType, join_strings};

/// A running daemon, killed on drop.
pub struct Xsd {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub sock: PathBuf,
    pub state: PathBuf,
    args: Vec<String>,
}

impl Xsd {
    /// Starts `rxenstored` with domain sockets for `domids` and extra `args`.
    pub fn start(domids: &[u32], args: &[&str]) -> Xsd {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("socket");
        let state = dir.path().join("state.json");
        let mut all: Vec<String> = vec![
            "--socket".into(),
            sock.display().to_string(),
            "--state".into(),
            state.display().to_string(),
        ];
        for d in domids {
            all.push("--domain-socket".into());
            all.push(format!(
                "{d}={}",
                dir.path().join(format!("dom{d}")).display()
            ));
        }
        all.extend(args.iter().map(|s| s.to_string()));
        let mut x = Xsd {
            child: None,
            dir,
            sock,
            state,
            args: all,
        };
        x.spawn();
        x
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rxenstored"))
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t0 = Instant::now();
        while UnixStream::connect(&self.sock).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "rxenstored did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Socket of domain `d`.
    pub fn dom(&self, d: u32) -> PathBuf {
        self.dir.path().join(format!("dom{d}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// SIGTERM and wait; returns the exit status success.
    pub fn stop(&mut self) -> bool {
        let mut c = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        c.wait().unwrap().success()
    }

    /// Starts again with the same arguments (same state file).
    pub fn restart(&mut self) {
        assert!(self.stop(), "clean shutdown: {}", self.log());
        self.spawn();
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    }

    /// A fresh privileged connection reads `path` as `want` and can still write: the
    /// daemon serves others and committed data is intact.
    pub fn assert_healthy(&mut self, path: &str, want: &[u8]) {
        assert!(self.alive(), "daemon died: {}", self.log());
        let mut c = Raw::connect(&self.sock);
        assert_eq!(
            c.req(MsgType::Read, 0, &join_strings([path])),
            (MsgType::Read as u32, want.to_vec()),
            "committed data intact"
        );
        c.ok(MsgType::Write, 0, b"/health\0ok");
    }
}

impl Drop for Xsd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A raw protocol connection.
pub struct Raw {
    pub s: UnixStream,
    /// Watch events received while waiting for replies.
    pub events: Vec<(String, String)>,
}

impl Raw {
    pub fn connect(p: &Path) -> Raw {
        let s = UnixStream::connect(p).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw {
            s,
            events: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.s.write_all(b)
    }

    pub fn send(&mut self, ty: u32, tx: u32, payload: &[u8]) {
        let h = Header {
            msg_type: ty,
            req_id: 7,
            tx_id: tx,
            len: payload.len() as u32,
        };
        self.s.write_all(&h.encode()).unwrap();
        self.s.write_all(payload).unwrap();
    }

    /// Next message, or `None` on EOF.
    pub fn recv(&mut self) -> Option<Message> {
        let mut h = [0u8; HEADER_LEN];
        self.s.read_exact(&mut h).ok()?;
        let header = Header::decode(&h).unwrap();
        let mut payload = vec![0; header.len as usize];
        self.s.read_exact(&mut payload).ok()?;
        Some(Message { header, payload })
    }

    /// Next reply, collecting watch events on the way.
    pub fn reply(&mut self) -> (u32, Vec<u8>) {
        loop {
            let m = self.recv().expect("connection closed");
            if m.header.msg_type == MsgType::WatchEvent as u32 {
                let p: Vec<String> = m
                    .payload
                    .split(|b| *b == 0)
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect();
                self.events.push((p[0].clone(), p[1].clone()));
                continue;
            }
            return (m.header.msg_type, m.payload);
        }
    }

    pub fn req(&mut self, ty: MsgType, tx: u32, payload: &[u8]) -> (u32, Vec<u8>) {
        self.send(ty as u32, tx, payload);
        self.reply()
    }

    pub fn ok(&mut self, ty: MsgType, tx: u32, payload: &[u8]) {
        assert_eq!(
            self.req(ty, tx, payload),
            (ty as u32, b"OK\0".to_vec()),
            "{ty:?} {:?}",
            String::from_utf8_lossy(payload)
        );
    }

    /// Expects an error reply naming `e`.
    pub fn err(&mut self, ty: MsgType, tx: u32, payload: &[u8], e: &str) {
        let want = join_strings([e]);
        assert_eq!(
            self.req(ty, tx, payload),
            (MsgType::Error as u32, want),
            "{ty:?} {:?}",
            String::from_utf8_lossy(payload)
        );
    }

    /// Whether the daemon closed this connection.
    pub fn closed(&mut self) -> bool {
        self.s
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut b = [0u8; 1];
        matches!(self.s.read(&mut b), Ok(0) | Err(_))
    }
}
