//! [`HvmSpec`] → the `qemu-system-x86_64` command line. Pure: everything that depends on the
//! running process (the QMP socket, the tap file descriptors, the probed CPU model) comes in a
//! [`Launch`], so the argv for a config can be checked word for word in tests.

use std::path::PathBuf;

use super::spec::{DiskBus, Firmware, HvmSpec, HvmVga};

/// Per-launch inputs that are not part of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The QMP socket QEMU listens on.
    pub qmp: PathBuf,
    /// One open tap file descriptor per NIC, inherited by QEMU.
    pub tap_fds: Vec<i32>,
    /// The `-cpu` model, e.g. `host` (see `probe::cpu_model`).
    pub cpu: String,
    /// MAC per NIC (the spec's, or the derived default).
    pub macs: Vec<[u8; 6]>,
}

/// Escapes a value for QEMU's `key=value,...` option syntax (a comma is doubled).
fn esc(s: &str) -> String {
    s.replace(',', ",,")
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `(device index, bootindex)` pairs.
type BootIndexes = Vec<(usize, u32)>;

/// Which device gets each boot priority: xl's `boot="dc"` means the first CD-ROM, then the
/// first hard disk. Returns the pairs for disks and for NICs.
fn boot_indexes(spec: &HvmSpec) -> (BootIndexes, BootIndexes) {
    let mut disks = Vec::new();
    let mut nics = Vec::new();
    let mut next = 1;
    for letter in spec.boot_order.chars() {
        let found = match letter {
            'c' => spec
                .disks
                .iter()
                .position(|d| !d.cdrom && d.path.is_some())
                .map(|i| disks.push((i, next))),
            'd' => spec
                .disks
                .iter()
                .position(|d| d.cdrom)
                .map(|i| disks.push((i, next))),
            'n' => (!spec.nics.is_empty()).then(|| nics.push((0, next))),
            _ => None,
        };
        if found.is_some() {
            next += 1;
        }
    }
    (disks, nics)
}

/// The QEMU arguments (without the program name) for `spec`.
pub fn argv(spec: &HvmSpec, launch: &Launch) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    push(&["-name", &esc(&spec.name), "-no-user-config", "-nodefaults"]);
    let acpi = if spec.acpi { "on" } else { "off" };
    push(&["-machine", &format!("pc,acpi={acpi}"), "-accel", "kvm"]);
    let mut cpu = launch.cpu.clone();
    for f in &spec.cpu_flags {
        cpu.push(',');
        cpu.push_str(f);
    }
    push(&["-cpu", &cpu, "-m", &spec.memory_mib.to_string()]);
    let smp = if spec.max_vcpus > spec.vcpus {
        format!("{},maxcpus={}", spec.vcpus, spec.max_vcpus)
    } else {
        spec.vcpus.to_string()
    };
    push(&["-smp", &smp]);
    if let Firmware::Image(p) = &spec.firmware {
        push(&["-bios", &p.to_string_lossy()]);
    }
    if let Some(k) = &spec.direct_kernel {
        push(&["-kernel", &k.kernel.to_string_lossy()]);
        if let Some(r) = &k.ramdisk {
            push(&["-initrd", &r.to_string_lossy()]);
        }
        if !k.cmdline.is_empty() {
            push(&["-append", &k.cmdline]);
        }
    }
    // Guest-initiated resets and power-offs pause QEMU instead of acting, so rxl-kvm applies
    // on_reboot / on_poweroff; a pvpanic report pauses it for on_crash.
    push(&[
        "-action",
        "reboot=shutdown,shutdown=pause,panic=pause",
        "-device",
        "pvpanic",
    ]);
    if !spec.hpet {
        push(&["-no-hpet"]);
    }
    if !spec.acpi_s3 {
        push(&["-global", "PIIX4_PM.disable_s3=1"]);
    }
    if !spec.acpi_s4 {
        push(&["-global", "PIIX4_PM.disable_s4=1"]);
    }
    if let Some(t) = &spec.acpi_table {
        push(&["-acpitable", &format!("file={}", esc(&t.to_string_lossy()))]);
    }
    if let Some(t) = &spec.smbios_table {
        push(&["-smbios", &format!("file={}", esc(&t.to_string_lossy()))]);
    }
    let base = if spec.localtime { "localtime" } else { "utc" };
    push(&["-rtc", &format!("base={base}")]);
    // COM1 is the console: QEMU's stdio, which rxl-kvm pipes to the console log and input.
    push(&[
        "-chardev",
        "stdio,id=console,signal=off",
        "-device",
        "isa-serial,chardev=console",
    ]);
    push(&[
        "-chardev",
        &format!(
            "socket,id=qmp,path={},server=on,wait=off",
            esc(&launch.qmp.to_string_lossy())
        ),
        "-mon",
        "chardev=qmp,mode=control",
    ]);
    let vga = match spec.vga {
        HvmVga::Cirrus => Some("cirrus-vga"),
        HvmVga::Std => Some("VGA"),
        HvmVga::Qxl => Some("qxl-vga"),
        HvmVga::None => None,
    };
    if let Some(dev) = vga {
        let dev = match spec.videoram_mib {
            Some(mb) => format!("{dev},vgamem_mb={mb}"),
            None => dev.to_string(),
        };
        push(&["-device", &dev]);
    }
    match &spec.vnc {
        Some(v) => {
            let mut opt = format!("{}:{}", v.listen, v.display);
            if v.find_unused {
                opt.push_str(&format!(",to={}", v.display + 99));
            }
            if v.password.is_some() {
                opt.push_str(",password=on");
            }
            push(&["-vnc", &opt]);
        }
        None => push(&["-display", "none"]),
    }
    if let Some(k) = &spec.keymap {
        push(&["-k", k]);
    }
    disks(spec, &mut a);
    nics(spec, launch, &mut a);
    if let Some(v) = spec.usb {
        let ctrl = match v {
            1 => "piix3-usb-uhci",
            2 => "usb-ehci",
            _ => "qemu-xhci",
        };
        a.extend(["-device".into(), format!("{ctrl},id=usb")]);
        for d in &spec.usb_devices {
            a.extend(["-device".into(), format!("{d},bus=usb.0")]);
        }
    }
    if let Some(u) = &spec.run_as {
        a.extend(["-runas".into(), u.clone()]);
    }
    // Started stopped: rxl-kvm connects to QMP first, then continues (or stays paused).
    a.push("-S".into());
    a.extend(spec.extra_args.iter().cloned());
    a
}

