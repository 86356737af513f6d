//! The `vmcp` binary: parses the command line and hands over to [`vmcp::cli`].

use std::process::ExitCode;

/// mimalloc rather than the system allocator: every forwarded request allocates
/// and frees small buffers on two threads, where glibc's malloc spent about a
/// fifth of the gateway's CPU (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    vmcp::cli::main()
}
