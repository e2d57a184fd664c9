//! The `NETLINK_ROUTE` socket: open, bind, options, memberships, and one checked receive.
//!
//! Every datagram goes through [`RouteSocket::recv_datagram`], which accepts only what the
//! kernel sent (sender `nl_pid == 0`), refuses a truncated datagram, and counts what it
//! drops. The request/response logic on top of it is in `exchange.rs`.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use log::{debug, warn};

/// Receive buffer asked of the kernel by default: big enough that a burst of neighbor
/// events (thousands of entries changing at once) does not overflow into `ENOBUFS`.
pub const DEFAULT_RCVBUF: usize = 8 << 20;

/// Initial size of the user-space datagram buffer. The kernel caps a dump datagram at
/// 32 KiB unless a message needs more; a bigger datagram grows the buffer (see
/// [`RouteSocket::recv_datagram`]), it is never truncated.
const INITIAL_DATAGRAM_BUF: usize = 64 << 10;

/// How to open a [`RouteSocket`].
#[derive(Clone, Copy, Debug)]
pub struct SocketOptions {
    /// Receive buffer size in bytes. `SO_RCVBUFFORCE` is tried first (it needs
    /// `CAP_NET_ADMIN` and may exceed `net.core.rmem_max`), then `SO_RCVBUF`.
    /// 0 leaves the kernel default.
    pub rcvbuf: usize,
    /// Open the socket with `SOCK_NONBLOCK` (for a poll loop, e.g. the mirror).
    pub nonblocking: bool,
    /// Ask for `NETLINK_GET_STRICT_CHK` (strict dump-request checking, which makes the
    /// kernel filter dumps by `NDA_IFINDEX`/`NDA_MASTER`). Failure is logged, not fatal:
    /// kernels before 4.20 lack it and the caller filters in user space anyway.
    pub strict: bool,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            rcvbuf: DEFAULT_RCVBUF,
            nonblocking: false,
            strict: true,
        }
    }
}

/// Counters of what the checks on received datagrams dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// Datagrams whose sender was not the kernel (`nl_pid != 0`): another process
    /// writing to our port id, i.e. a spoofing attempt. Their contents are never read.
    pub foreign: u64,
    /// Messages from the kernel that answer another request (sequence number or port id
    /// do not match the request in flight), e.g. late replies to an abandoned request.
    pub stale: u64,
}

/// One datagram as received: the bytes are in the socket's buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Datagram {
    /// Length of the datagram in the socket's buffer.
    pub len: usize,
    /// The multicast groups it was sent to (`nl_groups`), 0 for a unicast reply.
    pub groups: u32,
}

/// A bound `AF_NETLINK`/`NETLINK_ROUTE` socket and its receive buffer.
///
/// One socket serves one conversation at a time: `&mut self` methods send a request and
/// read until its end. The mirror may keep one socket subscribed to events and use a second
/// one for dumps (a dump's replies and multicast events would otherwise interleave).
#[derive(Debug)]
pub struct RouteSocket {
    fd: OwnedFd,
    port: u32,
    pub(crate) seq: u32,
    pub(crate) buf: Vec<u8>,
    pub(crate) drops: DropCounters,
}

