//! `/dev/xen/evtchn`: event channels bound from user space.
//!
//! Reading the device yields the local ports that fired (4 bytes each); a fired port stays
//! masked until its number is written back, which is how a handler acknowledges it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use crate::XenDevError;
use crate::abi::{
    EvtchnBindInterdomain, EvtchnU32, IOCTL_EVTCHN_BIND_INTERDOMAIN,
    IOCTL_EVTCHN_BIND_UNBOUND_PORT, IOCTL_EVTCHN_BIND_VIRQ, IOCTL_EVTCHN_NOTIFY,
    IOCTL_EVTCHN_RESET, IOCTL_EVTCHN_UNBIND,
};
use crate::ioctl::{ioctl_ptr, ioctl_val, open_device};

/// Path of the event-channel device.
pub const EVTCHN_PATH: &str = "/dev/xen/evtchn";

/// How many fired ports [`EventChannels::pending`] collects per read.
const PENDING_BATCH: usize = 64;

/// An open event-channel device; the ports bound through it are closed with it.
#[derive(Debug)]
pub struct EventChannels {
    file: File,
}

/// Turns the non-negative ioctl result into a port number.
fn port(op: &'static str, rc: i64) -> Result<u32, XenDevError> {
    u32::try_from(rc).map_err(|_| XenDevError::Unexpected {
        op,
        detail: format!("event channel port {rc}"),
    })
}

impl EventChannels {
    /// Opens `/dev/xen/evtchn`.
    pub fn open() -> Result<EventChannels, XenDevError> {
        Ok(EventChannels {
            file: open_device(EVTCHN_PATH)?,
        })
    }

    /// Binds a local port to `remote_port` of `remote_domain`; returns the local port.
    pub fn bind_interdomain(
        &self,
        remote_domain: u32,
        remote_port: u32,
    ) -> Result<u32, XenDevError> {
        const OP: &str = "IOCTL_EVTCHN_BIND_INTERDOMAIN";
        let mut a = EvtchnBindInterdomain {
            remote_domain,
            remote_port,
        };
        let rc = ioctl_ptr(&self.file, IOCTL_EVTCHN_BIND_INTERDOMAIN, &mut a)
            .map_err(XenDevError::io(OP))?;
        port(OP, rc)
    }

    /// Allocates a port that `remote_domain` may bind to; returns it.
    pub fn bind_unbound(&self, remote_domain: u32) -> Result<u32, XenDevError> {
        const OP: &str = "IOCTL_EVTCHN_BIND_UNBOUND_PORT";
        let mut a = EvtchnU32 {
            value: remote_domain,
        };
        let rc = ioctl_ptr(&self.file, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &mut a)
            .map_err(XenDevError::io(OP))?;
        port(OP, rc)
    }

    /// Binds virtual interrupt `virq` (e.g. 3, `VIRQ_DOM_EXC`); returns the local port.
    pub fn bind_virq(&self, virq: u32) -> Result<u32, XenDevError> {
        const OP: &str = "IOCTL_EVTCHN_BIND_VIRQ";
        let mut a = EvtchnU32 { value: virq };
        let rc =
            ioctl_ptr(&self.file, IOCTL_EVTCHN_BIND_VIRQ, &mut a).map_err(XenDevError::io(OP))?;
        port(OP, rc)
    }

    /// Closes local `port`.
    pub fn unbind(&self, port: u32) -> Result<(), XenDevError> {
        let mut a = EvtchnU32 { value: port };
        ioctl_ptr(&self.file, IOCTL_EVTCHN_UNBIND, &mut a)
            .map_err(XenDevError::io("IOCTL_EVTCHN_UNBIND"))?;
        Ok(())
    }

    /// Signals the remote end of local `port`.
    pub fn notify(&self, port: u32) -> Result<(), XenDevError> {
        let mut a = EvtchnU32 { value: port };
        ioctl_ptr(&self.file, IOCTL_EVTCHN_NOTIFY, &mut a)
            .map_err(XenDevError::io("IOCTL_EVTCHN_NOTIFY"))?;
        Ok(())
    }

    /// Unbinds every port of this device.
    pub fn reset(&self) -> Result<(), XenDevError> {
        ioctl_val(&self.file, IOCTL_EVTCHN_RESET, 0)
            .map_err(XenDevError::io("IOCTL_EVTCHN_RESET"))?;
        Ok(())
    }

    /// Blocks until a bound port fires; returns it. The port stays masked until
    /// [`EventChannels::unmask`].
    pub fn wait(&self) -> Result<u32, XenDevError> {
        let mut b = [0u8; 4];
        (&self.file)
            .read_exact(&mut b)
            .map_err(XenDevError::io("read /dev/xen/evtchn"))?;
        Ok(u32::from_ne_bytes(b))
    }

    /// Unmasks `port` after handling it.
    pub fn unmask(&self, port: u32) -> Result<(), XenDevError> {
        (&self.file)
            .write_all(&port.to_ne_bytes())
            .map_err(XenDevError::io("unmask /dev/xen/evtchn"))
    }

    /// Reads the ports that fired (blocking until at least one has, unless the caller polled
    /// [`EventChannels::fd`] first) and unmasks them all again.
    pub fn pending(&self) -> Result<Vec<u32>, XenDevError> {
        let mut buf = [0u8; 4 * PENDING_BATCH];
        let n = (&self.file)
            .read(&mut buf)
            .map_err(XenDevError::io("read /dev/xen/evtchn"))?;
        let whole = n - n % 4;
        let ports = decode_ports(&buf[..whole]);
        (&self.file)
            .write_all(&buf[..whole])
            .map_err(XenDevError::io("unmask /dev/xen/evtchn"))?;
        Ok(ports)
    }

    /// The fd to poll for fired ports.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsFd for EventChannels {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Splits what the device returned into port numbers (native-endian `u32`s).
fn decode_ports(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_ports_reads_native_endian_words_and_drops_a_partial_tail() {
        let mut b = Vec::new();
        b.extend_from_slice(&7u32.to_ne_bytes());
        b.extend_from_slice(&0x1234u32.to_ne_bytes());
        b.push(0xff);
        assert_eq!(decode_ports(&b), vec![7, 0x1234]);
        assert!(decode_ports(&[]).is_empty());
    }

    #[test]
    fn port_numbers_beyond_u32_are_an_error_not_a_truncation() {
        assert_eq!(port("op", 5).unwrap(), 5);
        let e = port("op", 1 << 40).unwrap_err();
        assert!(matches!(e, XenDevError::Unexpected { op: "op", .. }), "{e}");
    }

    #[test]
    fn opening_without_xen_names_the_device() {
        if std::path::Path::new(EVTCHN_PATH).exists() {
            eprintln!("skipped: {EVTCHN_PATH} exists (running on Xen); the lab covers it");
            return;
        }
        let e = EventChannels::open().unwrap_err();
        assert!(
            matches!(e, XenDevError::Missing { path: EVTCHN_PATH }),
            "{e}"
        );
        assert!(e.to_string().contains(EVTCHN_PATH), "{e}");
    }
}
