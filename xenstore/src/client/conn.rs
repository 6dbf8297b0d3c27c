//! The connection: a writer shared by callers; replies are read by the caller itself
//! until the first watch (over io_uring on a socket: [`super::uring`]), then by a reader
//! thread that routes replies (by request id) and watch events (by token).

use std::collections::HashMap;
use std::io::Cursor;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, bounded};

use super::ClientError;
use super::endpoint::Stream;
use super::uring::{self, UringIo};
use super::watch::{WatchEvent, WatchRegistry};
use crate::wire::{HEADER_LEN, Header, Message, MsgType, XsErrno, split_strings};

struct Shared {
    pending: Mutex<HashMap<u32, Sender<Message>>>,
    watches: WatchRegistry,
    dead: AtomicBool,
}

type Reader = std::io::BufReader<Box<dyn Read + Send>>;

/// Who reads the daemon's messages.
enum ReadSide {
    /// The caller itself, holding this lock from its write to its reply (no watch yet):
    /// no thread hop per request, as libxenstore without a watch thread.
    Inline(Reader),
    /// The caller itself, sending and reading in one `io_uring_enter` (a socket, from the
    /// second request on, unless io_uring is unavailable or `RXENSTORE_CLIENT_IO=plain`).
    Uring(Box<UringIo>),
    /// A reader thread routing replies and watch events (from the first watch on).
    Thread(JoinHandle<()>),
    /// Being switched over (never seen outside the lock).
    Switching,
}

/// A live connection to the daemon.
pub(crate) struct Connection {
    writer: Mutex<Box<dyn Write + Send>>,
    shared: Arc<Shared>,
    next_req: AtomicU32,
    socket: Option<UnixStream>,
    reader: Mutex<ReadSide>,
    /// The io_uring path may still be tried (cleared when it cannot be set up).
    try_uring: AtomicBool,
}

fn read_message(r: &mut dyn Read) -> std::io::Result<Message> {
    let mut h = [0u8; HEADER_LEN];
    r.read_exact(&mut h)?;
    let header =
        Header::decode(&h).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut payload = vec![0u8; header.len as usize];
    r.read_exact(&mut payload)?;
    Ok(Message { header, payload })
}

/// Hands a watch event to its subscriber.
fn deliver(shared: &Shared, m: &Message) {
    let parts = split_strings(&m.payload);
    if parts.len() >= 2 {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        shared.watches.deliver(WatchEvent {
            path: s(parts[0]),
            token: s(parts[1]),
        });
    }
}

fn reader_loop(mut r: Reader, shared: Arc<Shared>) {
    while let Ok(m) = read_message(&mut r) {
        if m.header.msg_type == MsgType::WatchEvent as u32 {
            deliver(&shared, &m);
            continue;
        }
        let tx = shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&m.header.req_id);
        if let Some(tx) = tx {
            let _ = tx.send(m);
        }
    }
    shared.dead.store(true, Ordering::SeqCst);
    // Dropping the senders wakes every waiting caller with an error.
    shared
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

