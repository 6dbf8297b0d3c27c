//! What this host can do: the facts behind `rxl host-check` and the automatic backend choice.
//!
//! Every probe reads the host through [`HostView`], so the rules are unit-tested against fake
//! `/proc` and `/sys` trees, and the real host is just [`RealHost`].

use std::path::PathBuf;

use serde::Serialize;

/// Read access to the parts of a host that decide what rxl can run.
pub trait HostView {
    /// The contents of a file, if it exists and is readable.
    fn read(&self, path: &str) -> Option<String>;
    /// Whether a path exists.
    fn exists(&self, path: &str) -> bool;
    /// Entries of a directory (names only), empty when missing.
    fn list_dir(&self, path: &str) -> Vec<String>;
    /// Whether a device node opens read-write for us.
    fn opens_rw(&self, path: &str) -> Result<(), String>;
    /// The KVM API version `/dev/kvm` reports.
    fn kvm_api_version(&self) -> Result<i32, String>;
    /// Whether a unix stream socket accepts a connection.
    fn socket_accepts(&self, path: &str) -> bool;
    /// Whether we run as root.
    fn is_root(&self) -> bool;
}

/// The host rxl runs on; paths are read below `root` (normally `/`).
#[derive(Debug, Clone)]
pub struct RealHost {
    root: PathBuf,
}

impl RealHost {
    /// The machine itself.
    pub fn new() -> Self {
        RealHost {
            root: PathBuf::from("/"),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }
}

impl Default for RealHost {
    fn default() -> Self {
        Self::new()
    }
}

impl HostView for RealHost {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path)).ok()
    }

    fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(path))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn opens_rw(&self, path: &str) -> Result<(), String> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(path))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn kvm_api_version(&self) -> Result<i32, String> {
        let kvm = kvm_ioctls::Kvm::new().map_err(|e| e.to_string())?;
        Ok(kvm.get_api_version())
    }

    fn socket_accepts(&self, path: &str) -> bool {
        std::os::unix::net::UnixStream::connect(self.path(path)).is_ok()
    }

    fn is_root(&self) -> bool {
        nix::unistd::geteuid().is_root()
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short name, e.g. "cpu virtualization".
    pub name: &'static str,
    /// Whether the capability is there.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do when it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn missing(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The KVM API version every Linux since 2.6.22 reports.
const KVM_API_VERSION: i32 = 12;

/// Which hypervisor rxl would drive on this host, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// We are in a Xen control domain (dom0) that can drive Xen.
    pub xen_dom0: bool,
    /// /dev/kvm is usable.
    pub kvm: bool,
}

/// CPU vendor from /proc/cpuinfo, for vendor-specific fixes.
fn cpu_vendor(host: &dyn HostView) -> Option<&'static str> {
    let info = host.read("/proc/cpuinfo")?;
    if info.contains("GenuineIntel") {
        Some("intel")
    } else if info.contains("AuthenticAMD") {
        Some("amd")
    } else {
        None
    }
}

fn cpu_flags(host: &dyn HostView) -> Vec<String> {
    host.read("/proc/cpuinfo")
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("flags"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, f)| f.split_whitespace().map(str::to_owned).collect())
        })
        .unwrap_or_default()
}

/// Whether this is a Xen control domain: `/proc/xen/capabilities` says `control_d`.
pub fn is_xen_dom0(host: &dyn HostView) -> bool {
    host.read("/proc/xen/capabilities")
        .is_some_and(|c| c.split_whitespace().any(|w| w == "control_d"))
}

/// Whether `/dev/kvm` opens read-write and speaks the KVM API rxl needs.
pub fn kvm_usable(host: &dyn HostView) -> bool {
    host.exists("/dev/kvm")
        && host
            .opens_rw("/dev/kvm")
            .and_then(|()| host.kvm_api_version())
            == Ok(KVM_API_VERSION)
}

/// Whether the Linux we run on is itself a Xen guest or dom0.
fn on_xen(host: &dyn HostView) -> bool {
    host.read("/sys/hypervisor/type")
        .is_some_and(|t| t.trim() == "xen")
}

