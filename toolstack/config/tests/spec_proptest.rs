//! Property tests: no spec parser panics on any input, and every error points
//! inside the string it was given.

use proptest::prelude::*;
use rxl_config::spec::{self, SpecError};

/// Errors must carry a position inside the spec and a consistent column.
fn check_err(spec_text: &str, e: &SpecError) {
    assert!(
        e.offset <= spec_text.len(),
        "offset {} past end of {spec_text:?}",
        e.offset
    );
    assert!(
        e.column >= 1 && e.column <= spec_text.chars().count() + 1,
        "column {} for {spec_text:?}",
        e.column
    );
    assert!(!e.to_string().is_empty());
}

fn run_all(s: &str) {
    macro_rules! go {
        ($f:expr) => {
            match $f(s) {
                Ok(p) => {
                    serde_json::to_string(&p.value).expect("serializable");
                }
                Err(e) => check_err(s, &e),
            }
        };
    }
    go!(spec::disk::parse);
    go!(spec::vif::parse);
    go!(spec::pci::parse);
    go!(spec::vfb::parse);
    go!(spec::channel::parse);
    go!(spec::vtpm::parse);
    go!(spec::p9::parse);
    go!(spec::usb::parse_ctrl);
    go!(spec::usb::parse_dev);
    match spec::cpus::parse(s) {
        Ok(p) => {
            let _ = p.value.resolve(&spec::Topology::uniform(2, 4));
        }
        Err(e) => check_err(s, &e),
    }
    if let Err(e) = spec::vif::parse_rate(s) {
        check_err(s, &e);
    }
    if let Err(e) = spec::pci::parse_bdf(s) {
        check_err(s, &e);
    }
    if let Err(e) = spec::units::parse_mem_size_kb(s) {
        check_err(s, &e);
    }
    if let Ok(v) = spec::vdev::decode(s) {
        let _ = spec::vdev::devid_to_xvd_name(v.devid);
    }
}

/// Strings built from the grammars' own pieces reach far deeper than random text.
fn grammar_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        ",",
        ":",
        "=",
        "@",
        "^",
        "-",
        "*",
        ".",
        " ",
        "\t",
        "\n",
        "/",
        "é",
        "0",
        "1",
        "7",
        "1f",
        "255",
        "4294967296",
        "target=",
        "format=",
        "vdev=",
        "access=",
        "devtype=",
        "backendtype=",
        "backend=",
        "script=",
        "cdrom",
        "discard",
        "trusted",
        "grant_usage=1",
        "colo-port=",
        "phy:",
        "tap:",
        "aio:",
        "qcow2:",
        "iscsi:",
        "raw",
        "xvda",
        "hdc",
        "sd",
        "d1p2",
        "w!",
        "rw",
        "mac=",
        "rate=",
        "MB/s",
        "Gb/s",
        "ms",
        "us",
        "bridge=",
        "ip=",
        "nodes:",
        "node:",
        "all",
        "bdf=",
        "vslot=",
        "name=",
        "connection=",
        "pty",
        "socket",
        "path=",
        "tag=",
        "hostbus=",
        "0x",
        "k",
        "G",
        "t",
    ]);
    prop::collection::vec(pieces, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn spec_no_panic_on_arbitrary_text(s in any::<String>()) {
        run_all(&s);
    }

    #[test]
    fn spec_no_panic_on_grammar_soup(s in grammar_soup()) {
        run_all(&s);
    }

    #[test]
    fn spec_disk_parts_never_panic(parts in prop::collection::vec(grammar_soup(), 0..4)) {
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let _ = spec::disk::parse_parts(&refs);
    }

    /// Every CPU number that parses resolves exactly to itself on a big enough host.
    #[test]
    fn spec_single_cpu_round_trips(cpu in 0u32..64) {
        let map = spec::cpus::parse(&cpu.to_string()).unwrap().value.resolve(&spec::Topology::uniform(1, 64)).unwrap();
        prop_assert_eq!(map.cpus(), vec![cpu as usize]);
    }

    /// Rates in the legal range always parse, and the interval arithmetic matches.
    #[test]
    fn spec_rate_arithmetic(n in 1u64..=u32::MAX as u64, ms in 1u64..=1000) {
        let r = spec::vif::parse_rate(&format!("{n}B/s@{ms}ms")).unwrap();
        prop_assert_eq!(r.interval_usecs as u64, ms * 1000);
        prop_assert_eq!(r.bytes_per_interval, n * ms * 1000 / 1_000_000);
    }
}
