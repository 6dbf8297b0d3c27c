//! The configuration as libxl's `libxl_domain_config` JSON, the shape `xl -N create` prints:
//! libxl IDL field names, keyed unions as `"type.pv"`, booleans (libxl_defbool) as `"True"` /
//! `"False"`, enums as libxl's lower-case names, and fields left at their default omitted.
//!
//! xl's own defaulting is applied where xl does it while parsing (max_memkb from memory,
//! avail_vcpus from vcpus, cmdline from root/extra, device ids from list positions, the
//! lifecycle actions); libxl's later defaulting (at create time) is not.

use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::model::hvm::VIRIDIAN_GROUPS;
use crate::model::{Action, DomainConfig, GuestType, TscMode, Viridian};
use crate::reader::StrOrList;

type Obj = Map<String, Json>;

/// Xen's XENFIRMWAREDIR as Debian's Xen 4.17 packages build it.
pub const XEN_FIRMWARE_DIR: &str = "/usr/lib/xen-4.17/boot";

fn defbool(b: bool) -> Json {
    Json::String(if b { "True" } else { "False" }.into())
}

fn put<T: Serialize>(o: &mut Obj, key: &str, v: Option<T>) {
    if let Some(v) = v
        && let Ok(j) = serde_json::to_value(v)
    {
        o.insert(key.to_string(), j);
    }
}

fn put_bool(o: &mut Obj, key: &str, v: Option<bool>) {
    if let Some(b) = v {
        o.insert(key.to_string(), defbool(b));
    }
}

fn put_list(o: &mut Obj, key: &str, v: &[String]) {
    if !v.is_empty() {
        o.insert(key.to_string(), json!(v));
    }
}

/// A string key goes to `KEY`, a list to libxl's `KEY_list` (`serial`, `usbdevice`).
fn one_or_list(o: &mut Obj, key: &str, v: Option<&StrOrList>) {
    match v {
        Some(StrOrList::One(s)) => put(o, key, Some(s)),
        Some(StrOrList::Many(l)) => put_list(o, &format!("{key}_list"), l),
        None => {}
    }
}

/// True when `path`'s file name is `hvmloader`.
pub fn is_hvmloader(path: &str) -> bool {
    path.rsplit('/').next() == Some("hvmloader")
}

/// `vcpu_hard_affinity` / `vcpu_soft_affinity`: one CPU list per vCPU, as xl builds them
/// (a single spec is repeated for every vCPU up to `max_vcpus`; a list gives one entry per
/// element). Only specs naming CPUs explicitly are rendered: `all` and `nodes:` depend on the
/// host's topology, which a dry run does not read.
fn affinity_json(a: Option<&crate::model::Affinity>, max_vcpus: usize) -> Option<Json> {
    use crate::spec::{CpuAffinity, CpuItem, CpuSpec};
    fn cpus(spec: &CpuSpec) -> Option<Vec<u32>> {
        let mut set = std::collections::BTreeSet::new();
        for t in &spec.terms {
            let CpuItem::Cpus { first, last } = t.item else {
                return None;
            };
            // No host has more; a bigger range is a typo the backend will report.
            if last.saturating_sub(first) > 65_536 {
                return None;
            }
            for c in first..=last {
                if t.exclude {
                    set.remove(&c);
                } else {
                    set.insert(c);
                }
            }
        }
        Some(set.into_iter().collect())
    }
    let maps: Vec<Vec<u32>> = match &a?.parsed {
        CpuAffinity::All(spec) => {
            let one = cpus(spec)?;
            vec![one; max_vcpus]
        }
        CpuAffinity::PerVcpu(specs) => specs
            .iter()
            .take(max_vcpus)
            .map(cpus)
            .collect::<Option<_>>()?,
    };
    (!maps.is_empty()).then(|| json!(maps))
}

