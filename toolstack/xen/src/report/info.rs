//! `xl info`: `key : value` lines in xl's order and spacing.

use serde::Serialize;

use crate::ctl::host::{PhysInfo, VersionInfo, scheduler_name};

/// `uname(2)` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Uname {
    /// Host name.
    pub nodename: String,
    /// Kernel release.
    pub release: String,
    /// Kernel version string.
    pub version: String,
    /// Machine architecture.
    pub machine: String,
}

impl Uname {
    /// The running kernel's identity, from `/proc/sys/kernel` (the same strings `uname(2)`
    /// returns, without an unsafe call).
    pub fn current() -> Self {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim_end_matches('\n').to_owned())
                .unwrap_or_default()
        };
        Uname {
            nodename: read("/proc/sys/kernel/hostname"),
            release: read("/proc/sys/kernel/osrelease"),
            version: read("/proc/sys/kernel/version"),
            machine: std::env::consts::ARCH.to_owned(),
        }
    }
}

/// Everything `rxl info` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostReport {
    /// dom0 kernel identity.
    pub uname: Uname,
    /// Physical facts.
    pub phys: PhysInfo,
    /// Hypervisor version facts.
    pub version: VersionInfo,
    /// `XEN_SCHEDULER_*` of the default pool.
    pub sched_id: u32,
    /// CPUs in no pool; `None` if Xen would not say.
    pub free_cpus: Option<u32>,
}

