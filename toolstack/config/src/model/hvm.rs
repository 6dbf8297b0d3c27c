//! HVM platform keys: firmware tables, timers, display, serial and USB of the emulated machine.

use serde::Serialize;

use crate::diag::DiagKind;
use crate::reader::{Reader, StrOrList};

/// `viridian=`: a boolean, or a list of enlightenment groups (`"!name"` disables one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Viridian {
    /// `viridian = 1` / `0`.
    Enabled(bool),
    /// `viridian = [ "base", "freq", "!stimer" ]`.
    Groups(Vec<String>),
}

/// The enlightenment group names libxl knows.
pub const VIRIDIAN_GROUPS: &[&str] = &[
    "all",
    "defaults",
    "base",
    "freq",
    "time_ref_count",
    "reference_tsc",
    "hcall_remote_tlb_flush",
    "apic_assist",
    "crash_ctl",
    "synic",
    "stimer",
    "hcall_ipi",
    "ex_processor_masks",
    "no_vp_limit",
    "cpu_hotplug",
];

/// Emulated graphics card (`vga=`, or the older `stdvga=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Vga {
    /// Bochs standard VGA.
    Stdvga,
    /// Cirrus Logic (xl's default).
    Cirrus,
    /// No card.
    None,
    /// QXL (for SPICE).
    Qxl,
}

impl Vga {
    /// The xl.cfg spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Vga::Stdvga => "stdvga",
            Vga::Cirrus => "cirrus",
            Vga::None => "none",
            Vga::Qxl => "qxl",
        }
    }

    /// libxl's `vga.kind` spelling.
    pub fn libxl(self) -> &'static str {
        match self {
            Vga::Stdvga => "std",
            other => other.as_str(),
        }
    }
}

/// The keys of an HVM guest's emulated platform. `None` means xl's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hvm {
    /// `boot`: boot order, letters c (disk), d (CD-ROM), n (network).
    pub boot: Option<String>,
    /// `acpi`: expose ACPI tables.
    pub acpi: Option<bool>,
    /// `acpi_s3`: offer suspend to RAM.
    pub acpi_s3: Option<bool>,
    /// `acpi_s4`: offer suspend to disk.
    pub acpi_s4: Option<bool>,
    /// `apic`: local APIC.
    pub apic: Option<bool>,
    /// `pae`: PAE.
    pub pae: Option<bool>,
    /// `hpet`: HPET.
    pub hpet: Option<bool>,
    /// `nx`: no-execute bit.
    pub nx: Option<bool>,
    /// `hap`: hardware-assisted paging.
    pub hap: Option<bool>,
    /// `nestedhvm`: nested virtualisation.
    pub nestedhvm: Option<bool>,
    /// `viridian`: Hyper-V enlightenments.
    pub viridian: Option<Viridian>,
    /// `bios`: seabios, rombios or ovmf (the older spelling of `firmware`).
    pub bios: Option<String>,
    /// `hdtype`: ide or ahci.
    pub hdtype: Option<String>,
    /// `serial`: emulated serial port(s) (`"pty"`, `"file:/x"`, ...); one string or a list.
    pub serial: Option<StrOrList>,
    /// `vnc`: VNC display.
    pub vnc: Option<bool>,
    /// `vnclisten`: VNC address.
    pub vnclisten: Option<String>,
    /// `vncdisplay`: VNC display number.
    pub vncdisplay: Option<u32>,
    /// `vncunused`: pick a free display.
    pub vncunused: Option<bool>,
    /// `vncpasswd`: VNC password.
    pub vncpasswd: Option<String>,
    /// `keymap`: keyboard layout.
    pub keymap: Option<String>,
    /// `sdl`: SDL window.
    pub sdl: Option<bool>,
    /// `opengl`: OpenGL for SDL.
    pub opengl: Option<bool>,
    /// `nographic`: no graphics at all.
    pub nographic: Option<bool>,
    /// `stdvga`: the older way to pick the standard VGA card.
    pub stdvga: Option<bool>,
    /// `vga`: the graphics card.
    pub vga: Option<Vga>,
    /// `videoram`: video memory in MiB.
    pub videoram: Option<u64>,
    /// `usb`: emulated USB controller.
    pub usb: Option<bool>,
    /// `usbversion`: 1, 2 or 3.
    pub usbversion: Option<u32>,
    /// `usbdevice`: emulated USB device(s) (`"tablet"`, `"mouse"`, `"host:..."`); one string
    /// or a list.
    pub usbdevice: Option<StrOrList>,
    /// `soundhw`: emulated sound card.
    pub soundhw: Option<String>,
    /// `xen_platform_pci`: the Xen platform PCI device (PV drivers in HVM guests).
    pub xen_platform_pci: Option<bool>,
    /// `shadow_memory`: shadow page table memory in MiB.
    pub shadow_memory: Option<u64>,
    /// `acpi_firmware`: extra ACPI tables file.
    pub acpi_firmware: Option<String>,
    /// `smbios_firmware`: extra SMBIOS tables file.
    pub smbios_firmware: Option<String>,
}

