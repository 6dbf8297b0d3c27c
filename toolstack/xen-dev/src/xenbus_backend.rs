//! `/dev/xen/xenbus_backend`: dom0's own xenstore ring page and event channel, which the
//! dom0 kernel hands to a user-space xenstored (its xenbus drivers and `/dev/xen/xenbus`
//! then talk through that ring).

use std::fs::File;
use std::ptr::NonNull;

use crate::abi::IOCTL_XENBUS_BACKEND_EVTCHN;
use crate::ioctl::{ioctl_val, mmap_shared, munmap, open_device};
use crate::{PAGE_SIZE, XenDevError};

/// Path of the xenbus backend device.
pub const XENBUS_BACKEND_PATH: &str = "/dev/xen/xenbus_backend";

/// dom0's xenstore page mapped from `/dev/xen/xenbus_backend`; unmapped on drop.
#[derive(Debug)]
pub struct BackendPage {
    _file: File,
    ptr: NonNull<u8>,
    port: u32,
}

impl BackendPage {
    /// Opens the device, asks for the event channel and maps the page.
    pub fn open() -> Result<BackendPage, XenDevError> {
        const OP: &str = "IOCTL_XENBUS_BACKEND_EVTCHN";
        let file = open_device(XENBUS_BACKEND_PATH)?;
        let rc = ioctl_val(&file, IOCTL_XENBUS_BACKEND_EVTCHN, 0).map_err(XenDevError::io(OP))?;
        let port = u32::try_from(rc).map_err(|_| XenDevError::Unexpected {
            op: OP,
            detail: format!("event channel port {rc}"),
        })?;
        let ptr = mmap_shared(&file, PAGE_SIZE, 0, true, "mmap /dev/xen/xenbus_backend")?;
        Ok(BackendPage {
            _file: file,
            ptr,
            port,
        })
    }

    /// Start of the page.
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// dom0's xenstore event channel (the remote end to bind, in domain 0).
    pub fn port(&self) -> u32 {
        self.port
    }
}

impl Drop for BackendPage {
    fn drop(&mut self) {
        // SAFETY: exactly the one-page mapping made in `open`, unmapped once.
        unsafe { munmap(self.ptr, PAGE_SIZE) };
    }
}
