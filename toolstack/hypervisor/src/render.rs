//! xl's text layouts for `rxl list` and `rxl info`, over the backend-neutral types, so both
//! backends print alike. This is the only implementation of these layouts: on Xen the output is
//! byte-identical to `xl` (rxl-xen's `report` tests render recorded `xl list`/`xl info` output
//! from Xen facts through these functions, and the Xen lab's ctl-parity compares with `xl`).

use crate::{DomainSummary, HostInfo};

/// The text of `xl list [-v]`.
pub fn list(doms: &[DomainSummary], verbose: bool) -> String {
    let mut out =
        String::from("Name                                        ID   Mem VCPUs\tState\tTime(s)");
    if verbose {
        out.push_str("   UUID                            Reason-Code\tSecurity Label");
    }
    out.push('\n');
    for d in doms {
        out.push_str(&format!(
            "{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1}",
            d.display_name(),
            d.id.0,
            d.mem_kib / 1024,
            d.vcpus,
            d.state,
            d.cpu_time_secs,
        ));
        if verbose {
            out.push_str(&format!(" {}", d.uuid_string()));
            match d.state.shutdown {
                Some(r) => out.push_str(&format!(" {:>8x}", r.code())),
                None => out.push_str(&format!(" {:>8}", "-")),
            }
            out.push_str(&format!(" {:>16}", "-"));
        }
        out.push('\n');
    }
    out
}

/// One `xl info` line: the key padded to 23 columns, then `: value`. `virt_caps` is xl's
/// exception: its format is `"virt_caps              :%s"` with each capability as `" cap"`,
/// so an empty list leaves nothing after the colon.
fn info_line(key: &str, value: &str) -> String {
    if key == "virt_caps" && value.is_empty() {
        format!("{key:<23}:")
    } else {
        format!("{key:<23}: {value}")
    }
}

/// The text of `xl info [NAME]`: every line, or with `only` the values of the lines whose
/// text starts with `only` (xl compares a prefix of the whole line, so `xen_` selects every
/// `xen_*` value).
pub fn info(host: &HostInfo, only: Option<&str>) -> String {
    let mut out = String::new();
    for (k, v) in &host.fields {
        let l = info_line(k, v);
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
mod tests {
    use super::*;
    use crate::{DomainId, DomainState, ShutdownReason};

    fn dom(id: u32, name: Option<&str>) -> DomainSummary {
        DomainSummary {
            id: DomainId(id),
            name: name.map(str::to_owned),
            mem_kib: 786_432,
            vcpus: 2,
            state: DomainState {
                running: true,
                ..Default::default()
            },
            cpu_time_secs: 12.345_678_901,
            uuid: None,
            control: id == 0,
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn list_renders_like_xl() {
        let mut guest = dom(7, None);
        guest.state = DomainState {
            blocked: true,
            shutdown: Some(ShutdownReason::Reboot),
            ..Default::default()
        };
        guest.mem_kib = 131_072;
        guest.vcpus = 1;
        guest.cpu_time_secs = 0.05;
        let text = list(&[dom(0, Some("Domain-0")), guest], false);
        let want = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
Domain-0                                     0   768     2     r-----      12.3\n\
(null)                                       7   128     1     -b-sr-       0.1\n";
        assert_eq!(text, want);
    }

    #[test]
    fn verbose_list_adds_uuid_and_reason() {
        let mut d = dom(0, Some("x"));
        d.state.shutdown = Some(ShutdownReason::Crash);
        let mut uuid = [0; 16];
        uuid[15] = 0xab;
        d.uuid = Some(uuid);
        let text = list(&[d], true);
        assert!(
            text.ends_with(" 00000000-0000-0000-0000-0000000000ab        3                -\n")
        );
    }

    #[test]
    fn info_pads_keys_and_selects_by_prefix() {
        let host = HostInfo::from_fields(vec![
            ("host".into(), "lab".into()),
            ("virt_caps".into(), String::new()),
            ("xen_major".into(), "4".into()),
            ("xen_minor".into(), "17".into()),
        ]);
        assert_eq!(
            info(&host, None),
            "host                   : lab\nvirt_caps              :\n\
xen_major              : 4\nxen_minor              : 17\n"
        );
        assert_eq!(info(&host, Some("xen_")), "4\n17\n");
        assert_eq!(info(&host, Some("virt_caps")), "");
    }
}