/// libxl's name of a lifecycle action (`libxl_action_on_shutdown`).
pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Destroy => "destroy",
        Action::Restart => "restart",
        Action::RenameRestart => "restart_rename",
        Action::Preserve => "preserve",
        Action::CoredumpDestroy => "coredump_destroy",
        Action::CoredumpRestart => "coredump_restart",
        Action::SoftReset => "soft_reset",
    }
}

/// Serialises each device and, for device kinds whose list position is their id in xl
/// (`ARRAY_EXTEND_INIT`), fills in `devid` when the spec did not give one.
fn devices<T: Serialize>(items: impl Iterator<Item = T>, with_devid: bool) -> Json {
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        let mut j = serde_json::to_value(item).unwrap_or(Json::Null);
        if with_devid && let Json::Object(o) = &mut j {
            o.entry("devid").or_insert(json!(i));
        }
        out.push(j);
    }
    Json::Array(out)
}

impl DomainConfig {
    /// The libxl_domain_config JSON, as `xl -N create` prints it.
    pub fn to_libxl_json(&self) -> Json {
        let ty = self.effective_type();
        let mut c_info = Obj::new();
        c_info.insert("type".into(), json!(ty.as_str()));
        put(&mut c_info, "name", self.name.as_ref());
        put(&mut c_info, "uuid", self.uuid.as_ref());
        put(&mut c_info, "pool_name", self.pool.as_ref());
        put_bool(&mut c_info, "hap", self.hvm.hap);
        put_bool(&mut c_info, "driver_domain", self.driver_domain);
        // xl always sets this from xl.conf (default on).
        c_info.insert("run_hotplug_scripts".into(), defbool(true));

        let mut b = Obj::new();
        let vcpus = self.cpu.vcpus;
        let max_vcpus = self.cpu.maxvcpus.or(vcpus);
        put(&mut b, "max_vcpus", max_vcpus);
        if let Some(v) = vcpus {
            b.insert("avail_vcpus".into(), json!((0..v).collect::<Vec<_>>()));
        }
        let max = max_vcpus.unwrap_or(0) as usize;
        if let Some(hard) = affinity_json(self.cpu.cpus.as_ref(), max) {
            // xl turns automatic NUMA placement off when a hard affinity is given.
            b.insert("numa_placement".into(), defbool(false));
            b.insert("vcpu_hard_affinity".into(), hard);
        }
        if let Some(soft) = affinity_json(self.cpu.cpus_soft.as_ref(), max) {
            b.insert("vcpu_soft_affinity".into(), soft);
        }
        put(
            &mut b,
            "tsc_mode",
            self.tsc_mode
                .filter(|m| *m != TscMode::Default)
                .map(TscMode::as_str),
        );
        let target = self.memory.map(|m| m * 1024);
        put(
            &mut b,
            "max_memkb",
            self.maxmem.map(|m| m * 1024).or(target),
        );
        put(&mut b, "target_memkb", target);
        put(&mut b, "video_memkb", self.hvm.videoram.map(|m| m * 1024));
        put(
            &mut b,
            "shadow_memkb",
            self.hvm.shadow_memory.map(|m| m * 1024),
        );
        // libxl stores rtc_timeoffset as uint32: a negative offset wraps, as it does in xl.
        put(
            &mut b,
            "rtc_timeoffset",
            self.rtc_timeoffset.map(|v| v as u32),
        );
        put_bool(&mut b, "localtime", self.localtime);
        put_bool(&mut b, "disable_migrate", self.nomigrate);
        // xl.conf's claim_mode (default on) is copied into every domain.
        b.insert("claim_mode".into(), defbool(true));
        put(&mut b, "max_grant_frames", self.max_grant_frames);
        put(&mut b, "max_maptrack_frames", self.max_maptrack_frames);
        put(&mut b, "event_channels", self.max_event_channels);
        let dm = &self.dm;
        put(
            &mut b,
            "device_model_version",
            dm.version.as_ref().map(|v| v.replace('-', "_")),
        );
        put_bool(&mut b, "device_model_stubdomain", dm.stubdomain);
        put(&mut b, "device_model", dm.override_path.as_ref());
        put(&mut b, "device_model_user", dm.user.as_ref());
        put_list(&mut b, "extra", &dm.args);
        put_list(&mut b, "extra_pv", &dm.args_pv);
        put_list(&mut b, "extra_hvm", &dm.args_hvm);
        let mut sched = Obj::new();
        put(&mut sched, "weight", self.cpu.cpu_weight);
        put(&mut sched, "cap", self.cpu.cap);
        if !sched.is_empty() {
            b.insert("sched_params".into(), Json::Object(sched));
        }
        put(&mut b, "kernel", self.kernel());
        put(&mut b, "cmdline", self.boot.effective_cmdline());
        put(&mut b, "ramdisk", self.boot.ramdisk.as_ref());
        // Since Xen 4.16 the bootloader lives in b_info, not in the PV union.
        put(&mut b, "bootloader", self.boot.bootloader.as_ref());
        put_list(&mut b, "bootloader_args", &self.boot.bootloader_args);
        put_bool(&mut b, "acpi", self.hvm.acpi);
        if ty == GuestType::Hvm {
            put_bool(&mut b, "apic", self.hvm.apic);
        }
        put_bool(&mut b, "nested_hvm", self.hvm.nestedhvm);
        put_bool(&mut b, "dm_restrict", dm.restrict);
        match ty {
            GuestType::Pv => {
                b.insert("type.pv".into(), Json::Object(self.pv_json()));
            }
            GuestType::Pvh => {
                b.insert("type.pvh".into(), Json::Object(Obj::new()));
            }
            GuestType::Hvm => {
                b.insert("type.hvm".into(), Json::Object(self.hvm_json()));
            }
        }

        let mut root = Obj::new();
        root.insert("c_info".into(), Json::Object(c_info));
        root.insert("b_info".into(), Json::Object(b));
        let d = &self.devices;
        let lists = [
            ("disks", devices(d.disks.iter().map(|x| &x.parsed), false)),
            ("nics", devices(d.vifs.iter().map(|x| &x.parsed), true)),
            (
                "pcidevs",
                devices(self.pci_with_defaults().into_iter(), false),
            ),
            ("vfbs", self.vfbs_json()),
            // xl adds one virtual keyboard per framebuffer.
            (
                "vkbs",
                devices((0..self.vfb_count()).map(|_| Obj::new()), true),
            ),
            ("vtpms", devices(d.vtpms.iter().map(|x| &x.parsed), true)),
            ("p9s", devices(d.p9s.iter().map(|x| &x.parsed), false)),
            (
                "channels",
                devices(d.channels.iter().map(|x| &x.parsed), true),
            ),
            (
                "usbctrls",
                devices(d.usbctrls.iter().map(|x| &x.parsed), true),
            ),
            (
                "usbdevs",
                devices(d.usbdevs.iter().map(|x| &x.parsed), false),
            ),
        ];
        for (k, v) in lists {
            if v.as_array().is_some_and(|a| !a.is_empty()) {
                root.insert(k.into(), v);
            }
        }
        let a = &self.actions;
        let actions = [
            ("on_poweroff", a.on_poweroff.unwrap_or(Action::Destroy)),
            ("on_reboot", a.on_reboot.unwrap_or(Action::Restart)),
            ("on_watchdog", a.on_watchdog.unwrap_or(Action::Destroy)),
            ("on_crash", a.on_crash.unwrap_or(Action::Destroy)),
            (
                "on_soft_reset",
                a.on_soft_reset.unwrap_or(Action::SoftReset),
            ),
        ];
        for (k, v) in actions {
            // destroy is libxl's default value, which its JSON omits.
            if v != Action::Destroy {
                root.insert(k.into(), json!(action_name(v)));
            }
        }
        Json::Object(root)
    }

