//! `/dev/xen/privcmd`: hypercalls and foreign memory mappings from dom0.
//!
//! A thin adapter over [`rxl_xendev::Privcmd`]: it returns [`XenError`]s and keeps the raw
//! hypercall crate-private, where every caller builds its arguments in hypercall buffers.

pub use rxl_xendev::privcmd::{ForeignMapping, PRIVCMD_PATH};

use crate::error::XenError;

/// An open privcmd device.
#[derive(Debug)]
pub struct Privcmd(rxl_xendev::Privcmd);

impl Privcmd {
    /// Opens `/dev/xen/privcmd` after checking that this is the Xen control domain.
    pub fn open() -> Result<Self, XenError> {
        Ok(Privcmd(rxl_xendev::Privcmd::open()?))
    }

    /// Issues hypercall `op` with raw arguments; returns Xen's non-negative result or errno.
    ///
    /// Pointer arguments must point into [`super::hcall_buf::HypercallBuf`]s that outlive
    /// the call: Xen dereferences them. This is why the function is crate-private: every
    /// caller (`Xen::domctl_raw`, `Xen::sysctl_raw` and the typed calls built on them)
    /// passes only addresses of such buffers.
    pub(crate) fn hypercall(&self, op: u32, args: [u64; 5]) -> Result<i64, i32> {
        // SAFETY: the crate-private callers above pass, as pointer arguments, only addresses
        // inside live `HypercallBuf`s (locked pages) borrowed across this call.
        unsafe { self.0.hypercall(op, args) }
    }

    /// Maps the guest frames `gfns` of domain `dom` into this process.
    ///
    /// Returns the mapping and one status per frame (0, or a negative errno for frames that
    /// could not be mapped; their pages fault on access).
    pub fn map_foreign(
        &self,
        dom: u16,
        gfns: &[u64],
        writable: bool,
    ) -> Result<(ForeignMapping, Vec<i32>), XenError> {
        Ok(self.0.map_foreign(dom, gfns, writable)?)
    }

    /// Number of frames of resource `ty`/`id` of domain `dom` (XENMEM_acquire_resource query).
    pub fn resource_size(&self, dom: u16, ty: u32, id: u32) -> Result<u64, XenError> {
        Ok(self.0.resource_size(dom, ty, id)?)
    }

    /// Maps `num` frames of resource `ty`/`id` (e.g. a grant table or ioreq server) of
    /// domain `dom`, starting at frame `idx`.
    pub fn map_resource(
        &self,
        dom: u16,
        ty: u32,
        id: u32,
        idx: u32,
        num: u64,
    ) -> Result<ForeignMapping, XenError> {
        Ok(self.0.map_resource(dom, ty, id, idx, num)?)
    }
}
