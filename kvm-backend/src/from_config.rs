//! The one place that knows the xl.cfg model: `DomainConfig` → [`VmSpec`]. A key the KVM
//! backend cannot honour is reported by name: as an error when ignoring it would change what
//! the guest sees (HVM firmware, PCI passthrough, qcow2), as a warning when the guest runs the
//! same without it (scheduler weights, grant-table sizes).

use rxl_config::DomainConfig;
use rxl_config::model::{Action as XlAction, Device, GuestType};
use rxl_config::spec::disk::DiskFormat;
use rxl_config::spec::vif::VifSpec;

use crate::spec::{Action, DiskSpec, NicSpec, VmSpec};

/// xl's default memory when `memory=` is absent (MiB).
const DEFAULT_MEMORY_MIB: u64 = 128;

/// Why a domain file cannot run on KVM: every offending key, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this domain cannot run on the KVM backend:\n{}", .problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct Unsupported {
    /// One line per key: `key: why (fix)`.
    pub problems: Vec<String>,
}

/// A spec plus the keys that were accepted but have no effect on KVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The VM to build.
    pub spec: VmSpec,
    /// `key: what is ignored` lines to show the user.
    pub warnings: Vec<String>,
}

fn action(key: &str, a: Option<XlAction>, default: Action, warn: &mut Vec<String>) -> Action {
    match a {
        None => default,
        Some(XlAction::Destroy) => Action::Destroy,
        Some(XlAction::Restart) => Action::Restart,
        Some(XlAction::Preserve) => Action::Preserve,
        Some(XlAction::RenameRestart) => {
            warn.push(format!(
                "{key}=rename-restart: the VM restarts under its own name"
            ));
            Action::Restart
        }
        Some(XlAction::CoredumpDestroy) => {
            warn.push(format!(
                "{key}=coredump-destroy: no core dump is written on KVM"
            ));
            Action::Destroy
        }
        Some(XlAction::CoredumpRestart) => {
            warn.push(format!(
                "{key}=coredump-restart: no core dump is written on KVM"
            ));
            Action::Restart
        }
        Some(XlAction::SoftReset) => {
            warn.push(format!("{key}=soft-reset: treated as restart"));
            Action::Restart
        }
    }
}

/// The `vif '...'` key both mappings name a vif by, or `None` with the problem in `bad` when
/// the vif cannot run on KVM at all (a Xen driver-domain backend).
pub(crate) fn vif_key(vif: &Device<VifSpec>, bad: &mut Vec<String>) -> Option<String> {
    let key = format!("vif '{}'", vif.spec);
    if vif.parsed.backend_domname.is_some() {
        bad.push(format!("{key}: backend= is a Xen driver-domain feature"));
        return None;
    }
    Some(key)
}

/// Warns, by name, about the vif keys KVM accepts but ignores (shared by the microVM and the
/// QEMU mapping). `model_ignored`: the microVM has one NIC model; QEMU honours `model=`.
pub(crate) fn vif_ignored_keys(
    key: &str,
    p: &VifSpec,
    model_ignored: bool,
    warn: &mut Vec<String>,
) {
    if p.script.is_some() {
        warn.push(format!(
            "{key}: script= ignored; the tap is attached to bridge= natively"
        ));
    }
    for (what, set) in [
        ("ip", p.ip.is_some()),
        ("model", model_ignored && p.model.is_some()),
        ("mtu", p.mtu.is_some()),
        ("vlan", p.vlan.is_some()),
        ("rate", p.rate_bytes_per_interval != 0),
    ] {
        if set {
            warn.push(format!("{key}: {what}= has no effect on KVM (ignored)"));
        }
    }
}