impl Connection {
    pub(crate) fn new(stream: Stream) -> std::io::Result<Connection> {
        let (reader, writer, socket): (
            Box<dyn Read + Send>,
            Box<dyn Write + Send>,
            Option<UnixStream>,
        ) = match stream {
            Stream::Socket(s) => (Box::new(s.try_clone()?), Box::new(s.try_clone()?), Some(s)),
            Stream::Device(f) => (Box::new(f.try_clone()?), Box::new(f), None),
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            watches: WatchRegistry::default(),
            dead: AtomicBool::new(false),
        });
        // Buffered: a reply's header and payload (and any events behind it) come in with
        // one read(2) instead of two.
        let reader = std::io::BufReader::with_capacity(2 * (HEADER_LEN + 4096), reader);
        Ok(Connection {
            writer: Mutex::new(writer),
            shared,
            next_req: AtomicU32::new(1),
            try_uring: AtomicBool::new(socket.is_some() && uring::enabled()),
            socket,
            reader: Mutex::new(ReadSide::Inline(reader)),
        })
    }

    /// Starts the reader thread (watch events must flow while no request waits); from
    /// then on replies are routed by request id.
    pub(crate) fn start_reader(&self) -> Result<(), ClientError> {
        let mut side = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let r = match std::mem::replace(&mut *side, ReadSide::Switching) {
            ReadSide::Inline(r) => r,
            ReadSide::Uring(u) => {
                // The thread reads what the ring had already received, then the socket.
                let (sock, pending) = u.into_parts();
                let src: Box<dyn Read + Send> = Box::new(Cursor::new(pending).chain(sock));
                std::io::BufReader::with_capacity(2 * (HEADER_LEN + 4096), src)
            }
            other => {
                *side = other;
                return Ok(());
            }
        };
        let sh = self.shared.clone();
        match std::thread::Builder::new()
            .name("xenstore-reader".into())
            .spawn(move || reader_loop(r, sh))
        {
            Ok(h) => {
                *side = ReadSide::Thread(h);
                Ok(())
            }
            Err(e) => {
                self.shared.dead.store(true, Ordering::SeqCst);
                Err(ClientError::Io(e))
            }
        }
    }

    /// Writes `msg`; on failure forgets `req_id`'s pending entry.
    fn send(&self, msg: &Message) -> Result<(), ClientError> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // One write per message: the xenbus device requires whole messages.
        w.write_all(&msg.encode())
            .and_then(|_| w.flush())
            .map_err(ClientError::Io)
    }

    pub(crate) fn watches(&self) -> &WatchRegistry {
        &self.shared.watches
    }

    /// Sends one request and waits for its reply; `ERROR` replies become `Err`.
    pub(crate) fn request(
        &self,
        ty: MsgType,
        tx_id: u32,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
        if self.shared.dead.load(Ordering::SeqCst) {
            return Err(ClientError::ConnectionLost);
        }
        let req_id = self.next_req.fetch_add(1, Ordering::Relaxed);
        let msg =
            Message::new(ty as u32, req_id, tx_id, payload).map_err(|_| ClientError::TooLarge)?;
        let mut side = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if req_id > 1 {
            self.upgrade(&mut side);
        }
        let reply = if let ReadSide::Uring(u) = &mut *side {
            let lost = |_| {
                self.shared.dead.store(true, Ordering::SeqCst);
                ClientError::ConnectionLost
            };
            u.exchange(msg.encode()).map_err(lost)?;
            loop {
                let m = u.read_message().map_err(lost)?;
                if m.header.msg_type == MsgType::WatchEvent as u32 {
                    deliver(&self.shared, &m);
                } else if m.header.req_id == req_id {
                    break m;
                }
            }
        } else if let ReadSide::Inline(r) = &mut *side {
            // Requests from several threads take turns here, as with libxenstore.
            self.send(&msg)?;
            loop {
                match read_message(r) {
                    Ok(m) if m.header.msg_type == MsgType::WatchEvent as u32 => {
                        deliver(&self.shared, &m);
                    }
                    Ok(m) if m.header.req_id == req_id => break m,
                    Ok(_) => continue,
                    Err(_) => {
                        self.shared.dead.store(true, Ordering::SeqCst);
                        return Err(ClientError::ConnectionLost);
                    }
                }
            }
        } else {
            drop(side);
            self.request_threaded(req_id, &msg)?
        };
        if reply.header.msg_type == MsgType::Error as u32 {
            let name = split_strings(&reply.payload)
                .first()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default();
            return Err(ClientError::Xs(XsErrno::from_name(&name)));
        }
        Ok(reply.payload)
    }

    /// Rules out the io_uring path for this connection ([`super::Client::short_lived`]).
    pub(crate) fn keep_plain(&self) {
        self.try_uring.store(false, Ordering::Relaxed);
    }

    /// Moves an inline socket reader onto io_uring, once, if that is allowed and works.
    fn upgrade(&self, side: &mut ReadSide) {
        if !self.try_uring.load(Ordering::Relaxed) {
            return;
        }
        self.try_uring.store(false, Ordering::Relaxed);
        let (ReadSide::Inline(r), Some(s)) = (&*side, &self.socket) else {
            return;
        };
        if !r.buffer().is_empty() {
            return;
        }
        if let Ok(u) = s.try_clone().and_then(|s| UringIo::new(s, Vec::new())) {
            *side = ReadSide::Uring(Box::new(u));
        }
    }

    /// Sends `msg` and waits for the reader thread to route its reply.
    fn request_threaded(&self, req_id: u32, msg: &Message) -> Result<Message, ClientError> {
        let (tx, rx) = bounded(1);
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(req_id, tx);
        if let Err(e) = self.send(msg) {
            self.shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&req_id);
            return Err(e);
        }
        rx.recv().map_err(|_| ClientError::ConnectionLost)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(s) = &self.socket {
            let _ = s.shutdown(Shutdown::Both);
            let side = std::mem::replace(
                &mut *self.reader.lock().unwrap_or_else(|e| e.into_inner()),
                ReadSide::Switching,
            );
            if let ReadSide::Thread(r) = side {
                let _ = r.join();
            }
        }
        // A device reader cannot be interrupted; it exits when the file is closed.
    }
}
