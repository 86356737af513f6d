//! The process's own stdin and stdout, read and written without a thread hop.
//!
//! `tokio::io::stdin()` and `stdout()` hand every read and write to the
//! blocking thread pool (a terminal or a file cannot be polled), which costs
//! two thread wake-ups per message: measured here, a stdio MCP server spent
//! most of its CPU in those hand-offs. When stdin or stdout is a pipe or a
//! socket, as it is under an MCP client, it is set non-blocking and driven by
//! the runtime's reactor like any socket; a terminal or a file keeps tokio's
//! blocking way. The descriptor's flags are restored when it is dropped.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Stdin: a pollable pipe, or tokio's.
pub enum Input {
    Pipe(Pipe),
    Blocking(tokio::io::Stdin),
}

/// Stdout: a pollable pipe, or tokio's.
pub enum Output {
    Pipe(Pipe),
    Blocking(tokio::io::Stdout),
}

/// The process's stdin.
pub fn stdin() -> Input {
    match Pipe::new(0) {
        Some(p) => Input::Pipe(p),
        None => Input::Blocking(tokio::io::stdin()),
    }
}

/// The process's stdout.
pub fn stdout() -> Output {
    match Pipe::new(1) {
        Some(p) => Output::Pipe(p),
        None => Output::Blocking(tokio::io::stdout()),
    }
}

/// A duplicate of a pipe or socket descriptor, non-blocking, registered with
/// the reactor.
pub struct Pipe {
    fd: AsyncFd<OwnedFd>,
    /// The status flags it had, put back on drop.
    flags: libc::c_int,
}

impl Pipe {
    /// `None` when `fd` is not a pipe or a socket, or cannot be polled.
    fn new(fd: RawFd) -> Option<Pipe> {
        // SAFETY: fstat on a descriptor number only reads its metadata; a
        // closed descriptor makes it fail, which is handled.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return None;
        }
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
            return None;
        }
        // SAFETY: `fd` is open (fstat succeeded); the duplicate is owned here
        // and closed on drop, leaving `fd` itself open.
        let dup = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned().ok()?;
        // SAFETY: fcntl on a descriptor this process owns.
        let flags = unsafe { libc::fcntl(dup.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(dup.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return None;
        }
        // SAFETY: `dup` is an open descriptor owned by the `AsyncFd` from now
        // on, and an `OwnedFd` always answers the same descriptor.
        match unsafe { AsyncFd::register(dup) } {
            Ok(fd) => Some(Pipe { fd, flags }),
            Err(_) => None,
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // SAFETY: fcntl on a descriptor this process owns (still open here).
        unsafe {
            libc::fcntl(self.fd.get_ref().as_raw_fd(), libc::F_SETFL, self.flags);
        }
    }
}

impl AsyncRead for Pipe {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let read = guard.try_io(|fd| {
                // SAFETY: reading into an initialized buffer of the given length.
                let n = unsafe { libc::read(fd.as_fd().as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len()) };
                if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
            });
            match read {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            let written = guard.try_io(|fd| {
                // SAFETY: writing from a buffer of the given length.
                let n = unsafe { libc::write(fd.as_fd().as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
            });
            match written {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Input {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Input::Pipe(p) => Pin::new(p).poll_read(cx, buf),
            Input::Blocking(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Output {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Output::Pipe(p) => Pin::new(p).poll_write(cx, data),
            Output::Blocking(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Output::Pipe(p) => Pin::new(p).poll_flush(cx),
            Output::Blocking(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Output::Pipe(p) => Pin::new(p).poll_shutdown(cx),
            Output::Blocking(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