/// The lines in xl's order: (key, value).
pub fn lines(r: &HostReport) -> Vec<(&'static str, String)> {
    let p = &r.phys;
    let v = &r.version;
    let per_mib = u64::from((1u32 << 20) / v.pagesize.max(1));
    let mib = |pages: u64| (pages / per_mib).to_string();
    let caps: String = p.virt_caps().iter().map(|c| format!(" {c}")).collect();
    let mut out = vec![
        ("host", r.uname.nodename.clone()),
        ("release", r.uname.release.clone()),
        ("version", r.uname.version.clone()),
        ("machine", r.uname.machine.clone()),
        ("nr_cpus", p.nr_cpus.to_string()),
        ("max_cpu_id", p.max_cpu_id.to_string()),
        ("nr_nodes", p.nr_nodes.to_string()),
        ("cores_per_socket", p.cores_per_socket.to_string()),
        ("threads_per_core", p.threads_per_core.to_string()),
        (
            "cpu_mhz",
            format!("{}.{:03}", p.cpu_khz / 1000, p.cpu_khz % 1000),
        ),
        (
            "hw_caps",
            p.hw_cap
                .iter()
                .map(|w| format!("{w:08x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        // xl prints each capability with a leading space right after the colon.
        ("virt_caps", caps),
        ("total_memory", mib(p.total_pages)),
        (
            "free_memory",
            mib(p.free_pages.saturating_sub(p.outstanding_pages)),
        ),
        ("sharing_freed_memory", mib(p.sharing_freed_pages)),
        ("sharing_used_memory", mib(p.sharing_used_frames)),
        ("outstanding_claims", mib(p.outstanding_pages)),
    ];
    if let Some(n) = r.free_cpus {
        out.push(("free_cpus", n.to_string()));
    }
    out.extend([
        ("xen_major", v.version.major.to_string()),
        ("xen_minor", v.version.minor.to_string()),
        ("xen_extra", v.version.extra.clone()),
        ("xen_version", v.version.to_string()),
        ("xen_caps", v.capabilities.clone()),
        ("xen_scheduler", scheduler_name(r.sched_id).to_owned()),
        ("xen_pagesize", v.pagesize.to_string()),
        ("platform_params", format!("virt_start={:#x}", v.virt_start)),
        ("xen_changeset", v.changeset.clone()),
        ("xen_commandline", v.commandline.clone()),
        ("cc_compiler", v.compiler.clone()),
        ("cc_compile_by", v.compile_by.clone()),
        ("cc_compile_domain", v.compile_domain.clone()),
        ("cc_compile_date", v.compile_date.clone()),
        ("build_id", v.build_id.clone()),
        ("xend_config_format", "4".to_owned()),
    ]);
    out
}

/// One line as xl prints it: the key padded to 23 columns, then `: value`.
fn line(key: &str, value: &str) -> String {
    if key == "virt_caps" {
        // The format is "virt_caps              :%s" with " cap" words.
        format!("{key:<23}:{value}")
    } else {
        format!("{key:<23}: {value}")
    }
}

/// The text of `xl info [NAME]`: every line, or with `only` the values of the lines whose
/// text starts with `only` (xl compares a prefix of the whole line, so `xen_` selects all
/// `xen_*` values).
pub fn render(r: &HostReport, only: Option<&str>) -> String {
    let mut out = String::new();
    for (k, v) in lines(r) {
        let l = line(k, &v);
        match only {
            None => {
                out.push_str(&l);
                out.push('\n');
            }
            Some(prefix) => {
                if l.starts_with(prefix)
                    && let Some(pos) = l.find(':')
                    && l[pos + 1..].starts_with(' ')
                {
                    out.push_str(&l[pos + 2..]);
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ctl::host::XenVersion;

    pub(crate) fn sample() -> HostReport {
        HostReport {
            uname: Uname {
                nodename: "lab".into(),
                release: "6.1.0-56-amd64".into(),
                version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2".into(),
                machine: "x86_64".into(),
            },
            phys: PhysInfo {
                threads_per_core: 1,
                cores_per_socket: 2,
                nr_cpus: 2,
                max_cpu_id: 1,
                nr_nodes: 1,
                cpu_khz: 2_894_563,
                capabilities: xen_sys::XEN_SYSCTL_PHYSCAP_pv
                    | xen_sys::XEN_SYSCTL_PHYSCAP_hvm
                    | xen_sys::XEN_SYSCTL_PHYSCAP_hap
                    | xen_sys::XEN_SYSCTL_PHYSCAP_gnttab_v1
                    | xen_sys::XEN_SYSCTL_PHYSCAP_gnttab_v2,
                total_pages: 524_127,
                free_pages: 321_000,
                outstanding_pages: 256,
                hw_cap: [0x178bfbff, 0xf6f83203, 0, 0, 0x2c3, 0, 0, 0],
                ..Default::default()
            },
            version: VersionInfo {
                version: XenVersion {
                    major: 4,
                    minor: 17,
                    extra: ".7".into(),
                },
                capabilities: "xen-3.0-x86_64 hvm-3.0-x86_32".into(),
                changeset: "".into(),
                commandline: "console=com1 dom0_mem=768M,max:768M".into(),
                compiler: "x86_64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0".into(),
                compile_by: "pkg-xen-devel".into(),
                compile_domain: "lists.alioth.debian.org".into(),
                compile_date: "Wed Oct  1 00:00:00 UTC 2025".into(),
                build_id: "abcdef01".into(),
                pagesize: 4096,
                virt_start: 0xffff800000000000,
            },
            sched_id: xen_sys::XEN_SCHEDULER_CREDIT2,
            free_cpus: Some(0),
        }
    }

    #[test]
    fn renders_like_xl_info() {
        let text = render(&sample(), None);
        let l: Vec<&str> = text.lines().collect();
        assert_eq!(l[0], "host                   : lab");
        assert!(text.contains("\ncpu_mhz                : 2894.563\n"));
        assert!(text.contains("\nhw_caps                : 178bfbff:f6f83203:00000000:00000000:000002c3:00000000:00000000:00000000\n"));
        assert!(text.contains("\nvirt_caps              : pv hvm hap gnttab-v1 gnttab-v2\n"));
        assert!(text.contains("\ntotal_memory           : 2047\n"));
        assert!(text.contains("\nfree_memory            : 1252\n"));
        assert!(text.contains("\noutstanding_claims     : 1\n"));
        assert!(text.contains("\nxen_version            : 4.17.7\n"));
        assert!(text.contains("\nxen_scheduler          : credit2\n"));
        assert!(text.contains("\nplatform_params        : virt_start=0xffff800000000000\n"));
        assert!(text.contains("\nxen_changeset          : \n"));
        assert_eq!(*l.last().unwrap(), "xend_config_format     : 4");
        assert_eq!(l.len(), 34);
    }

    #[test]
    fn a_name_selects_values_by_prefix() {
        assert_eq!(render(&sample(), Some("nr_cpus")), "2\n");
        assert_eq!(render(&sample(), Some("xen_m")), "4\n17\n");
        assert_eq!(render(&sample(), Some("nothing")), "");
    }

    #[test]
    fn no_virt_caps_prints_a_bare_colon() {
        let mut s = sample();
        s.phys.capabilities = 0;
        assert!(render(&s, None).contains("\nvirt_caps              :\n"));
    }
}
