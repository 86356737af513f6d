//! The `vmcp` binary: parses the command line and hands over to [`vmcp::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    vmcp::cli::main()
}

/// glibc serves allocations above a threshold with their own mmap, returned to
/// the system when freed, but after each such free it raises the threshold (up
/// to 32 MiB), so the next big message (a 10 MiB tool result) comes from the
/// heap and stays in the process after it is freed: a few large results in a
/// row leave the gateway holding several times their size. A fixed threshold
/// keeps big buffers out of the heap for good. (Measured in BENCHMARKS.md;
/// mimalloc was tried too, and cost 15 MiB of idle memory.)
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any
    // thread exists, as glibc expects of allocator tuning.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
