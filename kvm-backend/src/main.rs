//! `rxl-kvm`: one process, one VM. Either from flags (a quick direct boot, console on stdout)
//! or from a JSON `VmSpec` written by the rxl toolstack (`--spec`), which also gets a control
//! socket and a state file under the run directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rxl_kvm::{Action, DiskSpec, ExitReason, RunControl, VmSpec, Vmm};

/// Runs one KVM guest.
#[derive(Parser, Debug)]
#[command(name = "rxl-kvm", version, about)]
struct Args {
    /// JSON VmSpec written by `rxl create` (all other VM flags are then ignored).
    #[arg(long, conflicts_with = "kernel")]
    spec: Option<PathBuf>,
    /// Kernel: ELF vmlinux (PVH or 64-bit entry) or bzImage.
    #[arg(long, required_unless_present = "spec")]
    kernel: Option<PathBuf>,
    /// Initrd.
    #[arg(long)]
    initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, default_value = "")]
    cmdline: String,
    /// RAM in MiB.
    #[arg(long, default_value_t = 128)]
    memory: u64,
    /// vCPUs.
    #[arg(long, default_value_t = 1)]
    vcpus: u8,
    /// Disk as PATH or PATH,ro (repeatable).
    #[arg(long = "disk")]
    disks: Vec<String>,
    /// Guest name.
    #[arg(long, default_value = "rxl-kvm")]
    name: String,
    /// Print the exit reason and exit counts as JSON on stderr when the VM stops.
    #[arg(long)]
    stats: bool,
}

fn disk(arg: &str) -> DiskSpec {
    match arg.strip_suffix(",ro") {
        Some(path) => DiskSpec {
            path: path.into(),
            read_only: true,
        },
        None => DiskSpec {
            path: arg.into(),
            read_only: false,
        },
    }
}

fn spec_from(args: &Args) -> Result<VmSpec, String> {
    if let Some(path) = &args.spec {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: invalid VM spec: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        });
    }
    let kernel = args.kernel.clone().ok_or("--kernel is required")?;
    let mut spec = VmSpec::new(args.name.clone(), kernel);
    spec.memory_mib = args.memory;
    spec.vcpus = args.vcpus;
    spec.ramdisk = args.initrd.clone();
    spec.cmdline = args.cmdline.clone();
    spec.disks = args.disks.iter().map(|d| disk(d)).collect();
    // A foreground run is one boot: a guest reboot ends it like a power-off.
    spec.on_reboot = Action::Destroy;
    Ok(spec)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let spec = match spec_from(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rxl-kvm: {e}");
            return ExitCode::from(2);
        }
    };
    loop {
        let control = Arc::new(RunControl::default());
        let console = Box::new(std::io::stdout());
        let (vmm, _loaded) = match Vmm::from_spec(&spec, console, control.clone()) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("rxl-kvm: {}: {e}", spec.name);
                return ExitCode::from(2);
            }
        };
        let reason = match vmm.run() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("rxl-kvm: {}: {e}", spec.name);
                return ExitCode::from(2);
            }
        };
        if args.stats {
            let report = serde_json::json!({
                "exit": reason,
                "exits": control.stats.snapshot(),
            });
            eprintln!("{report}");
        }
        let action = match &reason {
            ExitReason::Poweroff | ExitReason::Destroyed => spec.on_poweroff,
            ExitReason::Reboot => spec.on_reboot,
            ExitReason::Crash(msg) => {
                eprintln!("rxl-kvm: {}: guest crashed: {msg}", spec.name);
                spec.on_crash
            }
        };
        match (action, &reason) {
            (Action::Restart, r) if *r != ExitReason::Destroyed => continue,
            (_, ExitReason::Crash(_)) => return ExitCode::from(3),
            _ => return ExitCode::SUCCESS,
        }
    }
}
