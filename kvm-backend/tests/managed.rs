//! The managed VMM on the real /dev/kvm through `KvmBackend`: state files, the control socket
//! (info, pause, resume, destroy), on_* actions, dead-VMM reporting, and clean failure paths.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::guest;
use rxl_hypervisor::{Backend, BackendError, CreateOptions, DomainId};
use rxl_kvm::control::{Phase, client};
use rxl_kvm::rundir::RunDir;
use rxl_kvm::{Action, ExitReason, KvmBackend, VmSpec};

fn backend() -> (tempfile::TempDir, KvmBackend) {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("kvm"));
    let b = KvmBackend::new(run, PathBuf::from(env!("CARGO_BIN_EXE_rxl-kvm")));
    (dir, b)
}

fn spec(name: &str, cmdline: &str) -> VmSpec {
    let mut s = VmSpec::new(name, guest("pvh.elf"));
    s.memory_mib = 16;
    s.cmdline = cmdline.into();
    s
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn console(b: &KvmBackend, id: DomainId) -> String {
    std::fs::read_to_string(b.run_dir().console_path(id.0)).unwrap_or_default()
}

#[test]
fn preserved_poweroff_is_listed_as_shutdown_until_destroyed() {
    require_kvm!();
    let (_d, b) = backend();
    let mut s = spec("keep", "");
    s.on_poweroff = Action::Preserve;
    let id = b.create_spec(&s, &CreateOptions::default()).unwrap();
    assert_eq!(b.lookup("keep").unwrap(), id);
    assert_eq!(b.lookup(&id.to_string()).unwrap(), id);
    wait_for("shutdown", || {
        b.info(id)
            .map(|i| i.phase == Phase::Shutdown)
            .unwrap_or(false)
    });
    let list = b.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].display_name(), "keep");
    assert_eq!(list[0].state.to_string(), "---s--");
    assert_eq!(list[0].mem_kib, 16 * 1024);
    assert!(console(&b, id).contains("RXL-GUEST: power off"));
    // A second domain with the same name is refused, and nothing of it is left behind.
    let err = b.create_spec(&s, &CreateOptions::default()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    b.destroy(id).unwrap();
    assert!(b.list().unwrap().is_empty());
    assert!(matches!(
        b.lookup("keep"),
        Err(BackendError::NoSuchDomain(_))
    ));
}

#[test]
fn paused_create_runs_only_after_unpause_and_destroy_on_poweroff_cleans_up() {
    require_kvm!();
    let (_d, b) = backend();
    let opts = CreateOptions {
        paused: true,
        ..Default::default()
    };
    let id = b.create_spec(&spec("later", ""), &opts).unwrap();
    let info = b.info(id).unwrap();
    assert_eq!(info.phase, Phase::Paused);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(console(&b, id), "", "a paused guest must not run");
    assert_eq!(b.list().unwrap()[0].state.to_string(), "--p---");
    b.unpause(id).unwrap();
    // on_poweroff=destroy: the VMM exits and removes its files.
    wait_for("the VMM to exit", || b.list().unwrap().is_empty());
    assert!(
        std::fs::read_dir(b.run_dir().root())
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn pause_resume_and_destroy_a_spinning_guest() {
    require_kvm!();
    let (_d, b) = backend();
    let id = b
        .create_spec(&spec("spinner", "spin"), &CreateOptions::default())
        .unwrap();
    wait_for("the guest to spin", || console(&b, id).contains("spinning"));
    assert_eq!(b.list().unwrap()[0].state.to_string(), "r-----");
    b.pause(id).unwrap();
    assert_eq!(b.info(id).unwrap().phase, Phase::Paused);
    b.unpause(id).unwrap();
    assert_eq!(b.info(id).unwrap().phase, Phase::Running);
    let pid = b.run_dir().records().unwrap()[0].pid;
    b.destroy(id).unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z")
    );
    assert!(b.list().unwrap().is_empty());
}

/// `reboot` then `shutdown` over the control socket press the ACPI power button (the tiny
/// guest's "button" mode polls the GED status port): the press after `reboot` ends the boot as
/// a reboot (on_reboot=restart boots again), the press after `shutdown` as a power-off.
#[test]
fn power_button_reboot_then_shutdown() {
    require_kvm!();
    let (_d, b) = backend();
    let mut s = spec("buttons", "button");
    s.on_reboot = Action::Restart;
    let id = b.create_spec(&s, &CreateOptions::default()).unwrap();
    let sock = b.run_dir().socket_path(id.0);
    let waiting = |n: usize| {
        let c = console(&b, id);
        c.matches("waiting for the power button").count() >= n
    };
    wait_for("the guest to wait for the button", || waiting(1));
    client::request(&sock, "reboot").unwrap();
    wait_for("the second boot", || {
        b.info(id).map(|i| i.boots == 2).unwrap_or(false) && waiting(2)
    });
    let info = b.info(id).unwrap();
    assert_eq!(info.last_exit, Some(ExitReason::Reboot));
    let pid = b.run_dir().records().unwrap()[0].pid;
    client::request(&sock, "shutdown").unwrap();
    wait_for("the domain to go", || {
        b.list().map(|l| l.is_empty()).unwrap_or(false)
    });
    // It removes its records, then exits (a zombie: this test never reaps its child).
    wait_for("the VMM to exit", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
    });
}