fn disks(spec: &HvmSpec, a: &mut Vec<String>) {
    let (boot, _) = boot_indexes(spec);
    if spec.disks.iter().any(|d| d.bus == DiskBus::Ahci) {
        a.extend(["-device".into(), "ich9-ahci,id=ahci".into()]);
    }
    for (i, d) in spec.disks.iter().enumerate() {
        let mut drive = format!("if=none,id=drive{i}");
        match &d.path {
            Some(p) => {
                drive.push_str(&format!(
                    ",file={},format={}",
                    esc(&p.to_string_lossy()),
                    d.format
                ));
            }
            None => drive.push_str(",media=cdrom"),
        }
        if d.read_only {
            drive.push_str(",readonly=on");
        }
        if d.discard {
            drive.push_str(",discard=unmap");
        }
        let kind = if d.cdrom { "ide-cd" } else { "ide-hd" };
        let mut dev = match d.bus {
            DiskBus::Ide => format!(
                "{kind},drive=drive{i},bus=ide.{},unit={}",
                d.index / 2,
                d.index % 2
            ),
            DiskBus::Ahci => format!("{kind},drive=drive{i},bus=ahci.{}", d.index),
            DiskBus::Virtio => format!("virtio-blk-pci,drive=drive{i}"),
        };
        if let Some((_, n)) = boot.iter().find(|(di, _)| *di == i) {
            dev.push_str(&format!(",bootindex={n}"));
        }
        a.extend(["-drive".into(), drive, "-device".into(), dev]);
    }
}

