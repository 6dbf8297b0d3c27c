//! Xen's own example configs (tests/data/xen-examples): the ones real xl accepts load, the xm-era
//! Python ones fail with one error naming the line where the Python starts.

use std::path::PathBuf;

use rxl_config::{DiagKind, load};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/xen-examples")
        .join(format!("{name}.cfg"))
}

#[test]
fn xl_accepted_examples_load() {
    for name in [
        "xlexample.hvm",
        "xlexample.pvlinux",
        "xlexample.pvhlinux",
        "xmexample1",
        "xmexample.hvm",
        "xmexample.hvm-stubdom",
        "xmexample.nbd",
        "xmexample.pv-grub",
        "mini-os-domain_config",
    ] {
        match load(example(name)) {
            Ok(l) => {
                for w in &l.warnings {
                    eprintln!("{w}");
                }
            }
            Err(e) => panic!("{name} should load:\n{e}"),
        }
    }
}

#[test]
fn python_examples_fail_once_naming_the_line() {
    for (name, line) in [
        ("xmexample2", 23),
        ("xmexample3", 0),
        ("xmnetbsd", 0),
        ("xmexample.vmx", 0),
        ("xmexample.vti", 0),
    ] {
        let e = load(example(name)).expect_err(name);
        let errors: Vec<_> = e.errors().collect();
        assert_eq!(errors.len(), 1, "{name}: {e}");
        assert_eq!(errors[0].kind, DiagKind::Python, "{name}: {e}");
        eprintln!("{}", errors[0]);
        if line != 0 {
            assert_eq!(errors[0].span.line, line, "{name}");
        }
    }
}

#[test]
fn cpupool_file_is_refused_like_xl() {
    let e = load(example("cpupool")).expect_err("not a domain");
    eprintln!("{e}");
}
