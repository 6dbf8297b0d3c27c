//! xl.cfg `type="hvm"` → [`HvmSpec`]: the one place that decides how each HVM key maps onto
//! QEMU. As in [`crate::from_config`], a key QEMU cannot honour here is named: an error when
//! ignoring it would change what the guest sees (PCI passthrough, ROMBIOS, a serial port on a
//! file), a warning when the guest runs the same without it (scheduler weights, Xen-only knobs).

use std::path::{Path, PathBuf};

use rxl_config::DomainConfig;
use rxl_config::model::{Action as XlAction, Vga};
use rxl_config::spec::disk::{DiskFormat, DiskSpecification};
use rxl_config::spec::vdev::VdevScheme;
use rxl_config::spec::vif::NicType;

use super::spec::{DirectKernel, DiskBus, Firmware, HvmDisk, HvmNic, HvmSpec, HvmVga, Vnc};
use crate::from_config::{Unsupported, vif_ignored_keys, vif_key};
use crate::spec::{Action, NicSpec};

/// Where Debian's `ovmf` package puts the UEFI firmware QEMU can load with `-bios`.
pub const OVMF_PATH: &str = "/usr/share/ovmf/OVMF.fd";
/// Most vCPUs accepted (QEMU's `pc` machine takes 255).
const MAX_VCPUS: u32 = 255;

/// An HVM spec plus the keys that were accepted but have no effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedHvm {
    /// The guest to run.
    pub spec: HvmSpec,
    /// `key: what is ignored` lines to show the user.
    pub warnings: Vec<String>,
}

fn action(key: &str, a: Option<XlAction>, default: Action, warn: &mut Vec<String>) -> Action {
    let (mapped, note) = match a {
        None => (default, None),
        Some(XlAction::Destroy) => (Action::Destroy, None),
        Some(XlAction::Restart) => (Action::Restart, None),
        Some(XlAction::Preserve) => (Action::Preserve, None),
        Some(XlAction::RenameRestart) => (Action::Restart, Some("restarts under its own name")),
        Some(XlAction::CoredumpDestroy) => (Action::Destroy, Some("no core dump is written")),
        Some(XlAction::CoredumpRestart) => (Action::Restart, Some("no core dump is written")),
        Some(XlAction::SoftReset) => (Action::Restart, Some("treated as restart")),
    };
    if let (Some(note), Some(a)) = (note, a) {
        warn.push(format!("{key}={}: {note} on KVM", a.as_str()));
    }
    mapped
}

fn qemu_format(f: DiskFormat) -> &'static str {
    match f {
        DiskFormat::Raw | DiskFormat::Empty => "raw",
        DiskFormat::Qcow => "qcow",
        DiskFormat::Qcow2 => "qcow2",
        DiskFormat::Vhd => "vpc",
        DiskFormat::Qed => "qed",
    }
}

/// Maps an HVM `cfg` onto an [`HvmSpec`], or lists every key that prevents it.
pub fn hvm_spec(cfg: &DomainConfig) -> Result<MappedHvm, Unsupported> {
    let mut bad = Vec::new();
    let mut warn = Vec::new();
    let name = cfg.name.clone().unwrap_or_default();
    if name.is_empty() {
        bad.push("name: missing (add name=\"...\")".to_string());
    }
    let mut spec = HvmSpec::new(name.clone());
    if let Some(q) = &cfg.dm.override_path {
        spec.qemu = PathBuf::from(q);
    }
    spec.memory_mib = cfg.memory.unwrap_or(128);
    if let Some(max) = cfg.maxmem
        && max != spec.memory_mib
    {
        warn.push(format!(
            "maxmem={max}: no ballooning on KVM; the guest gets memory={}",
            spec.memory_mib
        ));
    }
    let vcpus = cfg.cpu.vcpus.unwrap_or(1);
    let max = cfg.cpu.maxvcpus.unwrap_or(vcpus).max(vcpus);
    if vcpus == 0 || max > MAX_VCPUS {
        bad.push(format!(
            "vcpus={vcpus}/maxvcpus={max}: use 1 to {MAX_VCPUS}"
        ));
    } else {
        // Both fit: checked against MAX_VCPUS (255) just above.
        spec.vcpus = vcpus as u8;
        spec.max_vcpus = max as u8;
    }

    boot_keys(cfg, &mut spec, &mut bad);
    platform_keys(cfg, &mut spec, &mut bad, &mut warn);
    display_keys(cfg, &mut spec, &mut bad, &mut warn);
    disks(cfg, &mut spec, &mut bad, &mut warn);
    vifs(cfg, &mut spec, &mut bad, &mut warn);
    ignored_keys(cfg, &mut bad, &mut warn);

    if spec.direct_kernel.is_none()
        && spec.disks.iter().all(|d| d.path.is_none())
        && !spec.boot_order.contains('n')
    {
        bad.push(
            "disk: nothing to boot (add a disk or a CD-ROM, e.g. disk = [ \"/srv/x.iso,raw,hdc,cdrom\" ])"
                .into(),
        );
    }
    spec.on_poweroff = action(
        "on_poweroff",
        cfg.actions.on_poweroff,
        Action::Destroy,
        &mut warn,
    );
    spec.on_reboot = action(
        "on_reboot",
        cfg.actions.on_reboot,
        Action::Restart,
        &mut warn,
    );
    spec.on_crash = action("on_crash", cfg.actions.on_crash, Action::Destroy, &mut warn);
    if !bad.is_empty() {
        return Err(Unsupported { problems: bad });
    }
    warn.sort();
    warn.dedup();
    Ok(MappedHvm {
        spec,
        warnings: warn,
    })
}

