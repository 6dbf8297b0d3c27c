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

fn json(name: &str) -> serde_json::Value {
    load(example(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .config
        .to_libxl_json()
}

#[test]
fn hvm_example_json_has_libxl_fields() {
    let j = json("xlexample.hvm");
    eprintln!("{}", serde_json::to_string_pretty(&j).unwrap());
    assert_eq!(j["c_info"]["name"], "example.hvm");
    assert_eq!(j["c_info"]["type"], "hvm");
    assert_eq!(j["b_info"]["max_memkb"], 128 * 1024);
    assert_eq!(j["b_info"]["target_memkb"], 128 * 1024);
    assert_eq!(j["b_info"]["max_vcpus"], 2);
    assert_eq!(j["b_info"]["avail_vcpus"], serde_json::json!([0, 1]));
    assert!(j["b_info"]["type.hvm"].is_object());
    assert_eq!(j["b_info"]["type.hvm"]["sdl"]["enable"], "True");
    assert_eq!(j["disks"][0]["pdev_path"], "/dev/vg/guest-volume");
    assert_eq!(j["disks"][0]["vdev"], "xvda");
    assert_eq!(j["disks"][0]["format"], "raw");
    assert_eq!(j["disks"][0]["readwrite"], 1);
    assert_eq!(j["nics"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["nics"][0]["devid"], 0);
    // destroy is libxl's default, which its JSON (and real xl's output) omits.
    assert_eq!(j["on_poweroff"], serde_json::Value::Null);
    assert_eq!(j["on_reboot"], "restart");
    assert_eq!(j["on_crash"], serde_json::Value::Null);
}

#[test]
fn pv_example_json_has_libxl_fields() {
    let j = json("xlexample.pvlinux");
    eprintln!("{}", serde_json::to_string_pretty(&j).unwrap());
    assert_eq!(j["c_info"]["name"], "example.pvlinux");
    assert_eq!(j["c_info"]["type"], "pv");
    assert_eq!(j["b_info"]["kernel"], "/boot/vmlinuz");
    assert_eq!(j["b_info"]["ramdisk"], serde_json::Value::Null);
    assert_eq!(j["b_info"]["cmdline"], "root=/dev/xvda1");
    assert_eq!(j["b_info"]["max_memkb"], 128 * 1024);
    assert_eq!(j["b_info"]["max_vcpus"], 2);
    assert!(j["b_info"]["type.pv"].is_object());
    assert_eq!(j["disks"][0]["pdev_path"], "/dev/vg/guest-volume");
    assert_eq!(j["disks"][0]["vdev"], "xvda");
    assert_eq!(j["disks"][0]["readwrite"], 1);
}

#[test]
fn pvh_example_json_has_libxl_fields() {
    let j = json("xlexample.pvhlinux");
    eprintln!("{}", serde_json::to_string_pretty(&j).unwrap());
    assert_eq!(j["c_info"]["name"], "example.pvhlinux");
    assert_eq!(j["c_info"]["type"], "pvh");
    assert_eq!(j["b_info"]["kernel"], "/boot/vmlinuz");
    assert_eq!(j["b_info"]["cmdline"], "root=/dev/xvda1");
    assert_eq!(j["b_info"]["target_memkb"], 512 * 1024);
    assert_eq!(j["b_info"]["avail_vcpus"], serde_json::json!([0, 1, 2, 3]));
    assert!(j["b_info"]["type.pvh"].is_object());
    assert_eq!(j["disks"][0]["pdev_path"], "/dev/zvol/tank/guest-volume");
    assert_eq!(j["disks"][0]["vdev"], "xvda");
}