    /// A PV guest without `vfb=` but with top-level `vnc = 1` gets one framebuffer built from
    /// the top-level vnc*/sdl/keymap keys, as xl does.
    fn top_level_vfb(&self) -> Option<Obj> {
        let h = &self.hvm;
        if self.effective_type() != GuestType::Pv
            || !self.devices.vfbs.is_empty()
            || h.vnc != Some(true)
        {
            return None;
        }
        let mut vnc = Obj::new();
        put_bool(&mut vnc, "enable", h.vnc);
        put(&mut vnc, "listen", h.vnclisten.as_ref());
        put(&mut vnc, "passwd", h.vncpasswd.as_ref());
        put(&mut vnc, "display", h.vncdisplay);
        put_bool(&mut vnc, "findunused", h.vncunused);
        let mut vfb = Obj::new();
        vfb.insert("vnc".into(), Json::Object(vnc));
        let mut sdl = Obj::new();
        put_bool(&mut sdl, "enable", h.sdl);
        put_bool(&mut sdl, "opengl", h.opengl);
        if !sdl.is_empty() {
            vfb.insert("sdl".into(), Json::Object(sdl));
        }
        put(&mut vfb, "keymap", h.keymap.as_ref());
        Some(vfb)
    }

    fn vfb_count(&self) -> usize {
        self.devices.vfbs.len() + usize::from(self.top_level_vfb().is_some())
    }

