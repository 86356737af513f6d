//! The `vmcp` binary: parses the command line and hands over to [`vmcp::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    vmcp::cli::main()
}
