//! rxl against real xl: `tests/data/xl-4.17/` holds configs with what Debian's `xl -N create`
//! (Xen 4.17, run in the Xen lab) printed for them. rxl must print the same libxl JSON for every
//! file xl accepts (except the documented, deliberate refusals), and refuse what xl refuses.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Files xl accepts that rxl refuses on purpose (docs/xl-compat.md, "rejected by rxl"): xl warns
/// and drops the setting, or builds a domain that cannot work.
const RXL_STRICTER: &[&str] = &[
    "bool_yes",
    "maxmem_below_memory",
    "memory_not_a_number",
    "memory_plus_equals",
    "memory_plus_equals_concat",
    "scalar_for_list",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xl-4.17")
}

fn cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("xl-4.17 dir")
        .filter_map(|e| {
            let p = e.expect("entry").path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "cfg").then_some(stem)
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 40,
        "expected the recorded cases, found {}",
        v.len()
    );
    v
}

/// Drops what a dry run cannot or need not reproduce: libxl's empty `{}` structs, and the UUID
/// xl generates at random when the file has none.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), normalize(x)))
                .filter(|(_, x)| !matches!(x, Value::Object(o) if o.is_empty()))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

#[test]
fn rxl_json_matches_real_xl_and_refuses_what_it_refuses() {
    let mut problems = Vec::new();
    let (mut same, mut refused_both) = (0, 0);
    for name in cases() {
        let cfg = dir().join(format!("{name}.cfg"));
        let xl_rc: i32 = std::fs::read_to_string(dir().join(format!("{name}.xl.rc")))
            .expect("rc file")
            .trim()
            .parse()
            .expect("rc number");
        let rxl = rxl_config::load(&cfg);
        match (xl_rc, rxl) {
            (0, Ok(loaded)) => {
                let text = std::fs::read_to_string(dir().join(format!("{name}.xl.json")))
                    .expect("xl json");
                let mut xl = normalize(&serde_json::from_str(&text).expect("xl printed JSON"));
                if loaded.config.uuid.is_none()
                    && let Some(c) = xl.get_mut("c_info").and_then(Value::as_object_mut)
                {
                    c.remove("uuid");
                }
                let ours = normalize(&loaded.config.to_libxl_json());
                if ours == xl {
                    same += 1;
                } else {
                    problems.push(format!(
                        "{name}: JSON differs\n--- xl\n{xl:#}\n--- rxl\n{ours:#}"
                    ));
                }
            }
            (0, Err(e)) if RXL_STRICTER.contains(&name.as_str()) => {
                assert!(e.errors().next().is_some());
            }
            (0, Err(e)) => problems.push(format!("{name}: xl accepts, rxl refuses:\n{e}")),
            (_, Ok(_)) => problems.push(format!("{name}: xl refuses (exit {xl_rc}), rxl accepts")),
            (_, Err(_)) => refused_both += 1,
        }
    }
    for name in RXL_STRICTER {
        assert!(
            dir().join(format!("{name}.cfg")).exists(),
            "{name} listed but not recorded"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(same >= 20, "only {same} identical JSON outputs");
    assert!(
        refused_both >= 10,
        "only {refused_both} files refused by both"
    );
}