/// Maps `cfg` onto a VM spec, or lists every key that prevents it.
pub fn vm_spec(cfg: &DomainConfig) -> Result<Mapped, Unsupported> {
    let mut bad = Vec::new();
    let mut warn = Vec::new();
    let name = cfg.name.clone().unwrap_or_default();
    if name.is_empty() {
        bad.push("name: missing (add name=\"...\")".to_string());
    }
    if cfg.effective_type() == GuestType::Hvm {
        bad.push(
            "type=\"hvm\": the microVM boots a kernel directly; HVM guests run under QEMU \
             (`rxl --backend kvm create` and `rxl-kvm --config` route them there; \
             qemu::config::hvm_spec maps them)"
                .into(),
        );
    }
    let b = &cfg.boot;
    if b.bootloader.is_some() {
        bad.push("bootloader: not supported on KVM (give kernel= and ramdisk= directly)".into());
    }
    if b.firmware.is_some() && cfg.effective_type() != GuestType::Hvm {
        bad.push("firmware: not supported on KVM (boot a kernel= directly)".into());
    }
    let kernel = b.kernel.clone().unwrap_or_default();
    if kernel.is_empty() && b.bootloader.is_none() {
        bad.push("kernel: missing (the KVM backend boots a kernel directly)".into());
    }
    // xl: cmdline= wins; otherwise "root=<root> <extra>".
    let cmdline = match &b.cmdline {
        Some(c) => c.clone(),
        None => {
            let mut parts = Vec::new();
            if let Some(r) = &b.root {
                parts.push(format!("root={r}"));
            }
            if let Some(e) = &b.extra {
                parts.push(e.clone());
            }
            parts.join(" ")
        }
    };
    let memory_mib = cfg.memory.unwrap_or(DEFAULT_MEMORY_MIB);
    if let Some(max) = cfg.maxmem
        && max != memory_mib
    {
        warn.push(format!(
            "maxmem={max}: no ballooning on KVM; the guest gets memory={memory_mib}"
        ));
    }
    let vcpus = cfg.cpu.vcpus.unwrap_or(1);
    let vcpus = match u8::try_from(vcpus) {
        Ok(v) if v > 0 => v,
        _ => {
            bad.push(format!("vcpus={vcpus}: use 1 to {}", crate::vmm::MAX_VCPUS));
            1
        }
    };
    if cfg.cpu.maxvcpus.is_some_and(|m| m != u32::from(vcpus)) {
        warn.push(
            "maxvcpus: no vCPU hotplug on KVM; the guest gets vcpus=".to_string()
                + &vcpus.to_string(),
        );
    }
    warn_xen_only_keys(cfg, &mut warn);
    for key in cfg.other.keys() {
        warn.push(format!("{key}: not modelled by rxl; ignored on KVM"));
    }

    let d = &cfg.devices;
    for (key, n) in [
        ("pci", d.pcis.len()),
        ("vfb", d.vfbs.len()),
        ("channel", d.channels.len()),
        ("vtpm", d.vtpms.len()),
        ("usbctrl", d.usbctrls.len()),
        ("usbdev", d.usbdevs.len()),
    ] {
        if n > 0 {
            bad.push(format!(
                "{key}: not supported by rxl-kvm (remove it for KVM)"
            ));
        }
    }
    let mut disks = Vec::new();
    for disk in &d.disks {
        let p = &disk.parsed;
        let key = format!("disk '{}'", disk.spec);
        if p.is_cdrom {
            bad.push(format!(
                "{key}: CD-ROMs need firmware boot, not supported on KVM"
            ));
            continue;
        }
        if p.format != DiskFormat::Raw {
            bad.push(format!(
                "{key}: only raw images and block devices (convert with `qemu-img convert -O raw`)"
            ));
            continue;
        }
        if p.backend_domname.is_some() || p.script.is_some() {
            bad.push(format!(
                "{key}: backend= and script= are Xen driver-domain features"
            ));
            continue;
        }
        match &p.pdev_path {
            Some(path) if !path.is_empty() => disks.push(DiskSpec {
                path: path.into(),
                read_only: !p.readwrite,
            }),
            _ => bad.push(format!("{key}: no target path")),
        }
    }
    let mut nics = Vec::new();
    for vif in &d.vifs {
        let p = &vif.parsed;
        let Some(key) = vif_key(vif, &mut bad) else {
            continue;
        };
        vif_ignored_keys(&key, p, true, &mut warn);
        nics.push(NicSpec {
            tap: p.ifname.clone(),
            bridge: p.bridge.clone(),
            mac: p.mac,
        });
    }
    if !bad.is_empty() {
        return Err(Unsupported { problems: bad });
    }
    let mut warnings = warn;
    warnings.sort();
    warnings.dedup();
    Ok(Mapped {
        spec: VmSpec {
            name,
            memory_mib,
            vcpus,
            kernel: kernel.into(),
            ramdisk: b.ramdisk.clone().map(Into::into),
            cmdline,
            disks,
            nics,
            on_poweroff: action(
                "on_poweroff",
                cfg.actions.on_poweroff,
                Action::Destroy,
                &mut warnings,
            ),
            on_reboot: action(
                "on_reboot",
                cfg.actions.on_reboot,
                Action::Restart,
                &mut warnings,
            ),
            on_crash: action(
                "on_crash",
                cfg.actions.on_crash,
                Action::Destroy,
                &mut warnings,
            ),
            pit: true,
        },
        warnings,
    })
}

