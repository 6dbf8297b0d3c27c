//! `rxl grub ...`: installing Xen as the GRUB default.

use clap::Subcommand;

use super::CmdResult;

/// `rxl grub` verbs.
#[derive(Debug, Subcommand)]
pub enum GrubCmd {
    /// Show the Xen boot set-up as grub-mkconfig will see it.
    Status,
}

/// Runs an `rxl grub` verb.
pub fn run(cmd: GrubCmd) -> CmdResult {
    match cmd {
        GrubCmd::Status => Err("rxl grub status is not built yet".into()),
    }
}
