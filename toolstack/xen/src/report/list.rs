//! `xl list`: the Xen facts behind each row. The layout itself is backend-neutral and lives in
//! [`rxl_hypervisor::render::list`]; this module turns a domctl domain info into the numbers xl
//! prints (memory with outstanding claims, CPU time through a C `float`).

use rxl_hypervisor::{DomainId, DomainState, DomainSummary};

use crate::ctl::domain::DomainInfo;

/// A domain and the name xenstore gives it (`None` prints as xl's `(null)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedDomain {
    /// Hypervisor facts.
    pub info: DomainInfo,
    /// `/local/domain/<id>/name`.
    pub name: Option<String>,
}

/// CPU seconds as xl computes them: the nanoseconds go through a C `float` first.
pub fn cpu_secs(ns: u64) -> f64 {
    f64::from(ns as f32) / 1e9
}

/// The backend-neutral row of one domain, with exactly the numbers `xl list` prints.
pub fn summary(d: &NamedDomain) -> DomainSummary {
    let i = &d.info;
    DomainSummary {
        id: DomainId(i.domid),
        name: d.name.clone(),
        mem_kib: i.current_memkb() + i.outstanding_memkb(),
        vcpus: i.vcpu_online,
        state: DomainState {
            running: i.running,
            blocked: i.blocked,
            paused: i.paused,
            shutdown: i.shutdown,
            dying: i.dying,
        },
        cpu_time_secs: cpu_secs(i.cpu_time_ns),
        uuid: Some(i.uuid),
        control: i.domid == 0,
        details: serde_json::to_value(i).unwrap_or_default(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ctl::domain::ShutdownReason;
    use rxl_hypervisor::render;

    pub(crate) fn dom0() -> DomainInfo {
        DomainInfo {
            domid: 0,
            uuid: [0; 16],
            dying: false,
            hvm: false,
            shutdown: None,
            paused: false,
            blocked: false,
            running: true,
            tot_pages: 196_608,
            max_pages: 196_608,
            outstanding_pages: 0,
            shr_pages: 0,
            paged_pages: 0,
            cpu_time_ns: 34_212_345_678,
            vcpu_online: 2,
            max_vcpu_id: 1,
            ssidref: 0,
            cpupool: 0,
        }
    }

    /// The lab's PV guest, as the domctl reported it next to dom0.
    fn lab_pv() -> DomainInfo {
        DomainInfo {
            domid: 1,
            running: false,
            blocked: true,
            tot_pages: 32_768,
            max_pages: 32_768,
            cpu_time_ns: 12_300_000_000,
            ..dom0()
        }
    }

    fn named(info: DomainInfo, name: Option<&str>) -> NamedDomain {
        NamedDomain {
            info,
            name: name.map(str::to_owned),
        }
    }

    fn render_xen(doms: &[NamedDomain], verbose: bool) -> String {
        let rows: Vec<_> = doms.iter().map(summary).collect();
        render::list(&rows, verbose)
    }

    /// Debian's xl 4.17 in the Xen lab's dom0 with the PV guest running (ctl-guest: the first
    /// 60 columns of every row matched `xl list` byte for byte).
    #[test]
    fn renders_recorded_xl_list() {
        let text = render_xen(
            &[
                named(dom0(), Some("Domain-0")),
                named(lab_pv(), Some("lab-pv")),
            ],
            false,
        );
        let want = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
Domain-0                                     0   768     2     r-----      34.2\n\
lab-pv                                       1   128     2     -b----      12.3\n";
        assert_eq!(text, want);
    }

    /// Shutdown letters, a nameless domain, outstanding claims, a dying domain, and the
    /// verbose columns (header as recorded from xl 4.17 by ctl-parity; rows in libxl's
    /// `" %8x"` / `" %16s"` formats).
    #[test]
    fn renders_every_column_like_xl() {
        let mut guest = lab_pv();
        guest.domid = 7;
        guest.vcpu_online = 1;
        guest.outstanding_pages = 12;
        guest.cpu_time_ns = 50_000_000;
        guest.uuid[3] = 0x5c;
        guest.shutdown = Some(ShutdownReason::Reboot);
        let mut crashed = guest.clone();
        crashed.domid = 9;
        crashed.shutdown = Some(ShutdownReason::Crash);
        let mut odd = guest.clone();
        odd.domid = 4000;
        odd.shutdown = Some(ShutdownReason::Unknown(0x2f));
        odd.dying = true;
        let doms = [
            named(dom0(), Some("Domain-0")),
            named(guest, None),
            named(crashed, Some("a-rather-long-domain-name-of-forty-chars!")),
            named(odd, Some("odd")),
        ];
        let want = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
Domain-0                                     0   768     2     r-----      34.2\n\
(null)                                       7   128     1     -b-sr-       0.1\n\
a-rather-long-domain-name-of-forty-chars!     9   128     1     -b-sc-       0.1\n\
odd                                       4000   128     1     -b-s?d       0.1\n";
        assert_eq!(render_xen(&doms, false), want);
        let want_v = "Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID                            Reason-Code\tSecurity Label\n\
Domain-0                                     0   768     2     r-----      34.2 00000000-0000-0000-0000-000000000000        -                -\n\
(null)                                       7   128     1     -b-sr-       0.1 0000005c-0000-0000-0000-000000000000        1                -\n\
a-rather-long-domain-name-of-forty-chars!     9   128     1     -b-sc-       0.1 0000005c-0000-0000-0000-000000000000        3                -\n\
odd                                       4000   128     1     -b-s?d       0.1 0000005c-0000-0000-0000-000000000000       2f                -\n";
        assert_eq!(render_xen(&doms, true), want_v);
    }

    #[test]
    fn summary_keeps_the_xen_facts_for_json() {
        let s = summary(&named(lab_pv(), Some("lab-pv")));
        assert_eq!(s.mem_kib, 131_072);
        assert!(!s.control && summary(&named(dom0(), None)).control);
        assert_eq!(s.details["domid"], 1);
        assert_eq!(s.details["tot_pages"], 32_768);
        assert_eq!(s.details["shutdown"], serde_json::Value::Null);
        // `rxl list --json` prints `details` whole: pin its shape, shutdown reasons included.
        let mut crashed = lab_pv();
        crashed.shutdown = Some(ShutdownReason::Crash);
        assert_eq!(
            summary(&named(crashed.clone(), None)).details,
            serde_json::json!({
                "domid": 1, "uuid": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "dying": false, "hvm": false,
                "shutdown": "crash", "paused": false, "blocked": true, "running": false,
                "tot_pages": 32_768, "max_pages": 32_768, "outstanding_pages": 0,
                "shr_pages": 0, "paged_pages": 0, "cpu_time_ns": 12_300_000_000_u64,
                "vcpu_online": 2, "max_vcpu_id": 1, "ssidref": 0, "cpupool": 0
            })
        );
        crashed.shutdown = Some(ShutdownReason::Unknown(0x2f));
        assert_eq!(
            summary(&named(crashed, None)).details["shutdown"],
            serde_json::json!({ "unknown": 47 })
        );
    }

    #[test]
    fn cpu_time_goes_through_a_c_float() {
        // 2^24 + 1 ns is not representable as an f32: xl prints the rounded value.
        assert_eq!(cpu_secs(16_777_217), 16_777_216.0 / 1e9);
    }
}
