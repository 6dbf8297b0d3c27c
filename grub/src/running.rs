//! The running system: is it Xen's dom0, how much memory does dom0 have, how much does the host.
//!
//! Read from the live `/sys` and `/proc` (never from `--root`): `/sys/hypervisor/type`,
//! `/proc/xen/capabilities` (`control_d` in dom0), and the balloon driver's
//! `/sys/devices/system/xen_memory/xen_memory0/{target_kb,info/current_kb}`.

use std::fs;
use std::path::Path;

/// The domain handle Xen gives dom0.
const DOM0_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// What the running system says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Running {
    /// `/sys/hypervisor/type` (`xen` under Xen).
    pub hypervisor: Option<String>,
    /// This is Xen's control domain (dom0).
    pub dom0: bool,
    /// dom0's current memory (balloon driver `info/current_kb`).
    pub dom0_current_kib: Option<u64>,
    /// dom0's balloon target (`target_kb`).
    pub dom0_target_kib: Option<u64>,
    /// `MemTotal` of this kernel: the host's RAM when not under Xen, dom0's under Xen.
    pub mem_total_kib: Option<u64>,
}

impl Running {
    /// Probes the running system through `sys_root` (`/` normally; tests pass a fake tree).
    pub fn probe(sys_root: &Path) -> Running {
        let read = |p: &str| {
            fs::read_to_string(sys_root.join(p))
                .ok()
                .map(|s| s.trim().to_owned())
        };
        let num = |p: &str| read(p).and_then(|s| s.parse().ok());
        let hypervisor = read("sys/hypervisor/type").filter(|s| !s.is_empty());
        // xenfs (/proc/xen) is often a module that is not loaded; dom0's domain handle, shown
        // in /sys/hypervisor/uuid, is all zeros, so that identifies it too.
        let dom0 = read("proc/xen/capabilities").is_some_and(|c| c.contains("control_d"))
            || (hypervisor.as_deref() == Some("xen")
                && read("sys/hypervisor/uuid").as_deref() == Some(DOM0_UUID));
        let mem_total_kib = read("proc/meminfo").and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        });
        Running {
            hypervisor,
            dom0,
            dom0_current_kib: num("sys/devices/system/xen_memory/xen_memory0/info/current_kb"),
            dom0_target_kib: num("sys/devices/system/xen_memory/xen_memory0/target_kb"),
            mem_total_kib,
        }
    }

    /// Whether this runs under Xen.
    pub fn on_xen(&self) -> bool {
        self.hypervisor.as_deref() == Some("xen")
    }

    /// The host's RAM when it can be known from here: `MemTotal` outside Xen. Under Xen the
    /// caller must ask the hypervisor (physinfo) or the user (`--host-mem`).
    pub fn host_total_kib(&self) -> Option<u64> {
        if self.on_xen() {
            None
        } else {
            self.mem_total_kib
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_dom0() {
        let d = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let p = d.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, s).unwrap();
        };
        w("sys/hypervisor/type", "xen\n");
        w("proc/xen/capabilities", "control_d\n");
        w(
            "proc/meminfo",
            "MemTotal:         359204 kB\nMemFree: 1 kB\n",
        );
        w(
            "sys/devices/system/xen_memory/xen_memory0/target_kb",
            "393216\n",
        );
        w(
            "sys/devices/system/xen_memory/xen_memory0/info/current_kb",
            "393216\n",
        );
        let r = Running::probe(d.path());
        assert!(r.on_xen() && r.dom0);
        assert_eq!(
            (r.dom0_current_kib, r.dom0_target_kib, r.mem_total_kib),
            (Some(393216), Some(393216), Some(359204))
        );
        assert_eq!(r.host_total_kib(), None, "MemTotal is dom0's under Xen");
        fs::remove_file(d.path().join("proc/xen/capabilities")).unwrap();
        assert!(!Running::probe(d.path()).dom0);
        w(
            "sys/hypervisor/uuid",
            "00000000-0000-0000-0000-000000000000\n",
        );
        assert!(Running::probe(d.path()).dom0, "dom0 without xenfs");
        let bare = Running::probe(&d.path().join("nothing"));
        assert!(!bare.on_xen() && !bare.dom0 && bare.host_total_kib().is_none());
    }
}
