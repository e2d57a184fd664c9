//! Request/response over a [`RouteSocket`]: one request, its replies checked and streamed.
//!
//! Every message is checked before the caller sees it: it must come from the kernel (done
//! per datagram by `recv_datagram`), carry the request's sequence number and our port id
//! (anything else is counted as stale and skipped), and `NLMSG_ERROR` / a failed
//! `NLMSG_DONE` become an `io::Error` carrying a [`KernelError`].

use std::io;

use log::{debug, trace};
use neigh_core::wire::consts::{
    NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_MULTI,
};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{
    self, DoneMessage, DumpFilter, ErrorMessage, Message, MessageIter, NeighMessage,
};

use super::error::KernelError;
use super::socket::RouteSocket;

/// What a finished request saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// Messages handed to the caller's closure.
    pub messages: u64,
    /// A reply carried `NLM_F_DUMP_INTR`: the table changed during the dump, so the dump
    /// may be inconsistent (neighbor dumps never set it today; link dumps may).
    pub interrupted: bool,
}

/// How a request ends, from its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// `NLM_F_DUMP`: multipart replies until `NLMSG_DONE`.
    Dump,
    /// `NLM_F_ACK`: replies (if any) until the `NLMSG_ERROR` that acks or refuses.
    Ack,
    /// Neither: one reply (or a multipart one until `NLMSG_DONE`), or an error.
    Reply,
}

impl Expect {
    fn of(request_flags: u16) -> Self {
        if request_flags & NLM_F_DUMP == NLM_F_DUMP {
            Expect::Dump
        } else if request_flags & NLM_F_ACK != 0 {
            Expect::Ack
        } else {
            Expect::Reply
        }
    }
}