impl RouteSocket {
    /// Opens and binds a `NETLINK_ROUTE` socket with the kernel choosing the port id,
    /// then sets the options of `opts` and `NETLINK_EXT_ACK` (so errors carry the kernel's
    /// explanation).
    ///
    /// Errors: `socket(2)`/`bind(2)`/`getsockname(2)` failures as `io::Error` (e.g.
    /// `EMFILE`). A refused option is logged and ignored: the socket works without it.
    /// Cost: 4-7 system calls.
    pub fn open(opts: &SocketOptions) -> io::Result<Self> {
        let mut ty = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
        if opts.nonblocking {
            ty |= libc::SOCK_NONBLOCK;
        }
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_NETLINK, ty, libc::NETLINK_ROUTE) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a freshly created, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        if opts.rcvbuf > 0 {
            let size = i32::try_from(opts.rcvbuf).unwrap_or(i32::MAX);
            if set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size).is_err() {
                if let Err(e) = set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size) {
                    warn!("netlink: SO_RCVBUF {size}: {e}");
                }
            }
        }
        if let Err(e) = set_int(&fd, libc::SOL_NETLINK, libc::NETLINK_EXT_ACK, 1) {
            debug!("netlink: NETLINK_EXT_ACK unsupported: {e}");
        }
        if opts.strict {
            if let Err(e) = set_int(&fd, libc::SOL_NETLINK, libc::NETLINK_GET_STRICT_CHK, 1) {
                debug!("netlink: NETLINK_GET_STRICT_CHK unsupported: {e}");
            }
        }

        let mut addr = sockaddr_nl(0, 0);
        // SAFETY: `addr` is a valid sockaddr_nl and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `addr` is writable for `len` bytes; the kernel writes at most that.
        let rc = unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                (&raw mut addr).cast::<libc::sockaddr>(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        debug!("netlink: bound port id {}", addr.nl_pid);
        Ok(Self {
            fd,
            port: addr.nl_pid,
            seq: initial_seq(),
            buf: vec![0; INITIAL_DATAGRAM_BUF],
            drops: DropCounters::default(),
        })
    }

    /// The port id the kernel assigned (`nl_pid` of our address): replies carry it in
    /// `nlmsg_pid`. O(1).
    pub fn port_id(&self) -> u32 {
        self.port
    }

    /// What the receive checks dropped so far. O(1).
    pub fn drops(&self) -> DropCounters {
        self.drops
    }

    /// A fresh sequence number for the next request (never 0, which events carry).
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Joins multicast group `group` (e.g. `RTNLGRP_NEIGH`): events start arriving for
    /// [`RouteSocket::recv_events`]. Errors: `setsockopt(2)` failure (`EINVAL` for an
    /// unknown group, `EPERM` for a privileged one).
    pub fn add_membership(&self, group: u32) -> io::Result<()> {
        let g = i32::try_from(group).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        set_int(&self.fd, libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, g)
    }

    /// Leaves multicast group `group`. Errors as [`RouteSocket::add_membership`].
    pub fn drop_membership(&self, group: u32) -> io::Result<()> {
        let g = i32::try_from(group).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        set_int(
            &self.fd,
            libc::SOL_NETLINK,
            libc::NETLINK_DROP_MEMBERSHIP,
            g,
        )
    }

    /// Switches `O_NONBLOCK` on or off: when on, receives that would wait fail with
    /// `io::ErrorKind::WouldBlock`. Errors: `fcntl(2)` failure.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        // SAFETY: fcntl on a descriptor we own; results checked.
        let flags = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let new = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: as above.
        if unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_SETFL, new) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends `bytes` (one or more complete netlink messages) to the kernel in one
    /// datagram. Errors: `sendto(2)` failure; a short send is reported as `WriteZero`.
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.send_to(bytes, 0)
    }

    /// Sends `bytes` to port `port` (0 is the kernel). Anything but 0 is only useful to
    /// tests that play a hostile process. Errors as [`RouteSocket::send`].
    pub fn send_to(&self, bytes: &[u8], port: u32) -> io::Result<()> {
        let addr = sockaddr_nl(port, 0);
        loop {
            // SAFETY: `bytes` is valid for its length; `addr` is a valid sockaddr_nl.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    0,
                    (&raw const addr).cast::<libc::sockaddr>(),
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n as usize != bytes.len() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "short netlink send",
                ));
            }
            return Ok(());
        }
    }

    /// Receives one datagram sent by the kernel into `self.buf`, growing the buffer first
    /// when the waiting datagram is bigger (sized with `MSG_PEEK | MSG_TRUNC`), so nothing
    /// is ever truncated. Datagrams from any other sender are dropped, counted in
    /// [`DropCounters::foreign`] and logged; the call then waits for the next one.
    ///
    /// Errors: `recvmsg(2)` failures (`WouldBlock` on a nonblocking socket with nothing
    /// queued, `ENOBUFS` when the kernel dropped events for want of buffer space);
    /// `InvalidData` if the kernel still reports `MSG_TRUNC`. Cost: two system calls.
    pub(crate) fn recv_datagram(&mut self) -> io::Result<Datagram> {
        loop {
            let (size, _, _) = self.recvmsg(libc::MSG_PEEK | libc::MSG_TRUNC, 0)?;
            if size > self.buf.len() {
                debug!("netlink: growing receive buffer to {size} bytes");
                self.buf.resize(size.next_power_of_two(), 0);
            }
            let cap = self.buf.len();
            let (len, addr, flags) = self.recvmsg(0, cap)?;
            if flags & libc::MSG_TRUNC != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("netlink datagram truncated ({len} bytes)"),
                ));
            }
            if addr.nl_pid != 0 {
                self.drops.foreign += 1;
                warn!(
                    "netlink: dropped a datagram from port {} (not the kernel); {} dropped so far",
                    addr.nl_pid, self.drops.foreign
                );
                continue;
            }
            return Ok(Datagram {
                len,
                groups: addr.nl_groups,
            });
        }
    }

    /// One `recvmsg(2)` into the first `cap` bytes of the buffer. Returns the datagram's
    /// length (the full length when `MSG_TRUNC` is in `flags`), the sender, the msg flags.
    fn recvmsg(&mut self, flags: i32, cap: usize) -> io::Result<(usize, libc::sockaddr_nl, i32)> {
        let cap = cap.min(self.buf.len());
        loop {
            let mut addr = sockaddr_nl(0, 0);
            let mut iov = libc::iovec {
                iov_base: self.buf.as_mut_ptr().cast(),
                iov_len: cap,
            };
            // SAFETY: msghdr is plain data; all-zero is a valid (empty) value.
            let mut msg: libc::msghdr = unsafe { mem::zeroed() };
            msg.msg_name = (&raw mut addr).cast();
            msg.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            // SAFETY: `msg` points at `addr` and at `cap` writable bytes of `self.buf`,
            // all of which outlive the call.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, flags) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok((n as usize, addr, msg.msg_flags));
        }
    }
}

impl AsFd for RouteSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for RouteSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn sockaddr_nl(pid: u32, groups: u32) -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain data; all-zero is valid.
    let mut a: libc::sockaddr_nl = unsafe { mem::zeroed() };
    a.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    a.nl_pid = pid;
    a.nl_groups = groups;
    a
}

fn set_int(fd: &OwnedFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a valid int for the duration of the call; its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A starting sequence number that differs between runs (like iproute2's `time(NULL)`),
/// so a reply meant for an earlier process on a reused port id does not match.
fn initial_seq() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32 ^ d.subsec_nanos())
        .unwrap_or(1);
    t.max(1)
}
