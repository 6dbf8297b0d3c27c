//! The ioctl argument structs and request numbers of the Linux Xen drivers.
//!
//! Transcribed from `<xen/evtchn.h>`, `<xen/gntdev.h>`, `<xen/gntalloc.h>` (Linux UAPI),
//! `<xen/sys/privcmd.h>` and `<xen/sys/xenbus_dev.h>` (libxen-dev); see the crate docs for
//! why `xen-sys` does not generate them. The tests pin each size, offset and request number
//! to the output of this C program, built with gcc on Debian 12:
//!
//! ```c
//! #include <stdint.h>
//! #include <stddef.h>
//! typedef uint16_t domid_t; typedef uint32_t grant_ref_t;
//! #include <xen/evtchn.h>
//! #include <xen/gntdev.h>
//! #include <xen/gntalloc.h>
//! #include <xen/xen.h>
//! #include <xen/sys/privcmd.h>
//! #include <xen/sys/xenbus_dev.h>
//! /* printf("%#lx", IOCTL_...), sizeof(struct ...), offsetof(struct ..., field) */
//! ```

use std::mem::size_of;

use xen_sys::{domid_t, evtchn_port_t, grant_ref_t};

use crate::ioctl::ioc_none;

/// `struct ioctl_evtchn_bind_interdomain`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct EvtchnBindInterdomain {
    /// The other domain.
    pub remote_domain: u32,
    /// Its port to connect to.
    pub remote_port: u32,
}

/// `struct ioctl_evtchn_bind_virq`, `_bind_unbound_port`, `_unbind` and `_notify`: each a
/// single `unsigned int` (a VIRQ number, a remote domain, or a local port).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct EvtchnU32 {
    /// The one argument.
    pub value: u32,
}

/// `struct ioctl_gntdev_grant_ref`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GntdevGrantRef {
    /// The granting domain.
    pub domid: u32,
    /// Its grant reference.
    pub gref: grant_ref_t,
}

/// `struct ioctl_gntdev_map_grant_ref` with room for one reference (the C struct ends in a
/// variable-length array; rxl maps one page per call).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GntdevMapGrantRef {
    /// Number of references (1).
    pub count: u32,
    /// Padding.
    pub pad: u32,
    /// Out: the mmap offset of the mapping.
    pub index: u64,
    /// The reference to map.
    pub refs: [GntdevGrantRef; 1],
}

/// `struct ioctl_gntdev_unmap_grant_ref`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GntdevUnmapGrantRef {
    /// The offset `IOCTL_GNTDEV_MAP_GRANT_REF` returned.
    pub index: u64,
    /// Number of references (1).
    pub count: u32,
    /// Padding.
    pub pad: u32,
}

/// `struct ioctl_gntalloc_alloc_gref` with room for one page.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GntallocAllocGref {
    /// The domain allowed to map the page.
    pub domid: domid_t,
    /// `GNTALLOC_FLAG_WRITABLE` or 0.
    pub flags: u16,
    /// Number of pages (1).
    pub count: u32,
    /// Out: the mmap offset.
    pub index: u64,
    /// Out: the grant references.
    pub gref_ids: [grant_ref_t; 1],
}

/// `GNTALLOC_FLAG_WRITABLE`: the other domain may write the page.
pub const GNTALLOC_FLAG_WRITABLE: u16 = 1;

/// `struct ioctl_gntalloc_dealloc_gref`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GntallocDeallocGref {
    /// The offset `IOCTL_GNTALLOC_ALLOC_GREF` returned.
    pub index: u64,
    /// Number of pages (1).
    pub count: u32,
}

/// `struct privcmd_hypercall`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PrivcmdHypercall {
    /// `__HYPERVISOR_*` number.
    pub op: u64,
    /// Raw arguments.
    pub arg: [u64; 5],
}

/// `struct privcmd_mmapbatch_v2`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrivcmdMmapbatchV2 {
    /// Number of frames.
    pub num: u32,
    /// The domain owning them.
    pub dom: domid_t,
    /// Padding (implicit in C).
    pub pad: u16,
    /// Start of the privcmd VMA to fill.
    pub addr: u64,
    /// `num` guest frame numbers.
    pub arr: *const u64,
    /// Out: `num` statuses (0 or a negative errno).
    pub err: *mut i32,
}

