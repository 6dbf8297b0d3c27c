//! type="hvm" on the real /dev/kvm: `rxl-kvm --config hvm.cfg` in managed mode runs
//! qemu-system-x86_64 -accel kvm; SeaBIOS boots a boot sector (from a raw disk, or from an ISO
//! through El Torito no-emulation) that prints a marker on COM1, then a dot per timer tick.
//! Checked through the same control socket and run directory as a microVM: info, pause,
//! resume, reboot (a new QEMU, boots=2), shutdown, destroy, and a killed QEMU reported.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rxl_hypervisor::Backend;
use rxl_kvm::KvmBackend;
use rxl_kvm::control::{Phase, client};
use rxl_kvm::rundir::RunDir;
use rxl_kvm::runstate::ExitReason;

/// Why these tests cannot run here, if they cannot.
fn skip_reason(need_iso: bool) -> Option<String> {
    // SeaBIOS boots take 6-8 s each on a software /dev/kvm: suite 60-kvm runs these once,
    // rather than `cargo test --workspace` (suite 20-unit) running them a second time.
    if std::env::var_os("RXL_HVM_QEMU_TESTS").is_none() {
        return Some("set RXL_HVM_QEMU_TESTS=1 to run (suite 60-kvm does)".into());
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Some(format!("/dev/kvm is not usable: {e}"));
    }
    let has = |bin: &str| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has("qemu-system-x86_64") {
        return Some("qemu-system-x86_64 is not installed (tests/deps/kvm-hvm.apt)".into());
    }
    if need_iso && !has("xorriso") {
        return Some("xorriso is not installed (tests/deps/kvm-hvm.apt)".into());
    }
    None
}

/// One QEMU at a time: SeaBIOS under a software /dev/kvm is slow, and parallel guests on a
/// 2-core machine only make each one slower and the timeouts flaky.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

macro_rules! require {
    ($iso:expr) => {
        if let Some(why) = skip_reason($iso) {
            eprintln!("SKIP {}: {why}", module_path!());
            return;
        }
        let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    };
}

/// What the boot sector does after printing its marker.
#[derive(Clone, Copy)]
enum Then {
    /// `sti; hlt` and a '.' per wake-up (the BIOS timer ticks), forever.
    Tick,
    /// ACPI S5: SLP_EN with SLP_TYP 0 to PM1a_CNT (port 0x604, where SeaBIOS puts the PIIX4
    /// PM block on QEMU's `pc`): a guest power-off.
    PowerOff,
    /// The i8042 reset line (0xfe to port 0x64): a guest reset.
    Reset,
}

/// A real-mode boot sector: DS=0, print `msg` on COM1, then do `then`. Position-independent
/// apart from `msg`'s absolute address, so it runs whether the BIOS enters at 0000:7c00 or
/// 07c0:0000 (El Torito).
fn boot_sector(msg: &str, then: Then) -> Vec<u8> {
    const MSG: u16 = 0x7c00 + 32;
    #[rustfmt::skip]
    let mut code = vec![
        0xfc,                               // cld
        0x31, 0xc0,                         // xor ax, ax
        0x8e, 0xd8,                         // mov ds, ax
        0xba, 0xf8, 0x03,                   // mov dx, 0x3f8
        0xbe, MSG as u8, (MSG >> 8) as u8,  // mov si, MSG
        0xac,                               // 11: lodsb
        0x84, 0xc0,                         // test al, al
        0x74, 0x03,                         // jz 19
        0xee,                               // out dx, al
        0xeb, 0xf8,                         // jmp 11
    ];
    #[rustfmt::skip]
    let tail: &[u8] = match then {
        Then::Tick => &[
            0xfb,                           // 19: sti
            0xf4,                           // hlt
            0xb0, b'.',                     // mov al, '.'
            0xee,                           // out dx, al
            0xeb, 0xf9,                     // jmp 19
        ],
        Then::PowerOff => &[
            0xba, 0x04, 0x06,               // mov dx, 0x604
            0xb8, 0x00, 0x20,               // mov ax, 0x2000
            0xef,                           // out dx, ax
            0xeb, 0xfe,                     // jmp $
        ],
        Then::Reset => &[
            0xb0, 0xfe,                     // mov al, 0xfe
            0xe6, 0x64,                     // out 0x64, al
            0xeb, 0xfe,                     // jmp $
        ],
    };
    code.extend(tail);
    code.resize(32, 0x90);
    code.extend(msg.as_bytes());
    code.extend(b"\r\n\0");
    code.resize(510, 0);
    code.extend([0x55, 0xaa]);
    code
}

