//! The control handle: domctl, sysctl and xen_version hypercalls with interface-version
//! probing.
//!
//! Xen refuses a domctl or sysctl whose `interface_version` differs from its own with EACCES,
//! before looking at anything else, so probing is harmless: at open, rxl issues a read-only
//! call (getdomaininfo of dom0, physinfo) with the version it was built for; if Xen refuses,
//! it tries the neighbouring versions only to name the one the hypervisor speaks in the error.

pub mod domain;
pub mod host;
pub mod vcpu;

use xen_sys as xs;

use crate::error::XenError;
use std::cell::RefCell;

use crate::sys::hcall_buf::{BufferSource, HypercallBuf, PAGE_SIZE};
use crate::sys::privcmd::Privcmd;

/// Interface versions worth trying when naming what an unsupported Xen speaks (exact range
/// from Xen's header history: 0x10 was 4.8-era, 0x18 is 2026 master; sysctl 0x16 from 2025).
const PROBE_RANGE: std::ops::RangeInclusive<u32> = 0x10..=0x1f;

/// Test hook: pretend rxl was built for another domctl version (e.g. `0x16`) to exercise the
/// unsupported-Xen path on a real hypervisor. Read once at open.
pub const DOMCTL_VERSION_ENV: &str = "RXL_XEN_DOMCTL_VERSION";

/// An open connection to the hypervisor with the negotiated interface versions.
#[derive(Debug)]
pub struct Xen {
    privcmd: Privcmd,
    bufs: BufferSource,
    /// One page reused for every domctl/sysctl struct: mapping and unmapping hypercall pages
    /// per call costs more than the call itself in a PV dom0.
    scratch: RefCell<Option<HypercallBuf>>,
    domctl_version: u32,
    sysctl_version: u32,
}

/// Reads a NUL-terminated C string out of `bytes` (lossy UTF-8).
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Reads the arm of a domctl/sysctl union that Xen filled in, as `T`.
///
/// Only for the plain C types of `xen-sys` (integers, arrays, guest-handle pointers), for
/// which every bit pattern is a valid value.
pub(crate) fn arm<U, T: Copy>(u: &U) -> T {
    assert!(
        std::mem::size_of::<T>() <= std::mem::size_of::<U>(),
        "union arm too large"
    );
    // SAFETY: `T` fits inside `U` (checked above), the read is unaligned-tolerant, and the
    // xen-sys types used as `T` are valid for any bit pattern.
    unsafe { std::ptr::read_unaligned((u as *const U).cast::<T>()) }
}

impl Xen {
    /// Opens `/dev/xen/privcmd` and checks that the hypervisor speaks rxl's interface.
    pub fn open() -> Result<Self, XenError> {
        let privcmd = Privcmd::open()?;
        let bufs = BufferSource::open()?;
        let domctl_version = match std::env::var(DOMCTL_VERSION_ENV) {
            Ok(v) => parse_version(&v).ok_or_else(|| {
                XenError::Invalid(format!(
                    "{DOMCTL_VERSION_ENV}={v}: expected a number such as 0x15"
                ))
            })?,
            Err(_) => xs::XEN_DOMCTL_INTERFACE_VERSION,
        };
        let mut xen = Xen {
            privcmd,
            bufs,
            scratch: RefCell::new(None),
            domctl_version,
            sysctl_version: xs::XEN_SYSCTL_INTERFACE_VERSION,
        };
        xen.probe()?;
        Ok(xen)
    }

    /// The domctl interface version in use.
    pub fn domctl_version(&self) -> u32 {
        self.domctl_version
    }

    /// The sysctl interface version in use.
    pub fn sysctl_version(&self) -> u32 {
        self.sysctl_version
    }

    /// Whether hypercall buffers come from `/dev/xen/hypercall`.
    pub fn uses_hypercall_device(&self) -> bool {
        self.bufs.uses_device()
    }

    /// The open privcmd device (for foreign mappings).
    pub fn privcmd(&self) -> &Privcmd {
        &self.privcmd
    }

