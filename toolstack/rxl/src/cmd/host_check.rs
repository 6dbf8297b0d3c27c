//! `rxl host-check`: what this host can run, each missing piece with its fix.

use std::process::ExitCode;

use clap::Args;

use super::CmdResult;
use super::backend::{BackendChoice, choose};
use crate::host_check::{RealHost, run_checks};

/// Arguments of `rxl host-check`.
#[derive(Debug, Args)]
pub struct HostCheck {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints every probe and the backend rxl would use (honouring `--backend`); exits 1 when
/// neither Xen nor KVM can be driven from here.
pub fn run(args: HostCheck, forced: Option<BackendChoice>) -> CmdResult {
    let host = RealHost::new();
    let (checks, caps) = run_checks(&host);
    let usable = caps.xen_dom0 || caps.kvm;
    let chosen = choose(forced, &host).ok();
    if args.json {
        let out = serde_json::json!({ "checks": checks, "capabilities": caps, "backend": chosen });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for c in &checks {
            let mark = if c.ok { " ok " } else { "MISS" };
            println!("[{mark}] {:<20} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("       {:<20} fix: {fix}", "");
            }
        }
        let backend = match (forced, chosen) {
            (Some(f), _) => format!("{f} (forced by --backend / RXL_BACKEND)"),
            (None, Some(rxl_hypervisor::BackendKind::Xen)) => "xen (this is dom0)".to_owned(),
            (None, Some(rxl_hypervisor::BackendKind::Kvm)) => {
                "kvm (no Xen control domain here; /dev/kvm is usable)".to_owned()
            }
            (None, None) => "none: neither Xen dom0 nor a usable /dev/kvm".to_owned(),
        };
        println!("backend: {backend}");
    }
    Ok(if usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
