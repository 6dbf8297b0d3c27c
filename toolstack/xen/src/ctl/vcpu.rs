//! vCPU hypercalls: getvcpuinfo, vCPU affinity.

use serde::Serialize;
use xen_sys as xs;

use super::{Xen, arm};
use crate::error::XenError;

/// One vCPU as `XEN_DOMCTL_getvcpuinfo` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VcpuInfo {
    /// vCPU number.
    pub vcpu: u32,
    /// Online.
    pub online: bool,
    /// Blocked waiting for an event.
    pub blocked: bool,
    /// Running now.
    pub running: bool,
    /// CPU time in nanoseconds.
    pub cpu_time_ns: u64,
    /// Physical CPU it runs on (or last ran on).
    pub cpu: u32,
}

/// A set of physical CPUs, one bit each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuMap {
    /// Bit i of byte i/8 = CPU i.
    pub bytes: Vec<u8>,
}

impl CpuMap {
    /// Empty map for `nr_cpus` CPUs.
    pub fn new(nr_cpus: u32) -> Self {
        CpuMap {
            bytes: vec![0; (nr_cpus as usize).div_ceil(8).max(1)],
        }
    }

    /// Whether CPU `i` is in the map.
    pub fn contains(&self, i: u32) -> bool {
        self.bytes
            .get(i as usize / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// Adds CPU `i` (grows the map if needed).
    pub fn insert(&mut self, i: u32) {
        let idx = i as usize / 8;
        if idx >= self.bytes.len() {
            self.bytes.resize(idx + 1, 0);
        }
        self.bytes[idx] |= 1 << (i % 8);
    }

    /// The CPUs in the map, ascending.
    pub fn cpus(&self) -> Vec<u32> {
        (0..(self.bytes.len() * 8) as u32)
            .filter(|&i| self.contains(i))
            .collect()
    }
}

/// Hard and soft affinity of one vCPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Affinity {
    /// CPUs the vCPU may run on.
    pub hard: CpuMap,
    /// CPUs it prefers.
    pub soft: CpuMap,
}

impl Xen {
    /// State of vCPU `vcpu` of `domid`.
    pub fn vcpu_info(&self, domid: u32, vcpu: u32) -> Result<VcpuInfo, XenError> {
        let d = self.domctl(
            "domctl getvcpuinfo",
            xs::XEN_DOMCTL_getvcpuinfo,
            domid,
            |u| {
                u.getvcpuinfo = xs::xen_domctl_getvcpuinfo {
                    vcpu,
                    ..Default::default()
                };
            },
        )?;
        let v: xs::xen_domctl_getvcpuinfo = arm(&d.u);
        Ok(VcpuInfo {
            vcpu: v.vcpu,
            online: v.online != 0,
            blocked: v.blocked != 0,
            running: v.running != 0,
            cpu_time_ns: v.cpu_time,
            cpu: v.cpu,
        })
    }

    fn affinity_call(
        &self,
        name: &'static str,
        cmd: u32,
        domid: u32,
        vcpu: u32,
        set: Option<&Affinity>,
        nr_cpus: u32,
    ) -> Result<Affinity, XenError> {
        let len = (nr_cpus as usize).div_ceil(8).max(1);
        let mut hard = self.buffer(len)?;
        let mut soft = self.buffer(len)?;
        let mut flags = xs::XEN_VCPUAFFINITY_HARD | xs::XEN_VCPUAFFINITY_SOFT;
        if let Some(a) = set {
            let n = a.hard.bytes.len().min(len);
            hard.bytes_mut()[..n].copy_from_slice(&a.hard.bytes[..n]);
            let n = a.soft.bytes.len().min(len);
            soft.bytes_mut()[..n].copy_from_slice(&a.soft.bytes[..n]);
            if a.soft.bytes.iter().all(|&b| b == 0) {
                flags = xs::XEN_VCPUAFFINITY_HARD;
            }
        }
        let (ha, sa) = (hard.addr(), soft.addr());
        let nr_bits = (len * 8) as u32;
        self.domctl(name, cmd, domid, |u| {
            u.vcpuaffinity = xs::xen_domctl_vcpuaffinity {
                vcpu,
                flags,
                cpumap_hard: xs::xenctl_bitmap {
                    bitmap: xs::__guest_handle_uint8 { p: ha as *mut u8 },
                    nr_bits,
                },
                cpumap_soft: xs::xenctl_bitmap {
                    bitmap: xs::__guest_handle_uint8 { p: sa as *mut u8 },
                    nr_bits,
                },
            };
        })?;
        Ok(Affinity {
            hard: CpuMap {
                bytes: hard.bytes()[..len].to_vec(),
            },
            soft: CpuMap {
                bytes: soft.bytes()[..len].to_vec(),
            },
        })
    }

    /// Hard and soft affinity of a vCPU on a host with `nr_cpus` CPUs (max_cpu_id + 1).
    pub fn vcpu_affinity(&self, domid: u32, vcpu: u32, nr_cpus: u32) -> Result<Affinity, XenError> {
        self.affinity_call(
            "domctl getvcpuaffinity",
            xs::XEN_DOMCTL_getvcpuaffinity,
            domid,
            vcpu,
            None,
            nr_cpus,
        )
    }

    /// Sets the affinity of a vCPU (soft left alone when `a.soft` is empty); returns the
    /// effective affinity Xen reports back.
    pub fn set_vcpu_affinity(
        &self,
        domid: u32,
        vcpu: u32,
        a: &Affinity,
        nr_cpus: u32,
    ) -> Result<Affinity, XenError> {
        self.affinity_call(
            "domctl setvcpuaffinity",
            xs::XEN_DOMCTL_setvcpuaffinity,
            domid,
            vcpu,
            Some(a),
            nr_cpus,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpumap_sets_and_lists_bits() {
        let mut m = CpuMap::new(4);
        m.insert(1);
        m.insert(9);
        assert_eq!(m.cpus(), vec![1, 9]);
        assert!(!m.contains(0));
    }
}