#[test]
fn reboot_with_restart_boots_again() {
    require_kvm!();
    let (_d, b) = backend();
    let mut s = spec("bouncer", "reboot");
    s.on_reboot = Action::Restart;
    let id = b.create_spec(&s, &CreateOptions::default()).unwrap();
    wait_for("three boots", || {
        b.info(id).map(|i| i.boots >= 3).unwrap_or(false)
    });
    assert!(console(&b, id).matches("RXL-GUEST: reboot").count() >= 2);
    b.destroy(id).unwrap();
    assert!(b.list().unwrap().is_empty());
}

#[test]
fn a_killed_vmm_is_reported_not_hidden() {
    require_kvm!();
    let (_d, b) = backend();
    let id = b
        .create_spec(&spec("victim", "spin"), &CreateOptions::default())
        .unwrap();
    let pid = b.run_dir().records().unwrap()[0].pid;
    // SAFETY: killing the child VMM this test just started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_for("the kill to land", || {
        let l = b.list().unwrap();
        l.len() == 1 && l[0].state.crashed() && l[0].state.dying
    });
    let l = b.list().unwrap();
    assert_eq!(l[0].display_name(), "victim");
    assert_eq!(l[0].state.to_string(), "---scd");
    b.destroy(id).unwrap();
    assert!(b.list().unwrap().is_empty());
}

#[test]
fn a_vmm_that_cannot_boot_reports_why_and_leaves_nothing() {
    require_kvm!();
    let (_d, b) = backend();
    let s = VmSpec::new("broken", "/nonexistent/kernel.elf");
    let err = b.create_spec(&s, &CreateOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("failed to start") && msg.contains("/nonexistent/kernel.elf"),
        "{msg}"
    );
    assert!(b.list().unwrap().is_empty());
    assert!(
        std::fs::read_dir(b.run_dir().root())
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn an_xl_cfg_boots_through_the_backend_trait() {
    require_kvm!();
    let (dir, b) = backend();
    let disk = dir.path().join("disk.img");
    let sector: Vec<u8> = (0..4096u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&disk, &sector).unwrap();
    let want: u32 = sector[..512]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .fold(0, u32::wrapping_add);
    let text = format!(
        "name = \"fromcfg\"\ntype = \"pvh\"\nmemory = 32\nkernel = \"{}\"\nextra = \"from-xl-cfg\"\n\
         disk = [ \"{},raw,xvda,ro\" ]\non_poweroff = \"preserve\"\n",
        guest("pvh.elf").display(),
        disk.display()
    );
    let cfg = rxl_config::parse_str("fromcfg.cfg", &text).unwrap().config;
    let id = b.create(&cfg, &CreateOptions::default()).unwrap().id;
    wait_for("shutdown", || {
        b.info(id)
            .map(|i| i.phase == Phase::Shutdown)
            .unwrap_or(false)
    });
    let out = console(&b, id);
    assert!(out.contains("CMDLINE=from-xl-cfg\n"), "{out}");
    assert!(
        out.contains(&format!("VIRTIO-BLK-SUM={want:08x}\n")),
        "{out}"
    );
    b.destroy(id).unwrap();

    let hvm = rxl_config::parse_str("hvm.cfg", "name = \"h\"\ntype = \"hvm\"\n")
        .unwrap()
        .config;
    let err = b
        .create(&hvm, &CreateOptions::default())
        .unwrap_err()
        .to_string();
    // type="hvm" goes to the QEMU mapping, which names the missing boot device before
    // anything starts.
    assert!(err.contains("disk: nothing to boot"), "{err}");
    assert!(b.list().unwrap().is_empty());
}

#[test]
fn console_input_reaches_the_guest_uart() {
    require_kvm!();
    let (_d, b) = backend();
    let id = b
        .create_spec(&spec("typist", "echo"), &CreateOptions::default())
        .unwrap();
    wait_for("the guest to wait for input", || {
        console(&b, id).contains("waiting for input")
    });
    b.send_input(id, b"Z").unwrap();
    wait_for("the VMM to exit", || b.list().unwrap().is_empty());
    let err = b.send_input(id, b"Z").unwrap_err();
    assert!(matches!(err, BackendError::NoSuchDomain(_)), "{err}");
}

#[test]
fn follow_console_returns_when_the_vmm_exits() {
    require_kvm!();
    let (_d, b) = backend();
    let mut s = spec("follow", "");
    s.on_poweroff = Action::Preserve;
    let id = b.create_spec(&s, &CreateOptions::default()).unwrap();
    wait_for("shutdown", || {
        b.info(id)
            .map(|i| i.phase == Phase::Shutdown)
            .unwrap_or(false)
    });
    let detach = std::sync::atomic::AtomicBool::new(true);
    let mut out = Vec::new();
    b.follow_console(id, &mut out, &detach).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("RXL-GUEST: power off"));
    b.destroy(id).unwrap();
}
