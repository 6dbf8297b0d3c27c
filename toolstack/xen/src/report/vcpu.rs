//! `xl vcpu-list` and the CPU-set syntax of `xl vcpu-pin`.

use crate::ctl::vcpu::{Affinity, CpuMap, VcpuInfo};

/// xl's `print_bitmap`: "all", "none", or ranges like "0-3,5" over the first `nr` bits.
pub fn bitmap_string(map: &CpuMap, nr: u32) -> String {
    let set: Vec<bool> = (0..nr).map(|i| map.contains(i)).collect();
    if set.iter().all(|&b| b) && nr > 0 {
        return "all".into();
    }
    if !set.iter().any(|&b| b) {
        return "none".into();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < set.len() {
        if set[i] {
            let start = i;
            while i + 1 < set.len() && set[i + 1] {
                i += 1;
            }
            parts.push(if i > start {
                format!("{start}-{i}")
            } else {
                start.to_string()
            });
        }
        i += 1;
    }
    parts.join(",")
}

/// The header of `xl vcpu-list`.
pub fn header() -> String {
    format!(
        "{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} {}\n",
        "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)"
    )
}

/// One row of `xl vcpu-list`; `nr_cpus` is the host's CPU count.
pub fn row(name: &str, domid: u32, v: &VcpuInfo, aff: &Affinity, nr_cpus: u32) -> String {
    let mut s = format!("{name:<32} {domid:>5} {:>5}", v.vcpu);
    if v.online {
        s.push_str(&format!(
            "{:>5} {:>3}{}- ",
            v.cpu,
            if v.running { 'r' } else { '-' },
            if v.blocked { 'b' } else { '-' }
        ));
    } else {
        s.push_str(&format!("{:>5} {:>3}{}p ", '-', '-', '-'));
    }
    s.push_str(&format!("{:>9.1}  ", super::list::cpu_secs(v.cpu_time_ns)));
    s.push_str(&bitmap_string(&aff.hard, nr_cpus));
    s.push_str(" / ");
    s.push_str(&bitmap_string(&aff.soft, nr_cpus));
    s.push('\n');
    s
}

/// Parses xl's CPU list syntax: "all", "3", "0-2,5", with "^N" / "^N-M" exclusions.
pub fn parse_cpus(s: &str, nr_cpus: u32) -> Result<CpuMap, String> {
    let mut map = CpuMap::new(nr_cpus);
    let mut exclude = Vec::new();
    for part in s.split(',') {
        let (neg, body) = match part.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, part),
        };
        let range: Vec<u32> = if body == "all" {
            (0..nr_cpus).collect()
        } else {
            let (a, b) = body.split_once('-').unwrap_or((body, body));
            let a: u32 = a
                .trim()
                .parse()
                .map_err(|_| format!("invalid CPU '{body}' in '{s}'"))?;
            let b: u32 = b
                .trim()
                .parse()
                .map_err(|_| format!("invalid CPU '{body}' in '{s}'"))?;
            if b < a {
                return Err(format!("invalid CPU range '{body}' in '{s}'"));
            }
            if b >= nr_cpus {
                return Err(format!(
                    "CPU {b} in '{s}' does not exist (the host has {nr_cpus})"
                ));
            }
            (a..=b).collect()
        };
        if neg {
            exclude.extend(range);
        } else {
            range.into_iter().for_each(|c| map.insert(c));
        }
    }
    for c in exclude {
        if let Some(b) = map.bytes.get_mut(c as usize / 8) {
            *b &= !(1 << (c % 8));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(cpus: &[u32]) -> CpuMap {
        let mut m = CpuMap::new(8);
        cpus.iter().for_each(|&c| m.insert(c));
        m
    }

    #[test]
    fn bitmaps_print_like_xl() {
        assert_eq!(bitmap_string(&map(&[0, 1]), 2), "all");
        assert_eq!(bitmap_string(&map(&[]), 2), "none");
        assert_eq!(bitmap_string(&map(&[0, 1, 2, 5]), 8), "0-2,5");
        assert_eq!(bitmap_string(&map(&[1]), 2), "1");
    }

    #[test]
    fn rows_print_like_xl() {
        let v = VcpuInfo {
            vcpu: 1,
            online: true,
            blocked: true,
            running: false,
            cpu_time_ns: 2_500_000_000,
            cpu: 0,
        };
        let a = Affinity {
            hard: map(&[0, 1]),
            soft: map(&[0, 1]),
        };
        assert_eq!(
            header(),
            "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n"
        );
        assert_eq!(
            row("Domain-0", 0, &v, &a, 2),
            "Domain-0                             0     1    0   -b-       2.5  all / all\n"
        );
        let off = VcpuInfo { online: false, ..v };
        assert!(row("d", 3, &off, &a, 2).contains("    -   --p "));
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpus("all", 4).unwrap().cpus(), vec![0, 1, 2, 3]);
        assert_eq!(parse_cpus("0-2,^1", 4).unwrap().cpus(), vec![0, 2]);
        assert!(parse_cpus("5", 4).unwrap_err().contains("does not exist"));
        assert!(parse_cpus("x", 4).is_err());
    }
}