    fn probe(&mut self) -> Result<(), XenError> {
        let try_domctl = |xen: &Xen, v: u32| xen.raw_domctl_getdomaininfo(v, 0);
        match try_domctl(self, self.domctl_version) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EACCES) => {
                let found = PROBE_RANGE
                    .filter(|&v| v != self.domctl_version)
                    .find(|&v| try_domctl(self, v).is_ok());
                return Err(self.unsupported("domctl", found, self.domctl_version));
            }
            Err(e) => return Err(e),
        }
        let try_sysctl = |xen: &Xen, v: u32| {
            xen.sysctl_with_version(v, "sysctl physinfo", xs::XEN_SYSCTL_physinfo, |_| {})
                .map(|_| ())
        };
        match try_sysctl(self, self.sysctl_version) {
            Ok(()) => Ok(()),
            Err(e) if e.errno() == Some(libc::EACCES) => {
                let found = PROBE_RANGE
                    .filter(|&v| v != self.sysctl_version)
                    .find(|&v| try_sysctl(self, v).is_ok());
                Err(self.unsupported("sysctl", found, self.sysctl_version))
            }
            Err(e) => Err(e),
        }
    }

    fn unsupported(&self, iface: &'static str, found: Option<u32>, expected: u32) -> XenError {
        let xen_version = self
            .version()
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("(version unknown: {e})"));
        XenError::UnsupportedXen {
            xen_version,
            iface,
            found: match found {
                Some(v) => format!("{v:#04x}"),
                None => format!(
                    "none of {:#04x}..{:#04x}",
                    PROBE_RANGE.start(),
                    PROBE_RANGE.end()
                ),
            },
            expected,
        }
    }

    fn raw_domctl_getdomaininfo(&self, version: u32, domid: u16) -> Result<(), XenError> {
        let mut d = xs::xen_domctl {
            cmd: xs::XEN_DOMCTL_getdomaininfo,
            interface_version: version,
            domain: domid,
            ..Default::default()
        };
        self.domctl_raw("domctl getdomaininfo", &mut d)
    }

    /// Allocates a hypercall buffer of at least `len` bytes.
    pub(crate) fn buffer(&self, len: usize) -> Result<HypercallBuf, XenError> {
        self.bufs.alloc(len)
    }

    /// Runs one hypercall, mapping a negative result to a typed error.
    pub(crate) fn hypercall(
        &self,
        op_name: &'static str,
        op: u32,
        args: [u64; 5],
    ) -> Result<i64, XenError> {
        self.privcmd
            .hypercall(op, args)
            .map_err(|errno| XenError::hcall(op_name, errno))
    }

    /// Runs `f` on the scratch page (allocated on first use). Calls never nest: every user
    /// copies its struct in, makes one hypercall and copies it out.
    fn with_scratch<R>(
        &self,
        f: impl FnOnce(&mut HypercallBuf) -> Result<R, XenError>,
    ) -> Result<R, XenError> {
        let mut slot = self.scratch.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.buffer(PAGE_SIZE)?);
        }
        f(slot.as_mut().expect("allocated above"))
    }

    fn domctl_raw(&self, op_name: &'static str, d: &mut xs::xen_domctl) -> Result<(), XenError> {
        *d = self.with_scratch(|buf| {
            buf.write(0, d);
            self.hypercall(op_name, xs::__HYPERVISOR_domctl, [buf.addr(), 0, 0, 0, 0])?;
            Ok(buf.read(0))
        })?;
        Ok(())
    }

    /// Runs domctl `cmd` on `domid`; `fill` sets the command's arguments in the union.
    /// Returns the struct as Xen left it (outputs are in the union).
    pub(crate) fn domctl(
        &self,
        op_name: &'static str,
        cmd: u32,
        domid: u32,
        fill: impl FnOnce(&mut xs::xen_domctl__bindgen_ty_1),
    ) -> Result<xs::xen_domctl, XenError> {
        let domain = u16::try_from(domid)
            .map_err(|_| XenError::Invalid(format!("domain id {domid} is out of range")))?;
        let mut d = xs::xen_domctl {
            cmd,
            interface_version: self.domctl_version,
            domain,
            ..Default::default()
        };
        fill(&mut d.u);
        self.domctl_raw(op_name, &mut d)?;
        Ok(d)
    }

    /// Runs sysctl `cmd`; `fill` sets the arguments. Returns the struct as Xen left it.
    pub(crate) fn sysctl(
        &self,
        op_name: &'static str,
        cmd: u32,
        fill: impl FnOnce(&mut xs::xen_sysctl__bindgen_ty_1),
    ) -> Result<xs::xen_sysctl, XenError> {
        self.sysctl_with_version(self.sysctl_version, op_name, cmd, fill)
    }

    fn sysctl_with_version(
        &self,
        version: u32,
        op_name: &'static str,
        cmd: u32,
        fill: impl FnOnce(&mut xs::xen_sysctl__bindgen_ty_1),
    ) -> Result<xs::xen_sysctl, XenError> {
        let mut s = xs::xen_sysctl {
            cmd,
            interface_version: version,
            ..Default::default()
        };
        fill(&mut s.u);
        self.with_scratch(|buf| {
            buf.write(0, &s);
            self.hypercall(op_name, xs::__HYPERVISOR_sysctl, [buf.addr(), 0, 0, 0, 0])?;
            Ok(buf.read(0))
        })
    }
}

fn parse_version(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_hex_and_decimal() {
        assert_eq!(parse_version("0x16"), Some(0x16));
        assert_eq!(parse_version("21"), Some(21));
        assert_eq!(parse_version("zz"), None);
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(c_string(b"4.17\0junk"), "4.17");
        assert_eq!(c_string(b"no-nul"), "no-nul");
    }
}
