//! `rxl create`: create a domain from an xl.cfg file.
//!
//! The dry run (`-n`/`--dry-run`, like `xl -N create`) parses and checks the file, applies the
//! `key=value` overrides and prints libxl's domain-config JSON without touching a hypervisor.
//! Creating for real runs on the chosen backend (Xen or KVM) through one code path,
//! [`create`]: the backend builds the guest and whatever carries out its `on_*` actions (Xen's
//! monitor; KVM's VMM does it itself), then `-c` attaches to its console.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rxl_hypervisor::timing::Laps;
use rxl_hypervisor::{Backend, ConfigSource, CreateOptions};

use super::CmdResult;
use super::backend::BackendChoice;
use super::config::{check_overrides, print_diagnostics};

/// `rxl create [-n] FILE [key=value ...]`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Parse and check only: print the libxl_domain_config JSON (as `xl -N create` does) and
    /// create nothing.
    #[arg(short = 'n', long = "dry-run")]
    pub dry_run: bool,
    /// Leave the domain paused after building it.
    #[arg(short = 'p')]
    pub paused: bool,
    /// Attach to the guest's console once it is created (Ctrl-] detaches).
    #[arg(short = 'c')]
    pub console: bool,
    /// The xl.cfg domain file.
    pub file: PathBuf,
    /// `key=value` overrides, read as extra lines after the file (last assignment wins).
    pub overrides: Vec<String>,
}

/// Runs `rxl create`: the file is checked before any hypervisor is opened. `laps` started
/// in `main`; `-v` logs each phase's time and page faults.
pub fn run(args: CreateArgs, forced: Option<BackendChoice>, mut laps: Laps) -> CmdResult {
    laps.log_start();
    laps.lap("arguments parsed, logging set up");
    check_overrides(&args.overrides)?;
    let Some(loaded) = load(&args)? else {
        return Ok(ExitCode::FAILURE);
    };
    if args.dry_run {
        return dry_run(&loaded);
    }
    laps.lap("domain file read");
    let backend = super::backend::open(forced)?;
    laps.lap("backend opened");
    let code = create(&args, &loaded, &*backend)?;
    laps.lap("create done");
    Ok(code)
}

/// Loads and checks the file with its overrides; diagnostics go to stderr. `None` on errors.
fn load(
    args: &CreateArgs,
) -> Result<Option<rxl_config::Loaded>, Box<dyn std::error::Error + Send + Sync>> {
    match rxl_config::load_with_overrides(&args.file, &args.overrides) {
        Ok(l) => {
            print_diagnostics(&l.warnings);
            Ok(Some(l))
        }
        Err(e) => {
            print_diagnostics(&e.diagnostics);
            eprintln!(
                "{}: {} error(s); nothing was created",
                args.file.display(),
                e.errors().count()
            );
            Ok(None)
        }
    }
}

/// Prints the domain-config JSON, as `xl -N create` does.
fn dry_run(loaded: &rxl_config::Loaded) -> CmdResult {
    println!(
        "{}",
        serde_json::to_string_pretty(&loaded.config.to_libxl_json())?
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates the domain on `backend`, then attaches to its console with `-c`.
pub fn create(args: &CreateArgs, loaded: &rxl_config::Loaded, backend: &dyn Backend) -> CmdResult {
    eprintln!("Parsing config from {}", args.file.display());
    let opts = CreateOptions {
        paused: args.paused,
        source: Some(ConfigSource {
            file: args.file.clone(),
            overrides: args.overrides.clone(),
        }),
    };
    let created = backend.create(&loaded.config, &opts).map_err(|e| {
        format!(
            "cannot create domain from {}: {}; nothing was left behind",
            args.file.display(),
            super::error_chain(&e)
        )
    })?;
    for w in &created.warnings {
        eprintln!("rxl: warning: {w}");
    }
    if args.console {
        return super::console::attach(backend.console(created.id)?);
    }
    Ok(ExitCode::SUCCESS)
}
