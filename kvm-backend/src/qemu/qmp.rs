//! A QMP client over a unix socket: the greeting and capability negotiation, one command at a
//! time, and asynchronous events handed to a callback from a reader thread. (QMP is one JSON
//! object per line; serde_json is all it needs, so no QMP crate is pulled in.)

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a command may take to answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Failures talking QMP.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The socket could not be reached or broke.
    #[error("QMP socket {path}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// QEMU said something that is not QMP.
    #[error("QMP socket {path}: {detail}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// QEMU refused a command.
    #[error("QEMU refused '{command}': {desc}")]
    Refused {
        /// The command.
        command: String,
        /// QEMU's `error.desc`.
        desc: String,
    },
    /// The connection closed (QEMU exited) or a reply did not come.
    #[error("QEMU did not answer '{0}' (it exited or hangs)")]
    NoReply(String),
}

/// Something QEMU sent on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A QMP event: its name and `data`.
    Event(String, Value),
    /// The connection closed: QEMU exited (or closed the monitor).
    Closed,
}

/// A connected QMP session.
pub struct Qmp {
    path: PathBuf,
    writer: Mutex<UnixStream>,
    replies: Mutex<Receiver<Result<Value, String>>>,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp").field("path", &self.path).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Qmp {
    /// Connects to `path`, retrying until `deadline` while `alive()` says QEMU still runs,
    /// negotiates capabilities, and starts the reader thread that passes events to `on_event`.
    pub fn connect(
        path: &Path,
        deadline: Instant,
        mut alive: impl FnMut() -> bool,
        on_event: impl FnMut(Incoming) + Send + 'static,
    ) -> Result<Qmp, QmpError> {
        let io = |source| QmpError::Io {
            path: path.to_path_buf(),
            source,
        };
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline || !alive() => return Err(io(e)),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        stream.set_read_timeout(Some(COMMAND_TIMEOUT)).map_err(io)?;
        let mut reader = BufReader::new(stream.try_clone().map_err(io)?);
        let mut greeting = String::new();
        reader.read_line(&mut greeting).map_err(io)?;
        let g: Value = serde_json::from_str(&greeting).map_err(|e| QmpError::Protocol {
            path: path.to_path_buf(),
            detail: format!("bad greeting: {e}"),
        })?;
        if g.get("QMP").is_none() {
            return Err(QmpError::Protocol {
                path: path.to_path_buf(),
                detail: format!("not a QMP greeting: {}", greeting.trim()),
            });
        }
        // Events may be far apart: the reader blocks without a timeout from here on.
        stream.set_read_timeout(None).map_err(io)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("qmp".into())
            .spawn(move || read_loop(reader, tx, on_event))
            .map_err(io)?;
        let qmp = Qmp {
            path: path.to_path_buf(),
            writer: Mutex::new(stream),
            replies: Mutex::new(rx),
        };
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    /// Runs `command` with optional `arguments` and returns its `return` value.
    pub fn execute(&self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        // Holding the writer for the whole exchange keeps replies in request order.
        let mut w = lock(&self.writer);
        let replies = lock(&self.replies);
        // Drop stale replies of a command that timed out earlier.
        while replies.try_recv().is_ok() {}
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut line = msg.to_string();
        line.push('\n');
        w.write_all(line.as_bytes())
            .map_err(|source| QmpError::Io {
                path: self.path.clone(),
                source,
            })?;
        match replies.recv_timeout(COMMAND_TIMEOUT) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(desc)) => Err(QmpError::Refused {
                command: command.into(),
                desc,
            }),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                Err(QmpError::NoReply(command.into()))
            }
        }
    }
}

fn read_loop(
    mut reader: BufReader<UnixStream>,
    replies: Sender<Result<Value, String>>,
    mut on_event: impl FnMut(Incoming),
) {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(name) = v.get("event").and_then(Value::as_str) {
            on_event(Incoming::Event(
                name.to_string(),
                v.get("data").cloned().unwrap_or(Value::Null),
            ));
        } else if let Some(r) = v.get("return") {
            let _ = replies.send(Ok(r.clone()));
        } else if let Some(e) = v.get("error") {
            let desc = e
                .get("desc")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            let _ = replies.send(Err(desc.to_string()));
        }
    }
    on_event(Incoming::Closed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A scripted QMP server: greets, answers capabilities, then each command with `answer`.
    fn fake(path: &Path, answer: fn(&Value) -> Vec<String>) {
        let l = UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            for line in BufReader::new(s).lines() {
                let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
                for out in answer(&v) {
                    w.write_all(format!("{out}\n").as_bytes()).unwrap();
                }
            }
        });
    }

    #[test]
    fn commands_errors_events_and_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sock");
        fake(&path, |v| match v["execute"].as_str().unwrap() {
            "qmp_capabilities" => vec![r#"{"return": {}}"#.into()],
            "stop" => vec![
                r#"{"event": "STOP", "data": {}, "timestamp": {}}"#.into(),
                r#"{"return": {}}"#.into(),
            ],
            "query-status" => vec![r#"{"return": {"status": "paused"}}"#.into()],
            "quit" => vec![
                r#"{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}"#
                    .into(),
            ],
            _ => vec![r#"{"error": {"class": "CommandNotFound", "desc": "nope"}}"#.into()],
        });
        let (tx, rx) = mpsc::channel();
        let deadline = Instant::now() + Duration::from_secs(5);
        let q = Qmp::connect(
            &path,
            deadline,
            || true,
            move |e| {
                let _ = tx.send(e);
            },
        )
        .unwrap();
        q.execute("stop", None).unwrap();
        assert_eq!(
            rx.recv().unwrap(),
            Incoming::Event("STOP".into(), json!({}))
        );
        let st = q.execute("query-status", None).unwrap();
        assert_eq!(st["status"], "paused");
        let e = q.execute("frob", None).unwrap_err().to_string();
        assert!(e.contains("frob") && e.contains("nope"), "{e}");
        // quit gets no reply before the fake closes; the event still arrives.
        std::thread::spawn(move || {
            let _ = q.execute("quit", None);
        });
        match rx.recv().unwrap() {
            Incoming::Event(name, data) => {
                assert_eq!(
                    (name.as_str(), &data["reason"]),
                    ("SHUTDOWN", &json!("host-qmp-quit"))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connect_gives_up_when_qemu_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.sock");
        let deadline = Instant::now() + Duration::from_secs(5);
        let e = Qmp::connect(&path, deadline, || false, |_| {}).unwrap_err();
        assert!(e.to_string().contains("none.sock"), "{e}");
    }
}
