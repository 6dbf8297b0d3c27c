//! One module per area of verbs. Each exposes a clap `Subcommand` (or `Args`) type and a `run`.

pub mod backend;
pub mod config;
pub mod console;
pub mod create;
pub mod docs;
pub mod domain;
pub mod grub;
pub mod host_check;
pub mod monitor;
pub mod xen;

#[cfg(test)]
mod dispatch_tests;

/// The error type verbs return: typed errors from the library crates, boxed at this top layer.
pub type CmdResult = Result<std::process::ExitCode, Box<dyn std::error::Error + Send + Sync>>;

/// Renders an error and its sources as one line: `outer: inner: innermost`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
