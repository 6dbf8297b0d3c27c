//! `rxl grub ...`: installing Xen as the GRUB default with a fixed dom0 memory.
//!
//! Every editing verb validates first, shows a unified diff with `--dry-run`, and otherwise
//! writes all files atomically with `.bak` copies. `apply` regenerates grub.cfg with the
//! distribution's tool and replaces it only after checking the result.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rxl_grub::apply;
use rxl_grub::distro;
use rxl_grub::edit::{DefaultTarget, Editor};
use rxl_grub::status::Status;
use rxl_grub::xen_cmdline::XenArg;
use rxl_grub::xen_size;

use super::CmdResult;

/// `rxl grub`: options shared by every verb, then the verb.
#[derive(Debug, Args)]
pub struct GrubArgs {
    /// Operate on the system installed under DIR (image builds, tests) instead of /.
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Show what would change (a unified diff) and write nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(subcommand)]
    cmd: GrubCmd,
}

/// `rxl grub` verbs.
#[derive(Debug, Subcommand)]
pub enum GrubCmd {
    /// Show the Xen boot set-up as grub-mkconfig will see it, and the running system.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The host's memory (e.g. 64G), to resolve relative dom0_mem values.
        #[arg(long, value_name = "SIZE")]
        host_mem: Option<String>,
    },
    /// Give dom0 a fixed memory size: writes dom0_mem=SIZE,max:SIZE (Xen's grammar: a bare
    /// number is KiB, so say 4G or 4096M) and autoballoon="off" in /etc/xen/xl.conf.
    SetDom0Mem {
        /// dom0's memory: 4G, 4096M, -2G (all but 2G), 25% or 1G+10%.
        size: String,
        /// Upper limit (default: SIZE, so dom0 cannot balloon above it).
        #[arg(long, value_name = "SIZE")]
        max: Option<String>,
        /// Lower limit.
        #[arg(long, value_name = "SIZE")]
        min: Option<String>,
        /// Leave autoballoon in /etc/xen/xl.conf alone.
        #[arg(long)]
        no_autoballoon_change: bool,
        /// The host's memory (default: Xen's physinfo in dom0, MemTotal outside Xen).
        #[arg(long, value_name = "SIZE")]
        host_mem: Option<String>,
    },
    /// Set Xen command-line options (validated where Xen's grammar is known).
    SetXenArg {
        /// KEY[=VALUE], e.g. dom0_max_vcpus=2, smap=0, console=com1,vga, no-dom0_vcpus_pin.
        #[arg(required = true, value_name = "KEY[=VALUE]")]
        args: Vec<String>,
    },
    /// Remove Xen command-line options.
    UnsetXenArg {
        /// Option names, e.g. smap.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Choose the default boot entry by title or id (never by index).
    SetDefault {
        /// `xen` (newest Xen entry), `linux` (native Linux), or an entry title / id /
        /// `submenu>entry` path.
        target: String,
    },
    /// Regenerate grub.cfg with the distribution's tool, check it, then replace it atomically.
    Apply,
}