    fn vfbs_json(&self) -> Json {
        match self.top_level_vfb() {
            Some(vfb) => devices(std::iter::once(vfb), true),
            None => devices(self.devices.vfbs.iter().map(|x| &x.parsed), true),
        }
    }

    /// The PCI devices with the top-level `pci_permissive`, `pci_msitranslate`, `pci_seize` and
    /// `pci_power_mgmt` applied where the device spec does not say, as xl does.
    fn pci_with_defaults(&self) -> Vec<crate::spec::PciSpec> {
        let d = &self.devices;
        let hvm = self.effective_type() == GuestType::Hvm;
        d.pcis
            .iter()
            .map(|p| {
                let mut p = p.parsed.clone();
                p.permissive = p.permissive.or(d.pci_permissive);
                p.msitranslate = p.msitranslate.or(d.pci_msitranslate);
                p.seize = p.seize.or(d.pci_seize);
                p.power_mgmt = p.power_mgmt.or(d.pci_power_mgmt);
                // xl copies b_info.u.hvm.rdm.policy into each device; for a PV/PVH guest that
                // union member is zero, which is libxl's "strict" (real xl 4.17 prints it).
                if !hvm && p.rdm_policy.is_none() {
                    p.rdm_policy = Some(crate::spec::RdmPolicy::Strict);
                }
                p
            })
            .collect()
    }

    fn pv_json(&self) -> Obj {
        let mut pv = Obj::new();
        // xl turns e820_host on for a PV guest with passed-through PCI devices.
        let e820 = self
            .e820_host
            .or((!self.devices.pcis.is_empty()).then_some(true));
        put_bool(&mut pv, "e820_host", e820);
        pv
    }

    /// The kernel libxl gets: `kernel`, or for a PV/PVH guest with `firmware = "pvgrub32|64"`
    /// the PV-GRUB image xl substitutes, `XENFIRMWAREDIR/<firmware>.bin`.
    fn kernel(&self) -> Option<String> {
        let hvm = self.effective_type() == GuestType::Hvm;
        if let Some(k) = &self.boot.kernel {
            // xl drops an HVM `kernel` whose file name is hvmloader (the xm-era way to name
            // the firmware).
            if hvm && is_hvmloader(k) {
                return None;
            }
            return Some(k.clone());
        }
        if hvm {
            return None;
        }
        self.boot
            .firmware
            .as_ref()
            .map(|fw| format!("{XEN_FIRMWARE_DIR}/{fw}.bin"))
    }

