//! A tap device from /dev/net/tun in "virtio-net header" mode: each frame read or written is
//! prefixed by the 12-byte `virtio_net_hdr_v1`, exactly what the guest puts in its buffers, so
//! frames pass between queue and tap without rewriting.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `_IOW('T', 216, int)`.
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// Size of `virtio_net_hdr_v1` (virtio 1.x always includes `num_buffers`).
pub const VNET_HDR_LEN: usize = 12;

/// Failures creating a tap.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// /dev/net/tun could not be opened.
    #[error(
        "cannot open /dev/net/tun: {0} (load the tun module; creating taps needs CAP_NET_ADMIN)"
    )]
    Open(#[source] std::io::Error),
    /// The interface name is unusable.
    #[error("tap name '{0}' is invalid (1-15 characters, no '/' or whitespace)")]
    BadName(String),
    /// An ioctl on the tun fd failed.
    #[error("{op} on tap '{name}' failed: {source}")]
    Ioctl {
        /// The ioctl.
        op: &'static str,
        /// The interface.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// An open tap interface.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Tap {
    /// Creates (or attaches to) tap `name`; a name ending in `%d` lets the kernel pick a number.
    pub fn open(name: &str) -> Result<Tap, TapError> {
        if name.is_empty()
            || name.len() >= libc::IFNAMSIZ
            || name.contains(|c: char| c == '/' || c.is_whitespace())
        {
            return Err(TapError::BadName(name.to_string()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(TapError::Open)?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        let ioctl_err = |op, name: &str| TapError::Ioctl {
            op,
            name: name.to_string(),
            source: std::io::Error::last_os_error(),
        };
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which IfReq matches in layout
        // and size (40 bytes); `req` outlives the call.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            return Err(ioctl_err("TUNSETIFF", name));
        }
        let len = req
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(libc::IFNAMSIZ);
        let actual = String::from_utf8_lossy(&req.name[..len]).into_owned();
        let hdr: libc::c_int = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int from the pointer, which is valid.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETVNETHDRSZ, &hdr) } < 0 {
            return Err(ioctl_err("TUNSETVNETHDRSZ", &actual));
        }
        Ok(Tap { file, name: actual })
    }

    /// The interface name the kernel gave it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame (with its vnet header); `WouldBlock` when none is queued.
    pub fn read_frame(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Writes one frame (with its vnet header).
    pub fn write_frame(&self, frame: &[u8]) -> std::io::Result<usize> {
        (&self.file).write(frame)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
