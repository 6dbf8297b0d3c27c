//! `rxl config ...`: checking and showing xl.cfg domain files.

use clap::Subcommand;

use super::CmdResult;

/// `rxl config` verbs.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Check domain files; exit 1 on any error, warnings on stderr.
    Check {
        /// The xl.cfg files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

/// Runs an `rxl config` verb.
pub fn run(cmd: ConfigCmd) -> CmdResult {
    match cmd {
        ConfigCmd::Check { files } => Err(format!(
            "config check of {} file(s): the parser is not built yet",
            files.len()
        )
        .into()),
    }
}