/// Warns, by key, about the Xen scheduling and interface keys a KVM guest (microVM or QEMU) has
/// no use for: both mappings share this list.
pub(crate) fn warn_xen_only_keys(cfg: &DomainConfig, warn: &mut Vec<String>) {
    for (key, set) in [
        ("cpus", cfg.cpu.cpus.is_some()),
        ("cpus_soft", cfg.cpu.cpus_soft.is_some()),
        ("cpu_weight", cfg.cpu.cpu_weight.is_some()),
        ("cap", cfg.cpu.cap.is_some()),
        ("pool", cfg.pool.is_some()),
        ("tsc_mode", cfg.tsc_mode.is_some()),
        ("max_grant_frames", cfg.max_grant_frames.is_some()),
        ("max_maptrack_frames", cfg.max_maptrack_frames.is_some()),
        ("max_event_channels", cfg.max_event_channels.is_some()),
        ("uuid", cfg.uuid.is_some()),
        ("on_watchdog", cfg.actions.on_watchdog.is_some()),
    ] {
        if set {
            warn.push(format!("{key}: has no effect on the KVM backend (ignored)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DomainConfig {
        rxl_config::parse_str("test.cfg", text)
            .expect("valid test config")
            .config
    }

    #[test]
    fn kernel_disk_vif_and_actions_map() {
        let cfg = parse(
            r#"
name = "web"
type = "pvh"
memory = 512
vcpus = 2
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd.img"
root = "/dev/vda"
extra = "console=ttyS0 quiet"
disk = [ "/srv/web.img,raw,xvda,rw", "/srv/data.img,raw,xvdb,ro" ]
vif = [ "bridge=br0,mac=00:16:3e:01:02:03" ]
on_reboot = "destroy"
on_crash = "preserve"
"#,
        );
        let m = vm_spec(&cfg).unwrap();
        let s = m.spec;
        assert_eq!((s.name.as_str(), s.memory_mib, s.vcpus), ("web", 512, 2));
        assert_eq!(s.kernel.to_str(), Some("/boot/vmlinuz"));
        assert_eq!(
            s.ramdisk.as_deref().and_then(|p| p.to_str()),
            Some("/boot/initrd.img")
        );
        assert_eq!(s.cmdline, "root=/dev/vda console=ttyS0 quiet");
        assert_eq!(s.disks.len(), 2);
        assert!(!s.disks[0].read_only && s.disks[1].read_only);
        assert_eq!(s.nics[0].bridge.as_deref(), Some("br0"));
        assert_eq!(s.nics[0].mac, Some([0x00, 0x16, 0x3e, 1, 2, 3]));
        assert_eq!(
            (s.on_poweroff, s.on_reboot, s.on_crash),
            (Action::Destroy, Action::Destroy, Action::Preserve)
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn unsupported_keys_are_all_named() {
        let cfg = parse(
            r#"
name = "win"
type = "hvm"
disk = [ "/srv/w.qcow2,qcow2,hda,rw", "/srv/cd.iso,raw,hdc,cdrom" ]
pci = [ "0000:01:00.0" ]
"#,
        );
        let e = vm_spec(&cfg).unwrap_err();
        let text = e.to_string();
        for key in ["type=\"hvm\"", "kernel:", "qcow2", "CD-ROM", "pci:"] {
            assert!(text.contains(key), "missing {key} in:\n{text}");
        }
    }

    #[test]
    fn harmless_keys_warn_by_name() {
        let cfg =
            parse("name = \"a\"\nkernel = \"/k\"\nmemory = 256\nmaxmem = 512\ncpu_weight = 512\n");
        let m = vm_spec(&cfg).unwrap();
        assert!(
            m.warnings.iter().any(|w| w.starts_with("maxmem=512")),
            "{:?}",
            m.warnings
        );
        assert!(
            m.warnings.iter().any(|w| w.starts_with("cpu_weight")),
            "{:?}",
            m.warnings
        );
        assert_eq!(m.spec.cmdline, "");
    }
}