fn nics(spec: &HvmSpec, launch: &Launch, a: &mut Vec<String>) {
    if spec.nics.is_empty() {
        a.extend(["-nic".into(), "none".into()]);
        return;
    }
    let (_, boot) = boot_indexes(spec);
    for (i, fd) in launch.tap_fds.iter().enumerate() {
        let model = spec.nics.get(i).map_or("rtl8139", |n| n.model.as_str());
        let mut dev = format!("{model},netdev=net{i}");
        if let Some(m) = launch.macs.get(i) {
            dev.push_str(&format!(",mac={}", mac(*m)));
        }
        if let Some((_, n)) = boot.iter().find(|(ni, _)| *ni == i) {
            dev.push_str(&format!(",bootindex={n}"));
        }
        a.extend([
            "-netdev".into(),
            format!("tap,id=net{i},fd={fd}"),
            "-device".into(),
            dev,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::config::hvm_spec;

    fn launch(nics: usize) -> Launch {
        Launch {
            qmp: "/run/rxl/kvm/3.qmp".into(),
            tap_fds: (0..nics).map(|i| 10 + i as i32).collect(),
            cpu: "host".into(),
            macs: (0..nics).map(|i| [0x52, 0x54, 0, 0, 0, i as u8]).collect(),
        }
    }

    fn golden(cfg_text: &str, nics: usize) -> String {
        let cfg = rxl_config::parse_str("t.cfg", cfg_text).unwrap().config;
        let m = hvm_spec(&cfg).unwrap_or_else(|e| panic!("{e}"));
        argv(&m.spec, &launch(nics)).join(" ")
    }

    const COMMON: &str = "-action reboot=shutdown,shutdown=pause,panic=pause -device pvpanic \
-rtc base=utc -chardev stdio,id=console,signal=off -device isa-serial,chardev=console \
-chardev socket,id=qmp,path=/run/rxl/kvm/3.qmp,server=on,wait=off -mon chardev=qmp,mode=control";

    #[test]
    fn xen_xlexample_hvm() {
        // /work/shared/xl-examples: Xen's tools/examples/xlexample.hvm, comments removed.
        let text = r#"
type = "hvm"
name = "example.hvm"
memory = 128
vcpus = 2
vif = [ '' ]
disk = [ '/dev/vg/guest-volume,raw,xvda,rw' ]
sdl = 1
"#;
        let want = format!(
            "-name example.hvm -no-user-config -nodefaults -machine pc,acpi=on -accel kvm \
-cpu host -m 128 -smp 2 {COMMON} -device cirrus-vga -display none \
-drive if=none,id=drive0,file=/dev/vg/guest-volume,format=raw \
-device ide-hd,drive=drive0,bus=ide.0,unit=0,bootindex=1 \
-netdev tap,id=net0,fd=10 -device rtl8139,netdev=net0,mac=52:54:00:00:00:00 -S"
        );
        assert_eq!(golden(text, 1), want);
    }

    #[test]
    fn installer_cdrom_qcow2_vnc_tablet() {
        let text = r#"
type = "hvm"
name = "inst"
memory = 2048
vcpus = 2
maxvcpus = 4
disk = [ "/srv/deb.qcow2,qcow2,xvda,w", "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/srv/d,1.iso" ]
boot = "dc"
vnc = 1
vncdisplay = 3
vncpasswd = "s3"
stdvga = 1
usb = 1
usbdevice = "tablet"
acpi_s3 = 0
on_reboot = "destroy"
"#;
        let want = String::from(
            "-name inst -no-user-config -nodefaults -machine pc,acpi=on -accel kvm -cpu host \
-m 2048 -smp 2,maxcpus=4 -action reboot=shutdown,shutdown=pause,panic=pause -device pvpanic \
-global PIIX4_PM.disable_s3=1 -rtc base=utc -chardev stdio,id=console,signal=off \
-device isa-serial,chardev=console \
-chardev socket,id=qmp,path=/run/rxl/kvm/3.qmp,server=on,wait=off -mon chardev=qmp,mode=control \
-device VGA -vnc 127.0.0.1:3,password=on \
-drive if=none,id=drive0,file=/srv/deb.qcow2,format=qcow2 \
-device ide-hd,drive=drive0,bus=ide.0,unit=0,bootindex=2 \
-drive if=none,id=drive1,file=/srv/d,,1.iso,format=raw,readonly=on \
-device ide-cd,drive=drive1,bus=ide.1,unit=0,bootindex=1 \
-nic none -device piix3-usb-uhci,id=usb -device usb-tablet,bus=usb.0 -S",
        );
        assert_eq!(golden(text, 0), want);
    }

    #[test]
    fn no_acpi_uefi_direct_kernel_serial_pty_extra_args() {
        let text = r#"
type = "hvm"
name = "k"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd.img"
extra = "console=ttyS0"
acpi = 0
hpet = 0
nx = 0
vga = "none"
serial = "pty"
disk = [ "/srv/a.img,raw,hda,rw", "/srv/e.img,raw,xvde,r" ]
device_model_args_hvm = [ "-overcommit", "mem-lock=off" ]
acpi_firmware = "/srv/slic.bin"
"#;
        let want = "-name k -no-user-config -nodefaults -machine pc,acpi=off -accel kvm \
-cpu host,-nx -m 128 -smp 1 -kernel /boot/vmlinuz -initrd /boot/initrd.img -append console=ttyS0 \
-action reboot=shutdown,shutdown=pause,panic=pause -device pvpanic -no-hpet \
-acpitable file=/srv/slic.bin -rtc base=utc \
-chardev stdio,id=console,signal=off -device isa-serial,chardev=console \
-chardev socket,id=qmp,path=/run/rxl/kvm/3.qmp,server=on,wait=off -mon chardev=qmp,mode=control \
-display none -drive if=none,id=drive0,file=/srv/a.img,format=raw \
-device ide-hd,drive=drive0,bus=ide.0,unit=0,bootindex=1 \
-drive if=none,id=drive1,file=/srv/e.img,format=raw,readonly=on -device virtio-blk-pci,drive=drive1 \
-nic none -S -overcommit mem-lock=off";
        assert_eq!(golden(text, 0), want);
    }
}
