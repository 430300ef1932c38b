//! Waking the datapath thread from other threads, through an eventfd it polls.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// An eventfd plus a flag, so that many wake-ups between two polls cost one write.
pub struct Waker {
    fd: OwnedFd,
    armed: AtomicBool,
}

impl Waker {
    /// A new waker.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain eventfd(2) call.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
            armed: AtomicBool::new(false),
        })
    }

    /// Wakes the poller (cheap when it has not consumed the previous wake-up yet).
    pub fn wake(&self) {
        if !self.armed.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64.
            unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Called by the poller before it looks for work.
    pub fn reset(&self) {
        if self.armed.swap(false, Ordering::AcqRel) {
            let mut v: u64 = 0;
            // SAFETY: reads 8 bytes into a live u64; non-blocking.
            unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        }
    }
}

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout_ns` passes (`None`: forever).
pub fn poll_readable(fds: &[RawFd], timeout_ns: Option<u64>) -> io::Result<()> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = timeout_ns.map(|ns| libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `pfds` and `tsp` are valid for the call; no signal mask change.
    let rc = unsafe {
        libc::ppoll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            tsp,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// Asks the kernel for fine timer resolution on the calling thread (queue pacing and link delay
/// depend on waking up on time).
pub fn fine_timer_slack() {
    // SAFETY: prctl with an integer argument only affects this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_makes_poll_return() {
        let w = Waker::new().unwrap();
        w.wake();
        w.wake();
        let t = std::time::Instant::now();
        poll_readable(&[w.as_raw_fd()], Some(5_000_000_000)).unwrap();
        assert!(t.elapsed().as_secs() < 5);
        w.reset();
        // Nothing pending any more: a zero timeout returns at once without readiness.
        poll_readable(&[w.as_raw_fd()], Some(0)).unwrap();
    }
}
