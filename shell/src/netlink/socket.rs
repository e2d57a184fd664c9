//! The `NETLINK_ROUTE` socket: open, bind, options, memberships, and one checked receive.
//!
//! Every datagram goes through [`RouteSocket::recv_datagram`], which accepts only what the
//! kernel sent (sender `nl_pid == 0`), refuses a truncated datagram, and counts what it
//! drops. The request/response logic on top of it is in `exchange.rs`.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use log::{debug, warn};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::sockopt::{set_socket_recv_buffer_size, set_socket_recv_buffer_size_force};
use rustix::net::{
    bind, connect, getsockname, recvmsg, sendto, socket_with, AddressFamily, RecvAncillaryBuffer,
    RecvFlags, ReturnFlags, SendFlags, SocketFlags, SocketType,
};

use crate::sys::set_int_sockopt;

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
        let mut flags = SocketFlags::CLOEXEC;
        if opts.nonblocking {
            flags |= SocketFlags::NONBLOCK;
        }
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            flags,
            None, // NETLINK_ROUTE is protocol 0
        )?;
        if opts.rcvbuf > 0 {
            let size = opts.rcvbuf.min(i32::MAX as usize);
            if set_socket_recv_buffer_size_force(&fd, size).is_err() {
                if let Err(e) = set_socket_recv_buffer_size(&fd, size) {
                    warn!("netlink: SO_RCVBUF {size}: {e}");
                }
            }
        }
        if let Err(e) = set_int_sockopt(&fd, libc::SOL_NETLINK, libc::NETLINK_EXT_ACK, 1) {
            debug!("netlink: NETLINK_EXT_ACK unsupported: {e}");
        }
        if opts.strict {
            if let Err(e) = set_int_sockopt(&fd, libc::SOL_NETLINK, libc::NETLINK_GET_STRICT_CHK, 1)
            {
                debug!("netlink: NETLINK_GET_STRICT_CHK unsupported: {e}");
            }
        }
        bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        let addr = SocketAddrNetlink::try_from(getsockname(&fd)?)?;
        debug!("netlink: bound port id {}", addr.pid());
        Ok(Self {
            fd,
            port: addr.pid(),
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
        set_int_sockopt(&self.fd, libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, g)
    }

    /// Connects the socket to the kernel (`connect(2)` to port 0): the kernel then refuses
    /// (`ECONNREFUSED`) every unicast datagram another process sends to our port id, so
    /// none is ever queued, fills the receive buffer, or costs a read. Multicast events
    /// still arrive (the kernel checks no peer for them), and so can a forged multicast
    /// from a privileged process: every receive still checks the sender and drops those.
    /// Requests are sent to the kernel as before. Errors: `connect(2)` failure.
    pub fn accept_only_kernel(&self) -> io::Result<()> {
        connect(&self.fd, &SocketAddrNetlink::new(0, 0))?;
        Ok(())
    }

    /// Switches `O_NONBLOCK` on or off: when on, receives that would wait fail with
    /// `io::ErrorKind::WouldBlock`. Errors: `fcntl(2)` failure.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let mut flags = fcntl_getfl(&self.fd)?;
        flags.set(OFlags::NONBLOCK, on);
        fcntl_setfl(&self.fd, flags)?;
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
        let addr = SocketAddrNetlink::new(port, 0);
        loop {
            match sendto(&self.fd, bytes, SendFlags::empty(), &addr) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(n) if n != bytes.len() => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "short netlink send",
                    ))
                }
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Receives one datagram sent by the kernel into `self.buf`, growing the buffer first
    /// when the waiting datagram is bigger (sized with `MSG_PEEK | MSG_TRUNC`), so nothing
    /// is ever truncated. Datagrams from any other sender are dropped, counted in
    /// [`DropCounters::foreign`] and logged; the call then waits for the next one.
    ///
    /// Errors: `recvmsg(2)` failures (`WouldBlock` on a nonblocking socket with nothing
    /// queued, `ENOBUFS` when the kernel dropped events for want of buffer space);
    /// `InvalidData` if the kernel still reports `MSG_TRUNC`. Cost: two system calls per
    /// datagram read.
    pub(crate) fn recv_datagram(&mut self) -> io::Result<Datagram> {
        loop {
            if let Some(d) = self.recv_one()? {
                return Ok(d);
            }
        }
    }

    /// Receives one datagram, as [`RouteSocket::recv_datagram`] does, but returns `None`
    /// after dropping one from another sender instead of reading on: a caller bounding
    /// its work per turn counts forged datagrams too. Errors: as `recv_datagram`.
    pub(crate) fn recv_one(&mut self) -> io::Result<Option<Datagram>> {
        let (size, _, _) = self.recvmsg(RecvFlags::PEEK | RecvFlags::TRUNC, 0)?;
        if size > self.buf.len() {
            debug!("netlink: growing receive buffer to {size} bytes");
            self.buf.resize(size.next_power_of_two(), 0);
        }
        let cap = self.buf.len();
        let (len, addr, flags) = self.recvmsg(RecvFlags::empty(), cap)?;
        if addr.pid() != 0 {
            self.drops.foreign += 1;
            // Logged at 1, 2, 4, 8...: a flood must not turn into a flood of log lines.
            if self.drops.foreign.is_power_of_two() {
                warn!(
                    "netlink: dropped a datagram from port {} (not the kernel); {} dropped so far",
                    addr.pid(),
                    self.drops.foreign
                );
            }
            return Ok(None);
        }
        if flags.contains(ReturnFlags::TRUNC) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("netlink datagram truncated ({len} bytes)"),
            ));
        }
        Ok(Some(Datagram {
            len,
            groups: addr.groups(),
        }))
    }

    /// One `recvmsg(2)` into the first `cap` bytes of the buffer. Returns the datagram's
    /// length (the full length when `TRUNC` is in `flags`), the sender, the msg flags.
    /// A sender that is not a netlink address reads as port `u32::MAX` (never the kernel).
    fn recvmsg(
        &mut self,
        flags: RecvFlags,
        cap: usize,
    ) -> io::Result<(usize, SocketAddrNetlink, ReturnFlags)> {
        let cap = cap.min(self.buf.len());
        loop {
            let mut iov = [IoSliceMut::new(&mut self.buf[..cap])];
            match recvmsg(
                &self.fd,
                &mut iov,
                &mut RecvAncillaryBuffer::default(),
                flags,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(m) => {
                    let from = m
                        .address
                        .and_then(|a| SocketAddrNetlink::try_from(a).ok())
                        .unwrap_or(SocketAddrNetlink::new(u32::MAX, 0));
                    return Ok((m.bytes, from, m.flags));
                }
            }
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

/// A starting sequence number that differs between runs (like iproute2's `time(NULL)`),
/// so a reply meant for an earlier process on a reused port id does not match.
fn initial_seq() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32 ^ d.subsec_nanos())
        .unwrap_or(1);
    t.max(1)
}
