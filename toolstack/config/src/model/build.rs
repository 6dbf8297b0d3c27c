//! Guest type, boot (kernel, bootloader, firmware) and lifecycle actions.

use serde::Serialize;

use crate::reader::{Reader, StrOrList};

/// The guest type (`type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestType {
    /// Paravirtualised.
    Pv,
    /// PVH: hardware-virtualised, no device model.
    Pvh,
    /// Fully hardware-virtualised, with a device model.
    Hvm,
}

impl GuestType {
    /// The xl.cfg / libxl spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestType::Pv => "pv",
            GuestType::Pvh => "pvh",
            GuestType::Hvm => "hvm",
        }
    }
}

/// The deprecated `builder=` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    /// `builder = "generic"` (PV).
    Generic,
    /// `builder = "hvm"`.
    Hvm,
}

impl Builder {
    /// The xl.cfg spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Builder::Generic => "generic",
            Builder::Hvm => "hvm",
        }
    }

    /// The guest type it stands for.
    pub fn guest_type(self) -> GuestType {
        match self {
            Builder::Generic => GuestType::Pv,
            Builder::Hvm => GuestType::Hvm,
        }
    }
}

/// What to do when the guest powers off, reboots, crashes, ... (`on_*=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Destroy the domain.
    Destroy,
    /// Destroy and create it again.
    Restart,
    /// Rename the old domain and create a new one.
    RenameRestart,
    /// Keep the domain for inspection.
    Preserve,
    /// Dump core, then destroy.
    CoredumpDestroy,
    /// Dump core, then restart.
    CoredumpRestart,
    /// Soft reset (`on_soft_reset` only makes sense with it).
    SoftReset,
}

/// Every action name and value, as xl spells them.
pub const ACTIONS: &[(&str, Action)] = &[
    ("destroy", Action::Destroy),
    ("restart", Action::Restart),
    ("rename-restart", Action::RenameRestart),
    ("preserve", Action::Preserve),
    ("coredump-destroy", Action::CoredumpDestroy),
    ("coredump-restart", Action::CoredumpRestart),
    ("soft-reset", Action::SoftReset),
];

impl Action {
    /// The xl.cfg spelling (libxl's JSON uses the same words).
    pub fn as_str(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("destroy", |(n, _)| n)
    }
}

/// The lifecycle actions; `None` means xl's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actions {
    /// `on_poweroff` (default destroy).
    pub on_poweroff: Option<Action>,
    /// `on_reboot` (default restart).
    pub on_reboot: Option<Action>,
    /// `on_watchdog` (default destroy).
    pub on_watchdog: Option<Action>,
    /// `on_crash` (default destroy).
    pub on_crash: Option<Action>,
    /// `on_soft_reset` (default soft-reset).
    pub on_soft_reset: Option<Action>,
}

impl Actions {
    /// The keys, in xl's order, with accessors; used by the reader and the printer.
    pub fn fields(&self) -> [(&'static str, Option<Action>); 5] {
        [
            ("on_poweroff", self.on_poweroff),
            ("on_reboot", self.on_reboot),
            ("on_watchdog", self.on_watchdog),
            ("on_crash", self.on_crash),
            ("on_soft_reset", self.on_soft_reset),
        ]
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Actions {
        Actions {
            on_poweroff: r.choice("on_poweroff", ACTIONS),
            on_reboot: r.choice("on_reboot", ACTIONS),
            on_watchdog: r.choice("on_watchdog", ACTIONS),
            on_crash: r.choice("on_crash", ACTIONS),
            on_soft_reset: r.choice("on_soft_reset", ACTIONS),
        }
    }
}

/// How the guest boots: direct kernel, bootloader or firmware.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Boot {
    /// `kernel`: the kernel image in dom0 (PV, PVH; HVM direct boot).
    pub kernel: Option<String>,
    /// `ramdisk`: the initrd.
    pub ramdisk: Option<String>,
    /// `cmdline`: the whole kernel command line (wins over root/extra).
    pub cmdline: Option<String>,
    /// `root`: becomes `root=<root>` on the command line.
    pub root: Option<String>,
    /// `extra`: appended to the command line.
    pub extra: Option<String>,
    /// `bootloader`: a dom0 program that extracts the kernel (PV), e.g. pygrub.
    pub bootloader: Option<String>,
    /// `bootloader_args`: its arguments (a string is split on blanks, as xl does).
    pub bootloader_args: Vec<String>,
    /// `firmware`: pvgrub32/pvgrub64 (PV), bios/uefi/seabios/ovmf/path (HVM), path (PVH).
    pub firmware: Option<String>,
}

impl Boot {
    pub(crate) fn read(r: &mut Reader<'_>) -> Boot {
        let bootloader_args = match r.string_or_list("bootloader_args") {
            Some(StrOrList::One(s)) => {
                let mut d = r
                    .error(
                        crate::diag::DiagKind::DeprecatedKey,
                        "bootloader_args",
                        "a string for bootloader_args is deprecated (xl splits it on blanks)",
                    )
                    .hint("write a list: bootloader_args = [ \"-q\", \"--entry=1\" ]");
                d.severity = crate::diag::Severity::Warning;
                r.push(d);
                s.split_whitespace().map(str::to_string).collect()
            }
            Some(StrOrList::Many(v)) => v,
            None => Vec::new(),
        };
        Boot {
            kernel: r.nonempty_string("kernel"),
            ramdisk: r.nonempty_string("ramdisk"),
            cmdline: r.string("cmdline"),
            root: r.string("root"),
            extra: r.string("extra"),
            bootloader: r.nonempty_string("bootloader"),
            bootloader_args,
            firmware: r.nonempty_string("firmware"),
        }
    }

    /// The kernel command line xl passes to libxl: `cmdline`, or `root=<root> <extra>`.
    pub fn effective_cmdline(&self) -> Option<String> {
        if let Some(c) = &self.cmdline {
            return Some(c.clone());
        }
        match (&self.root, &self.extra) {
            (Some(r), Some(e)) => Some(format!("root={r} {e}")),
            (Some(r), None) => Some(format!("root={r}")),
            (None, Some(e)) => Some(e.clone()),
            (None, None) => None,
        }
    }
}

/// Reads `type=` and `builder=`: exact words only (xl matches a prefix, so `type = "p"` is PV).
pub(crate) fn read_type(r: &mut Reader<'_>) -> (Option<GuestType>, Option<Builder>) {
    let t = r.choice(
        "type",
        &[
            ("pv", GuestType::Pv),
            ("pvh", GuestType::Pvh),
            ("hvm", GuestType::Hvm),
        ],
    );
    let b = r.choice(
        "builder",
        &[("generic", Builder::Generic), ("hvm", Builder::Hvm)],
    );
    (t, b)
}
