//! `xl info`: the Xen facts as `(key, value)` pairs in xl's order. The `key : value` layout
//! itself is backend-neutral and lives in [`rxl_hypervisor::render::info`].

use rxl_hypervisor::HostInfo;
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
    let caps = p.virt_caps().join(" ");
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

/// The backend-neutral host facts: [`lines`] for the text, the whole report for `--json`.
pub fn host_info(r: &HostReport) -> HostInfo {
    HostInfo {
        fields: lines(r)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        details: serde_json::to_value(r).unwrap_or_default(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ctl::host::XenVersion;
    use rxl_hypervisor::render;

    /// `xl info` from Debian's xl 4.17 in the Xen lab's dom0 (xl-smoke), byte for byte,
    /// trailing spaces included.
    const RECORDED: &str = include_str!("testdata/xl-4.17-info.txt");

    /// The facts the hypervisor and the dom0 kernel reported on that boot.
    pub(crate) fn sample() -> HostReport {
        HostReport {
            uname: Uname {
                nodename: "(none)".into(),
                release: "6.1.0-56-amd64".into(),
                version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)".into(),
                machine: "x86_64".into(),
            },
            phys: PhysInfo {
                threads_per_core: 1,
                cores_per_socket: 2,
                nr_cpus: 2,
                max_cpu_id: 1,
                nr_nodes: 1,
                cpu_khz: 2_596_143,
                capabilities: xen_sys::XEN_SYSCTL_PHYSCAP_pv
                    | xen_sys::XEN_SYSCTL_PHYSCAP_hvm
                    | xen_sys::XEN_SYSCTL_PHYSCAP_hap
                    | xen_sys::XEN_SYSCTL_PHYSCAP_gnttab_v1
                    | xen_sys::XEN_SYSCTL_PHYSCAP_gnttab_v2,
                total_pages: 524_127,
                free_pages: 1424 * 256 + 255,
                outstanding_pages: 0,
                hw_cap: [
                    0x1fcbf3fd, 0xf6d8320b, 0xec500800, 0x77, 0x5, 0x018843a9, 0x20c, 0,
                ],
                ..Default::default()
            },
            version: VersionInfo {
                version: XenVersion {
                    major: 4,
                    minor: 17,
                    extra: ".7".into(),
                },
                capabilities: "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 "
                    .into(),
                changeset: "".into(),
                commandline: "console=com1 com1=115200,8n1 dom0_mem=768M,max:768M \
                              dom0_max_vcpus=2 loglvl=all guest_loglvl=all smap=0 "
                    .into(),
                compiler: "x86_64-linux-gnu-gcc (Debian 12.2.0-14+deb12u1) 12.2.0".into(),
                compile_by: "pkg-xen-devel".into(),
                compile_domain: "lists.alioth.debian.org".into(),
                compile_date: "Wed Nov  4 16:52:28 UTC 2026".into(),
                build_id: "151b373fd64b321593bf987fd923cd10dabadac4".into(),
                pagesize: 4096,
                virt_start: 0xffff800000000000,
            },
            sched_id: xen_sys::XEN_SCHEDULER_CREDIT2,
            free_cpus: Some(0),
        }
    }

    fn render_xen(r: &HostReport, only: Option<&str>) -> String {
        render::info(&host_info(r), only)
    }

    #[test]
    fn renders_recorded_xl_info() {
        assert_eq!(render_xen(&sample(), None), RECORDED);
    }

    #[test]
    fn a_name_selects_values_by_prefix() {
        assert_eq!(render_xen(&sample(), Some("nr_cpus")), "2\n");
        assert_eq!(render_xen(&sample(), Some("xen_m")), "4\n17\n");
        assert_eq!(
            render_xen(&sample(), Some("virt_caps")),
            "pv hvm hap gnttab-v1 gnttab-v2\n"
        );
        assert_eq!(render_xen(&sample(), Some("nothing")), "");
    }

    #[test]
    fn claims_and_a_missing_free_cpus_line() {
        let mut s = sample();
        s.phys.outstanding_pages = 256;
        s.free_cpus = None;
        let text = render_xen(&s, None);
        assert!(text.contains("\nfree_memory            : 1423\n"), "{text}");
        assert!(
            text.contains("\noutstanding_claims     : 1\nxen_major"),
            "{text}"
        );
        assert_eq!(text.lines().count(), RECORDED.lines().count() - 1);
    }

    #[test]
    fn no_virt_caps_prints_a_bare_colon() {
        // xl's format is "virt_caps              :%s" with one " cap" per capability.
        let mut s = sample();
        s.phys.capabilities = 0;
        let text = render_xen(&s, None);
        assert!(text.contains("\nvirt_caps              :\n"), "{text}");
        assert_eq!(render_xen(&s, Some("virt_caps")), "");
    }

    #[test]
    fn json_details_carry_the_typed_report() {
        let h = host_info(&sample());
        assert_eq!(h.details["phys"]["nr_cpus"], 2);
        assert_eq!(h.details["uname"]["nodename"], "(none)");
        assert_eq!(h.fields.len(), RECORDED.lines().count());
    }
}
