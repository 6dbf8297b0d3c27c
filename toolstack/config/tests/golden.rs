//! Golden tests: each `tests/data/golden/<suite>/NAME.cfg` is processed and the result compared
//! with `NAME.expected` next to it.
//!
//! - `grammar/`: the parser alone (value tree after last-wins and `+=`, then diagnostics).
//! - `model/`: the whole pipeline (`parse_str`): normalized xl.cfg and warnings, or the errors.
//! - `json/`: the libxl_domain_config JSON (`rxl create --dry-run`).
//!
//! Set `RXL_BLESS=1` to (re)write the expected files after checking the differences by hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rxl_config::{Source, parser, print};

fn cases(suite: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(suite);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no cases in {}", dir.display());
    v
}

fn grammar_output(name: &str, text: &str) -> String {
    let parsed = parser::parse(&Source::new(name, text));
    let mut out = String::from("== settings\n");
    out.push_str(&print::settings(&parsed.settings));
    out.push_str("== diagnostics\n");
    for d in &parsed.diagnostics {
        let _ = writeln!(out, "{d}");
    }
    out
}

fn model_output(name: &str, text: &str) -> String {
    let mut out = String::new();
    match rxl_config::parse_str(name, text) {
        Ok(l) => {
            out.push_str("== ok\n");
            out.push_str(&l.config.to_xl_cfg());
            out.push_str("== warnings\n");
            for d in &l.warnings {
                let _ = writeln!(out, "{d}");
            }
        }
        Err(e) => {
            out.push_str("== errors\n");
            for d in &e.diagnostics {
                let _ = writeln!(out, "{d}");
            }
        }
    }
    out
}

fn json_output(name: &str, text: &str) -> String {
    match rxl_config::parse_str(name, text) {
        Ok(l) => {
            let j = l.config.to_libxl_json();
            serde_json::to_string_pretty(&j).expect("json") + "\n"
        }
        Err(e) => format!("== errors\n{e}\n"),
    }
}

fn run(suite: &str, f: fn(&str, &str) -> String) {
    let bless = std::env::var_os("RXL_BLESS").is_some();
    let mut failures = Vec::new();
    for cfg in cases(suite) {
        let bytes = std::fs::read(&cfg).expect("read case");
        let text = String::from_utf8(bytes).expect("golden inputs are UTF-8");
        let name = cfg
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let actual = f(&name, &text);
        let exp_path = cfg.with_extension("expected");
        if bless {
            std::fs::write(&exp_path, &actual).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "--- {}\n--- expected\n{expected}--- actual\n{actual}",
                cfg.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn grammar_golden() {
    run("grammar", grammar_output);
}

#[test]
fn model_golden() {
    run("model", model_output);
}

#[test]
fn json_golden() {
    run("json", json_output);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let e = rxl_config::parse_str("deep.cfg", &text).expect_err("too deep");
    let first = e.errors().next().expect("an error");
    assert_eq!(first.span.line, 1);
    assert_eq!(first.span.column, 5 + 64, "{first}");
    assert!(first.to_string().contains("nest at most 64"), "{first}");
}

#[test]
fn overrides_apply_after_the_file_and_name_the_command_line() {
    let file = "name = \"a\"\nkernel = \"/k\"\ndisk = [ \"/a,raw,xvda,rw\" ]\n";
    let l = rxl_config::parse_str_with_overrides(
        "f.cfg",
        file,
        &["name=\"b\"", "disk+=[\"/b,raw,xvdb,rw\"]", "memory=64"],
    )
    .expect("loads");
    assert_eq!(l.config.name.as_deref(), Some("b"));
    assert_eq!(l.config.memory, Some(64));
    assert_eq!(l.config.devices.disks.len(), 2);
    let e = rxl_config::parse_str_with_overrides("f.cfg", file, &["vcpus=2", "memory=1G"])
        .expect_err("bad override");
    let d = e.errors().next().expect("error");
    assert_eq!(d.span.to_string(), "command line:2:9");
}