/// Runs an `rxl grub` verb.
pub fn run(args: GrubArgs) -> CmdResult {
    let root = args.root.as_path();
    match args.cmd {
        GrubCmd::Status { json, host_mem } => {
            let layout = distro::detect(root)?;
            let host = match host_mem {
                Some(h) => Some(parse_host_mem(&h)?),
                None => host_total_kib(root),
            };
            let status = Status::collect(root, layout, host)?;
            let text = if json {
                serde_json::to_string_pretty(&status)? + "\n"
            } else {
                status.to_string()
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        GrubCmd::SetDom0Mem {
            size,
            max,
            min,
            no_autoballoon_change,
            host_mem,
        } => {
            let mut ed = Editor::open(root)?;
            let host = match host_mem {
                Some(h) => Some(parse_host_mem(&h)?),
                None => host_total_kib(root),
            };
            let v = ed.set_dom0_mem(
                &size,
                max.as_deref(),
                min.as_deref(),
                host,
                !no_autoballoon_change,
            )?;
            finish(&ed, args.dry_run, &format!("dom0_mem={v}"))
        }
        GrubCmd::SetXenArg { args: list } => {
            let mut ed = Editor::open(root)?;
            let parsed: Vec<XenArg> = list.iter().map(|a| XenArg::parse(a)).collect();
            ed.set_xen_args(&parsed)?;
            finish(&ed, args.dry_run, &list.join(" "))
        }
        GrubCmd::UnsetXenArg { keys } => {
            let mut ed = Editor::open(root)?;
            for k in &keys {
                ed.unset_xen_arg(k)?;
            }
            finish(&ed, args.dry_run, &format!("removed {}", keys.join(" ")))
        }
        GrubCmd::SetDefault { target } => {
            let mut ed = Editor::open(root)?;
            let t = match target.as_str() {
                "xen" => DefaultTarget::Xen,
                "linux" => DefaultTarget::Linux,
                other => DefaultTarget::Entry(other.to_owned()),
            };
            let entry = ed.set_default(&t)?;
            finish(&ed, args.dry_run, &format!("default entry \"{entry}\""))
        }
        GrubCmd::Apply => {
            let layout = distro::detect(root)?;
            let r = apply::apply(root, &layout, args.dry_run)?;
            for w in &r.warnings {
                eprintln!("rxl grub: warning: {w}");
            }
            if let Some(d) = &r.diff {
                print!("{d}");
                println!("dry run: {} not replaced", r.grub_cfg.display());
            } else {
                println!(
                    "wrote {}{}",
                    r.grub_cfg.display(),
                    r.backup.as_ref().map_or(String::new(), |b| format!(
                        " (previous one in {})",
                        b.display()
                    ))
                );
            }
            println!("Xen entry: \"{}\": {}", r.xen_entry, r.xen_line);
            if let Some(s) = &r.saved_entry_set {
                println!(
                    "saved_entry: {}\"{s}\"",
                    if r.diff.is_some() {
                        "would set "
                    } else {
                        "set to "
                    }
                );
            }
            println!(
                "default:   {}",
                match (&r.default_entry, r.default_is_xen) {
                    (Some(t), true) => format!("\"{t}\" (Xen)"),
                    (Some(t), false) =>
                        format!("\"{t}\" (not Xen; `rxl grub set-default xen` to change)"),
                    (None, _) => "unresolved (GRUB boots the first entry)".to_owned(),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints warnings, then the diff (dry run) or writes the files.
fn finish(ed: &Editor, dry_run: bool, what: &str) -> CmdResult {
    for w in &ed.warnings {
        eprintln!("rxl grub: warning: {w}");
    }
    let set = ed.finish()?;
    if dry_run {
        for m in &ed.moves {
            println!("would {}", m.describe());
        }
        print!("{}", set.diff());
        for c in &ed.commands {
            println!("would {}: {}", c.description, c.argv.join(" "));
        }
        println!("dry run: nothing written");
        return Ok(ExitCode::SUCCESS);
    }
    if set.is_empty() && !ed.has_actions() {
        println!("{what}: already set, nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    ed.commit(&set)?;
    for m in &ed.moves {
        println!("{}", m.describe().replacen("rename", "renamed", 1));
    }
    for c in set.changes() {
        let bak = if c.old.is_some() {
            " (backup: .bak)"
        } else {
            ""
        };
        println!("wrote {}{bak}", c.path.display());
    }
    for c in &ed.commands {
        println!("did: {}", c.description);
    }
    println!("{what}: run `rxl grub apply` to regenerate grub.cfg");
    Ok(ExitCode::SUCCESS)
}

/// A host memory size: a size with a unit (a bare number is refused, it is ambiguous).
fn parse_host_mem(s: &str) -> Result<u64, String> {
    match xen_size::parse_size(s) {
        Ok(z)
            if z.len == s.len()
                && z.number.len > 0
                && z.unit != Some(xen_size::Unit::DefaultKib) =>
        {
            Ok(z.bytes / 1024)
        }
        _ => Err(format!(
            "--host-mem \"{s}\" is not a size with a unit; write e.g. 64G"
        )),
    }
}

/// The host's memory, for root `/` only (another root is an image whose host is elsewhere).
///
/// In dom0, `/proc/meminfo` shows dom0's own memory, not the host's, so the hypervisor is
/// asked (`XEN_SYSCTL_physinfo` through rxl-xen, as `xl info` does for `total_memory`); a
/// guest or an unprivileged caller gets nothing. Outside Xen, `MemTotal` is the host's RAM.
fn host_total_kib(root: &Path) -> Option<u64> {
    if root != Path::new("/") {
        return None;
    }
    let r = rxl_grub::running::Running::probe(Path::new("/"));
    if r.dom0 {
        return match physinfo_total_kib() {
            Ok(kib) => Some(kib),
            Err(e) => {
                eprintln!(
                    "rxl grub: warning: cannot ask Xen for the host's memory ({e}); pass --host-mem"
                );
                None
            }
        };
    }
    r.host_total_kib()
}

/// The host's RAM from Xen's physinfo: `total_pages` of 4 KiB (x86's page size).
fn physinfo_total_kib() -> Result<u64, rxl_xen::XenError> {
    let phys = rxl_xen::Xen::open()?.physinfo()?;
    Ok(phys.total_pages * 4)
}
