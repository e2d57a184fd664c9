//! The system calls `rustix` does not wrap, behind safe, typed functions: integer socket
//! options (netlink's and `IP_UNICAST_IF`), signal handlers, interface names, `strerror`,
//! and the CPU's prefetch hint. Every `unsafe` block of the crate outside the C FFI and
//! the region mapping (`workspace`, `region`) is here, each with its proof.
//!
//! Errors are `io::Error` with the errno, as `rustix`'s are.

use std::ffi::{c_int, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// `setsockopt(fd, level, name, &value, sizeof(int))`: sets an integer socket option.
/// Errors: the call's errno (`ENOPROTOOPT` for an option the kernel lacks, `EINVAL`,
/// `EPERM`...).
pub fn set_int_sockopt(fd: impl AsFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor (borrowed for the call); `value` is a valid int
    // for the duration of the call and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Installs `handler` for `signal` with `sigaction(2)`, without `SA_RESTART` (a blocking
/// call then returns `EINTR` at once). `handler` runs in signal context: it must be
/// async-signal-safe (e.g. one atomic store). Errors: `sigaction`'s errno (`EINVAL` for
/// `SIGKILL`...).
pub fn set_signal_handler(signal: c_int, handler: extern "C" fn(c_int)) -> io::Result<()> {
    // SAFETY: an all-zero sigaction is a valid value (no flags, empty handler), which
    // the next lines fill in.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler as usize;
    // SAFETY: `sa.sa_mask` is a valid sigset_t to initialize.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: `sa` is a fully initialized sigaction whose handler is a valid
    // `extern "C" fn(c_int)` (the caller's contract makes it signal-safe); the old action
    // is not asked for (NULL).
    if unsafe { libc::sigaction(signal, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Restores `signal`'s default disposition (e.g. `SIGPIPE`, so that a CLI writing to a
/// closed pipe dies quietly, as C tools do). Errors: `sigaction`'s errno.
pub fn set_signal_default(signal: c_int) -> io::Result<()> {
    // SAFETY: SIG_DFL is a valid disposition for any catchable signal; nothing else is
    // passed.
    if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The index of the interface called `name` in this thread's network namespace
/// (`if_nametoindex(3)`), or `None` when there is none (or the name has a NUL byte).
pub fn interface_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The C library's text for `errno` ("No such file or directory"), without Rust's
/// " (os error N)" suffix, as iproute2 prints it; "Unknown error N" when it has none.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length; libc's strerror_r (XSI) writes a
    // NUL-terminated string of at most that many bytes.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Asks the CPU to bring the cache line at `addr` into its caches. A hint: it never
/// faults and reads nothing into the program. A no-op on targets other than x86-64.
#[inline]
pub fn prefetch(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 accepts any address (it never faults, and an invalid address is
    // simply not fetched); SSE, which it belongs to, is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_report_errors() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert!(interface_index("lo").is_some());
        assert_eq!(interface_index("no-such-if0"), None);
        assert_eq!(interface_index("a\0b"), None);
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        set_int_sockopt(&udp, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).expect("rcvbuf");
        let e = set_int_sockopt(&udp, libc::SOL_SOCKET, -1, 1).expect_err("bad option");
        assert!(e.raw_os_error().is_some());
        extern "C" fn ignore(_: c_int) {}
        assert!(set_signal_handler(libc::SIGKILL, ignore).is_err());
        prefetch(std::ptr::null());
    }
}
