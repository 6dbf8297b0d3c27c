//! `xl uptime`: how long domains have run.

/// xl's `uptime_to_string`: `[D day(s), ]HH:MM[:SS]` with the hour right-aligned in 2.
pub fn uptime_string(mut secs: u64, short: bool) -> String {
    let day = secs / 86400;
    secs -= day * 86400;
    let hour = secs / 3600;
    secs -= hour * 3600;
    let min = secs / 60;
    let sec = secs - min * 60;
    let days = match day {
        0 => String::new(),
        1 => "1 day, ".to_owned(),
        d => format!("{d} days, "),
    };
    if short {
        format!("{days}{hour:2}:{min:02}")
    } else {
        format!("{days}{hour:2}:{min:02}:{sec:02}")
    }
}

/// One row of `xl uptime` (long form).
pub fn row(name: &str, domid: u32, secs: u64) -> String {
    format!("{name:<33} {domid:>4} {}\n", uptime_string(secs, false))
}

/// One row of `xl uptime -s`; `now_hms` is the local time as HH:MM:SS.
pub fn short_row(now_hms: &str, name: &str, domid: u32, secs: u64) -> String {
    format!(
        " {now_hms} up {}, {name} ({domid})\n",
        uptime_string(secs, true)
    )
}

/// The header of the long form.
pub fn header() -> String {
    format!("{:<33} {:>4} {}\n", "Name", "ID", "Uptime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_xl() {
        assert_eq!(uptime_string(59, false), " 0:00:59");
        assert_eq!(uptime_string(86400 + 3723, false), "1 day,  1:02:03");
        assert_eq!(uptime_string(3 * 86400 + 36000, true), "3 days, 10:00");
        assert_eq!(
            row("Domain-0", 0, 61),
            "Domain-0                             0  0:01:01\n"
        );
        assert_eq!(header(), "Name                                ID Uptime\n");
    }
}
