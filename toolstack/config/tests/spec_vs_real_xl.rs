//! rxl's spec parsers against what real `xl` 4.17 (Debian, run in the Xen lab)
//! printed for the same input: `xl -N block-attach`, `xl -N network-attach`,
//! `xl -N vcpu-pin` and `xl -N create` with one device spec per config. The
//! answers were recorded once with tests/data/spec/real-xl/record.py (the lab
//! needs root and ~2 minutes of TCG), so this test runs offline.
//!
//! Every recorded case must agree (same verdict; same JSON or cpumap), except
//! rxl's documented extra strictness, each named in `allowed`.

use rxl_config::spec::{self, SpecError, Topology};
use serde_json::Value;
use std::path::PathBuf;

/// One recorded answer of real xl.
struct Case {
    kind: String,
    args: Vec<String>,
    rc: i64,
    stdout: String,
}

fn recorded() -> Vec<Case> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/spec/real-xl/xl-4.17.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Case {
                kind: v["kind"].as_str().unwrap().to_string(),
                args: v["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
                rc: v["rc"].as_i64().unwrap(),
                stdout: v["stdout"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// The JSON object after `prefix` in xl's dry-run output (`disk: {...}`).
fn json_after(stdout: &str, prefix: &str) -> Option<Value> {
    let start = stdout.find(prefix)? + prefix.len();
    serde_json::from_str(stdout[start..].trim()).ok()
}

fn to_json<T: serde::Serialize>(r: Result<spec::Parsed<T>, SpecError>) -> Result<Value, SpecError> {
    r.map(|p| serde_json::to_value(p.value).unwrap())
}

/// Where rxl deliberately differs from xl 4.17, the reason; `None` = must agree.
/// `xl_ok` is xl's verdict, `ours` rxl's error when rxl refused.
fn allowed(kind: &str, text: &str, xl_ok: bool, ours: Option<&SpecError>) -> Option<&'static str> {
    let stricter = xl_ok && ours.is_some();
    match kind {
        // Xen 4.17's generated disk scanner predates `trusted`/`untrusted`
        // (the source and later releases have them; check-xl-disk-parse expects them).
        "disk" if text.contains("trusted") || text.contains("grant_usage") => {
            Some("trusted/untrusted/grant_usage: newer than 4.17's scanner")
        }
        // libxl checks the vdev only when attaching; rxl at parse time.
        "disk" if stricter && ours.unwrap().expected.starts_with("a virtual disk name") => {
            Some("invalid vdev refused at parse time (libxl refuses it at attach)")
        }
        "vcpupin" if stricter && ours.unwrap().kind == spec::SpecErrorKind::Syntax => {
            Some("empty entry between commas refused (xl's strtok skips it)")
        }
        "vcpupin" if stricter => {
            Some("blank/sign/empty CPU list refused (xl's strtoul takes them)")
        }
        "vcpupin-host" => Some("CPU or node the host lacks refused (xl silently drops it)"),
        "create-vfb" | "create-channel" | "create-vif" if stricter => {
            Some("bad or unknown field refused (xl ignores it, or everything after it)")
        }
        "create-pci" if stricter => Some("parameter given twice refused (xl-pci-configuration(5))"),
        "create-usbdev" if stricter => {
            Some("usbdev without hostbus+hostaddr refused (libxl fails later)")
        }
        // 4.17's p9 parser did not trim blanks around keys; Xen 4.18+ does, as rxl.
        "create-p9" if !xl_ok && ours.is_none() && text.contains(" = ") => {
            Some("p9 blanks: newer than 4.17")
        }
        // An empty affinity is refused by xl's domain checks, not by the grammar.
        "create-cpus" if !xl_ok && ours.is_none() => {
            Some("empty affinity: checked by the domain model")
        }
        _ => None,
    }
}

/// Drops what `xl create` adds around a parsed device (index devids, libxl
/// defaults), keeping what the spec string decided.
fn device_part(xl: &Value, ours: &Value) -> Value {
    let mut x = xl.clone();
    if let (Value::Object(m), Value::Object(o)) = (&mut x, ours) {
        for k in ["devid", "rdm_policy"] {
            if !o.contains_key(k) {
                m.remove(k);
            }
        }
    }
    x
}

#[test]
fn spec_cases_agree_with_real_xl_4_17() {
    let topo = Topology::uniform(1, 4); // the lab: -smp 4, one NUMA node
    let cases = recorded();
    assert!(cases.len() > 150, "only {} recorded cases", cases.len());
    let (mut same, mut excused) = (0, std::collections::BTreeMap::<&str, usize>::new());
    let mut failures = Vec::new();
    for c in &cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let text = args.join(" ");
        let xl_ok = c.rc == 0;
        let (ours, xl_value): (Result<Value, SpecError>, Option<Value>) = match c.kind.as_str() {
            "disk" => (
                to_json(spec::disk::parse_parts(&args)),
                json_after(&c.stdout, "disk:"),
            ),
            "vif-attach" => (
                to_json(spec::vif::parse_parts(&args)),
                json_after(&c.stdout, "vif:"),
            ),
            "vcpupin" => {
                let xl_map = c
                    .stdout
                    .trim()
                    .strip_prefix("cpumap: ")
                    .map(|s| Value::String(s.to_string()));
                match spec::cpus::parse(&text) {
                    Ok(p) => match p.value.resolve(&topo) {
                        Ok(map) => (Ok(Value::String(map.to_string())), xl_map),
                        Err(e) => {
                            match allowed("vcpupin-host", &text, xl_ok, None) {
                                Some(why) if xl_ok => *excused.entry(why).or_default() += 1,
                                _ => failures
                                    .push(format!("vcpu-pin {text:?}: rxl: {e}, xl rc={}", c.rc)),
                            }
                            continue;
                        }
                    },
                    Err(e) => (Err(e), xl_map),
                }
            }
            kind => {
                let key = kind.strip_prefix("create-").unwrap();
                let list = match key {
                    "vfb" => "vfbs",
                    "channel" => "channels",
                    "vtpm" => "vtpms",
                    "p9" => "p9s",
                    "usbctrl" => "usbctrls",
                    "usbdev" => "usbdevs",
                    "pci" => "pcidevs",
                    "vif" => "nics",
                    _ => "",
                };
                let xl_dev = serde_json::from_str::<Value>(&c.stdout)
                    .ok()
                    .and_then(|j| j.get(list).map(|l| l[0].clone()));
                let ours = match key {
                    "vfb" => to_json(spec::vfb::parse(&text)),
                    "channel" => to_json(spec::channel::parse(&text)),
                    "vtpm" => to_json(spec::vtpm::parse(&text)),
                    "p9" => to_json(spec::p9::parse(&text)),
                    "usbctrl" => to_json(spec::usb::parse_ctrl(&text)),
                    "usbdev" => to_json(spec::usb::parse_dev(&text)),
                    "pci" => to_json(spec::pci::parse(&text)),
                    "vif" => to_json(spec::vif::parse(&text)),
                    // cpus: only the verdict is the grammar's; the affinity arrays
                    // belong to the domain model.
                    _ => to_json(spec::cpus::parse_affinity(&text)).map(|_| Value::Null),
                };
                let xl_dev = if key == "cpus" {
                    xl_ok.then_some(Value::Null)
                } else {
                    xl_dev
                };
                let xl_dev = match (&ours, xl_dev) {
                    (Ok(o), Some(x)) => Some(device_part(&x, o)),
                    (_, x) => x,
                };
                (ours, xl_dev)
            }
        };
        match (&ours, xl_ok, &xl_value) {
            (Ok(o), true, Some(x)) if o == x => same += 1,
            (Err(_), false, _) => same += 1,
            _ => match allowed(&c.kind, &text, xl_ok, ours.as_ref().err()) {
                Some(why) => *excused.entry(why).or_default() += 1,
                None => failures.push(format!(
                    "{} {text:?}: xl rc={} {}\n    rxl {}",
                    c.kind,
                    c.rc,
                    xl_value.map(|v| v.to_string()).unwrap_or_default(),
                    match &ours {
                        Ok(v) => v.to_string(),
                        Err(e) => e.to_string(),
                    }
                )),
            },
        }
    }
    println!(
        "real xl 4.17: {same} of {} cases agree; deliberate differences: {excused:#?}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements with real xl:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(same > 120, "too few exact agreements ({same})");
}
