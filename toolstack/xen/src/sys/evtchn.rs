//! `/dev/xen/evtchn`: event channels bound from dom0 user space.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use super::{IOC_NONE, ioc, ioctl_ptr, ioctl_val, open_device};
use crate::error::XenError;

const PATH: &str = "/dev/xen/evtchn";

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct BindInterdomain {
    remote_domain: u32,
    remote_port: u32,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct BindUnbound {
    remote_domain: u32,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct Port {
    port: u32,
}

const BIND_INTERDOMAIN: libc::c_ulong = ioc(IOC_NONE, b'E', 1, 8);
const BIND_UNBOUND_PORT: libc::c_ulong = ioc(IOC_NONE, b'E', 2, 4);
const UNBIND: libc::c_ulong = ioc(IOC_NONE, b'E', 3, 4);
const NOTIFY: libc::c_ulong = ioc(IOC_NONE, b'E', 4, 4);
const RESET: libc::c_ulong = ioc(IOC_NONE, b'E', 5, 0);

/// An open event-channel device; ports bound through it close with it.
#[derive(Debug)]
pub struct EventChannels {
    file: File,
}

fn err(op: &'static str) -> impl Fn(std::io::Error) -> XenError {
    move |source| XenError::Hypercall { op, source }
}

impl EventChannels {
    /// Opens `/dev/xen/evtchn`.
    pub fn open() -> Result<Self, XenError> {
        Ok(EventChannels {
            file: open_device(Path::new(PATH))?,
        })
    }

    /// Binds a local port to `remote_port` of `remote_domain`; returns the local port.
    pub fn bind_interdomain(&self, remote_domain: u32, remote_port: u32) -> Result<u32, XenError> {
        let mut a = BindInterdomain {
            remote_domain,
            remote_port,
        };
        let port = ioctl_ptr(&self.file, BIND_INTERDOMAIN, &mut a)
            .map_err(err("evtchn bind_interdomain"))?;
        u32::try_from(port).map_err(|_| XenError::Protocol(format!("event channel port {port}")))
    }

    /// Allocates a port that `remote_domain` may bind to; returns it.
    pub fn bind_unbound(&self, remote_domain: u32) -> Result<u32, XenError> {
        let mut a = BindUnbound { remote_domain };
        let port = ioctl_ptr(&self.file, BIND_UNBOUND_PORT, &mut a)
            .map_err(err("evtchn bind_unbound_port"))?;
        u32::try_from(port).map_err(|_| XenError::Protocol(format!("event channel port {port}")))
    }

    /// Closes a port bound through this device.
    pub fn unbind(&self, port: u32) -> Result<(), XenError> {
        let mut a = Port { port };
        ioctl_ptr(&self.file, UNBIND, &mut a).map_err(err("evtchn unbind"))?;
        Ok(())
    }

    /// Signals the remote end of `port`.
    pub fn notify(&self, port: u32) -> Result<(), XenError> {
        let mut a = Port { port };
        ioctl_ptr(&self.file, NOTIFY, &mut a).map_err(err("evtchn notify"))?;
        Ok(())
    }

    /// Unbinds every port of this device.
    pub fn reset(&self) -> Result<(), XenError> {
        ioctl_val(&self.file, RESET, 0).map_err(err("evtchn reset"))?;
        Ok(())
    }

    /// Blocks until a bound port fires; returns it (the port stays masked until `unmask`).
    pub fn wait(&self) -> Result<u32, XenError> {
        let mut b = [0u8; 4];
        (&self.file)
            .read_exact(&mut b)
            .map_err(err("evtchn read"))?;
        Ok(u32::from_ne_bytes(b))
    }

    /// Unmasks `port` after handling it.
    pub fn unmask(&self, port: u32) -> Result<(), XenError> {
        (&self.file)
            .write_all(&port.to_ne_bytes())
            .map_err(err("evtchn unmask"))
    }
}