/// What a control message means for the request in flight: `None` for a data message
/// (for the caller), else whether it ends the request: `NLMSG_NOOP` does not;
/// `NLMSG_ERROR` (an ack or a refusal) and `NLMSG_OVERRUN` do; `NLMSG_DONE` does unless
/// an ack is still due. A failure it carries is kept in `failure` (the first one wins).
fn control_message(
    msg: &Message<'_>,
    expect: Expect,
    failure: &mut Option<io::Error>,
) -> Option<bool> {
    let ends = match msg.kind() {
        NLMSG_NOOP => false,
        NLMSG_ERROR => {
            match ErrorMessage::parse(msg) {
                Ok(e) if e.is_ack() => {}
                Ok(e) => {
                    failure.get_or_insert_with(|| kernel_error(&e));
                }
                Err(e) => {
                    failure.get_or_insert_with(|| invalid(format!("malformed NLMSG_ERROR: {e:?}")));
                }
            }
            true
        }
        NLMSG_DONE => match DoneMessage::parse(msg) {
            Ok(d) if d.error < 0 => {
                failure.get_or_insert_with(|| {
                    KernelError::from_wire(d.error, d.ext_ack_msg).into_io()
                });
                true
            }
            // A dump acked with NLM_F_ACK still ends at the ack. An empty DONE (pre-2.6
            // style) ends the dump without a code.
            _ => expect != Expect::Ack,
        },
        NLMSG_OVERRUN => {
            failure.get_or_insert_with(|| invalid("netlink overrun"));
            true
        }
        _ => return None,
    };
    Some(ends)
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn kernel_error(e: &ErrorMessage<'_>) -> io::Error {
    KernelError::from_wire(e.error, e.ext_ack_msg).into_io()
}

impl RouteSocket {
    /// Sends `req` (one complete request built with this socket's
    /// [`RouteSocket::next_seq`]) and streams every reply message to `on_message` until
    /// the request is over: `NLMSG_DONE` for a dump (`NLM_F_DUMP`), the ACK for
    /// `NLM_F_ACK`, else the single reply. The closure sees data messages only (never
    /// `NLMSG_ERROR`/`DONE`/`NOOP`), borrowed from the socket's buffer: nothing is
    /// allocated per message. An error returned by the closure stops the exchange; the
    /// rest of the reply is then drained so the socket stays usable.
    ///
    /// Errors: the kernel's refusal (`NLMSG_ERROR`, or `NLMSG_DONE` with a negative code)
    /// as an `io::Error` carrying a [`KernelError`]; `NLMSG_OVERRUN` and malformed
    /// datagrams as `InvalidData`; socket errors; the closure's error.
    /// Cost: O(reply bytes), two `recvmsg(2)` per datagram.
    pub fn request<F>(&mut self, req: &[u8], mut on_message: F) -> io::Result<Completion>
    where
        F: FnMut(&Message<'_>) -> io::Result<()>,
    {
        let (head, _) =
            Message::new_checked(req).map_err(|e| invalid(format!("bad request: {e:?}")))?;
        let seq = head.seq();
        let expect = Expect::of(head.flags());
        trace!(
            "netlink: request type {} seq {seq} ({expect:?})",
            head.kind()
        );
        self.send(req)?;

        let mut done = Completion::default();
        let mut failure: Option<io::Error> = None;
        loop {
            let dgram = self.recv_datagram()?;
            let port = self.port_id();
            let mut finished = false;
            let mut stale = 0;
            for item in MessageIter::new(&self.buf[..dgram.len]) {
                let msg = match item {
                    Ok(m) => m,
                    Err(e) => {
                        failure.get_or_insert_with(|| {
                            invalid(format!("malformed netlink datagram: {e:?}"))
                        });
                        finished = true;
                        break;
                    }
                };
                if msg.seq() != seq || msg.port() != port {
                    stale += 1;
                    continue;
                }
                if msg.flags() & NLM_F_DUMP_INTR != 0 {
                    done.interrupted = true;
                }
                if let Some(ends) = control_message(&msg, expect, &mut failure) {
                    finished = ends;
                } else {
                    if failure.is_none() {
                        done.messages += 1;
                        if let Err(e) = on_message(&msg) {
                            failure = Some(e);
                        }
                    }
                    finished = expect == Expect::Reply && msg.flags() & NLM_F_MULTI == 0;
                }
                if finished {
                    break;
                }
            }
            if stale > 0 {
                self.drops.stale += stale;
                debug!("netlink: skipped {stale} message(s) answering another request");
            }
            if finished {
                break;
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Dumps the neighbor table of `family` (`AF_UNSPEC`: IPv4 and IPv6) limited by
    /// `filter` (applied by the kernel under strict checking; a caller on an older kernel
    /// filters again) and hands every neighbor to `on_neigh`, parsed and borrowed from the
    /// receive buffer. A malformed message is skipped with a warning.
    ///
    /// Errors: as [`RouteSocket::request`]. Cost: one dump; no allocation per entry.
    pub fn dump_neighbors<F>(
        &mut self,
        family: u8,
        filter: DumpFilter,
        mut on_neigh: F,
    ) -> io::Result<Completion>
    where
        F: FnMut(&NeighMessage<'_>) -> io::Result<()>,
    {
        let mut req = [0u8; REQUEST_BUF_LEN];
        let seq = self.next_seq();
        let n = wire::neigh_dump(&mut req, seq, family, filter).map_err(io::Error::other)?;
        self.request(&req[..n], |msg| match NeighMessage::parse(msg) {
            Ok(m) => on_neigh(&m),
            Err(e) => {
                log::warn!("netlink: skipping a malformed neighbor message: {e}");
                Ok(())
            }
        })
    }

    /// Sends `batch`, `count` requests with consecutive sequence numbers starting at
    /// `first_seq`, each with `NLM_F_ACK`, in as few datagrams as `send` allows, then reads
    /// the `count` answers. A refusal is passed to `on_error` with its sequence number
    /// (the caller decides whether, e.g., `ENOENT` matters); data replies are ignored.
    ///
    /// Errors: socket errors, malformed datagrams. Kernel refusals are not errors here.
    /// Cost: O(count) messages, one `sendto(2)` per `max_datagram` bytes.
    pub fn request_batch<F>(
        &mut self,
        batch: &[u8],
        first_seq: u32,
        count: u32,
        mut on_error: F,
    ) -> io::Result<()>
    where
        F: FnMut(u32, KernelError),
    {
        // Split on message boundaries into datagrams of at most 32 KiB.
        const MAX_DATAGRAM: usize = 32 << 10;
        let mut start = 0;
        let mut pos = 0;
        while pos < batch.len() {
            let (_, tail) = Message::new_checked(&batch[pos..])
                .map_err(|e| invalid(format!("bad request: {e:?}")))?;
            let next = batch.len() - tail.len();
            if next - start > MAX_DATAGRAM && pos > start {
                self.send(&batch[start..pos])?;
                start = pos;
            }
            pos = next;
        }
        if pos > start {
            self.send(&batch[start..pos])?;
        }

        let last = first_seq.wrapping_add(count.wrapping_sub(1));
        let in_batch = |seq: u32| seq.wrapping_sub(first_seq) <= last.wrapping_sub(first_seq);
        let mut answered = 0u32;
        while answered < count {
            let dgram = self.recv_datagram()?;
            let port = self.port_id();
            let mut stale = 0;
            for item in MessageIter::new(&self.buf[..dgram.len]) {
                let msg =
                    item.map_err(|e| invalid(format!("malformed netlink datagram: {e:?}")))?;
                if msg.port() != port || !in_batch(msg.seq()) {
                    stale += 1;
                    continue;
                }
                if msg.kind() == NLMSG_ERROR {
                    answered += 1;
                    let e = ErrorMessage::parse(&msg)
                        .map_err(|e| invalid(format!("malformed NLMSG_ERROR: {e:?}")))?;
                    if !e.is_ack() {
                        on_error(msg.seq(), KernelError::from_wire(e.error, e.ext_ack_msg));
                    }
                }
            }
            self.drops.stale += stale;
        }
        Ok(())
    }

    /// Receives one datagram of multicast events (after [`RouteSocket::add_membership`])
    /// and hands each message to `on_message`, borrowed from the socket's buffer. Unicast
    /// messages (late replies) are counted as stale and skipped.
    ///
    /// A datagram from another process is dropped (see [`super::DropCounters::foreign`])
    /// and ends the call like any other: the caller's budget of datagrams per turn counts
    /// it, so a flood of them cannot keep the caller reading.
    ///
    /// Returns the number of messages delivered (0 is possible). Errors: `WouldBlock` on a
    /// nonblocking socket with nothing queued; `ENOBUFS` (`io::Error::raw_os_error`) when
    /// the kernel dropped events because the receive buffer was full: the subscriber must
    /// re-dump; malformed datagrams as `InvalidData`. Cost: one datagram, O(bytes).
    pub fn recv_events<F>(&mut self, mut on_message: F) -> io::Result<usize>
    where
        F: FnMut(&Message<'_>),
    {
        let Some(dgram) = self.recv_one()? else {
            return Ok(0);
        };
        if dgram.groups == 0 {
            self.drops.stale += 1;
            debug!("netlink: skipped a unicast datagram while waiting for events");
            return Ok(0);
        }
        let mut n = 0;
        for item in MessageIter::new(&self.buf[..dgram.len]) {
            let msg = item.map_err(|e| invalid(format!("malformed netlink datagram: {e:?}")))?;
            if msg.kind() == NLMSG_NOOP {
                continue;
            }
            n += 1;
            on_message(&msg);
        }
        Ok(n)
    }
}
