//! The hidden `rxl monitor` verb: the body of the process the Xen backend starts for each
//! domain it creates (see `rxl_xen::build::monitor`). It is not a user verb; it exists so the
//! monitor runs as this same binary, outliving the `rxl create` that started it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rxl_hypervisor::ConfigSource;

use super::CmdResult;

/// `rxl monitor --domid N FILE [-- key=value ...]`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The domain to watch.
    #[arg(long)]
    domid: u32,
    /// The domain file it was created from (restarts rebuild from it).
    file: PathBuf,
    /// The `key=value` overrides given to `rxl create`.
    overrides: Vec<String>,
}

/// Watches the domain until its monitor's job ends.
pub fn run(a: MonitorArgs) -> CmdResult {
    let source = ConfigSource {
        file: a.file,
        overrides: a.overrides,
    };
    rxl_xen::build::monitor::serve(a.domid, &source)?;
    Ok(ExitCode::SUCCESS)
}
