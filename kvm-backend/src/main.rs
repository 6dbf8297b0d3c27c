//! `rxl-kvm`: one process, one VM. Either from flags (a quick direct boot, console on stdout)
//! or from a JSON `VmSpec` written by the rxl toolstack (`--spec`), which also gets a control
//! socket and a state file under the run directory. `type="hvm"` guests (an xl.cfg, or an
//! `HvmSpec` file) run under QEMU, supervised by this process (`rxl_kvm::qemu`).

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rxl_kvm::control::server::{self, Supervisor};
use rxl_kvm::devices::serial::ConsoleOut;
use rxl_kvm::rundir::{RunDir, VmRecord};
use rxl_kvm::spec::NicSpec;
use rxl_kvm::{Action, DiskSpec, ExitReason, RunControl, VmSpec, Vmm};

/// Runs one KVM guest.
#[derive(Parser, Debug)]
#[command(name = "rxl-kvm", version, about)]
struct Args {
    /// JSON VmSpec written by `rxl create` (all other VM flags are then ignored).
    #[arg(long, conflicts_with_all = ["kernel", "config"])]
    spec: Option<PathBuf>,
    /// An xl.cfg domain file (kernel=, ramdisk=, cmdline/root/extra, memory, vcpus, disk, vif,
    /// on_*); keys KVM cannot honour are named. Runs in the foreground like the flags, or
    /// managed with --run-dir/--id. type="hvm" runs under qemu-system-x86_64 -accel kvm.
    #[arg(long, conflicts_with = "kernel")]
    config: Option<PathBuf>,
    /// Kernel: ELF vmlinux (PVH or 64-bit entry) or bzImage.
    #[arg(long, required_unless_present_any = ["spec", "config"])]
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
    /// NIC as [tap=NAME][,bridge=BRIDGE][,mac=52:54:00:xx:xx:xx] (repeatable; "default" for
    /// a kernel-named tap on no bridge).
    #[arg(long = "nic")]
    nics: Vec<String>,
    /// Guest name.
    #[arg(long, default_value = "guest")]
    name: String,
    /// No i8254 PIT (QEMU microvm's pit=off): for guests that follow the hardware-reduced
    /// ACPI tables, which never use it; saves its creation and teardown.
    #[arg(long)]
    no_pit: bool,
    /// Print the exit reason and exit counts as JSON on stderr when the VM stops.
    #[arg(long)]
    stats: bool,
    /// Managed mode (used by `rxl create`): the run directory holding the VM's state file,
    /// control socket and console log.
    #[arg(long, requires = "id")]
    run_dir: Option<PathBuf>,
    /// Managed mode: the domain id reserved in the run directory.
    #[arg(long, requires = "run_dir")]
    id: Option<u32>,
    /// Managed mode: build the VM but leave its vCPUs paused until `resume`.
    #[arg(long, requires = "run_dir")]
    paused: bool,
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

fn nic(arg: &str) -> Result<NicSpec, String> {
    let mut n = NicSpec::default();
    for part in arg.split(',').filter(|p| !p.is_empty() && *p != "default") {
        match part.split_once('=') {
            Some(("tap", v)) => n.tap = Some(v.to_string()),
            Some(("bridge", v)) => n.bridge = Some(v.to_string()),
            Some(("mac", v)) => {
                let bytes: Vec<u8> = v
                    .split(':')
                    .map(|b| u8::from_str_radix(b, 16))
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        format!("--nic mac={v}: expected six hex bytes like 52:54:00:12:34:56")
                    })?;
                n.mac = Some(
                    bytes
                        .try_into()
                        .map_err(|_| format!("--nic mac={v}: expected six bytes"))?,
                );
            }
            _ => {
                return Err(format!(
                    "--nic {arg}: unknown part '{part}' (use tap=, bridge=, mac=)"
                ));
            }
        }
    }
    Ok(n)
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
    if let Some(path) = &args.config {
        let loaded = rxl_config::load(path).map_err(|e| e.to_string())?;
        for w in &loaded.warnings {
            eprintln!("rxl-kvm: warning: {w}");
        }
        let mapped = rxl_kvm::from_config::vm_spec(&loaded.config)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for w in &mapped.warnings {
            eprintln!("rxl-kvm: warning: {}: {w}", path.display());
        }
        let mut spec = mapped.spec;
        // --no-pit also applies to a domain file (xl.cfg has no key for it).
        spec.pit &= !args.no_pit;
        return Ok(spec);
    }
    let kernel = args.kernel.clone().ok_or("--kernel is required")?;
    let mut spec = VmSpec::new(args.name.clone(), kernel);
    spec.memory_mib = args.memory;
    spec.vcpus = args.vcpus;
    spec.ramdisk = args.initrd.clone();
    spec.cmdline = args.cmdline.clone();
    spec.disks = args.disks.iter().map(|d| disk(d)).collect();
    spec.nics = args.nics.iter().map(|n| nic(n)).collect::<Result<_, _>>()?;
    spec.pit = !args.no_pit;
    // A foreground run is one boot: a guest reboot ends it like a power-off.
    spec.on_reboot = Action::Destroy;
    Ok(spec)
}

