//! `rxl`: the xl-compatible command line.
//!
//! The binary is thin: it parses arguments with clap and hands each verb to the library crates.
//! Verbs are grouped by the area that owns them (one module under `cmd/` each) and flattened into
//! one xl-style verb list, so `rxl list` and `rxl config check` sit side by side as in xl.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cmd;
mod host_check;

/// rxl — an xl-compatible toolstack for Xen, with a KVM fallback.
#[derive(Debug, Parser)]
#[command(name = "rxl", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// The hypervisor to drive (default: Xen in dom0, else KVM when /dev/kvm is usable).
    #[arg(long, global = true, env = "RXL_BACKEND", value_name = "xen|kvm")]
    backend: Option<cmd::backend::BackendChoice>,
    #[command(subcommand)]
    command: Verb,
}

/// Every rxl verb.
#[derive(Debug, Subcommand)]
enum Verb {
    /// Check and show xl.cfg domain files.
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// Create a domain from an xl.cfg file (`--dry-run` prints libxl's JSON, like `xl -N create`).
    Create(cmd::create::CreateArgs),
    /// Install Xen as the boot default with dom0 memory limits.
    Grub(cmd::grub::GrubArgs),
    /// Show what this host can run (Xen, KVM), each missing piece with its fix.
    HostCheck(cmd::host_check::HostCheck),
    /// The verbs every backend has (info, list, pause, shutdown, console, ...), top-level as
    /// in xl.
    #[command(flatten)]
    Domain(cmd::domain::DomainCmd),
    /// Xen-only verbs (mem-set, vcpu-pin, dmesg, ...), top-level as in xl.
    #[command(flatten)]
    Xen(cmd::xen::XenCmd),
    /// Watch a Xen domain and carry out on_poweroff/on_reboot/on_crash (started by the Xen
    /// backend's `create`).
    #[command(hide = true)]
    Monitor(cmd::monitor::MonitorArgs),
    /// Write man pages and shell completions into a directory (used by the set-up command).
    #[command(name = "gen-docs", hide = true)]
    GenDocs(cmd::docs::GenDocs),
}

fn main() -> ExitCode {
    // Phase timings of `rxl -v create` start here (see rxl_hypervisor::timing).
    let laps = rxl_hypervisor::timing::Laps::new();
    let cli = Cli::parse();
    if !matches!(cli.command, Verb::Monitor(_)) {
        // The monitor keeps Rust's SIGPIPE-ignored start-up: a console client hanging up must
        // not kill it.
        restore_sigpipe();
    }
    init_logging(cli.verbose);
    let result = match cli.command {
        Verb::Config(c) => cmd::config::run(c),
        Verb::Create(c) => cmd::create::run(c, cli.backend, laps),
        Verb::Grub(c) => cmd::grub::run(c),
        Verb::HostCheck(c) => cmd::host_check::run(c, cli.backend),
        Verb::Domain(c) => cmd::backend::open(cli.backend)
            .map_err(Into::into)
            .and_then(|b| cmd::domain::run(c, &*b, cli.verbose, &mut std::io::stdout())),
        Verb::Xen(c) => cmd::backend::open(cli.backend)
            .map_err(Into::into)
            .and_then(|b| cmd::xen::run(c, &*b)),
        Verb::Monitor(c) => cmd::monitor::run(c),
        Verb::GenDocs(c) => cmd::docs::run(c, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rxl: {}", cmd::error_chain(&*e));
            ExitCode::FAILURE
        }
    }
}

/// Dies quietly on a closed pipe (`rxl list | head -1`), as xl and every C tool do, instead of
/// Rust's default of ignoring SIGPIPE and reporting "Broken pipe" as an error.
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_DFL installs no Rust handler, and no other thread exists yet (called first
    // thing in main).
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time();
    // RUST_LOG's directives need an EnvFilter; without them a plain level does the same job
    // without parsing directives at every start (start-up time counts: see docs/performance.md).
    match std::env::var_os("RUST_LOG") {
        Some(_) => fmt
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.to_string())),
            )
            .init(),
        None => fmt.with_max_level(level).init(),
    }
}
