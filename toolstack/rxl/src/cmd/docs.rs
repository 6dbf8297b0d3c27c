//! Hidden `rxl gen-docs DIR`: writes man pages and shell completions for the set-up command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CmdResult;

/// Arguments of `rxl gen-docs`.
#[derive(Debug, Args)]
pub struct GenDocs {
    /// Output directory; `man1/`, `bash-completion/` and `zsh/` are created in it.
    out: PathBuf,
}

/// Writes `rxl.1` plus one page per verb, and bash and zsh completions.
pub fn run(args: GenDocs, cmd: clap::Command) -> CmdResult {
    let man = args.out.join("man1");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(cmd.clone(), &man)?;
    let bash = args.out.join("bash-completion");
    let zsh = args.out.join("zsh");
    std::fs::create_dir_all(&bash)?;
    std::fs::create_dir_all(&zsh)?;
    let mut cmd = cmd;
    clap_complete::generate_to(clap_complete::Shell::Bash, &mut cmd, "rxl", &bash)?;
    clap_complete::generate_to(clap_complete::Shell::Zsh, &mut cmd, "rxl", &zsh)?;
    Ok(ExitCode::SUCCESS)
}