/// Runs every probe, in the order `rxl host-check` prints them.
pub fn run_checks(host: &dyn HostView) -> (Vec<Check>, Capabilities) {
    let mut checks = Vec::new();
    let vendor = cpu_vendor(host);
    let flags = cpu_flags(host);
    let virt = ["vmx", "svm"]
        .into_iter()
        .find(|f| flags.iter().any(|x| x == f));
    checks.push(match virt {
        Some(f) => Check::ok("cpu virtualization", format!("{f} present")),
        None if host.exists("/sys/module/kvm_pvm") => Check::ok(
            "cpu virtualization",
            "no vmx/svm; KVM runs on kvm_pvm (software virtualization: tiny guests only, Linux crawls)",
        ),
        None if on_xen(host) => Check::ok(
            "cpu virtualization",
            "hidden from this kernel, as Xen does for dom0 (Xen itself uses it)",
        ),
        None => Check::missing(
            "cpu virtualization",
            "neither vmx nor svm in /proc/cpuinfo",
            "enable Intel VT-x or AMD-V (SVM) in the firmware set-up, or give a nested VM the host CPU model",
        ),
    });

    let kvm_mod = host.exists("/sys/module/kvm");
    let vendor_mod = ["kvm_intel", "kvm_amd", "kvm_pvm"]
        .into_iter()
        .find(|m| host.exists(&format!("/sys/module/{m}")));
    checks.push(match (kvm_mod, vendor_mod) {
        (true, Some(m)) => Check::ok("kvm modules", format!("kvm and {m} loaded")),
        _ => {
            let m = match vendor {
                Some("intel") => "kvm_intel",
                Some("amd") => "kvm_amd",
                _ => "kvm_intel or kvm_amd",
            };
            Check::missing(
                "kvm modules",
                if kvm_mod {
                    "kvm loaded, but no vendor module"
                } else {
                    "kvm not loaded"
                },
                format!("modprobe {m}"),
            )
        }
    });

    let kvm_ok = if !host.exists("/dev/kvm") {
        checks.push(Check::missing(
            "/dev/kvm",
            "missing",
            "load the kvm modules (above); inside a VM, enable nested virtualization",
        ));
        false
    } else {
        match host
            .opens_rw("/dev/kvm")
            .and_then(|()| host.kvm_api_version())
        {
            Ok(KVM_API_VERSION) => {
                checks.push(Check::ok("/dev/kvm", "usable, KVM API 12"));
                true
            }
            Ok(v) => {
                checks.push(Check::missing(
                    "/dev/kvm",
                    format!("KVM API version {v}, rxl needs {KVM_API_VERSION}"),
                    "run a Linux kernel with the standard KVM API",
                ));
                false
            }
            Err(e) => {
                checks.push(Check::missing(
                    "/dev/kvm",
                    format!("cannot open: {e}"),
                    "run as root or add your user to the 'kvm' group",
                ));
                false
            }
        }
    };

    let dom0 = is_xen_dom0(host);
    checks.push(if dom0 {
        Check::ok("xen", "running; this is the control domain (dom0)")
    } else if on_xen(host) && !host.exists("/proc/xen/capabilities") {
        Check::missing(
            "xen",
            "running on Xen, but xenfs is not mounted",
            "mount -t xenfs xenfs /proc/xen",
        )
    } else if on_xen(host) {
        Check::missing(
            "xen",
            "running as a Xen guest (domU), not dom0",
            "run rxl in dom0 to manage Xen guests",
        )
    } else {
        Check::missing(
            "xen",
            "not running on Xen",
            "install Xen and boot it: rxl grub set-default xen && rxl grub apply (KVM is used meanwhile)",
        )
    });

    let xen_ok = if dom0 {
        let priv_ok = host.is_root() && host.opens_rw("/dev/xen/privcmd").is_ok();
        checks.push(if priv_ok {
            Check::ok("dom0 privileges", "root, /dev/xen/privcmd opens")
        } else if !host.is_root() {
            Check::missing(
                "dom0 privileges",
                "not root",
                "run rxl as root (sudo rxl ...)",
            )
        } else {
            Check::missing(
                "dom0 privileges",
                "/dev/xen/privcmd does not open",
                "modprobe xen-privcmd",
            )
        });
        let store = host.socket_accepts("/run/xenstored/socket") || host.exists("/dev/xen/xenbus");
        checks.push(if store {
            Check::ok("xenstored", "reachable")
        } else {
            Check::missing(
                "xenstored",
                "no daemon at /run/xenstored/socket and no /dev/xen/xenbus",
                "start it: rxenstored (or systemctl start xenstored)",
            )
        });
        priv_ok && store
    } else {
        false
    };

    let bridges: Vec<String> = host
        .list_dir("/sys/class/net")
        .into_iter()
        .filter(|n| host.exists(&format!("/sys/class/net/{n}/bridge")))
        .collect();
    checks.push(if bridges.is_empty() {
        Check::missing(
            "bridges",
            "none: guests with a vif have nowhere to attach",
            "create one: ip link add xenbr0 type bridge && ip link set xenbr0 up",
        )
    } else {
        Check::ok("bridges", bridges.join(" "))
    });

    (
        checks,
        Capabilities {
            xen_dom0: xen_ok,
            kvm: kvm_ok,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A [`HostView`] over a directory tree, for tests and for inspecting another root.
    #[derive(Debug, Clone)]
    struct TreeHost {
        root: PathBuf,
        kvm_api: Result<i32, String>,
        root_user: bool,
    }

    impl TreeHost {
        fn path(&self, p: &str) -> PathBuf {
            self.root.join(p.trim_start_matches('/'))
        }
    }

    impl HostView for TreeHost {
        fn read(&self, path: &str) -> Option<String> {
            std::fs::read_to_string(self.path(path)).ok()
        }
        fn exists(&self, path: &str) -> bool {
            self.path(path).exists()
        }
        fn list_dir(&self, path: &str) -> Vec<String> {
            RealHost {
                root: self.root.clone(),
            }
            .list_dir(path)
        }
        fn opens_rw(&self, path: &str) -> Result<(), String> {
            if self.exists(path) {
                Ok(())
            } else {
                Err("No such file or directory".into())
            }
        }
        fn kvm_api_version(&self) -> Result<i32, String> {
            self.kvm_api.clone()
        }
        fn socket_accepts(&self, path: &str) -> bool {
            self.exists(path)
        }
        fn is_root(&self) -> bool {
            self.root_user
        }
    }

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, TreeHost) {
        let dir = tempfile::tempdir().unwrap();
        for (p, content) in files {
            let full = dir.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        let host = TreeHost {
            root: dir.path().to_owned(),
            kvm_api: Ok(12),
            root_user: true,
        };
        (dir, host)
    }

    fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn bare_amd_host_without_kvm_module_suggests_kvm_amd() {
        let (_d, host) = tree(&[(
            "/proc/cpuinfo",
            "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm sse\n",
        )]);
        let (checks, caps) = run_checks(&host);
        assert!(find(&checks, "cpu virtualization").ok);
        let m = find(&checks, "kvm modules");
        assert!(!m.ok);
        assert_eq!(m.fix.as_deref(), Some("modprobe kvm_amd"));
        assert!(!find(&checks, "/dev/kvm").ok);
        assert_eq!(
            caps,
            Capabilities {
                xen_dom0: false,
                kvm: false
            }
        );
    }

    #[test]
    fn kvm_host_with_bridge_is_usable() {
        let (_d, host) = tree(&[
            ("/proc/cpuinfo", "vendor_id : GenuineIntel\nflags : vmx\n"),
            ("/sys/module/kvm/x", ""),
            ("/sys/module/kvm_intel/x", ""),
            ("/dev/kvm", ""),
            ("/sys/class/net/br0/bridge/x", ""),
            ("/sys/class/net/eth0/x", ""),
        ]);
        let (checks, caps) = run_checks(&host);
        assert!(caps.kvm && !caps.xen_dom0);
        assert_eq!(find(&checks, "bridges").detail, "br0");
        assert!(!find(&checks, "xen").ok);
    }

    #[test]
    fn wrong_kvm_api_is_not_usable() {
        let (_d, mut host) = tree(&[("/dev/kvm", "")]);
        host.kvm_api = Ok(11);
        let (checks, caps) = run_checks(&host);
        assert!(!caps.kvm);
        assert!(find(&checks, "/dev/kvm").detail.contains("11"));
    }

    #[test]
    fn dom0_needs_root_and_xenstore() {
        let files = [
            ("/proc/xen/capabilities", "control_d\n"),
            ("/sys/hypervisor/type", "xen\n"),
            ("/dev/xen/privcmd", ""),
        ];
        let (_d, mut host) = tree(&files);
        host.root_user = false;
        let (checks, caps) = run_checks(&host);
        assert!(!caps.xen_dom0);
        assert!(find(&checks, "cpu virtualization").ok, "hidden by Xen");
        assert_eq!(find(&checks, "dom0 privileges").detail, "not root");
        assert!(!find(&checks, "xenstored").ok);

        let (_d2, host) = tree(&[files[0], files[1], files[2], ("/run/xenstored/socket", "")]);
        let (_, caps) = run_checks(&host);
        assert!(caps.xen_dom0);
    }

    #[test]
    fn xen_guest_without_xenfs_says_mount_it() {
        let (_d, host) = tree(&[("/sys/hypervisor/type", "xen\n")]);
        let (checks, _) = run_checks(&host);
        assert_eq!(
            find(&checks, "xen").fix.as_deref(),
            Some("mount -t xenfs xenfs /proc/xen")
        );
    }

    #[test]
    fn real_host_probes_do_not_fail() {
        // The real machine: whatever it has, every probe must answer with a detail.
        let (checks, _) = run_checks(&RealHost::new());
        assert!(checks.len() >= 5);
        assert!(checks.iter().all(|c| !c.detail.is_empty()));
        assert!(checks.iter().all(|c| c.ok || c.fix.is_some()));
    }
}
