//! `rxl host-check`: what this host can run, each missing piece with its fix.

use std::process::ExitCode;

use clap::Args;

use super::CmdResult;
use crate::host_check::{RealHost, run_checks};

/// Arguments of `rxl host-check`.
#[derive(Debug, Args)]
pub struct HostCheck {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints every probe; exits 1 when neither Xen nor KVM can be driven from here.
pub fn run(args: HostCheck) -> CmdResult {
    let (checks, caps) = run_checks(&RealHost::new());
    let usable = caps.xen_dom0 || caps.kvm;
    if args.json {
        let out = serde_json::json!({ "checks": checks, "capabilities": caps });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for c in &checks {
            let mark = if c.ok { " ok " } else { "MISS" };
            println!("[{mark}] {:<20} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("       {:<20} fix: {fix}", "");
            }
        }
        let backend = match (caps.xen_dom0, caps.kvm) {
            (true, _) => "xen (this is dom0)",
            (false, true) => "kvm (no Xen control domain here; /dev/kvm is usable)",
            (false, false) => "none: neither Xen dom0 nor a usable /dev/kvm",
        };
        println!("backend: {backend}");
    }
    Ok(if usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
