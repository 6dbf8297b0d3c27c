//! `rxl grub status`: the Xen boot set-up of a root as `grub-mkconfig` will see it, and whether
//! the running system matches it.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::apply::saved_entry;
use crate::atomic;
use crate::boot::{self, Kernel, XenImage};
use crate::defaults::{Defaults, KNOWN_VARS};
use crate::distro::{Family, Layout};
use crate::dom0_mem::Dom0Mem;
use crate::edit::{CMDLINE_XEN, CMDLINE_XEN_DEFAULT, EditError};
use crate::grub_cfg::GrubCfg;
use crate::running::Running;
use crate::xen_cmdline::XenCmdline;
use crate::xen_first::{self, Order};
use crate::xl_conf;

/// The configured dom0 memory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dom0MemStatus {
    /// The value as written.
    pub text: String,
    /// Canonical form, when valid.
    pub canonical: Option<String>,
    /// The parse error, when invalid (Xen would ignore it).
    pub error: Option<String>,
    /// Warnings (bare KiB numbers, octal, ...).
    pub warnings: Vec<String>,
    /// Resolved initial size in KiB for the known host memory.
    pub initial_kib: Option<u64>,
    /// Resolved maximum in KiB (None: unlimited or unknown).
    pub max_kib: Option<u64>,
}

/// Everything `rxl grub status` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The root examined.
    pub root: PathBuf,
    /// Its layout.
    pub layout: Layout,
    /// Xen images in /boot.
    pub xen_images: Vec<XenImage>,
    /// Kernels in /boot.
    pub kernels: Vec<Kernel>,
    /// Effective GRUB variables (None: unset).
    pub variables: BTreeMap<String, Option<String>>,
    /// Warnings printed while sourcing the defaults.
    pub defaults_warnings: Vec<String>,
    /// `dom0_mem` from the Xen arguments, if set.
    pub dom0_mem: Option<Dom0MemStatus>,
    /// `autoballoon` in xl.conf.
    pub autoballoon: Option<String>,
    /// GRUB_DEFAULT as configured.
    pub default_configured: Option<String>,
    /// The default entry in the current grub.cfg (title), if resolvable.
    pub default_entry: Option<String>,
    /// Whether the current grub.cfg's default entry boots Xen.
    pub default_is_xen: Option<bool>,
    /// RHEL family: whether `20_linux_xen` runs first (as `08_linux_xen`).
    pub grub_d_order: Option<Order>,
    /// The running system (only meaningful for root `/`).
    pub running: Option<Running>,
    /// Whether the running dom0's memory equals the configured dom0_mem.
    pub running_matches: Option<bool>,
}

impl Status {
    /// Collects the status of `root`. `host_kib` resolves relative dom0_mem values.
    pub fn collect(
        root: &Path,
        layout: Layout,
        host_kib: Option<u64>,
    ) -> Result<Status, EditError> {
        let defaults = Defaults::load(root)?;
        let (variables, defaults_warnings) = defaults.effective(KNOWN_VARS)?;
        let var = |n: &str| variables.get(n).cloned().flatten().unwrap_or_default();
        let xen_args = XenCmdline::parse(&format!(
            "{} {}",
            var(CMDLINE_XEN),
            var(CMDLINE_XEN_DEFAULT)
        ));
        let running = (root == Path::new("/")).then(|| Running::probe(Path::new("/")));
        let host_kib = host_kib.or_else(|| running.as_ref().and_then(Running::host_total_kib));
        let dom0_mem = xen_args.get("dom0_mem").map(|a| {
            let text = a.value.clone().unwrap_or_default();
            match Dom0Mem::parse_with_warnings(&text) {
                Ok((m, w)) => {
                    // An absolute set-up resolves without knowing the host (clamping aside).
                    let avail = host_kib.or((!m.is_relative()).then_some(u64::MAX / 8));
                    let r = avail.map(|h| m.resolve(h));
                    Dom0MemStatus {
                        canonical: Some(m.to_string()),
                        error: None,
                        warnings: w.iter().map(ToString::to_string).collect(),
                        initial_kib: r.map(|r| r.initial_kib),
                        max_kib: r.and_then(|r| r.max_kib),
                        text,
                    }
                }
                Err(e) => Dom0MemStatus {
                    canonical: None,
                    error: Some(e.to_string()),
                    warnings: Vec::new(),
                    initial_kib: None,
                    max_kib: None,
                    text,
                },
            }
        });
        let cfg = atomic::read_optional(&root.join(&layout.grub_cfg))?.map(|t| GrubCfg::parse(&t));
        let default_name = cfg.as_ref().and_then(|c| match c.default.as_deref() {
            Some("${saved_entry}") => saved_entry(root, &layout),
            d => d.map(str::to_owned),
        });
        let default = cfg
            .as_ref()
            .zip(default_name.as_deref())
            .and_then(|(c, d)| c.find(d).cloned());
        let autoballoon = atomic::read_optional(&root.join(xl_conf::XL_CONF))?
            .and_then(|t| xl_conf::autoballoon(&t));
        let running_matches = running.as_ref().filter(|r| r.dom0).and_then(|r| {
            let want = dom0_mem.as_ref()?.initial_kib?;
            Some(r.dom0_current_kib? == want)
        });
        Ok(Status {
            root: root.to_owned(),
            xen_images: boot::xen_images(root),
            kernels: boot::kernels(root),
            default_configured: variables.get("GRUB_DEFAULT").cloned().flatten(),
            default_entry: default.as_ref().map(|e| e.title.clone()),
            grub_d_order: (layout.family == Family::RedHat).then(|| xen_first::order(root)),
            default_is_xen: cfg
                .as_ref()
                .map(|_| default.as_ref().is_some_and(|e| e.xen().is_some())),
            layout,
            variables,
            defaults_warnings,
            dom0_mem,
            autoballoon,
            running,
            running_matches,
        })
    }
}

