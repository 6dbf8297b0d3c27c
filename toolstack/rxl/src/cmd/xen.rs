//! The verbs only Xen has: `dmesg`, `mem-set`, `mem-max`, `vcpu-list`, `vcpu-set`,
//! `vcpu-pin`, `uptime`, `dom0-mem`. They reach Xen's control plane through the backend's
//! extension (a capability query, [`rxl_hypervisor::extension`]); on a backend without one they
//! fail with `BackendError::Unsupported` naming the verb and why.
//!
//! Text output matches xl column for column (the formats live in `rxl_xen::report` with unit
//! tests); every verb also takes `--json`. Errors are one line on stderr and exit status 1.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use rxl_hypervisor::{Backend, BackendError};
use rxl_xen::Control;
use rxl_xen::ctl::vcpu::Affinity;
use rxl_xen::report::{uptime, vcpu};

use super::CmdResult;
use super::domain::JsonFlag;

/// Xen-only verbs (flattened into the top-level verb list, as in xl).
#[derive(Debug, Subcommand)]
pub enum XenCmd {
    /// Print the hypervisor's console ring (xl dmesg).
    Dmesg {
        /// Clear the ring after reading it.
        #[arg(short, long)]
        clear: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set a domain's memory target (balloon), dom0 included, and wait for it.
    #[command(name = "mem-set")]
    MemSet {
        /// Domain name or id.
        dom: String,
        /// Size with suffix b/k/m/g/t (no suffix = MiB, as xl).
        size: String,
        /// Seconds to wait for the balloon driver (0 = do not wait).
        #[arg(long, default_value_t = 60)]
        wait: u64,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set a domain's maximum memory.
    #[command(name = "mem-max")]
    MemMax {
        /// Domain name or id.
        dom: String,
        /// Size with suffix b/k/m/g/t (no suffix = MiB, as xl).
        size: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List vCPUs with their CPU, state, time and affinity.
    #[command(name = "vcpu-list")]
    VcpuList {
        /// Only these domains.
        doms: Vec<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set the number of online vCPUs of a domain.
    #[command(name = "vcpu-set")]
    VcpuSet {
        /// Domain name or id.
        dom: String,
        /// Number of vCPUs to have online.
        count: u32,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Pin a vCPU (or `all`) to physical CPUs: HARD [SOFT], each a list like 0-2,5, `all`
    /// or `-` (leave alone).
    #[command(name = "vcpu-pin")]
    VcpuPin {
        /// Domain name or id.
        dom: String,
        /// vCPU number or `all`.
        vcpu: String,
        /// Hard affinity.
        hard: String,
        /// Soft affinity.
        soft: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// dom0's memory: boot-time dom0_mem, xl.conf autoballoon, balloon target and current
    /// size, with warnings where they contradict.
    #[command(name = "dom0-mem")]
    Dom0Mem {
        /// The xl.conf to read autoballoon from.
        #[arg(long, default_value = rxl_xen::dom0_mem::XL_CONF)]
        xl_conf: std::path::PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Write a domain's core (an ELF64 core gdb and crash read; the domain is paused for the
    /// copy and keeps running afterwards).
    #[command(name = "dump-core")]
    DumpCore {
        /// Domain name or id.
        dom: String,
        /// The core file to write (written beside it first, then renamed).
        file: std::path::PathBuf,
    },
    /// How long domains have run.
    Uptime {
        /// Short form (like uptime(1)).
        #[arg(short, long)]
        short: bool,
        /// Only these domains.
        doms: Vec<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

fn json<T: serde::Serialize>(v: &T) -> CmdResult {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(ExitCode::SUCCESS)
}

/// xl's `parse_mem_size_kb`: integer plus one optional suffix t/g/m/k/b; no suffix = MiB.
pub fn parse_mem_size_kib(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid memory size: {s} (expected e.g. 512, 512M, 2G)"))?;
    let kib = match suffix.to_ascii_lowercase().as_str() {
        "t" => n.checked_mul(1 << 30),
        "g" => n.checked_mul(1 << 20),
        "" | "m" => n.checked_mul(1 << 10),
        "k" => Some(n),
        "b" => Some(n >> 10),
        _ => None,
    };
    kib.ok_or_else(|| format!("invalid memory size: {s} (expected e.g. 512, 512M, 2G)"))
}

impl XenCmd {
    /// The verb as typed.
    fn verb(&self) -> &'static str {
        match self {
            XenCmd::Dmesg { .. } => "dmesg",
            XenCmd::MemSet { .. } => "mem-set",
            XenCmd::MemMax { .. } => "mem-max",
            XenCmd::VcpuList { .. } => "vcpu-list",
            XenCmd::VcpuSet { .. } => "vcpu-set",
            XenCmd::VcpuPin { .. } => "vcpu-pin",
            XenCmd::Dom0Mem { .. } => "dom0-mem",
            XenCmd::Uptime { .. } => "uptime",
            XenCmd::DumpCore { .. } => "dump-core",
        }
    }
}

/// Xen's control plane from `backend`, or why this verb cannot run on it.
fn control<'a>(backend: &'a dyn Backend, verb: &'static str) -> Result<&'a Control, BackendError> {
    rxl_hypervisor::extension::<Control>(
        backend,
        verb,
        "it drives Xen's own interfaces (domctl, xenstore, the balloon driver) and only the xen \
         backend has them; run it in a Xen dom0 (or with --backend xen there)",
    )
}

/// Runs a Xen-only verb on `backend`.
pub fn run(cmd: XenCmd, backend: &dyn Backend) -> CmdResult {
    let ctl = control(backend, cmd.verb())?;
    match cmd {
        XenCmd::Dmesg { clear, out } => {
            let text = ctl.xen().read_console(clear)?;
            if out.json {
                return json(&serde_json::json!({ "console": String::from_utf8_lossy(&text) }));
            }
            std::io::stdout().write_all(&text)?;
        }
        XenCmd::MemSet {
            dom,
            size,
            wait,
            out,
        } => {
            let kib = parse_mem_size_kib(&size)?;
            let id = ctl.lookup(&dom)?;
            let o = ctl.mem_set(id, kib, Duration::from_secs(wait))?;
            if out.json {
                return json(&o);
            }
            if wait > 0 {
                let verdict = if o.reached { "reached" } else { "NOT reached" };
                println!(
                    "domain {}: target {} KiB, {verdict}: {} KiB (was {} KiB) after {} ms",
                    o.domid, o.target_kib, o.reached_kib, o.before_kib, o.waited_ms
                );
                if !o.reached {
                    eprintln!(
                        "rxl: warning: domain {} stopped at {} KiB; its balloon driver may be \
                         missing or unable to reach {} KiB",
                        o.domid, o.reached_kib, o.target_kib
                    );
                }
            }
        }
        XenCmd::MemMax { dom, size, out } => {
            let kib = parse_mem_size_kib(&size)?;
            let id = ctl.lookup(&dom)?;
            ctl.mem_max(id, kib)?;
            if out.json {
                return json(&serde_json::json!({ "domid": id, "max_kib": kib }));
            }
        }
        XenCmd::VcpuList { doms, out } => return vcpu_list(ctl, &doms, out.json),
        XenCmd::VcpuSet { dom, count, out } => {
            let id = ctl.lookup(&dom)?;
            ctl.vcpu_set(id, count)?;
            if out.json {
                return json(&serde_json::json!({ "domid": id, "online": count }));
            }
        }
        XenCmd::VcpuPin {
            dom,
            vcpu: which,
            hard,
            soft,
            out,
        } => {
            let id = ctl.lookup(&dom)?;
            let phys = ctl.xen().physinfo()?;
            let nr = phys.max_cpu_id + 1;
            let info = ctl.xen().domain_info(id)?;
            let vcpus: Vec<u32> = if which == "all" {
                (0..=info.max_vcpu_id).collect()
            } else {
                let v: u32 = which
                    .parse()
                    .map_err(|_| format!("invalid vCPU '{which}': expected a number or 'all'"))?;
                if v > info.max_vcpu_id {
                    return Err(
                        format!("domain {id} has vCPUs 0..{}, not {v}", info.max_vcpu_id).into(),
                    );
                }
                vec![v]
            };
            let mut results = Vec::new();
            for v in vcpus {
                let cur = ctl.xen().vcpu_affinity(id, v, nr)?;
                let want = Affinity {
                    hard: if hard == "-" {
                        cur.hard.clone()
                    } else {
                        vcpu::parse_cpus(&hard, nr)?
                    },
                    soft: match soft.as_deref() {
                        None | Some("-") => cur.soft.clone(),
                        Some(s) => vcpu::parse_cpus(s, nr)?,
                    },
                };
                results.push((v, ctl.xen().set_vcpu_affinity(id, v, &want, nr)?));
            }
            if out.json {
                let v: Vec<_> = results
                    .iter()
                    .map(|(v, a)| {
                        serde_json::json!({ "vcpu": v, "hard": a.hard.cpus(), "soft": a.soft.cpus() })
                    })
                    .collect();
                return json(&serde_json::json!({ "domid": id, "vcpus": v }));
            }
        }
        XenCmd::Uptime { short, doms, out } => return uptime_verb(ctl, short, &doms, out.json),
        XenCmd::DumpCore { dom, file } => {
            let id = ctl.lookup(&dom)?;
            let d = rxl_xen::build::coredump::dump(ctl.xen(), id, &file)?;
            tracing::info!(domid = id, path = %d.path.display(), pages = d.pages, "core written");
        }
        XenCmd::Dom0Mem { xl_conf, out } => {
            let r = rxl_xen::dom0_mem::assess(rxl_xen::dom0_mem::gather(ctl, &xl_conf)?);
            if out.json {
                return json(&r);
            }
            print!("{}", rxl_xen::dom0_mem::render(&r));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn vcpu_list(ctl: &Control, doms: &[String], as_json: bool) -> CmdResult {
    let phys = ctl.xen().physinfo()?;
    let ids: Vec<u32> = if doms.is_empty() {
        ctl.xen().list_domains()?.iter().map(|d| d.domid).collect()
    } else {
        doms.iter()
            .map(|d| ctl.lookup(d))
            .collect::<Result<_, _>>()?
    };
    let mut text = vcpu::header();
    let mut rows = Vec::new();
    for id in ids {
        let info = ctl.xen().domain_info(id)?;
        let name = ctl.name_of(id)?.unwrap_or_else(|| "(null)".into());
        for v in 0..=info.max_vcpu_id {
            let vi = ctl.xen().vcpu_info(id, v)?;
            let aff = ctl.xen().vcpu_affinity(id, v, phys.max_cpu_id + 1)?;
            text.push_str(&vcpu::row(&name, id, &vi, &aff, phys.nr_cpus));
            rows.push(serde_json::json!({
                "name": name, "domid": id, "vcpu": vi,
                "hard": aff.hard.cpus(), "soft": aff.soft.cpus(),
            }));
        }
    }
    if as_json {
        return json(&rows);
    }
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn uptime_verb(ctl: &Control, short: bool, doms: &[String], as_json: bool) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ids: Vec<u32> = if doms.is_empty() {
        ctl.xen().list_domains()?.iter().map(|d| d.domid).collect()
    } else {
        doms.iter()
            .map(|d| ctl.lookup(d))
            .collect::<Result<_, _>>()?
    };
    let dom0_up = || -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        let s = std::fs::read_to_string("/proc/uptime")
            .map_err(|e| format!("cannot get dom0 uptime from /proc/uptime: {e}"))?;
        let first = s.split(['.', ' ']).next().unwrap_or("0");
        Ok(first.parse().unwrap_or(0))
    };
    let hms = {
        let t = now % 86400;
        format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
    };
    let mut text = if short {
        String::new()
    } else {
        uptime::header()
    };
    let mut rows = Vec::new();
    for id in ids {
        let secs = if id == 0 {
            dom0_up()?
        } else {
            match ctl.start_time(id)? {
                Some(start) => now.saturating_sub(start),
                // xl skips domains without a recorded start time.
                None => continue,
            }
        };
        let name = ctl.name_of(id)?.unwrap_or_else(|| "(null)".into());
        text.push_str(&if short {
            uptime::short_row(&hms, &name, id, secs)
        } else {
            uptime::row(&name, id, secs)
        });
        rows.push(serde_json::json!({ "name": name, "domid": id, "uptime_secs": secs }));
    }
    if as_json {
        return json(&rows);
    }
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_like_xl() {
        assert_eq!(parse_mem_size_kib("512"), Ok(512 * 1024));
        assert_eq!(parse_mem_size_kib("512M"), Ok(512 * 1024));
        assert_eq!(parse_mem_size_kib("2g"), Ok(2 << 20));
        assert_eq!(parse_mem_size_kib("4096k"), Ok(4096));
        assert_eq!(parse_mem_size_kib("1048576b"), Ok(1024));
        assert!(parse_mem_size_kib("12MB").is_err());
        assert!(parse_mem_size_kib("x").is_err());
    }
}
