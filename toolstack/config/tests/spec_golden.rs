//! Golden tests for the disk, vif and CPU-affinity grammars, driven by the data in
//! tests/data/spec/*.jsonl. Those files hold the cases Xen's own
//! tools/xl/check-xl-{disk,vif,vcpupin}-parse scripts check (rewritten as our own
//! data, with the JSON `xl -N` prints) plus our additional cases.

use rxl_config::spec::{self, SpecError, Topology};
use serde_json::Value;
use std::path::PathBuf;

/// One data line, or `None` for a `note` line.
fn cases(file: &str) -> Vec<(usize, Value)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/spec")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out: Vec<_> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            (
                i + 1,
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("{file}:{}: {e}", i + 1)),
            )
        })
        .filter(|(_, v)| v.get("note").is_none())
        .collect();
    assert!(
        out.len() > 20,
        "{file}: suspiciously few cases ({})",
        out.len()
    );
    out
}

fn kind_name(e: &SpecError) -> String {
    serde_json::to_value(e.kind)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// Checks one case against a parse result; returns a failure description.
fn check<T: serde::Serialize>(
    file: &str,
    line: usize,
    case: &Value,
    got: Result<spec::Parsed<T>, SpecError>,
) -> Option<String> {
    match (got, case.get("json"), case.get("error")) {
        (Ok(p), Some(want), None) => {
            let json = serde_json::to_value(&p.value).unwrap();
            if &json != want {
                return Some(format!("{file}:{line}: got {json}\n   want {want}"));
            }
            let want_w = case.get("warnings").and_then(Value::as_u64).unwrap_or(0) as usize;
            if p.warnings.len() != want_w {
                return Some(format!(
                    "{file}:{line}: {} warnings, want {want_w}: {:?}",
                    p.warnings.len(),
                    p.warnings
                ));
            }
            None
        }
        (Err(e), None, Some(want)) => (kind_name(&e) != want.as_str().unwrap())
            .then(|| format!("{file}:{line}: error {e} is {:?}, want {want}", e.kind)),
        (Ok(p), _, Some(want)) => Some(format!(
            "{file}:{line}: parsed to {} but want error {want}",
            serde_json::to_value(&p.value).unwrap()
        )),
        (Err(e), Some(_), _) => Some(format!("{file}:{line}: unexpected error: {e}")),
        _ => Some(format!("{file}:{line}: case has neither json nor error")),
    }
}

fn report(failures: Vec<String>, n: usize) {
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn spec_disk_cases_match_xl() {
    let all = cases("disk.jsonl");
    let mut failures = Vec::new();
    for (line, case) in &all {
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        failures.extend(check(
            "disk.jsonl",
            *line,
            case,
            spec::disk::parse_parts(&args),
        ));
    }
    report(failures, all.len());
}

#[test]
fn spec_vif_cases_match_xl() {
    let all = cases("vif.jsonl");
    let mut failures = Vec::new();
    for (line, case) in &all {
        let text = case["spec"].as_str().unwrap();
        // `attach` cases are `xl network-attach 0 SPEC`: one argv field.
        let parsed = if case.get("attach").is_some() {
            spec::vif::parse_parts(&[text])
        } else {
            spec::vif::parse(text)
        };
        failures.extend(check("vif.jsonl", *line, case, parsed));
    }
    report(failures, all.len());
}

#[test]
fn spec_vcpupin_cases_match_xl() {
    let topo = Topology::uniform(2, 8);
    let all = cases("vcpupin.jsonl");
    let mut failures = Vec::new();
    for (line, case) in &all {
        let text = case["spec"].as_str().unwrap();
        let here = format!("vcpupin.jsonl:{line} `{text}`");
        match (
            spec::cpus::parse(text),
            case.get("cpumap"),
            case.get("error"),
            case.get("resolve_error"),
        ) {
            (Ok(p), Some(want), None, None) => match p.value.resolve(&topo) {
                Ok(map) if map.to_string() == want.as_str().unwrap() => {}
                Ok(map) => failures.push(format!("{here}: cpumap {map}, want {want}")),
                Err(e) => failures.push(format!("{here}: resolve failed: {e}")),
            },
            (Ok(p), None, None, Some(_)) => {
                if let Ok(map) = p.value.resolve(&topo) {
                    failures.push(format!("{here}: resolved to {map}, want an error"));
                }
            }
            (Err(e), None, Some(want), None) => {
                if kind_name(&e) != want.as_str().unwrap() {
                    failures.push(format!("{here}: error {e} is {:?}, want {want}", e.kind));
                }
            }
            (Ok(p), ..) => failures.push(format!("{here}: parsed to {:?}, want an error", p.value)),
            (Err(e), ..) => failures.push(format!("{here}: unexpected error {e}")),
        }
    }
    report(failures, all.len());
}