fn boot_keys(cfg: &DomainConfig, spec: &mut HvmSpec, bad: &mut Vec<String>) {
    let b = &cfg.boot;
    if b.bootloader.is_some() {
        bad.push("bootloader: PV only; an HVM guest boots from its firmware".into());
    }
    let fw = b.firmware.as_deref().or(cfg.hvm.bios.as_deref());
    spec.firmware = match fw {
        None | Some("bios" | "seabios") => Firmware::Seabios,
        Some("uefi" | "ovmf") => {
            if !Path::new(OVMF_PATH).exists() {
                bad.push(format!(
                    "firmware=\"{}\": UEFI needs {OVMF_PATH} (apt-get install ovmf)",
                    fw.unwrap_or_default()
                ));
            }
            Firmware::Image(OVMF_PATH.into())
        }
        Some("rombios") => {
            bad.push("bios=\"rombios\": QEMU has no ROMBIOS; use seabios".into());
            Firmware::Seabios
        }
        Some(p) if p.starts_with('/') => Firmware::Image(p.into()),
        Some(other) => {
            bad.push(format!(
                "firmware=\"{other}\": use bios, seabios, uefi, ovmf or an absolute path"
            ));
            Firmware::Seabios
        }
    };
    if let Some(k) = &b.kernel {
        spec.direct_kernel = Some(DirectKernel {
            kernel: k.into(),
            ramdisk: b.ramdisk.clone().map(Into::into),
            cmdline: b.effective_cmdline().unwrap_or_default(),
        });
    } else if b.ramdisk.is_some() || b.effective_cmdline().is_some() {
        bad.push("ramdisk/cmdline/root/extra: only with kernel= (direct kernel boot)".into());
    }
    if let Some(order) = &cfg.hvm.boot {
        if order.contains('a') || order.contains('b') {
            bad.push(format!(
                "boot=\"{order}\": no floppy drives on KVM (use c, d, n)"
            ));
        }
        spec.boot_order = order
            .chars()
            .filter(|c| matches!(c, 'c' | 'd' | 'n'))
            .collect();
    }
}

