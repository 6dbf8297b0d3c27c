//! `rxenstore`: xenstore command-line tools (read, write, ls, list, rm, mkdir, chmod,
//! exists, watch), compatible with Debian's xenstore-utils.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(rxl_xenstore::cli::run(std::env::args().collect()))
}