    fn hvm_json(&self) -> Obj {
        let h = &self.hvm;
        let mut o = Obj::new();
        put(&mut o, "bios", h.bios.as_ref());
        // xl: seabios/rombios/ovmf set `bios`, uefi means ovmf, bios means the default,
        // anything else is a path to custom firmware.
        match self.boot.firmware.as_deref() {
            Some(b @ ("seabios" | "rombios" | "ovmf")) => put(&mut o, "bios", Some(b)),
            Some("uefi") => put(&mut o, "bios", Some("ovmf")),
            Some("bios") | None => {}
            Some(path) => put(&mut o, "firmware", Some(path)),
        }
        put_bool(&mut o, "pae", h.pae);
        put_bool(&mut o, "acpi_s3", h.acpi_s3);
        put_bool(&mut o, "acpi_s4", h.acpi_s4);
        put_bool(&mut o, "nx", h.nx);
        self.viridian_json(&mut o);
        put_bool(&mut o, "hpet", h.hpet);
        put(&mut o, "hdtype", h.hdtype.as_ref());
        put(&mut o, "smbios_firmware", h.smbios_firmware.as_ref());
        put(&mut o, "acpi_firmware", h.acpi_firmware.as_ref());
        put_bool(&mut o, "nographic", h.nographic);
        if let Some(v) = h.effective_vga() {
            o.insert("vga".into(), json!({ "kind": v.libxl() }));
        }
        let mut vnc = Obj::new();
        put_bool(&mut vnc, "enable", h.vnc);
        put(&mut vnc, "listen", h.vnclisten.as_ref());
        put(&mut vnc, "passwd", h.vncpasswd.as_ref());
        put(&mut vnc, "display", h.vncdisplay);
        put_bool(&mut vnc, "findunused", h.vncunused);
        if !vnc.is_empty() {
            o.insert("vnc".into(), Json::Object(vnc));
        }
        put(&mut o, "keymap", h.keymap.as_ref());
        let mut sdl = Obj::new();
        put_bool(&mut sdl, "enable", h.sdl);
        put_bool(&mut sdl, "opengl", h.opengl);
        if !sdl.is_empty() {
            o.insert("sdl".into(), Json::Object(sdl));
        }
        one_or_list(&mut o, "serial", h.serial.as_ref());
        put(&mut o, "boot", h.boot.as_ref());
        put_bool(&mut o, "usb", h.usb);
        put(&mut o, "usbversion", h.usbversion);
        one_or_list(&mut o, "usbdevice", h.usbdevice.as_ref());
        put(&mut o, "soundhw", h.soundhw.as_ref());
        put_bool(&mut o, "xen_platform_pci", h.xen_platform_pci);
        o
    }

    /// `viridian`: a defbool, or enable/disable bitmaps of enlightenment numbers as xl builds
    /// them (`all` sets every bit of the 64-bit map, `defaults` sets the defbool).
    fn viridian_json(&self, o: &mut Obj) {
        let Some(v) = &self.hvm.viridian else { return };
        let groups = match v {
            Viridian::Enabled(on) => return put_bool(o, "viridian", Some(*on)),
            Viridian::Groups(g) => g,
        };
        let mut enable = std::collections::BTreeSet::new();
        let mut disable = std::collections::BTreeSet::new();
        for g in groups {
            match g.as_str() {
                "all" => enable.extend(0..64u32),
                "defaults" => put_bool(o, "viridian", Some(true)),
                _ => {
                    let (name, on) = match g.strip_prefix('!') {
                        Some(n) => (n, false),
                        None => (g.as_str(), true),
                    };
                    // Bits follow libxl_viridian_enlightenment: the list order after the
                    // two keywords.
                    let Some(pos) = VIRIDIAN_GROUPS.iter().position(|n| *n == name) else {
                        continue;
                    };
                    let bit = u32::try_from(pos.saturating_sub(2)).unwrap_or(0);
                    let (set, reset) = if on {
                        (&mut enable, &mut disable)
                    } else {
                        (&mut disable, &mut enable)
                    };
                    set.insert(bit);
                    reset.remove(&bit);
                }
            }
        }
        if !groups.is_empty() {
            o.insert("viridian_enable".into(), json!(enable));
            o.insert("viridian_disable".into(), json!(disable));
        }
    }
}
