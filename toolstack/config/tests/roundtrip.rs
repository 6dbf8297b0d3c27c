//! Property tests: printing and parsing again gives the same thing.
//!
//! - any value tree (strings with any characters, bare numbers, nested lists) printed with
//!   `print::settings` parses back to the same keys and values;
//! - any valid domain file, loaded, printed with `to_xl_cfg` and loaded again, gives an equal
//!   `DomainConfig`;
//! - the parser never panics, whatever the input.

use proptest::prelude::*;
use rxl_config::{Settings, Source, Value, parser, print};

fn span() -> rxl_config::Span {
    rxl_config::Span {
        file: "gen".into(),
        line: 1,
        column: 1,
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(|text| Value::Str {
            text,
            bare: false,
            span: span()
        }),
        "[0-9][0-9a-fx]{0,6}".prop_map(|text| Value::Str {
            text,
            bare: true,
            span: span()
        }),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop::collection::vec(inner, 0..5).prop_map(|items| Value::List {
            items,
            span: span(),
        })
    })
}

fn settings() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(("[a-z][a-z0-9._]{0,10}", value()), 0..8)
}

fn pairs(s: &Settings) -> Vec<(String, Value)> {
    s.iter().map(|x| (x.key.clone(), x.value.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn value_trees_round_trip(assignments in settings()) {
        let mut expected = Settings::default();
        for (key, value) in assignments {
            let a = rxl_config::value::Assignment {
                key,
                key_span: span(),
                op: rxl_config::value::Op::Set,
                value,
            };
            expected.apply(a).expect("= never fails");
        }
        let text = print::settings(&expected);
        let parsed = parser::parse(&Source::new("printed", text.clone()));
        prop_assert!(!parsed.has_errors(), "{text}\n{:?}", parsed.diagnostics);
        prop_assert_eq!(pairs(&parsed.settings), pairs(&expected), "{}", text);
    }

    #[test]
    fn parser_never_panics(text in any::<String>()) {
        let _ = rxl_config::parse_str("fuzz", &text);
    }

    #[test]
    fn parser_never_panics_on_config_like_text(
        lines in prop::collection::vec(
            r#"[a-z_ ]{0,6}[ =+\[\]",;#'\\a-z0-9\-\r\t]{0,20}"#, 0..12)
    ) {
        let text = lines.join("\n");
        let _ = rxl_config::parse_str("fuzz", &text);
    }
}

fn line(key: &str, v: String) -> String {
    format!("{key} = {v}\n")
}

fn domain_file() -> impl Strategy<Value = String> {
    let q = |s: &str| format!("{s:?}");
    (
        "[a-z][a-z0-9-]{0,12}",
        prop::sample::select(vec!["pv", "pvh", "hvm"]),
        1u64..65536,
        prop::option::of(0u64..65536),
        1u32..16,
        prop::option::of(prop::sample::select(vec![
            "0-3", "all", "nodes:0", "0-7,^2",
        ])),
        "[ -~]{0,30}",
        prop::option::of(prop::sample::select(vec![
            "destroy",
            "restart",
            "preserve",
            "rename-restart",
            "coredump-destroy",
        ])),
        prop::collection::vec(
            prop::sample::select(vec![
                "/dev/vg/a,raw,xvda,rw",
                "format=qcow2,vdev=xvdb,access=ro,target=/srv/b.qcow2",
                ",,hdc,cdrom",
                "phy:/dev/sdb,xvdc,w",
            ]),
            0..3,
        ),
        prop::collection::vec(
            prop::sample::select(vec![
                "bridge=xenbr0",
                "mac=00:16:3e:01:02:03,bridge=br1",
                "type=ioemu,model=e1000",
                "rate=10Mb/s@20ms",
            ]),
            0..2,
        ),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(-100000i64..100000),
            prop::option::of(prop::sample::select(vec![
                "default",
                "native",
                "always_emulate",
            ])),
            prop::option::of(prop::sample::select(vec![
                "spice = 1\n",
                "vnuma = [ [ \"pnode=0\", \"size=512\" ] ]\n",
            ])),
        ),
        prop::collection::vec(
            prop::sample::select(vec![
                "viridian = [ \"base\", \"!stimer\" ]\n",
                "viridian = 1\n",
                "serial = \"pty\"\n",
                "serial = [ \"pty\", \"file:/tmp/x\" ]\n",
                "usbdevice = \"tablet\"\n",
                "vga = \"stdvga\"\n",
                "stdvga = 0\n",
                "boot = \"dc\"\n",
                "vnc = 1\nvnclisten = \"127.0.0.1\"\nvncdisplay = 2\n",
                "hap = 0\n",
                "tsc_mode = 3\n",
                "device_model_args = [ \"-d\", \"guest_errors\" ]\n",
                "device_model_version = \"qemu-xen\"\n",
                "bootloader_args = [ \"-q\" ]\n",
                "cpus_soft = [ \"0\", \"1-2\" ]\n",
                "pci = [ \"01:00.0@8,permissive=1\" ]\npci_seize = 1\n",
                "uuid = \"06ED00FE-1162-4fc4-b5d8-11993ee4a8b9\"\n",
                "on_soft_reset = \"soft-reset\"\n",
                "channel = [ \"name=org.qemu.guest_agent.0,connection=pty\" ]\n",
                "vtpm = [ \"backend=vtpmmgr\" ]\n",
            ]),
            0..6,
        ),
    )
        .prop_map(
            move |(
                name,
                ty,
                mem,
                extra_mem,
                vcpus,
                cpus,
                cmdline,
                crash,
                disks,
                vifs,
                misc,
                keys,
            )| {
                let mut t = String::new();
                t += &line("name", q(&name));
                t += &line("type", q(ty));
                t += &line("kernel", q("/boot/vmlinuz"));
                t += &line("memory", mem.to_string());
                if let Some(x) = extra_mem {
                    t += &line("maxmem", (mem + x).to_string());
                }
                t += &line("vcpus", vcpus.to_string());
                if let Some(c) = cpus {
                    t += &line("cpus", q(c));
                }
                t += &line("cmdline", q(&cmdline));
                if let Some(a) = crash {
                    t += &line("on_crash", q(a));
                }
                let list = |v: &[&str]| {
                    format!(
                        "[ {} ]",
                        v.iter()
                            .map(|s| format!("{s:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                if !disks.is_empty() {
                    let mut seen = std::collections::BTreeSet::new();
                    let d: Vec<&str> = disks.into_iter().filter(|d| seen.insert(*d)).collect();
                    t += &line("disk", list(&d));
                }
                if !vifs.is_empty() {
                    t += &line("vif", list(&vifs));
                }
                let (acpi, localtime, rtc, tsc, other) = misc;
                if let (Some(a), "hvm") = (acpi, ty) {
                    t += &line("acpi", u8::from(a).to_string());
                }
                if let Some(l) = localtime {
                    t += &line("localtime", u8::from(l).to_string());
                }
                if let Some(r) = rtc {
                    t += &line("rtc_timeoffset", q(&r.to_string()));
                }
                if let Some(m) = tsc {
                    t += &line("tsc_mode", q(m));
                }
                if let Some(o) = other {
                    t += o;
                }
                let mut seen = std::collections::BTreeSet::new();
                for k in keys {
                    // One of each: a key given twice would only test last-wins.
                    if seen.insert(k) {
                        t += k;
                    }
                }
                t
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn domain_configs_round_trip(text in domain_file()) {
        let first = rxl_config::parse_str("gen.cfg", &text)
            .unwrap_or_else(|e| panic!("generated file must load:\n{text}\n{e}"));
        let printed = first.config.to_xl_cfg();
        let second = rxl_config::parse_str("printed.cfg", &printed)
            .unwrap_or_else(|e| panic!("printed file must load:\n{printed}\n{e}"));
        prop_assert_eq!(&first.config, &second.config, "{}\n---\n{}", text, printed);
        // Printing is stable: the second print is identical.
        prop_assert_eq!(second.config.to_xl_cfg(), printed);
    }
}
