//! `lab-ctl`: the KVM lab's stand-in for `rxl --backend kvm create/shutdown/reboot` while the
//! rxl CLI is being moved onto the backend trait. It drives a managed `rxl-kvm` exactly as the
//! toolstack does — a reserved id in the run directory, a JSON spec, `rxl-kvm --spec --run-dir
//! --id`, requests on the VM's control socket — and nothing more.
//!
//! ```text
//! lab-ctl create CFG          start the domain an xl.cfg describes; prints its id
//! lab-ctl send ID REQUEST     one control request (shutdown, reboot, destroy, pause, ...)
//! lab-ctl boots ID            prints "BOOTS LAST-EXIT" from the VMM's info
//! lab-ctl wait-gone ID SECS   waits until the VMM has exited and removed the domain
//! ```
//!
//! Environment: `RXL_KVM_RUN_DIR` (default /run/rxl/kvm), `RXL_KVM_BIN` (default: `rxl-kvm`
//! next to this program).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rxl_kvm::control::client;
use rxl_kvm::rundir::RunDir;

fn vmm_bin() -> PathBuf {
    std::env::var_os("RXL_KVM_BIN").map_or_else(
        || {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("rxl-kvm")))
                .unwrap_or_else(|| "rxl-kvm".into())
        },
        PathBuf::from,
    )
}

fn create(run: &RunDir, cfg: &Path) -> Result<u32, String> {
    let loaded = rxl_config::load(cfg).map_err(|e| e.to_string())?;
    let mapped = rxl_kvm::from_config::vm_spec(&loaded.config)
        .map_err(|e| format!("{}: {e}", cfg.display()))?;
    let spec = mapped.spec;
    let rec = run
        .reserve(&spec.name, spec.memory_mib, spec.vcpus)
        .map_err(|e| e.to_string())?;
    let started = (|| {
        let spec_path = run.spec_path(rec.id);
        let text = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        std::fs::write(&spec_path, text).map_err(|e| format!("{}: {e}", spec_path.display()))?;
        let mut child = Command::new(vmm_bin())
            .arg("--spec")
            .arg(&spec_path)
            .arg("--run-dir")
            .arg(run.root())
            .arg("--id")
            .arg(rec.id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start rxl-kvm: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Err(format!("rxl-kvm exited during start ({st})"));
            }
            let up = run
                .records()
                .map_err(|e| e.to_string())?
                .iter()
                .any(|r| r.id == rec.id && r.pid != 0);
            if up {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("rxl-kvm did not come up within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })();
    match started {
        Ok(()) => Ok(rec.id),
        Err(e) => {
            run.remove(rec.id);
            Err(e)
        }
    }
}

fn wait_gone(run: &RunDir, id: u32, secs: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while run
        .records()
        .map_err(|e| e.to_string())?
        .iter()
        .any(|r| r.id == id)
    {
        if Instant::now() > deadline {
            return Err(format!("domain {id} still exists after {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let dir = RunDir::from_env();
    let id = |s: &String| {
        s.parse::<u32>()
            .map_err(|_| format!("'{s}' is not a domain id"))
    };
    match args {
        [verb, cfg] if verb == "create" => {
            println!("{}", create(&dir, Path::new(cfg))?);
            Ok(())
        }
        [verb, dom, req] if verb == "send" => client::request(&dir.socket_path(id(dom)?), req)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        [verb, dom] if verb == "boots" => {
            let info = client::info(&dir.socket_path(id(dom)?)).map_err(|e| e.to_string())?;
            let last = info.last_exit.map_or("none".to_string(), |r| {
                serde_json::to_value(r).map_or("?".into(), |v| v["reason"].to_string())
            });
            println!("{} {}", info.boots, last.trim_matches('"'));
            Ok(())
        }
        [verb, dom, secs] if verb == "wait-gone" => wait_gone(
            &dir,
            id(dom)?,
            secs.parse()
                .map_err(|_| format!("'{secs}' is not a number of seconds"))?,
        ),
        _ => {
            Err("usage: lab-ctl create CFG | send ID REQUEST | boots ID | wait-gone ID SECS".into())
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab-ctl: {e}");
            ExitCode::FAILURE
        }
    }
}
