//! Create-time checks: what `xl create` would refuse (or silently ignore) about a configuration
//! that parsed, found without touching a hypervisor.

use crate::diag::Severity;
use crate::model::{DomainConfig, GuestType};

/// One problem found by [`DomainConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error (xl would refuse) or warning (xl would ignore something).
    pub severity: Severity,
    /// The key to point at, if one is to blame.
    pub key: Option<&'static str>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

fn error(
    key: Option<&'static str>,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> Problem {
    Problem {
        severity: Severity::Error,
        key,
        message: message.into(),
        hint: hint.into(),
    }
}

fn warning(key: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Warning,
        key: Some(key),
        message: message.into(),
        hint: hint.into(),
    }
}

impl DomainConfig {
    /// Checks what xl checks when it creates the domain: a name, a way to boot, consistent type,
    /// memory and vCPU counts, unique devices. Also warns about keys the guest type ignores.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let ty = self.effective_type();
        if self.name.is_none() {
            p.push(error(
                None,
                "no domain name",
                "add a line such as name = \"guest1\" (xl refuses a file without one)",
            ));
        }
        if let (Some(t), Some(b)) = (self.guest_type, self.builder)
            && t != b.guest_type()
        {
            p.push(error(
                Some("builder"),
                format!(
                    "contradicting `builder = \"{}\"` and `type = \"{}\"`",
                    b.as_str(),
                    t.as_str()
                ),
                "remove the deprecated `builder` line; `type` says it all",
            ));
        }
        self.check_boot(ty, &mut p);
        if let (Some(mem), Some(max)) = (self.memory, self.maxmem)
            && max < mem
        {
            p.push(error(
                Some("maxmem"),
                format!("maxmem ({max} MiB) is below memory ({mem} MiB)"),
                "raise maxmem to at least memory, or drop it (it defaults to memory)",
            ));
        }
        if self.memory == Some(0) {
            p.push(error(
                Some("memory"),
                "memory is 0",
                "give the guest memory in MiB, e.g. memory = 512",
            ));
        }
        if let (Some(v), Some(m)) = (self.cpu.vcpus, self.cpu.maxvcpus)
            && m < v
        {
            p.push(error(
                Some("maxvcpus"),
                format!("maxvcpus ({m}) is below vcpus ({v})"),
                "raise maxvcpus to at least vcpus, or drop it",
            ));
        }
        self.check_devices(&mut p);
        if ty != GuestType::Hvm {
            self.check_hvm_only(ty, &mut p);
        }
        p
    }

    fn check_boot(&self, ty: GuestType, p: &mut Vec<Problem>) {
        let b = &self.boot;
        if b.cmdline.is_some() && (b.root.is_some() || b.extra.is_some()) {
            p.push(warning(
                "cmdline",
                "root= and extra= are ignored because cmdline= is set",
                "put everything in cmdline, or drop cmdline and use root/extra",
            ));
        }
        match ty {
            GuestType::Pv | GuestType::Pvh => {
                // xl treats PV and PVH alike here (xl_parse.c).
                if let Some(fw) = &b.firmware {
                    if b.kernel.is_some() {
                        p.push(error(
                            Some("firmware"),
                            "both kernel and firmware are set",
                            "firmware = \"pvgrub32|pvgrub64\" stands for the kernel; keep one",
                        ));
                    }
                    if fw != "pvgrub32" && fw != "pvgrub64" {
                        p.push(error(
                            Some("firmware"),
                            format!("firmware {fw:?} is not valid for a {} guest", ty.as_str()),
                            "PV and PVH guests take only firmware = \"pvgrub32\" or \"pvgrub64\"; \
                             boot anything else with kernel=",
                        ));
                    }
                }
                if b.kernel.is_none() && b.bootloader.is_none() && b.firmware.is_none() {
                    p.push(error(
                        None,
                        format!(
                            "{} guest with neither kernel nor bootloader",
                            ty.as_str().to_uppercase()
                        ),
                        "add kernel = \"/path/to/vmlinuz\" (and ramdisk), or bootloader = \
                         \"pygrub\", or firmware = \"pvgrub64\"",
                    ));
                }
            }
            GuestType::Hvm => {
                if b.bootloader.is_some() {
                    p.push(warning(
                        "bootloader",
                        "bootloader is for PV guests; an HVM guest ignores it",
                        "HVM guests boot from their disks through the firmware",
                    ));
                }
                if b.kernel.as_deref().is_some_and(crate::json::is_hvmloader) {
                    p.push(warning(
                        "kernel",
                        "`kernel` names hvmloader, the HVM firmware; xl ignores it",
                        "remove it (use firmware_override for a non-default firmware)",
                    ));
                }
                let h = &self.hvm;
                if let (Some(listen), Some(_)) = (&h.vnclisten, h.vncdisplay)
                    && listen.contains(':')
                {
                    p.push(error(
                        Some("vncdisplay"),
                        "the VNC display is given both in vnclisten (host:display) and vncdisplay",
                        "keep one: vnclisten = \"127.0.0.1\" with vncdisplay = N, or \
                         vnclisten = \"127.0.0.1:N\" alone",
                    ));
                }
            }
        }
        if self.dm.override_path.is_some() && self.dm.version.is_none() {
            p.push(warning(
                "device_model_override",
                "device model override given without device_model_version",
                "add device_model_version = \"qemu-xen\"",
            ));
        }
    }

    fn check_devices(&self, p: &mut Vec<Problem>) {
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.devices.disks {
            if !seen.insert(d.parsed.vdev.as_str()) {
                p.push(error(
                    Some("disk"),
                    format!("two disks use vdev {:?}", d.parsed.vdev),
                    "give each disk its own vdev (xvda, xvdb, ...)",
                ));
            }
        }
        let mut macs = std::collections::BTreeSet::new();
        for v in &self.devices.vifs {
            if let Some(mac) = v.parsed.mac
                && !macs.insert(mac)
            {
                p.push(error(
                    Some("vif"),
                    format!(
                        "two vifs use MAC {}",
                        mac.map(|b| format!("{b:02x}")).join(":")
                    ),
                    "give each vif its own mac=, or drop mac= to have one generated",
                ));
            }
        }
    }

    fn check_hvm_only(&self, ty: GuestType, p: &mut Vec<Problem>) {
        let h = &self.hvm;
        let set: [(&'static str, bool); 12] = [
            ("boot", h.boot.is_some()),
            ("acpi_s3", h.acpi_s3.is_some()),
            ("hpet", h.hpet.is_some()),
            ("viridian", h.viridian.is_some()),
            ("stdvga", h.stdvga.is_some()),
            ("vga", h.vga.is_some()),
            ("serial", h.serial.is_some()),
            ("usb", h.usb.is_some()),
            ("usbdevice", h.usbdevice.is_some()),
            ("soundhw", h.soundhw.is_some()),
            ("xen_platform_pci", h.xen_platform_pci.is_some()),
            ("hdtype", h.hdtype.is_some()),
        ];
        for (key, is_set) in set {
            if is_set {
                p.push(warning(
                    key,
                    format!(
                        "`{key}` only applies to HVM guests; this {} guest ignores it",
                        ty.as_str()
                    ),
                    "remove it, or set type = \"hvm\"",
                ));
            }
        }
    }
}