/// `struct privcmd_mmap_resource`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PrivcmdMmapResource {
    /// The domain owning the resource.
    pub dom: domid_t,
    /// `XENMEM_resource_*`.
    pub ty: u32,
    /// Resource id.
    pub id: u32,
    /// First frame.
    pub idx: u32,
    /// Number of frames (0 with `addr` 0: query the size).
    pub num: u64,
    /// Start of the privcmd VMA to fill.
    pub addr: u64,
}

/// `IOCTL_EVTCHN_BIND_VIRQ`.
pub const IOCTL_EVTCHN_BIND_VIRQ: libc::c_ulong = ioc_none(b'E', 0, size_of::<EvtchnU32>());
/// `IOCTL_EVTCHN_BIND_INTERDOMAIN`.
pub const IOCTL_EVTCHN_BIND_INTERDOMAIN: libc::c_ulong =
    ioc_none(b'E', 1, size_of::<EvtchnBindInterdomain>());
/// `IOCTL_EVTCHN_BIND_UNBOUND_PORT`.
pub const IOCTL_EVTCHN_BIND_UNBOUND_PORT: libc::c_ulong = ioc_none(b'E', 2, size_of::<EvtchnU32>());
/// `IOCTL_EVTCHN_UNBIND`.
pub const IOCTL_EVTCHN_UNBIND: libc::c_ulong = ioc_none(b'E', 3, size_of::<EvtchnU32>());
/// `IOCTL_EVTCHN_NOTIFY`.
pub const IOCTL_EVTCHN_NOTIFY: libc::c_ulong = ioc_none(b'E', 4, size_of::<EvtchnU32>());
/// `IOCTL_EVTCHN_RESET`.
pub const IOCTL_EVTCHN_RESET: libc::c_ulong = ioc_none(b'E', 5, 0);
/// `IOCTL_GNTDEV_MAP_GRANT_REF`.
pub const IOCTL_GNTDEV_MAP_GRANT_REF: libc::c_ulong =
    ioc_none(b'G', 0, size_of::<GntdevMapGrantRef>());
/// `IOCTL_GNTDEV_UNMAP_GRANT_REF`.
pub const IOCTL_GNTDEV_UNMAP_GRANT_REF: libc::c_ulong =
    ioc_none(b'G', 1, size_of::<GntdevUnmapGrantRef>());
/// `IOCTL_GNTALLOC_ALLOC_GREF`.
pub const IOCTL_GNTALLOC_ALLOC_GREF: libc::c_ulong =
    ioc_none(b'G', 5, size_of::<GntallocAllocGref>());
/// `IOCTL_GNTALLOC_DEALLOC_GREF`.
pub const IOCTL_GNTALLOC_DEALLOC_GREF: libc::c_ulong =
    ioc_none(b'G', 6, size_of::<GntallocDeallocGref>());
/// `IOCTL_PRIVCMD_HYPERCALL`.
pub const IOCTL_PRIVCMD_HYPERCALL: libc::c_ulong = ioc_none(b'P', 0, size_of::<PrivcmdHypercall>());
/// `IOCTL_PRIVCMD_MMAPBATCH_V2`.
pub const IOCTL_PRIVCMD_MMAPBATCH_V2: libc::c_ulong =
    ioc_none(b'P', 4, size_of::<PrivcmdMmapbatchV2>());
/// `IOCTL_PRIVCMD_MMAP_RESOURCE`.
pub const IOCTL_PRIVCMD_MMAP_RESOURCE: libc::c_ulong =
    ioc_none(b'P', 7, size_of::<PrivcmdMmapResource>());
/// `IOCTL_XENBUS_BACKEND_EVTCHN`.
pub const IOCTL_XENBUS_BACKEND_EVTCHN: libc::c_ulong = ioc_none(b'B', 0, 0);