/// A raw disk image whose MBR is [`boot_sector`].
fn disk_image(path: &Path, msg: &str) {
    disk_image_then(path, msg, Then::Tick);
}

/// A raw disk image whose MBR prints `msg` and then does `then`.
fn disk_image_then(path: &Path, msg: &str, then: Then) {
    let mut img = boot_sector(msg, then);
    img.resize(1 << 20, 0);
    std::fs::write(path, img).unwrap();
}

/// An ISO whose El Torito no-emulation boot image is [`boot_sector`] (made with xorriso).
fn iso_image(dir: &Path, msg: &str) -> PathBuf {
    let root = dir.join("iso-root");
    std::fs::create_dir_all(&root).unwrap();
    let mut boot = boot_sector(msg, Then::Tick);
    boot.resize(2048, 0);
    std::fs::write(root.join("boot.img"), boot).unwrap();
    std::fs::write(root.join("README"), "rxl hvm test\n").unwrap();
    let iso = dir.join("boot.iso");
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(&iso)
        .args(["-b", "boot.img", "-no-emul-boot", "-boot-load-size", "4"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    iso
}

/// One managed `rxl-kvm --config` VM; killed (with its QEMU, by PDEATHSIG) if a test fails.
struct Vm {
    run: RunDir,
    id: u32,
    child: Child,
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Vm {
    fn start(dir: &Path, name: &str, cfg_body: &str) -> Vm {
        let cfg = dir.join(format!("{name}.cfg"));
        std::fs::write(
            &cfg,
            format!("name = \"{name}\"\ntype = \"hvm\"\nmemory = 32\n{cfg_body}"),
        )
        .unwrap();
        let run = RunDir::new(dir.join("run"));
        let id = run.reserve(name, 32, 1).unwrap().id;
        let child = Command::new(env!("CARGO_BIN_EXE_rxl-kvm"))
            .arg("--config")
            .arg(&cfg)
            .arg("--run-dir")
            .arg(run.root())
            .arg("--id")
            .arg(id.to_string())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut vm = Vm { run, id, child };
        vm.wait_for("the pid in the state file", |vm| {
            vm.run
                .records()
                .unwrap()
                .iter()
                .any(|r| r.id == vm.id && r.pid != 0)
        });
        vm
    }

    /// Starts `rxl-kvm --spec` with an HVM spec file, as `KvmBackend` does for a toolstack.
    fn start_spec(dir: &Path, spec: &rxl_kvm::qemu::HvmSpec) -> Vm {
        let path = dir.join(format!("{}.spec.json", spec.name));
        std::fs::write(&path, serde_json::to_string_pretty(spec).unwrap()).unwrap();
        let run = RunDir::new(dir.join("run"));
        let id = run
            .reserve(&spec.name, spec.memory_mib, spec.vcpus)
            .unwrap()
            .id;
        let child = Command::new(env!("CARGO_BIN_EXE_rxl-kvm"))
            .arg("--spec")
            .arg(&path)
            .arg("--run-dir")
            .arg(run.root())
            .arg("--id")
            .arg(id.to_string())
            .arg("--paused")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut vm = Vm { run, id, child };
        vm.wait_for("the pid in the state file", |vm| {
            vm.run
                .records()
                .unwrap()
                .iter()
                .any(|r| r.id == vm.id && r.pid != 0)
        });
        vm
    }

    fn wait_for(&mut self, what: &str, mut cond: impl FnMut(&mut Vm) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond(self) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("rxl-kvm exited ({st}) while waiting for {what}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.run.console_path(self.id)).unwrap_or_default()
    }

    fn request(&self, req: &str) -> Result<(), String> {
        client::request(&self.run.socket_path(self.id), req)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// What `rxl list` shows for this VM: its name and xl state flags, through the KVM backend.
    fn listed(&self) -> (Option<String>, String) {
        let b = KvmBackend::new(self.run.clone(), env!("CARGO_BIN_EXE_rxl-kvm").into());
        let list = b.list().unwrap();
        let d = list.iter().find(|d| d.id.0 == self.id).expect("listed");
        (d.name.clone(), d.state.to_string())
    }

    fn info(&self) -> rxl_kvm::control::VmInfo {
        client::info(&self.run.socket_path(self.id)).unwrap()
    }

    /// Destroys the VM and checks rxl-kvm exits with `code` (3 after a crash, as for a
    /// microVM) leaving nothing in the run directory.
    fn destroy_and_check_clean(mut self, code: i32) {
        self.request("destroy").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "rxl-kvm did not exit after destroy"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(code), "{status}");
        let left: Vec<_> = std::fs::read_dir(self.run.root())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left in the run dir: {left:?}");
    }
}

#[test]
fn disk_boot_pause_resume_reboot_shutdown_destroy() {
    require!(false);
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    disk_image(&disk, "RXL-HVM-DISK-OK");
    let mut vm = Vm::start(
        dir.path(),
        "hvm-disk",
        &format!(
            "disk = [ \"{},raw,hda,rw\" ]\nserial = \"pty\"\n",
            disk.display()
        ),
    );
    vm.wait_for("the disk marker", |vm| {
        vm.console().contains("RXL-HVM-DISK-OK")
    });
    let info = vm.info();
    assert_eq!(
        (info.name.as_str(), info.phase, info.boots),
        ("hvm-disk", Phase::Running, 1)
    );
    assert_eq!(info.pid, vm.child.id());
    vm.wait_for("timer ticks", |vm| vm.console().contains("...."));

    // pause: the guest's dots stop; resume: they come back.
    assert_eq!(vm.listed(), (Some("hvm-disk".into()), "r-----".into()));
    vm.request("pause").unwrap();
    assert_eq!(vm.info().phase, Phase::Paused);
    assert_eq!(vm.listed().1, "--p---");
    let frozen = vm.console().len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(vm.console().len(), frozen, "the guest ran while paused");
    vm.request("resume").unwrap();
    assert_eq!(vm.info().phase, Phase::Running);
    vm.wait_for("ticks after resume", |vm| vm.console().len() > frozen + 2);

    // reboot: a hard reset; on_reboot defaults to restart, in a fresh QEMU.
    vm.request("reboot").unwrap();
    vm.wait_for("the second boot", |vm| {
        vm.console().matches("RXL-HVM-DISK-OK").count() == 2
    });
    let info = vm.info();
    assert_eq!((info.boots, info.phase), (2, Phase::Running));
    assert_eq!(info.last_exit, Some(ExitReason::Reboot));

    // shutdown presses the ACPI power button; this guest has no ACPI and keeps running.
    vm.request("shutdown").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(vm.info().phase, Phase::Running);
    assert!(
        vm.request("frobnicate")
            .unwrap_err()
            .contains("unknown request")
    );
    vm.destroy_and_check_clean(0);
}

#[test]
fn cdrom_boot_both_spellings_and_boot_order() {
    require!(true);
    let dir = tempfile::tempdir().unwrap();
    let iso = iso_image(dir.path(), "RXL-HVM-CDROM-OK");
    let disk = dir.path().join("disk.img");
    disk_image(&disk, "RXL-HVM-DISK-OK");
    // virt-install --cdrom style: a disk plus the ISO, boot="dc" boots the CD first.
    let mut vm = Vm::start(
        dir.path(),
        "hvm-cd",
        &format!(
            "disk = [ \"{},raw,hda,rw\", \"format=raw, vdev=hdc, access=ro, devtype=cdrom, target={}\" ]\nboot = \"dc\"\nvga = \"none\"\n",
            disk.display(),
            iso.display()
        ),
    );
    vm.wait_for("the CD-ROM marker", |vm| {
        vm.console().contains("RXL-HVM-CDROM-OK")
    });
    assert!(!vm.console().contains("RXL-HVM-DISK-OK"));
    vm.destroy_and_check_clean(0);
    // The short ",cdrom" spelling, alone.
    let mut vm = Vm::start(
        dir.path(),
        "hvm-cd2",
        &format!(
            "disk = [ \"{},raw,hdc,cdrom\" ]\nvga = \"none\"\n",
            iso.display()
        ),
    );
    vm.wait_for("the CD-ROM marker", |vm| {
        vm.console().contains("RXL-HVM-CDROM-OK")
    });
    vm.destroy_and_check_clean(0);
}

#[test]
fn a_killed_qemu_is_reported_not_hidden() {
    require!(false);
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    disk_image(&disk, "RXL-HVM-DISK-OK");
    let mut vm = Vm::start(
        dir.path(),
        "hvm-kill",
        &format!(
            "disk = [ \"{},raw,hda,rw\" ]\non_crash = \"preserve\"\nvga = \"none\"\n",
            disk.display()
        ),
    );
    vm.wait_for("the disk marker", |vm| {
        vm.console().contains("RXL-HVM-DISK-OK")
    });
    let pid = vm.child.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    let qemu: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: kill(2) on the QEMU this test's rxl-kvm started.
    unsafe { libc::kill(qemu, libc::SIGKILL) };
    vm.wait_for("the crash to be recorded", |vm| {
        vm.info().phase == Phase::Crashed
    });
    match vm.info().last_exit {
        Some(ExitReason::Crash(why)) => {
            assert!(
                why.contains("exited unexpectedly") && why.contains("signal"),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
    vm.destroy_and_check_clean(3);
}

#[test]
fn an_hvm_config_with_nothing_to_boot_fails_by_key_and_leaves_nothing() {
    require!(false);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("empty.cfg");
    std::fs::write(
        &cfg,
        "name = \"e\"\ntype = \"hvm\"\npci = [ \"0000:01:00.0\" ]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rxl-kvm"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("empty.cfg") && err.contains("pci:") && err.contains("nothing to boot"),
        "{err}"
    );
}

/// Deletes a test bridge on drop.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

#[test]
fn vif_on_a_bridge_vnc_with_password_stdvga_usb_tablet() {
    require!(false);
    let br = Bridge(format!("rxlhbr{}", std::process::id() % 10000));
    let made = Command::new("ip")
        .args(["link", "add", &br.0, "type", "bridge"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("SKIP hvm_qemu: cannot create a bridge with `ip link add` (needs CAP_NET_ADMIN)");
        return;
    }
    let tap = format!("rxlhtap{}", std::process::id() % 10000);
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    disk_image(&disk, "RXL-HVM-DISK-OK");
    let display = 40 + std::process::id() % 50;
    let mut vm = Vm::start(
        dir.path(),
        "hvm-dev",
        &format!(
            "disk = [ \"{},raw,hda,rw\" ]\nvif = [ \"bridge={},vifname={tap},model=e1000,mac=52:54:00:aa:bb:cc\" ]\n\
             vnc = 1\nvncdisplay = {display}\nvncpasswd = \"secret\"\nstdvga = 1\n\
             usb = 1\nusbdevice = \"tablet\"\nboot = \"c\"\n",
            disk.display(),
            br.0
        ),
    );
    vm.wait_for("the disk marker", |vm| {
        vm.console().contains("RXL-HVM-DISK-OK")
    });
    // The tap QEMU uses is enslaved to the bridge named by bridge=.
    let master = std::fs::read_link(format!("/sys/class/net/{tap}/master")).unwrap();
    assert!(master.ends_with(&br.0), "{master:?}");
    let mac = std::fs::read_to_string(format!("/sys/class/net/{tap}/address")).unwrap();
    assert!(!mac.trim().is_empty());
    // VNC answers on loopback, display vncdisplay, and demands a password (VNC auth = 2).
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", 5900 + display as u16)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    assert_eq!(&version, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut n = [0u8; 1];
    s.read_exact(&mut n).unwrap();
    let mut types = vec![0u8; usize::from(n[0])];
    s.read_exact(&mut types).unwrap();
    assert_eq!(types, vec![2], "security types offered");
    drop(s);
    vm.request("input 0d0a").unwrap();
    vm.destroy_and_check_clean(0);
    assert!(
        !Path::new(&format!("/sys/class/net/{tap}")).exists(),
        "the tap outlived the VM"
    );
}

#[test]
fn guest_poweroff_and_reset_apply_on_poweroff_and_on_reboot() {
    require!(false);
    let dir = tempfile::tempdir().unwrap();
    let off = dir.path().join("off.img");
    disk_image_then(&off, "RXL-HVM-POWEROFF", Then::PowerOff);
    // on_poweroff="preserve": the stopped QEMU is kept, listed as shut down, until destroy.
    let mut vm = Vm::start(
        dir.path(),
        "hvm-off",
        &format!(
            "disk = [ \"{},raw,hda,rw\" ]\nvga = \"none\"\non_poweroff = \"preserve\"\n",
            off.display()
        ),
    );
    vm.wait_for("the power-off", |vm| vm.info().phase == Phase::Shutdown);
    let info = vm.info();
    assert_eq!(info.last_exit, Some(ExitReason::Poweroff));
    assert_eq!(vm.listed().1, "---s--");
    assert!(vm.console().contains("RXL-HVM-POWEROFF"));
    assert!(vm.request("pause").unwrap_err().contains("not running"));
    vm.destroy_and_check_clean(0);

    // A guest reset with on_reboot="destroy": rxl-kvm ends by itself and cleans up.
    let reset = dir.path().join("reset.img");
    disk_image_then(&reset, "RXL-HVM-RESET", Then::Reset);
    let mut vm = Vm::start(
        dir.path(),
        "hvm-reset",
        &format!(
            "disk = [ \"{},raw,hda,rw\" ]\nvga = \"none\"\non_reboot = \"destroy\"\n",
            reset.display()
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = vm.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "rxl-kvm did not end after the guest reset"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(vm.run.records().unwrap().is_empty());
}

#[test]
fn a_qemu_that_cannot_start_fails_the_create_and_leaves_nothing() {
    require!(false);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.cfg");
    let missing = dir.path().join("missing.img");
    std::fs::write(
        &cfg,
        format!(
            "name = \"bad\"\ntype = \"hvm\"\ndisk = [ \"{},raw,hda,rw\" ]\n",
            missing.display()
        ),
    )
    .unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let id = run.reserve("bad", 128, 1).unwrap().id;
    let out = Command::new(env!("CARGO_BIN_EXE_rxl-kvm"))
        .arg("--config")
        .arg(&cfg)
        .arg("--run-dir")
        .arg(run.root())
        .arg("--id")
        .arg(id.to_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing.img"), "{err}");
    let left: Vec<_> = std::fs::read_dir(run.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the run dir: {left:?}");
}

#[test]
fn foreground_direct_kernel_boot_runs_the_pvh_test_kernel_to_its_reset() {
    require!(false);
    let guest_dir = env!("RXL_KVM_GUEST_DIR");
    if guest_dir.is_empty() {
        eprintln!("SKIP hvm_qemu: the tiny guest kernels were not built (binutils missing)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("k.cfg");
    std::fs::write(
        &cfg,
        format!(
            "name = \"k\"\ntype = \"hvm\"\nmemory = 32\nvga = \"none\"\nkernel = \"{guest_dir}/pvh.elf\"\nextra = \"reboot hello-hvm\"\non_reboot = \"destroy\"\n"
        ),
    )
    .unwrap();
    // Foreground: COM1 on stdout. The kernel resets through the i8042 (its power-off port is
    // the microVM's, which QEMU does not have); on_reboot="destroy" then ends rxl-kvm.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rxl-kvm"))
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the PVH kernel did not reset under QEMU");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{status}\n{out}");
    for line in [
        "PVH-MAGIC=ok",
        "CMDLINE=reboot hello-hvm",
        "RXL-GUEST: reboot",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in:\n{out}");
    }
}

#[test]
fn an_hvm_spec_file_starts_paused_and_runs_on_resume() {
    require!(false);
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    disk_image(&disk, "RXL-HVM-SPEC-OK");
    let cfg = rxl_config::parse_str(
        "s.cfg",
        &format!(
            "name = \"hvm-spec\"\ntype = \"hvm\"\nmemory = 32\nvga = \"none\"\ndisk = [ \"{},raw,hda,rw\" ]\n",
            disk.display()
        ),
    )
    .unwrap()
    .config;
    let spec = rxl_kvm::qemu::config::hvm_spec(&cfg).unwrap().spec;
    let mut vm = Vm::start_spec(dir.path(), &spec);
    // --paused (rxl create -p): QEMU is up but has run no guest code.
    assert_eq!(vm.info().phase, Phase::Paused);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(vm.console(), "");
    vm.request("resume").unwrap();
    vm.wait_for("the marker after resume", |vm| {
        vm.console().contains("RXL-HVM-SPEC-OK")
    });
    vm.destroy_and_check_clean(0);
}