fn platform_keys(
    cfg: &DomainConfig,
    spec: &mut HvmSpec,
    bad: &mut Vec<String>,
    warn: &mut Vec<String>,
) {
    let h = &cfg.hvm;
    spec.acpi = h.acpi.unwrap_or(true);
    spec.acpi_s3 = h.acpi_s3.unwrap_or(true);
    spec.acpi_s4 = h.acpi_s4.unwrap_or(true);
    spec.hpet = h.hpet.unwrap_or(true);
    for (v, flag) in [(h.pae, "-pae"), (h.nx, "-nx")] {
        if v == Some(false) {
            spec.cpu_flags.push(flag.into());
        }
    }
    if h.nestedhvm == Some(false) {
        spec.cpu_flags.extend(["-vmx".into(), "-svm".into()]);
    }
    if h.apic == Some(false) {
        warn.push("apic=0: ignored (KVM's in-kernel irqchip always has local APICs)".into());
    }
    if h.hap.is_some() {
        warn.push("hap: ignored (KVM uses EPT/NPT whenever the CPU has it)".into());
    }
    if h.viridian.is_some() {
        warn.push("viridian: Hyper-V enlightenments are not passed to QEMU (ignored)".into());
    }
    if h.xen_platform_pci.is_some() {
        warn.push("xen_platform_pci: a Xen device; ignored on KVM".into());
    }
    if h.shadow_memory.is_some() {
        warn.push("shadow_memory: a Xen knob; ignored on KVM".into());
    }
    if h.soundhw.is_some() {
        warn.push("soundhw: no audio on the KVM backend (ignored)".into());
    }
    spec.acpi_table = h.acpi_firmware.clone().map(Into::into);
    spec.smbios_table = h.smbios_firmware.clone().map(Into::into);
    let serials: Vec<&str> = h.serial.as_ref().map(|s| s.items()).unwrap_or_default();
    for (i, s) in serials.iter().enumerate() {
        if i == 0 && *s == "pty" {
            continue;
        }
        bad.push(format!(
            "serial=\"{s}\": the KVM backend has one serial port, COM1, as the console (use serial=\"pty\")"
        ));
    }
    if h.usb == Some(true) || h.usbversion.is_some() {
        spec.usb = Some(h.usbversion.unwrap_or(1));
    }
    for dev in h.usbdevice.as_ref().map(|s| s.items()).unwrap_or_default() {
        let qdev = match dev {
            "tablet" => "usb-tablet",
            "mouse" => "usb-mouse",
            "keyboard" => "usb-kbd",
            other => {
                bad.push(format!(
                    "usbdevice=\"{other}\": only tablet, mouse and keyboard are emulated"
                ));
                continue;
            }
        };
        spec.usb.get_or_insert(1);
        spec.usb_devices.push(qdev.into());
    }
    spec.localtime = cfg.localtime.unwrap_or(false);
    if cfg.rtc_timeoffset.is_some() {
        warn.push("rtc_timeoffset: ignored on KVM (the RTC starts at host time)".into());
    }
    let dm = &cfg.dm;
    spec.run_as = dm.user.clone();
    spec.extra_args = dm.args.iter().chain(&dm.args_hvm).cloned().collect();
    if !dm.args_pv.is_empty() {
        warn.push("device_model_args_pv: PV only; ignored for an HVM guest".into());
    }
    if dm.version.is_some() {
        warn.push("device_model_version: ignored (the device model is the host's QEMU)".into());
    }
    if dm.restrict.is_some() {
        warn.push("dm_restrict: ignored (use device_model_user to drop privileges)".into());
    }
    if dm.stubdomain == Some(true) {
        bad.push("device_model_stubdomain_override: no stub domains on KVM".into());
    }
}

fn display_keys(
    cfg: &DomainConfig,
    spec: &mut HvmSpec,
    bad: &mut Vec<String>,
    warn: &mut Vec<String>,
) {
    let h = &cfg.hvm;
    spec.vga = match h.effective_vga() {
        None | Some(Vga::Cirrus) => HvmVga::Cirrus,
        Some(Vga::Stdvga) => HvmVga::Std,
        Some(Vga::Qxl) => HvmVga::Qxl,
        Some(Vga::None) => HvmVga::None,
    };
    spec.videoram_mib = h.videoram;
    spec.keymap = h.keymap.clone();
    if h.sdl == Some(true) {
        warn.push("sdl=1: rxl-kvm opens no local window; use vnc=1 (ignored)".into());
    }
    if h.opengl.is_some() {
        warn.push("opengl: no local display (ignored)".into());
    }
    let vnc = h.vnc.unwrap_or(false) && h.nographic != Some(true);
    if !vnc {
        return;
    }
    let listen = h.vnclisten.clone().unwrap_or_else(|| "127.0.0.1".into());
    let (addr, display_in_listen) = split_vnclisten(&listen);
    let loopback = addr == "localhost"
        || addr
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bad.push(format!(
            "vnclisten=\"{listen}\": the KVM backend serves VNC on loopback only \
             (use 127.0.0.1 and an ssh tunnel: ssh -L 5900:127.0.0.1:5900 host)"
        ));
    }
    spec.vnc = Some(Vnc {
        listen: addr,
        display: h.vncdisplay.or(display_in_listen).unwrap_or(0),
        find_unused: h.vncunused.unwrap_or(true) && h.vncdisplay.is_none(),
        password: h.vncpasswd.clone().filter(|p| !p.is_empty()),
    });
}

