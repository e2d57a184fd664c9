//! [`Ports`]: what the forwarding loop needs from a way of receiving and sending frames.
//! Two implementations: AF_XDP ([`crate::xdp::XdpPorts`]) and AF_PACKET
//! ([`crate::packet::PacketPorts`]); the loop and the lookup path are the same for both.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::counters::Tally;
use crate::pipeline::{Frames, Verdict};

/// A set of interfaces (numbered as the pipeline's ports) that receive batches of frames
/// and send frames out.
pub trait Ports {
    /// Takes up to `max` received frames of port `port` as the current batch (replacing
    /// the previous one, which must have been [`send`](Self::send)); returns how many.
    /// Never blocks.
    fn recv(&mut self, port: usize, max: usize) -> io::Result<usize>;

    /// The current batch's frames, to read and rewrite in place.
    fn frames(&mut self) -> impl Frames + '_;

    /// Sends the frames of the current batch whose verdict is [`Verdict::Send`] and gives
    /// every buffer back; counts what was sent (`Tx`) and what found no room (`TxFull`).
    fn send(&mut self, verdicts: &[Verdict], tally: &mut Tally) -> io::Result<()>;

    /// Blocks until a port may have frames, a signal arrives, or `timeout_ms` passes.
    fn wait(&mut self, timeout_ms: i32) -> io::Result<()>;

    /// Frames the kernel dropped on all ports before they reached the forwarder, since
    /// the ports were opened (one system call per port).
    fn kernel_drops(&mut self) -> u64;

    /// One line saying how the ports are set up (for the start-up log).
    fn describe(&self) -> String;
}

/// `poll(2)` for input on `fds`; an interruption by a signal is not an error.
pub fn poll_in(fds: &[i32], timeout_ms: i32) -> io::Result<()> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfd structures for the whole call.
    let rc = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(())
}

/// `rc` as a result: the OS error, prefixed with `what`, when it is negative.
pub(crate) fn cvt(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(rc)
    }
}

/// `setsockopt(2)` of option `name` at `level` to `v`; errors prefixed with `what`.
pub(crate) fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    v: &T,
    what: &str,
) -> io::Result<()> {
    // SAFETY: `v` is a valid `T` for the whole call and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (v as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    cvt(rc, what).map(|_| ())
}
