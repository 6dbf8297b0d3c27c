//! `rxl create`: create a domain from an xl.cfg file.
//!
//! The dry run (`-n`/`--dry-run`, like `xl -N create`) parses and checks the file, applies the
//! `key=value` overrides and prints libxl's domain-config JSON without touching a hypervisor.
//! Creating for real needs a backend (Xen or KVM); that path is [`create`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CmdResult;
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

/// Runs `rxl create`.
pub fn run(args: CreateArgs) -> CmdResult {
    check_overrides(&args.overrides)?;
    let Some(loaded) = load(&args)? else {
        return Ok(ExitCode::FAILURE);
    };
    if args.dry_run {
        return dry_run(&loaded);
    }
    create(&args, &loaded)
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

/// Creates the domain on a backend.
fn create(args: &CreateArgs, loaded: &rxl_config::Loaded) -> CmdResult {
    super::domain::create(args, loaded)
}