/// `vnclisten` may carry the display, as xl accepts: `127.0.0.1:1`, `[::1]:1`. Returns the
/// address (IPv6 kept in brackets, as QEMU's `-vnc` wants it) and the display, if given.
fn split_vnclisten(listen: &str) -> (String, Option<u32>) {
    if listen.starts_with('[') {
        return match listen.split_once(']') {
            Some((a, rest)) => (
                format!("{a}]"),
                rest.strip_prefix(':').and_then(|d| d.parse().ok()),
            ),
            None => (listen.to_string(), None),
        };
    }
    match listen.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address, no display.
        Some((a, d)) if !a.contains(':') => (a.to_string(), d.parse().ok()),
        _ if listen.contains(':') => (format!("[{listen}]"), None),
        _ => (listen.to_string(), None),
    }
}

fn disks(cfg: &DomainConfig, spec: &mut HvmSpec, bad: &mut Vec<String>, warn: &mut Vec<String>) {
    let ahci = cfg.hvm.hdtype.as_deref() == Some("ahci");
    let mut next_virtio = 0;
    for disk in &cfg.devices.disks {
        let p = &disk.parsed;
        let key = format!("disk '{}'", disk.spec);
        if p.backend_domname.is_some() || p.script.is_some() {
            bad.push(format!(
                "{key}: backend= and script= are Xen driver-domain features"
            ));
            continue;
        }
        if p.colo_enable == Some(true) {
            bad.push(format!("{key}: COLO replication is a Xen feature"));
            continue;
        }
        let vdev = match p.decoded_vdev() {
            Ok(v) => v,
            Err(e) => {
                bad.push(format!("{key}: {e}"));
                continue;
            }
        };
        if vdev.partition.is_some_and(|n| n != 0) {
            bad.push(format!(
                "{key}: an HVM guest gets whole disks, not partitions ({})",
                p.vdev
            ));
            continue;
        }
        let unit = vdev.disk.unwrap_or(u32::MAX);
        let virtio = p.specification == Some(DiskSpecification::Virtio)
            || unit > 3
            || vdev.scheme == VdevScheme::Number;
        let (bus, index) = if virtio {
            if p.is_cdrom {
                bad.push(format!(
                    "{key}: a CD-ROM must be one of the first four drives (hda..hdd)"
                ));
                continue;
            }
            next_virtio += 1;
            (DiskBus::Virtio, next_virtio - 1)
        } else if ahci {
            (DiskBus::Ahci, unit)
        } else {
            (DiskBus::Ide, unit)
        };
        if spec
            .disks
            .iter()
            .any(|d| d.bus == bus && d.index == index && bus != DiskBus::Virtio)
        {
            bad.push(format!("{key}: {} is used twice", p.vdev));
            continue;
        }
        let path = p.pdev_path.clone().filter(|s| !s.is_empty());
        if path.is_none() && !p.is_cdrom {
            bad.push(format!("{key}: no target path"));
            continue;
        }
        if p.direct_io_safe || p.trusted.is_some() || p.grant_usage.is_some() {
            warn.push(format!(
                "{key}: direct-io-safe/trusted/grant_usage are Xen PV knobs (ignored)"
            ));
        }
        spec.disks.push(HvmDisk {
            path: if p.format == DiskFormat::Empty {
                None
            } else {
                path.map(Into::into)
            },
            format: qemu_format(p.format).into(),
            cdrom: p.is_cdrom,
            read_only: p.is_cdrom || !p.readwrite,
            bus,
            index,
            discard: p.discard_enable == Some(true),
        });
    }
}

fn vifs(cfg: &DomainConfig, spec: &mut HvmSpec, bad: &mut Vec<String>, warn: &mut Vec<String>) {
    for vif in &cfg.devices.vifs {
        let p = &vif.parsed;
        let Some(key) = vif_key(vif, bad) else {
            continue;
        };
        if p.nictype == Some(NicType::Vif) {
            warn.push(format!(
                "{key}: type=vif (PV only) has no KVM equivalent; the guest gets an emulated NIC"
            ));
        }
        vif_ignored_keys(&key, p, false, warn);
        let model = match p.model.as_deref() {
            None | Some("rtl8139") => "rtl8139",
            Some("e1000") => "e1000",
            Some("virtio" | "virtio-net" | "virtio-net-pci") => "virtio-net-pci",
            Some(other) => {
                bad.push(format!(
                    "{key}: model={other}: use rtl8139, e1000 or virtio-net"
                ));
                continue;
            }
        };
        spec.nics.push(HvmNic {
            net: NicSpec {
                tap: p.ifname.clone(),
                bridge: p.bridge.clone(),
                mac: p.mac,
            },
            model: model.into(),
        });
    }
}

