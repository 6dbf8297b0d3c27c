//! `rxl config ...`: checking and showing xl.cfg domain files.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::CmdResult;

/// `rxl config` verbs.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Check domain files; exit 1 on any error, warnings on stderr.
    Check {
        /// The xl.cfg files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show a domain file as rxl understands it: normalized xl.cfg text, or libxl JSON.
    Show {
        /// The xl.cfg file.
        file: PathBuf,
        /// Print libxl's libxl_domain_config JSON (the shape `xl -N create` prints).
        #[arg(long)]
        json: bool,
        /// `key=value` overrides, applied after the file as xl does.
        overrides: Vec<String>,
    },
}

/// Runs an `rxl config` verb.
pub fn run(cmd: ConfigCmd) -> CmdResult {
    match cmd {
        ConfigCmd::Check { files } => Ok(check(&files)),
        ConfigCmd::Show {
            file,
            json,
            overrides,
        } => show(&file, json, &overrides),
    }
}

/// Prints diagnostics to stderr, one block each.
pub fn print_diagnostics<'a>(diags: impl IntoIterator<Item = &'a rxl_config::Diagnostic>) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}");
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = 0usize;
    for f in files {
        match rxl_config::load(f) {
            Ok(l) => {
                print_diagnostics(&l.warnings);
                let n = l.warnings.len();
                if n == 0 {
                    println!("{}: ok", f.display());
                } else {
                    println!("{}: ok ({n} warning(s))", f.display());
                }
            }
            Err(e) => {
                failed += 1;
                print_diagnostics(&e.diagnostics);
                println!("{}: {} error(s)", f.display(), e.errors().count());
            }
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Rejects trailing arguments that are not `key=value`, as xl does.
pub fn check_overrides(overrides: &[String]) -> Result<(), String> {
    match overrides.iter().find(|o| !o.contains('=')) {
        Some(bad) => Err(format!(
            "`{bad}` is not a key=value override (only one config file may be given)"
        )),
        None => Ok(()),
    }
}

fn show(file: &PathBuf, json: bool, overrides: &[String]) -> CmdResult {
    check_overrides(overrides)?;
    let loaded = match rxl_config::load_with_overrides(file, overrides) {
        Ok(l) => l,
        Err(e) => {
            print_diagnostics(&e.diagnostics);
            eprintln!("{}: {} error(s)", file.display(), e.errors().count());
            return Ok(ExitCode::FAILURE);
        }
    };
    print_diagnostics(&loaded.warnings);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&loaded.config.to_libxl_json())?
        );
    } else {
        print!("{}", loaded.config.to_xl_cfg());
    }
    Ok(ExitCode::SUCCESS)
}
