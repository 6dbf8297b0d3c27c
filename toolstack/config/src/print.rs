//! Writing values and configurations back as xl.cfg text that libxlu and rxl both read.
//!
//! Strings are double-quoted with the single-character escapes libxlu understands; other control
//! characters are written raw (libxlu accepts any byte but newline, quote and backslash inside a
//! string, and has no working numeric escape). Bare numbers stay bare.

use std::fmt::Write as _;

use crate::model::DomainConfig;
use crate::model::cpu::{Affinity, AffinityText};
use crate::reader::StrOrList;
use crate::value::{Settings, Value};

/// `text` as a double-quoted xl.cfg string.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// True when `text` lexes as one NUMBER token, so it can be written bare.
fn is_number_token(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == 'x')
}

/// One value as xl.cfg text.
pub fn value(v: &Value) -> String {
    match v {
        Value::Str { text, bare, .. } if *bare && is_number_token(text) => text.clone(),
        Value::Str { text, .. } => quote(text),
        Value::List { items, .. } => {
            let inner: Vec<String> = items.iter().map(value).collect();
            if inner.is_empty() {
                "[]".into()
            } else {
                format!("[ {} ]", inner.join(", "))
            }
        }
    }
}

/// All settings, one `key = value` line each, in order of first assignment.
pub fn settings(s: &Settings) -> String {
    let mut out = String::new();
    for st in s.iter() {
        let _ = writeln!(out, "{} = {}", st.key, value(&st.value));
    }
    out
}

/// Accumulates `key = value` lines.
#[derive(Default)]
struct Out(String);

impl Out {
    fn str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            let _ = writeln!(self.0, "{key} = {}", quote(v));
        }
    }

    fn num<T: std::fmt::Display>(&mut self, key: &str, v: Option<T>) {
        if let Some(v) = v {
            // Negative numbers cannot be bare in xl.cfg.
            let t = v.to_string();
            if t.starts_with('-') {
                let _ = writeln!(self.0, "{key} = {}", quote(&t));
            } else {
                let _ = writeln!(self.0, "{key} = {t}");
            }
        }
    }

    fn bool(&mut self, key: &str, v: Option<bool>) {
        self.num(key, v.map(u8::from));
    }

    fn list(&mut self, key: &str, items: &[&str]) {
        if items.is_empty() {
            return;
        }
        let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
        let _ = writeln!(self.0, "{key} = [ {} ]", quoted.join(", "));
    }

    fn strings(&mut self, key: &str, items: &[String]) {
        let v: Vec<&str> = items.iter().map(String::as_str).collect();
        self.list(key, &v);
    }

    fn one_or_many(&mut self, key: &str, v: Option<&StrOrList>) {
        match v {
            Some(StrOrList::One(s)) => self.str(key, Some(s)),
            Some(StrOrList::Many(v)) if v.is_empty() => {
                let _ = writeln!(self.0, "{key} = []");
            }
            Some(StrOrList::Many(v)) => self.strings(key, v),
            None => {}
        }
    }

    fn affinity(&mut self, key: &str, a: Option<&Affinity>) {
        match a.map(|a| &a.text) {
            Some(AffinityText::All(s)) => self.str(key, Some(s)),
            Some(AffinityText::PerVcpu(v)) => {
                if v.is_empty() {
                    let _ = writeln!(self.0, "{key} = []");
                } else {
                    self.strings(key, v);
                }
            }
            None => {}
        }
    }
}