fn ignored_keys(cfg: &DomainConfig, bad: &mut Vec<String>, warn: &mut Vec<String>) {
    crate::from_config::warn_xen_only_keys(cfg, warn);
    if cfg.nomigrate.is_some() {
        warn.push("nomigrate: has no effect on the KVM backend (ignored)".into());
    }
    for key in cfg.other.keys() {
        warn.push(format!("{key}: not modelled by rxl; ignored on KVM"));
    }
    let d = &cfg.devices;
    for (key, n, why) in [
        ("pci", d.pcis.len(), "no PCI passthrough on the KVM backend"),
        (
            "vfb",
            d.vfbs.len(),
            "a PV framebuffer; an HVM guest uses vnc=",
        ),
        ("channel", d.channels.len(), "no PV channels on KVM"),
        ("vtpm", d.vtpms.len(), "no vTPM on the KVM backend"),
        ("p9", d.p9s.len(), "no 9pfs on the KVM backend"),
        ("usbctrl", d.usbctrls.len(), "PV USB; use usb=1/usbdevice="),
        ("usbdev", d.usbdevs.len(), "no USB passthrough on KVM"),
    ] {
        if n > 0 {
            bad.push(format!("{key}: {why} (remove it for KVM)"));
        }
    }
    if cfg.driver_domain == Some(true) {
        bad.push("driver_domain: a Xen feature".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parse(text: &str) -> DomainConfig {
        rxl_config::parse_str("test.cfg", text)
            .expect("valid test config")
            .config
    }

    #[test]
    fn cdrom_forms_and_formats_map() {
        let cfg = parse(
            r#"
name = "inst"
type = "hvm"
memory = 1024
vcpus = 2
disk = [ "/srv/d.qcow2,qcow2,hda,rw", "/srv/x.iso,raw,hdc,cdrom",
         "format=raw, vdev=hdd, access=ro, devtype=cdrom, target=/srv/y.iso" ]
boot = "dc"
"#,
        );
        let m = hvm_spec(&cfg).unwrap();
        let d = &m.spec.disks;
        assert_eq!(d.len(), 3);
        assert_eq!(
            (d[0].format.as_str(), d[0].cdrom, d[0].index),
            ("qcow2", false, 0)
        );
        assert!(d[1].cdrom && d[1].read_only && d[1].index == 2);
        assert!(d[2].cdrom && d[2].index == 3);
        assert_eq!(d[2].path.as_deref(), Some(Path::new("/srv/y.iso")));
        assert_eq!(m.spec.boot_order, "dc");
        assert_eq!((m.spec.memory_mib, m.spec.vcpus), (1024, 2));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn every_unsupported_key_is_named() {
        let cfg = parse(
            r#"
name = "w"
type = "hvm"
disk = [ "/srv/w.img,raw,hda,rw" ]
pci = [ "0000:01:00.0" ]
serial = "file:/tmp/s"
bios = "rombios"
usbdevice = "host:1234:5678"
vnc = 1
vnclisten = "0.0.0.0"
"#,
        );
        let text = hvm_spec(&cfg).unwrap_err().to_string();
        for key in [
            "pci:",
            "serial=\"file:/tmp/s\"",
            "rombios",
            "usbdevice=\"host",
            "vnclisten",
        ] {
            assert!(text.contains(key), "missing {key} in:\n{text}");
        }
    }

    #[test]
    fn vnclisten_forms() {
        let t = |s: &str| split_vnclisten(s);
        assert_eq!(t("127.0.0.1"), ("127.0.0.1".into(), None));
        assert_eq!(t("127.0.0.1:4"), ("127.0.0.1".into(), Some(4)));
        assert_eq!(t("[::1]:2"), ("[::1]".into(), Some(2)));
        assert_eq!(t("[::1]"), ("[::1]".into(), None));
        assert_eq!(t("::1"), ("[::1]".into(), None));
        assert_eq!(t("localhost:1"), ("localhost".into(), Some(1)));
    }

    #[test]
    fn nothing_to_boot_is_an_error_and_harmless_keys_warn() {
        let e = hvm_spec(&parse("name = \"h\"\ntype = \"hvm\"\n")).unwrap_err();
        assert!(e.to_string().contains("nothing to boot"), "{e}");
        let m = hvm_spec(&parse(
            "name = \"h\"\ntype = \"hvm\"\ndisk = [ \"/d,raw,xvda,rw\" ]\nsdl = 1\nviridian = 1\ncpu_weight = 256\n",
        ))
        .unwrap();
        for key in ["sdl=1", "viridian", "cpu_weight"] {
            assert!(
                m.warnings.iter().any(|w| w.starts_with(key)),
                "{key}: {:?}",
                m.warnings
            );
        }
    }
}