// The driver structs use the hypervisor's scalar types; keep them in step with `xen-sys`.
const _: () = assert!(size_of::<evtchn_port_t>() == size_of::<u32>());
const _: () = assert!(size_of::<grant_ref_t>() == size_of::<u32>());
const _: () = assert!(size_of::<domid_t>() == size_of::<u16>());

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::*;

    #[test]
    fn request_numbers_match_the_c_headers() {
        let expected: [(libc::c_ulong, libc::c_ulong); 14] = [
            (IOCTL_EVTCHN_BIND_VIRQ, 0x44500),
            (IOCTL_EVTCHN_BIND_INTERDOMAIN, 0x84501),
            (IOCTL_EVTCHN_BIND_UNBOUND_PORT, 0x44502),
            (IOCTL_EVTCHN_UNBIND, 0x44503),
            (IOCTL_EVTCHN_NOTIFY, 0x44504),
            (IOCTL_EVTCHN_RESET, 0x4505),
            (IOCTL_GNTDEV_MAP_GRANT_REF, 0x184700),
            (IOCTL_GNTDEV_UNMAP_GRANT_REF, 0x104701),
            (IOCTL_GNTALLOC_ALLOC_GREF, 0x184705),
            (IOCTL_GNTALLOC_DEALLOC_GREF, 0x104706),
            (IOCTL_PRIVCMD_HYPERCALL, 0x305000),
            (IOCTL_PRIVCMD_MMAPBATCH_V2, 0x205004),
            (IOCTL_PRIVCMD_MMAP_RESOURCE, 0x205007),
            (IOCTL_XENBUS_BACKEND_EVTCHN, 0x4200),
        ];
        for (i, (got, want)) in expected.into_iter().enumerate() {
            assert_eq!(got, want, "request #{i}: {got:#x} != {want:#x}");
        }
    }

    #[test]
    fn ioc_none_puts_size_type_and_number_in_their_fields() {
        assert_eq!(ioc_none(0, 0, 0), 0);
        assert_eq!(ioc_none(0, 0xff, 0), 0xff);
        assert_eq!(ioc_none(0xff, 0, 0), 0xff00);
        // _IOC_SIZEBITS is 14 on x86: the largest size stays clear of the direction bits.
        assert_eq!(ioc_none(0, 0, 0x3fff), 0x3fff_0000);
    }

    #[test]
    fn gntdev_and_gntalloc_layouts_match_the_c_headers() {
        assert_eq!(size_of::<GntdevMapGrantRef>(), 24);
        assert_eq!(offset_of!(GntdevMapGrantRef, index), 8);
        assert_eq!(offset_of!(GntdevMapGrantRef, refs), 16);
        assert_eq!(size_of::<GntdevUnmapGrantRef>(), 16);
        assert_eq!(offset_of!(GntdevUnmapGrantRef, count), 8);
        assert_eq!(size_of::<GntallocAllocGref>(), 24);
        assert_eq!(offset_of!(GntallocAllocGref, count), 4);
        assert_eq!(offset_of!(GntallocAllocGref, index), 8);
        assert_eq!(offset_of!(GntallocAllocGref, gref_ids), 16);
        assert_eq!(size_of::<GntallocDeallocGref>(), 16);
    }

    #[test]
    fn privcmd_layouts_match_the_c_headers() {
        assert_eq!(size_of::<PrivcmdHypercall>(), 48);
        assert_eq!(size_of::<PrivcmdMmapbatchV2>(), 32);
        assert_eq!(offset_of!(PrivcmdMmapbatchV2, addr), 8);
        assert_eq!(offset_of!(PrivcmdMmapbatchV2, arr), 16);
        assert_eq!(offset_of!(PrivcmdMmapbatchV2, err), 24);
        assert_eq!(size_of::<PrivcmdMmapResource>(), 32);
        assert_eq!(offset_of!(PrivcmdMmapResource, ty), 4);
        assert_eq!(offset_of!(PrivcmdMmapResource, id), 8);
        assert_eq!(offset_of!(PrivcmdMmapResource, idx), 12);
        assert_eq!(offset_of!(PrivcmdMmapResource, num), 16);
        assert_eq!(offset_of!(PrivcmdMmapResource, addr), 24);
    }
}
