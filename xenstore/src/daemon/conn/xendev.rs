//! The Xen devices behind guests' rings, as the daemon uses them: event channels, a guest's
//! xenstore page mapped by grant (gntdev) or by frame (privcmd), and dom0's own page
//! (xenbus_backend).
//!
//! The devices themselves are wrapped once, in crate `rxl-xendev` (shared with the
//! toolstack); this module adapts them to the ring's needs — one page per map, viewed as a
//! [`RingPage`] — and their errors to [`RingError`].

use std::os::fd::BorrowedFd;

use rxl_xendev::{BackendPage, ForeignMapping, GrantDev, GrantPage, Privcmd, XenDevError};

use super::ring::{RingError, RingPage};

impl From<XenDevError> for RingError {
    fn from(e: XenDevError) -> RingError {
        RingError::Device {
            what: e.op(),
            source: e.into_io_error(),
        }
    }
}

/// `/dev/xen/evtchn`: interdomain event channels and VIRQs.
pub struct EventChannels(rxl_xendev::EventChannels);

impl EventChannels {
    /// Opens the device.
    pub fn open() -> Result<EventChannels, RingError> {
        Ok(EventChannels(rxl_xendev::EventChannels::open()?))
    }

    /// Binds the guest's `remote_port`; returns our local port.
    pub fn bind(&self, domid: u32, remote_port: u32) -> Result<u32, RingError> {
        Ok(self.0.bind_interdomain(domid, remote_port)?)
    }

    /// Binds virtual interrupt `virq` (e.g. 3, `VIRQ_DOM_EXC`); returns the local port.
    pub fn bind_virq(&self, virq: u32) -> Result<u32, RingError> {
        Ok(self.0.bind_virq(virq)?)
    }

    /// Notifies the guest through local `port`.
    pub fn notify(&self, port: u32) -> Result<(), RingError> {
        Ok(self.0.notify(port)?)
    }

    /// Unbinds local `port`.
    pub fn unbind(&self, port: u32) -> Result<(), RingError> {
        Ok(self.0.unbind(port)?)
    }

    /// Reads the ports that fired and unmasks them again.
    pub fn pending(&mut self) -> Result<Vec<u32>, RingError> {
        Ok(self.0.pending()?)
    }

    /// The fd to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}

/// A guest's xenstore page mapped through `/dev/xen/gntdev`.
pub struct GrantMap(GrantPage);

impl GrantMap {
    /// Maps grant `gref` of `domid` (normally [`super::ring::GNTTAB_RESERVED_XENSTORE`]).
    ///
    /// Each guest's page gets its own gntdev handle, so a guest's grants are released with
    /// its connection even if an unmap were to fail.
    pub fn map(domid: u32, gref: u32) -> Result<GrantMap, RingError> {
        Ok(GrantMap(GrantDev::open()?.map(domid, gref)?))
    }

    /// The mapped page as a ring.
    pub fn ring(&self, domid: u32) -> RingPage {
        // SAFETY: the page is mapped for as long as `self` lives; callers keep the ring no
        // longer than the map (they are stored together in `RingConn`).
        unsafe { RingPage::new(self.0.as_ptr(), domid) }
    }
}

/// A guest's page mapped by frame number through `/dev/xen/privcmd` (the fallback when
/// the grant reference is not set up).
pub struct ForeignMap(ForeignMapping);

impl ForeignMap {
    /// Maps frame `gfn` of `domid`.
    pub fn map(domid: u32, gfn: u64) -> Result<ForeignMap, RingError> {
        const OP: &str = "IOCTL_PRIVCMD_MMAPBATCH_V2 frame";
        let dom = u16::try_from(domid).map_err(|_| RingError::Device {
            what: OP,
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        })?;
        let (map, errs) = Privcmd::open()?.map_foreign(dom, &[gfn], true)?;
        match errs.first() {
            Some(&0) => Ok(ForeignMap(map)),
            Some(&err) => Err(RingError::Device {
                what: OP,
                source: std::io::Error::from_raw_os_error(-err),
            }),
            None => Err(RingError::Device {
                what: OP,
                source: std::io::Error::other("no status for the frame"),
            }),
        }
    }

    /// The mapped page as a ring.
    pub fn ring(&self, domid: u32) -> RingPage {
        // SAFETY: mapped (one page, page-aligned) for as long as `self` lives; kept together
        // with the ring.
        unsafe { RingPage::new(self.0.as_ptr(), domid) }
    }
}

/// dom0's own xenstore page and event channel, offered by the dom0 kernel through
/// `/dev/xen/xenbus_backend` (its xenbus drivers and `/dev/xen/xenbus` use this ring).
pub struct BackendMap {
    page: BackendPage,
    /// dom0's xenstore event channel port (remote end to bind).
    pub port: u32,
}

impl BackendMap {
    /// Opens the device, asks for the port and maps the page.
    pub fn open() -> Result<BackendMap, RingError> {
        let page = BackendPage::open()?;
        Ok(BackendMap {
            port: page.port(),
            page,
        })
    }

    /// The mapped page as a ring.
    pub fn ring(&self) -> RingPage {
        // SAFETY: mapped for as long as `self` lives; kept together with the ring.
        unsafe { RingPage::new(self.page.as_ptr(), 0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_become_ring_errors_naming_the_operation() {
        let e = RingError::from(XenDevError::Io {
            op: "IOCTL_EVTCHN_NOTIFY",
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        });
        let RingError::Device { what, source } = &e else {
            panic!("{e}")
        };
        assert_eq!(*what, "IOCTL_EVTCHN_NOTIFY");
        assert_eq!(source.raw_os_error(), Some(libc::EINVAL));
        let e = RingError::from(XenDevError::Missing {
            path: "/dev/xen/gntdev",
        });
        assert!(e.to_string().starts_with("/dev/xen/gntdev: "), "{e}");
        assert!(e.to_string().contains("driver is not loaded"), "{e}");
    }

    #[test]
    fn mapping_without_xen_fails_cleanly() {
        if std::path::Path::new("/dev/xen").exists() {
            eprintln!("skipped: /dev/xen exists (running on Xen); the lab covers it");
            return;
        }
        assert!(matches!(
            GrantMap::map(1, 1),
            Err(RingError::Device {
                what: "/dev/xen/gntdev",
                ..
            })
        ));
        assert!(matches!(
            ForeignMap::map(1, 0x1000),
            Err(RingError::Device {
                what: "/dev/xen/privcmd",
                ..
            })
        ));
        assert!(EventChannels::open().is_err());
    }
}
