//! `xl list`: the domain table.

use crate::ctl::domain::DomainInfo;

/// A domain and the name xenstore gives it (`None` prints as xl's `(null)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedDomain {
    /// Hypervisor facts.
    pub info: DomainInfo,
    /// `/local/domain/<id>/name`.
    pub name: Option<String>,
}

impl NamedDomain {
    /// The name as xl prints it.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("(null)")
    }
}

/// The six state letters `rbpscd`, the fifth being the shutdown reason letter as in xl.
pub fn state_letters(d: &DomainInfo) -> String {
    let f = |on: bool, c: char| if on { c } else { '-' };
    format!(
        "{}{}{}{}{}{}",
        f(d.running, 'r'),
        f(d.blocked, 'b'),
        f(d.paused, 'p'),
        f(d.shutdown.is_some(), 's'),
        d.shutdown.map_or('-', |r| r.letter()),
        f(d.dying, 'd'),
    )
}

/// CPU seconds as xl computes them: the nanoseconds go through a C `float` first.
pub fn cpu_secs(ns: u64) -> f64 {
    f64::from(ns as f32) / 1e9
}

/// The text of `xl list [-v]`.
pub fn render(doms: &[NamedDomain], verbose: bool) -> String {
    let mut out =
        String::from("Name                                        ID   Mem VCPUs\tState\tTime(s)");
    if verbose {
        out.push_str("   UUID                            Reason-Code\tSecurity Label");
    }
    out.push('\n');
    for d in doms {
        let i = &d.info;
        out.push_str(&format!(
            "{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1}",
            d.display_name(),
            i.domid,
            (i.current_memkb() + i.outstanding_memkb()) / 1024,
            i.vcpu_online,
            state_letters(i),
            cpu_secs(i.cpu_time_ns),
        ));
        if verbose {
            out.push_str(&format!(" {}", i.uuid_string()));
            match i.shutdown {
                Some(r) => out.push_str(&format!(" {:>8x}", r.code())),
                None => out.push_str(&format!(" {:>8}", "-")),
            }
            out.push_str(&format!(" {:>16}", "-"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ctl::domain::ShutdownReason;

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
            cpu_time_ns: 12_345_678_901,
            vcpu_online: 2,
            max_vcpu_id: 1,
            ssidref: 0,
            cpupool: 0,
        }
    }

    #[test]
    fn renders_like_xl_list() {
        let mut guest = dom0();
        guest.domid = 7;
        guest.running = false;
        guest.blocked = true;
        guest.tot_pages = 32_768;
        guest.vcpu_online = 1;
        guest.cpu_time_ns = 50_000_000;
        guest.shutdown = Some(ShutdownReason::Reboot);
        let text = render(
            &[
                NamedDomain {
                    info: dom0(),
                    name: Some("Domain-0".into()),
                },
                NamedDomain {
                    info: guest,
                    name: None,
                },
            ],
            false,
        );
        let want = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
Domain-0                                     0   768     2     r-----      12.3\n\
(null)                                       7   128     1     -b-sr-       0.1\n";
        assert_eq!(text, want);
    }

    #[test]
    fn verbose_adds_uuid_and_reason() {
        let mut d = dom0();
        d.shutdown = Some(ShutdownReason::Crash);
        d.uuid[15] = 0xab;
        let text = render(
            &[NamedDomain {
                info: d,
                name: Some("x".into()),
            }],
            true,
        );
        assert!(text.starts_with(
            "Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID                            Reason-Code\tSecurity Label\n"
        ));
        assert!(
            text.ends_with(" 00000000-0000-0000-0000-0000000000ab        3                -\n"),
            "{text}"
        );
    }
}
