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

/// Whole fields of each grammar, so generated specs are mostly valid.
fn fields_of(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 1..6).prop_map(|v| v.join(","))
}

const DISK_FIELDS: &[&str] = &[
    "/dev/vg/x",
    "",
    "raw",
    "qcow2",
    "vhd",
    "empty",
    "xvda",
    "hdc:cdrom",
    "d2p1",
    "w",
    "r",
    "vdev=xvdc",
    "format=qed",
    "access=ro",
    "devtype=cdrom",
    "cdrom",
    "discard",
    "no-discard",
    "direct-io-safe",
    "colo",
    "colo-port=9",
    "colo-host=h",
    "backendtype=qdisk",
    "backend=dd",
    "script=block-x",
    "specification=virtio",
    "phy:/dev/y",
    "tap:qcow2:/img",
    "iscsi:iqn.x:y",
    "trusted",
    "untrusted",
    "grant_usage=1",
    "target=/t,x=1",
];

const VIF_FIELDS: &[&str] = &[
    "mac=00:16:3e:0a:0b:0c",
    "bridge=xenbr0",
    "ip=192.0.2.1 2001:db8::1/64",
    "type=ioemu",
    "type=vif",
    "model=e1000",
    "vifname=v1",
    "script=vif-route",
    "backend=net",
    "gatewaydev=eth0",
    "netdev=eth1",
    "rate=10MB/s",
    "rate=3B/s@7us",
    "rate=16Mb/s@20ms",
    "rate=4294967295Gb/s@1us",
    "rate=1B/s@4294967295us",
    "mtu=1500",
    "devid=3",
    "vlan=7",
    "forwarddev=e2",
    "colo_compare_out=c",
    "trusted",
    "untrusted",
];

const PCI_FIELDS: &[&str] = &[
    "03:00.0",
    "0000:03:00.1@1f",
    "03:00.*",
    "bdf=04:00.0",
    "vslot=3",
    "name=gpu",
    "permissive=1",
    "msitranslate=0",
    "seize=1",
    "power_mgmt=1",
    "rdm_policy=strict",
    "rdm_policy=relaxed",
];

const CPU_TERMS: &[&str] = &[
    "all",
    "0",
    "3",
    "1-5",
    "^2",
    "^0-1",
    "nodes:0",
    "node:1",
    "^nodes:1",
    "nodes:0-1",
    "nodes:all",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The canonical string of any accepted spec parses back to the same value.
    #[test]
    fn spec_canonical_strings_round_trip(
        d in fields_of(DISK_FIELDS),
        v in fields_of(VIF_FIELDS),
        p in fields_of(PCI_FIELDS),
        c in fields_of(CPU_TERMS),
    ) {
        if let Ok(x) = spec::disk::parse(&d) {
            let text = x.value.to_string();
            let back = spec::disk::parse(&text).map_err(|e| TestCaseError::fail(format!("{d:?} → {text:?}: {e}")))?;
            prop_assert_eq!(back.value, x.value, "{:?} → {:?}", d, text);
            prop_assert!(back.warnings.is_empty(), "canonical form {:?} still has deprecated forms", text);
        }
        if let Ok(x) = spec::vif::parse(&v) {
            let text = x.value.to_string();
            let back = spec::vif::parse(&text).map_err(|e| TestCaseError::fail(format!("{v:?} → {text:?}: {e}")))?;
            prop_assert_eq!(back.value, x.value, "{:?} → {:?}", v, text);
        }
        if let Ok(x) = spec::pci::parse(&p) {
            let text = x.value.to_string();
            let back = spec::pci::parse(&text).map_err(|e| TestCaseError::fail(format!("{p:?} → {text:?}: {e}")))?;
            prop_assert_eq!(back.value, x.value, "{:?} → {:?}", p, text);
        }
        if let Ok(x) = spec::cpus::parse(&c) {
            let text = x.value.to_string();
            prop_assert_eq!(spec::cpus::parse(&text).unwrap().value, x.value, "{:?} → {:?}", c, text);
        }
    }

    /// Every rate the parser can produce has an exact canonical text.
    #[test]
    fn spec_canonical_rate_is_exact(n in 1u64..=u32::MAX as u64, unit in 0usize..8, iv in 1u32..=2_000_000u32) {
        let units = ["B/s", "KB/s", "MB/s", "GB/s", "b/s", "Kb/s", "Mb/s", "Gb/s"];
        if let Ok(p) = spec::vif::parse(&format!("rate={n}{}@{iv}us", units[unit])) {
            let text = p.value.to_string();
            let back = spec::vif::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(back.value, p.value, "{:?}", text);
        }
    }
}