fn list(r: &mut Reader<'_>, key: &str) -> Vec<String> {
    match r.string_or_list(key) {
        Some(StrOrList::One(s)) => vec![s],
        Some(StrOrList::Many(v)) => v,
        None => Vec::new(),
    }
}

impl Hvm {
    pub(crate) fn read(r: &mut Reader<'_>) -> Hvm {
        let boot = r.nonempty_string("boot");
        if let Some(b) = &boot
            && let Some(bad) = b.chars().find(|c| !matches!(c, 'a'..='d' | 'n'))
        {
            let found = format!("{bad:?} in {b:?}");
            let d = r
                .error(DiagKind::InvalidValue, "boot", "invalid boot device")
                .expected("letters c (hard disk), d (CD-ROM), n (network), a (floppy)")
                .found(found);
            r.push(d);
        }
        let viridian = match r.setting("viridian").map(|s| &s.value) {
            Some(crate::value::Value::List { .. }) => {
                let groups = list(r, "viridian");
                for g in &groups {
                    let name = g.strip_prefix('!').unwrap_or(g);
                    if !VIRIDIAN_GROUPS.contains(&name) {
                        let found = format!("{g:?}");
                        let hint = crate::suggest::closest(name, VIRIDIAN_GROUPS.iter().copied())
                            .map(|s| format!("did you mean \"{s}\"?"));
                        let mut d = r
                            .error(
                                DiagKind::InvalidValue,
                                "viridian",
                                "unknown enlightenment group",
                            )
                            .expected(format!("one of {}", VIRIDIAN_GROUPS.join(", ")))
                            .found(found);
                        d.hint = hint;
                        r.push(d);
                    }
                }
                Some(Viridian::Groups(groups))
            }
            Some(_) => r.boolean("viridian").map(Viridian::Enabled),
            None => None,
        };
        let hdtype = r.choice("hdtype", &[("ide", "ide"), ("ahci", "ahci")]);
        let bios = r.choice(
            "bios",
            &[
                ("seabios", "seabios"),
                ("rombios", "rombios"),
                ("ovmf", "ovmf"),
            ],
        );
        Hvm {
            boot,
            acpi: r.boolean("acpi"),
            acpi_s3: r.boolean("acpi_s3"),
            acpi_s4: r.boolean("acpi_s4"),
            apic: r.boolean("apic"),
            pae: r.boolean("pae"),
            hpet: r.boolean("hpet"),
            nx: r.boolean("nx"),
            hap: r.boolean("hap"),
            nestedhvm: r.boolean("nestedhvm"),
            viridian,
            bios: bios.map(str::to_string),
            hdtype: hdtype.map(str::to_string),
            serial: r.string_or_list("serial"),
            vnc: r.boolean("vnc"),
            vnclisten: r.nonempty_string("vnclisten"),
            vncdisplay: r
                .unsigned("vncdisplay", 65535 - 5900)
                .and_then(|v| u32::try_from(v).ok()),
            vncunused: r.boolean("vncunused"),
            vncpasswd: r.string("vncpasswd"),
            keymap: r.nonempty_string("keymap"),
            sdl: r.boolean("sdl"),
            opengl: r.boolean("opengl"),
            nographic: r.boolean("nographic"),
            stdvga: r.boolean("stdvga"),
            vga: r.choice(
                "vga",
                &[
                    ("stdvga", Vga::Stdvga),
                    ("cirrus", Vga::Cirrus),
                    ("none", Vga::None),
                    ("qxl", Vga::Qxl),
                ],
            ),
            videoram: r.unsigned("videoram", 1 << 20),
            usb: r.boolean("usb"),
            usbversion: r
                .ranged("usbversion", 1, 3)
                .and_then(|v| u32::try_from(v).ok()),
            usbdevice: r.string_or_list("usbdevice"),
            soundhw: r.nonempty_string("soundhw"),
            xen_platform_pci: r.boolean("xen_platform_pci"),
            shadow_memory: r.unsigned("shadow_memory", 1 << 30),
            acpi_firmware: r.nonempty_string("acpi_firmware"),
            smbios_firmware: r.nonempty_string("smbios_firmware"),
        }
    }

    /// The graphics card in effect: `vga`, else `stdvga = 1`, else none chosen.
    pub fn effective_vga(&self) -> Option<Vga> {
        self.vga.or(match self.stdvga {
            Some(true) => Some(Vga::Stdvga),
            Some(false) => Some(Vga::Cirrus),
            None => None,
        })
    }
}