fn mib(kib: u64) -> String {
    if kib % 1024 == 0 {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "root:            {} ({:?}, {})",
            self.root.display(),
            self.layout.family,
            self.layout.grub_cfg.display()
        );
        if self.xen_images.is_empty() {
            let _ = writeln!(
                s,
                "Xen images:      none in /boot (install xen-hypervisor / xen)"
            );
        }
        for x in &self.xen_images {
            let note = if x.efi {
                "  (EFI binary: its GRUB entry will not boot)"
            } else {
                ""
            };
            let _ = writeln!(s, "Xen image:       {}{note}", x.path.display());
        }
        let dom0: Vec<&Kernel> = self.kernels.iter().filter(|k| k.dom0_capable).collect();
        if dom0.is_empty() {
            let _ = writeln!(
                s,
                "dom0 kernels:    none with CONFIG_XEN_DOM0=y in /boot/config-*"
            );
        }
        for k in dom0 {
            let initrd = k
                .initrd
                .as_ref()
                .map_or("no initrd".to_owned(), |i| i.display().to_string());
            let _ = writeln!(s, "dom0 kernel:     {} ({initrd})", k.path.display());
        }
        for k in self.kernels.iter().filter(|k| !k.dom0_capable) {
            let why = if k.has_config {
                "no CONFIG_XEN_DOM0=y"
            } else {
                "no config file"
            };
            let _ = writeln!(
                s,
                "other kernel:    {} ({why}; not offered under Xen)",
                k.path.display()
            );
        }
        for n in [
            CMDLINE_XEN,
            CMDLINE_XEN_DEFAULT,
            "GRUB_CMDLINE_LINUX_XEN_REPLACE",
            "GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT",
        ] {
            let v = self.variables.get(n).cloned().flatten();
            let _ = writeln!(
                s,
                "{n:<39} {}",
                v.map_or("(unset)".to_owned(), |v| format!("\"{v}\""))
            );
        }
        match &self.dom0_mem {
            None => {
                let _ = writeln!(
                    s,
                    "dom0_mem:        not set (Xen gives dom0 all memory but min(1/16, 128 MiB); set one with `rxl grub set-dom0-mem`)"
                );
            }
            Some(d) => {
                let _ = write!(s, "dom0_mem:        {}", d.text);
                if let Some(e) = &d.error {
                    let _ = write!(s, "  INVALID: {e}");
                }
                if let Some(i) = d.initial_kib {
                    let _ = write!(s, "  -> initial {}", mib(i));
                    let _ = write!(
                        s,
                        ", max {}",
                        d.max_kib
                            .map_or("unlimited (balloons up to all memory)".into(), mib)
                    );
                }
                let _ = writeln!(s);
                for w in &d.warnings {
                    let _ = writeln!(s, "  warning: {w}");
                }
            }
        }
        let _ = writeln!(
            s,
            "xl.conf:         autoballoon={}",
            self.autoballoon.as_deref().unwrap_or("(unset: auto)")
        );
        let _ = writeln!(
            s,
            "default:         GRUB_DEFAULT={} -> {}",
            self.default_configured.as_deref().unwrap_or("(unset)"),
            match (&self.default_entry, self.default_is_xen) {
                (_, None) => "no grub.cfg yet (run `rxl grub apply`)".to_owned(),
                (Some(t), Some(x)) => format!("\"{t}\"{}", if x { " (Xen)" } else { " (not Xen)" }),
                (None, Some(_)) => "not found in grub.cfg (GRUB boots the first entry)".to_owned(),
            }
        );
        if let Some(o) = self.grub_d_order {
            let _ = writeln!(
                s,
                "grub.d order:    {}",
                match o {
                    Order::Stock => "native Linux entries first (20_linux_xen)",
                    Order::XenFirst => "Xen entries first (08_linux_xen)",
                    Order::Both =>
                        "08_linux_xen AND 20_linux_xen: Xen entries twice (run `rxl grub set-default xen` again)",
                    Order::Missing => "no 20_linux_xen: no Xen entries can be generated",
                }
            );
        }
        match &self.running {
            None => {
                let _ = writeln!(s, "running system:  not examined (--root is not /)");
            }
            Some(r) => {
                let what = match (r.on_xen(), r.dom0) {
                    (true, true) => "Xen dom0",
                    (true, false) => "Xen guest",
                    _ => "not running on Xen",
                };
                let _ = write!(s, "running system:  {what}");
                if let Some(c) = r.dom0_current_kib {
                    let _ = write!(s, ", dom0 memory {}", mib(c));
                }
                match self.running_matches {
                    Some(true) => {
                        let _ = write!(s, " = configured dom0_mem");
                    }
                    Some(false) => {
                        let _ = write!(
                            s,
                            " != configured dom0_mem (reboot to apply, after `rxl grub apply`)"
                        );
                    }
                    None => {}
                }
                let _ = writeln!(s);
            }
        }
        for w in &self.defaults_warnings {
            let _ = writeln!(s, "note: {w}");
        }
        f.write_str(&s)
    }
}