/// Exit status: 0 the guest stopped normally, 2 the VM could not be built, 3 the guest crashed.
fn main() -> ExitCode {
    let args = Args::parse();
    // type="hvm" (an xl.cfg or an HVM spec file) runs under QEMU, not the microVM.
    let (spec, cfg, dir) = (
        args.spec.as_deref(),
        args.config.as_deref(),
        args.run_dir.as_deref(),
    );
    if let Some(code) = rxl_kvm::qemu::dispatch(spec, cfg, dir, args.id, args.paused) {
        return code;
    }
    let spec = match spec_from(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rxl-kvm: {e}");
            return ExitCode::from(2);
        }
    };
    match (&args.run_dir, args.id) {
        (Some(dir), Some(id)) => managed(&spec, &RunDir::new(dir), id, args.paused),
        _ => {
            let console = || -> std::io::Result<ConsoleOut> { Ok(Box::new(std::io::stdout())) };
            boot_loop(&spec, console, None, None, args.stats)
        }
    }
}

/// Boots `spec` until an `on_*` action says stop. `console` makes each boot's console sink.
/// `ready` runs once, after the first VM was built and before it runs.
fn boot_loop(
    spec: &VmSpec,
    console: impl Fn() -> std::io::Result<ConsoleOut>,
    sup: Option<&Supervisor>,
    mut ready: Option<Box<dyn FnOnce() -> Result<(), String> + '_>>,
    stats: bool,
) -> ExitCode {
    let mut first = true;
    loop {
        let control = Arc::new(RunControl::default());
        if let Some(s) = sup
            && !s.booting(control.clone())
        {
            return ExitCode::SUCCESS;
        }
        let built = console()
            .map_err(|e| format!("console: {e}"))
            .and_then(|out| Vmm::from_spec(spec, out, control.clone()).map_err(|e| e.to_string()));
        if let (Some(s), Ok((vmm, _))) = (sup, &built) {
            s.set_devices(vmm.devices());
        }
        let built = built.and_then(|(vmm, loaded)| match ready.take() {
            Some(f) => f().map(|()| (vmm, loaded)),
            None => Ok((vmm, loaded)),
        });
        let reason = match built.and_then(|(vmm, _)| vmm.run().map_err(|e| e.to_string())) {
            Ok(r) => r,
            Err(e) if first => {
                eprintln!("rxl-kvm: {}: {e}", spec.name);
                return ExitCode::from(2);
            }
            Err(e) => ExitReason::Crash(format!("rebuilding the VM failed: {e}")),
        };
        first = false;
        if let Some(s) = sup {
            s.stopped(&reason);
        }
        if stats {
            let report = serde_json::json!({
                "exit": reason,
                "exits": control.stats.snapshot(),
            });
            eprintln!("{report}");
        }
        let action = match &reason {
            ExitReason::Destroyed => return ExitCode::SUCCESS,
            ExitReason::Poweroff => spec.on_poweroff,
            ExitReason::Reboot => spec.on_reboot,
            ExitReason::Crash(msg) => {
                eprintln!("rxl-kvm: {}: guest crashed: {msg}", spec.name);
                spec.on_crash
            }
        };
        match action {
            Action::Restart => continue,
            Action::Preserve => {
                if let Some(s) = sup {
                    s.wait_destroy();
                }
            }
            Action::Destroy => {}
        }
        return match reason {
            ExitReason::Crash(_) => ExitCode::from(3),
            _ => ExitCode::SUCCESS,
        };
    }
}

/// Managed mode: record our pid, serve the control socket, log the console, and remove every
/// trace of the VM from the run directory when it ends.
fn managed(spec: &VmSpec, dir: &RunDir, id: u32, paused: bool) -> ExitCode {
    let code = match managed_setup(dir, id, paused) {
        Ok((sup, console, record)) => {
            let make = || console.try_clone().map(|f| Box::new(f) as ConsoleOut);
            // The pid goes in once the VM is built: the toolstack treats a recorded pid as
            // "created", and before that a failure must still be reported as a failed create.
            let ready = Box::new(|| dir.write(&record).map_err(|e| e.to_string()));
            boot_loop(spec, make, Some(&sup), Some(ready), false)
        }
        Err(e) => {
            eprintln!("rxl-kvm: {}: {e}", spec.name);
            ExitCode::from(2)
        }
    };
    dir.remove(id);
    code
}

fn managed_setup(
    dir: &RunDir,
    id: u32,
    paused: bool,
) -> Result<(Arc<Supervisor>, File, VmRecord), String> {
    server::start(dir, id, |record| Supervisor::new(record, paused))
}
