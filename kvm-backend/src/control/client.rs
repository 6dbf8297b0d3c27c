//! The toolstack side of the control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Reply, VmInfo};

/// Failures talking to a VMM.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached: the VMM is gone or hung.
    #[error("cannot reach the VMM at {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The VMM answered something unreadable.
    #[error("bad reply from the VMM at {path}: {detail}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The VMM refused the request.
    #[error("{0}")]
    Refused(String),
}

/// Sends `request` to the VMM listening on `socket` and returns its reply.
pub fn request(socket: &Path, request: &str) -> Result<Reply, ClientError> {
    let connect = |source| ClientError::Connect {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(connect)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(connect)?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(connect)?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(connect)?;
    let reply: Reply = serde_json::from_str(&line).map_err(|e| ClientError::Protocol {
        path: socket.to_path_buf(),
        detail: e.to_string(),
    })?;
    if !reply.ok {
        return Err(ClientError::Refused(
            reply.error.unwrap_or_else(|| "request failed".into()),
        ));
    }
    Ok(reply)
}

/// `info` on `socket`.
pub fn info(socket: &Path) -> Result<VmInfo, ClientError> {
    request(socket, "info")?
        .info
        .ok_or_else(|| ClientError::Protocol {
            path: socket.to_path_buf(),
            detail: "info reply without info".into(),
        })
}