impl DomainConfig {
    /// The configuration as xl.cfg text; parsing it gives back an equal `DomainConfig`.
    pub fn to_xl_cfg(&self) -> String {
        let mut o = Out::default();
        o.str("name", self.name.as_deref());
        o.str("type", self.guest_type.map(|t| t.as_str()));
        o.str("builder", self.builder.map(|b| b.as_str()));
        o.str("uuid", self.uuid.as_deref());
        o.str("pool", self.pool.as_deref());
        o.num("memory", self.memory);
        o.num("maxmem", self.maxmem);
        let c = &self.cpu;
        o.num("vcpus", c.vcpus);
        o.num("maxvcpus", c.maxvcpus);
        o.affinity("cpus", c.cpus.as_ref());
        o.affinity("cpus_soft", c.cpus_soft.as_ref());
        o.num("cpu_weight", c.cpu_weight);
        o.num("cap", c.cap);
        let b = &self.boot;
        o.str("kernel", b.kernel.as_deref());
        o.str("ramdisk", b.ramdisk.as_deref());
        o.str("cmdline", b.cmdline.as_deref());
        o.str("root", b.root.as_deref());
        o.str("extra", b.extra.as_deref());
        o.str("bootloader", b.bootloader.as_deref());
        o.strings("bootloader_args", &b.bootloader_args);
        o.str("firmware", b.firmware.as_deref());
        for (k, a) in self.actions.fields() {
            o.str(k, a.map(|a| a.as_str()));
        }
        self.print_hvm(&mut o);
        let dm = &self.dm;
        o.str("device_model_version", dm.version.as_deref());
        o.str("device_model_override", dm.override_path.as_deref());
        o.strings("device_model_args", &dm.args);
        o.strings("device_model_args_pv", &dm.args_pv);
        o.strings("device_model_args_hvm", &dm.args_hvm);
        o.str("device_model_user", dm.user.as_deref());
        o.bool("dm_restrict", dm.restrict);
        o.bool("device_model_stubdomain_override", dm.stubdomain);
        for (k, specs) in self.devices.spec_lists() {
            o.list(k, &specs);
        }
        let d = &self.devices;
        o.bool("pci_permissive", d.pci_permissive);
        o.bool("pci_msitranslate", d.pci_msitranslate);
        o.bool("pci_seize", d.pci_seize);
        o.bool("pci_power_mgmt", d.pci_power_mgmt);
        o.str("tsc_mode", self.tsc_mode.map(|t| t.as_str()));
        o.bool("localtime", self.localtime);
        o.num("rtc_timeoffset", self.rtc_timeoffset);
        o.num("max_grant_frames", self.max_grant_frames);
        o.num("max_maptrack_frames", self.max_maptrack_frames);
        o.num("max_event_channels", self.max_event_channels);
        o.bool("nomigrate", self.nomigrate);
        o.bool("driver_domain", self.driver_domain);
        o.bool("e820_host", self.e820_host);
        for (k, v) in &self.other {
            let _ = writeln!(o.0, "{k} = {}", value(v));
        }
        o.0
    }

    fn print_hvm(&self, o: &mut Out) {
        let h = &self.hvm;
        o.str("boot", h.boot.as_deref());
        o.bool("acpi", h.acpi);
        o.bool("acpi_s3", h.acpi_s3);
        o.bool("acpi_s4", h.acpi_s4);
        o.bool("apic", h.apic);
        o.bool("pae", h.pae);
        o.bool("hpet", h.hpet);
        o.bool("nx", h.nx);
        o.bool("hap", h.hap);
        o.bool("nestedhvm", h.nestedhvm);
        match &h.viridian {
            Some(crate::model::Viridian::Enabled(v)) => o.bool("viridian", Some(*v)),
            Some(crate::model::Viridian::Groups(g)) => {
                if g.is_empty() {
                    let _ = writeln!(o.0, "viridian = []");
                } else {
                    o.strings("viridian", g);
                }
            }
            None => {}
        }
        o.str("bios", h.bios.as_deref());
        o.str("hdtype", h.hdtype.as_deref());
        o.one_or_many("serial", h.serial.as_ref());
        o.bool("vnc", h.vnc);
        o.str("vnclisten", h.vnclisten.as_deref());
        o.num("vncdisplay", h.vncdisplay);
        o.bool("vncunused", h.vncunused);
        o.str("vncpasswd", h.vncpasswd.as_deref());
        o.str("keymap", h.keymap.as_deref());
        o.bool("sdl", h.sdl);
        o.bool("opengl", h.opengl);
        o.bool("nographic", h.nographic);
        o.bool("stdvga", h.stdvga);
        o.str("vga", h.vga.map(|v| v.as_str()));
        o.num("videoram", h.videoram);
        o.bool("usb", h.usb);
        o.num("usbversion", h.usbversion);
        o.one_or_many("usbdevice", h.usbdevice.as_ref());
        o.str("soundhw", h.soundhw.as_deref());
        o.bool("xen_platform_pci", h.xen_platform_pci);
        o.num("shadow_memory", h.shadow_memory);
        o.str("acpi_firmware", h.acpi_firmware.as_deref());
        o.str("smbios_firmware", h.smbios_firmware.as_deref());
    }
}
