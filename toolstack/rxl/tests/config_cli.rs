//! `rxl config check`, `rxl config show` and `rxl create --dry-run`, run as the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rxl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rxl"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("run rxl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    repo()
        .join("toolstack/config/tests/data/xen-examples")
        .join(format!("{name}.cfg"))
        .display()
        .to_string()
}

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, body).expect("write cfg");
    p.display().to_string()
}

#[test]
fn check_accepts_xen_xl_examples() {
    let files = [
        example("xlexample.hvm"),
        example("xlexample.pvlinux"),
        example("xlexample.pvhlinux"),
    ];
    let mut args = vec!["config", "check"];
    args.extend(files.iter().map(String::as_str));
    let out = rxl(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for f in &files {
        assert!(stdout.contains(&format!("{f}: ok")), "{stdout}");
    }
}

#[test]
fn check_rejects_python_config_naming_the_line() {
    let f = example("xmexample2");
    let out = rxl(&["config", "check", &f]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{f}:23:1: error: this is an xm-era Python config")),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(text(&out.stdout).contains(&format!("{f}: 1 error(s)")));
}

#[test]
fn check_exits_1_if_any_file_fails_and_reports_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(&dir, "good.cfg", "name = \"a\"\nkernel = \"/k\"\n");
    let bad = write(
        &dir,
        "bad.cfg",
        "name = \"b\"\nkernel = \"/k\"\nmemory = 512M\n",
    );
    let out = rxl(&["config", "check", &good, &bad]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{good}: ok")), "{stdout}");
    assert!(stdout.contains(&format!("{bad}: 1 error(s)")), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("{bad}:3:13: error:")), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn check_warns_on_unknown_key_with_suggestion_but_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        &dir,
        "typo.cfg",
        "name = \"a\"\nkernel = \"/k\"\nmemmory = 512\n",
    );
    let out = rxl(&["config", "check", &f]);
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{f}:3:1: warning: `memmory`")),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `memory`?"), "{stderr}");
    assert!(text(&out.stdout).contains("ok (1 warning(s))"));
}

#[test]
fn check_reports_missing_file() {
    let out = rxl(&["config", "check", "/nonexistent/x.cfg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/x.cfg: error: cannot read"));
}

#[test]
fn show_json_of_xen_examples_has_libxl_fields() {
    for (name, ty, mem_mib, vcpus, pdev) in [
        ("xlexample.hvm", "hvm", 128, 2, "/dev/vg/guest-volume"),
        ("xlexample.pvlinux", "pv", 128, 2, "/dev/vg/guest-volume"),
        (
            "xlexample.pvhlinux",
            "pvh",
            512,
            4,
            "/dev/zvol/tank/guest-volume",
        ),
    ] {
        let out = rxl(&["config", "show", "--json", &example(name)]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
        let ctx = format!("{name}: {j:#}");
        assert_eq!(
            j["c_info"]["name"],
            format!("example.{}", &name[10..]),
            "{ctx}"
        );
        assert_eq!(j["c_info"]["type"], ty, "{ctx}");
        assert_eq!(j["b_info"]["max_memkb"], mem_mib * 1024, "{ctx}");
        assert_eq!(j["b_info"]["target_memkb"], mem_mib * 1024, "{ctx}");
        assert_eq!(j["b_info"]["max_vcpus"], vcpus, "{ctx}");
        assert!(j["b_info"][format!("type.{ty}")].is_object(), "{ctx}");
        assert_eq!(j["disks"][0]["vdev"], "xvda", "{ctx}");
        assert_eq!(j["disks"][0]["pdev_path"], pdev, "{ctx}");
        assert_eq!(j["disks"][0]["format"], "raw", "{ctx}");
        assert_eq!(j["disks"][0]["readwrite"], 1, "{ctx}");
        assert_eq!(j["nics"][0]["devid"], 0, "{ctx}");
        assert_eq!(j["on_reboot"], "restart", "{ctx}");
        if ty != "hvm" {
            assert_eq!(j["b_info"]["kernel"], "/boot/vmlinuz", "{ctx}");
            assert_eq!(j["b_info"]["cmdline"], "root=/dev/xvda1", "{ctx}");
        }
    }
}

#[test]
fn show_json_nics_carry_mac_and_bridge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        &dir,
        "net.cfg",
        "name = \"n\"\nkernel = \"/k\"\nvif = [ \"mac=00:16:3e:aa:bb:cc,bridge=xenbr0\" ]\n",
    );
    let out = rxl(&["config", "show", "--json", &f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["nics"][0]["mac"], "00:16:3e:aa:bb:cc");
    assert_eq!(j["nics"][0]["bridge"], "xenbr0");
}

#[test]
fn show_prints_normalized_config_that_checks_again() {
    let out = rxl(&["config", "show", &example("xlexample.hvm")]);
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(shown.contains("name = \"example.hvm\"\n"), "{shown}");
    assert!(shown.contains("memory = 128\n"), "{shown}");
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(&dir, "again.cfg", &shown);
    let again = rxl(&["config", "show", &f]);
    assert_eq!(text(&again.stdout), shown);
}

#[test]
fn create_dry_run_applies_overrides_like_xl() {
    let out = rxl(&[
        "create",
        "--dry-run",
        &example("xlexample.pvhlinux"),
        "memory=1024",
        "name=\"override\"",
        "vcpus=1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["c_info"]["name"], "override");
    assert_eq!(j["c_info"]["type"], "pvh");
    assert_eq!(j["b_info"]["target_memkb"], 1024 * 1024);
    assert_eq!(j["b_info"]["max_vcpus"], 1);
}

#[test]
fn create_dry_run_reports_override_errors_as_command_line() {
    let out = rxl(&[
        "create",
        "-n",
        &example("xlexample.pvhlinux"),
        "memory=lots",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("command line:1:8: error:"), "{stderr}");
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn create_rejects_a_second_file_argument() {
    let out = rxl(&["create", "-n", &example("xlexample.hvm"), "other.cfg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a key=value override"));
}

#[test]
fn create_on_xen_without_xen_says_so() {
    // This machine has no Xen: the real create path on a forced Xen backend says so (the lab
    // tests it on Xen).
    let out = rxl(&["--backend", "xen", "create", &example("xlexample.pvlinux")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Xen is not running here"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn create_on_kvm_names_what_failed_and_leaves_nothing() {
    // The same verb on the KVM backend: the example's disk does not exist here, so the VMM
    // refuses it; the run directory is left empty. (Real guests: tests/suites/60-kvm.sh.)
    let run = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_rxl"))
        .args(["--backend", "kvm", "create", &example("xlexample.pvlinux")])
        .env("RUST_LOG", "off")
        .env("RXL_KVM_RUN_DIR", run.path())
        .output()
        .expect("run rxl");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot create domain from") && stderr.contains("nothing was left behind"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let left: Vec<_> = std::fs::read_dir(run.path())
        .map(|d| d.map(|e| e.expect("entry").file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn repo_examples_pass_check() {
    let dir = repo().join("examples");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("demo-pv.cfg")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("demo-pvh.cfg")),
        "{files:?}"
    );
    let mut args = vec!["config", "check"];
    args.extend(files.iter().map(String::as_str));
    let out = rxl(&args);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "examples should be warning-free: {}",
        text(&out.stderr)
    );
}
