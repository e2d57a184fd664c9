//! Pipelined changes: a window of requests sent in one datagram, answered by failures
//! only, plus one ACK at its end.
//!
//! The kernel handles the messages of a datagram one after the other inside `sendmsg(2)`
//! and answers every request that fails with an `NLMSG_ERROR`, whether it asked for an
//! ACK or not. So a window asks for an ACK on its last message only: when that ACK (or
//! the last message's refusal) arrives, every earlier message has been handled and each
//! refusal among them has already been queued, in order. A window of N changes costs one
//! `sendmsg` and, when nothing fails, one datagram to read, instead of N of each. A lost
//! answer cannot go unnoticed: the kernel reports a full receive buffer as `ENOBUFS` on
//! the next receive, which ends the window with that error.

use std::io;

use neigh_core::wire::consts::{NLMSG_ERROR, NLM_F_ACK};
use neigh_core::wire::nlmsg::update_flags;
use neigh_core::wire::{ErrorMessage, Message, MessageIter};

use super::error::KernelError;
use super::socket::RouteSocket;

/// The most bytes of requests [`RouteSocket::send_window`] sends in one datagram: the
/// refusals of a full window (each echoes its request) fit a default receive buffer many
/// times over.
pub const WINDOW_BYTES: usize = 32 << 10;

impl RouteSocket {
    /// Sends `window`, `count` complete requests with consecutive sequence numbers from
    /// `first_seq`, as one datagram, with `NLM_F_ACK` set on the last message and cleared
    /// on the others (the flags are rewritten in place). Then reads until the last
    /// message is answered, passing each refusal to `on_error` with the request's index in
    /// the window (0-based), in order.
    ///
    /// Who may call: a socket with no other request in flight; `window` at most
    /// [`WINDOW_BYTES`] (the caller's business: a bigger one still works while the
    /// refusals fit the receive buffer). Returns the number of refusals.
    ///
    /// Errors: a malformed `window`; socket errors (`ENOBUFS` when answers were lost for
    /// want of buffer space: some requests may then have failed unseen); malformed
    /// datagrams. Kernel refusals are not errors here. Cost: one `sendto(2)`, and two
    /// `recvmsg(2)` per answering datagram (one when nothing fails).
    pub fn send_window<F>(
        &mut self,
        window: &mut [u8],
        first_seq: u32,
        count: u32,
        mut on_error: F,
    ) -> io::Result<u32>
    where
        F: FnMut(u32, KernelError),
    {
        if count == 0 {
            return Ok(0);
        }
        set_ack_on_last(window, count)?;
        self.send(window)?;
        let last = first_seq.wrapping_add(count - 1);
        let port = self.port_id();
        let mut refused = 0;
        loop {
            let dgram = self.recv_datagram()?;
            let mut stale = 0;
            let mut done = false;
            for item in MessageIter::new(&self.buf[..dgram.len]) {
                let msg =
                    item.map_err(|e| invalid(format!("malformed netlink datagram: {e:?}")))?;
                let index = msg.seq().wrapping_sub(first_seq);
                if msg.port() != port || index >= count || msg.kind() != NLMSG_ERROR {
                    stale += 1;
                    continue;
                }
                let e = ErrorMessage::parse(&msg)
                    .map_err(|e| invalid(format!("malformed NLMSG_ERROR: {e:?}")))?;
                if !e.is_ack() {
                    refused += 1;
                    on_error(index, KernelError::from_wire(e.error, e.ext_ack_msg));
                }
                if msg.seq() == last {
                    done = true;
                }
            }
            self.drops.stale += stale;
            if done {
                return Ok(refused);
            }
        }
    }
}

impl RouteSocket {
    /// [`RouteSocket::send_window`] over a batch of any size: `batch` holds `count`
    /// requests with consecutive sequence numbers from `first_seq`; it goes out in windows
    /// of at most [`WINDOW_BYTES`], one after the other, each answered before the next is
    /// sent (so the receive buffer never holds more than one window's refusals).
    /// `on_error` gets each refusal's index in the whole batch. Returns the number of
    /// refusals. Errors: as `send_window`; the windows before the failing one were
    /// applied. Cost: one `sendto(2)` and one answering datagram per window.
    pub fn send_windows<F>(
        &mut self,
        batch: &mut [u8],
        first_seq: u32,
        count: u32,
        mut on_error: F,
    ) -> io::Result<u32>
    where
        F: FnMut(u32, KernelError),
    {
        let (mut start, mut pos, mut done, mut in_window) = (0usize, 0usize, 0u32, 0u32);
        let mut refused = 0;
        while done + in_window < count {
            let rest = batch.get(pos..).unwrap_or(&[]);
            let (_, tail) =
                Message::new_checked(rest).map_err(|e| invalid(format!("bad request: {e:?}")))?;
            let next = batch.len() - tail.len();
            if next - start > WINDOW_BYTES && in_window > 0 {
                let base = done;
                refused += self.send_window(
                    &mut batch[start..pos],
                    first_seq.wrapping_add(base),
                    in_window,
                    |i, k| on_error(base + i, k),
                )?;
                done += in_window;
                in_window = 0;
                start = pos;
            }
            in_window += 1;
            pos = next;
        }
        let base = done;
        refused += self.send_window(
            &mut batch[start..pos],
            first_seq.wrapping_add(base),
            in_window,
            |i, k| on_error(base + i, k),
        )?;
        Ok(refused)
    }
}

/// Sets `NLM_F_ACK` on the `count`-th message of `window` and clears it on the ones
/// before. Errors: `window` does not hold `count` well-formed messages.
fn set_ack_on_last(window: &mut [u8], count: u32) -> io::Result<()> {
    let mut pos = 0;
    for i in 0..count {
        let rest = window.get(pos..).unwrap_or(&[]);
        let (_, tail) =
            Message::new_checked(rest).map_err(|e| invalid(format!("bad request: {e:?}")))?;
        let len = rest.len() - tail.len();
        let last = i + 1 == count;
        update_flags(&mut window[pos..], |f| {
            if last {
                f | NLM_F_ACK
            } else {
                f & !NLM_F_ACK
            }
        })
        .map_err(|e| invalid(format!("bad request: {e:?}")))?;
        pos += len;
    }
    Ok(())
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use neigh_core::wire::request::REQUEST_BUF_LEN;
    use neigh_core::wire::{self, NeighRequest, NtfFlags, NudState};

    #[test]
    fn ack_only_on_the_last_message() {
        let mut window = Vec::new();
        for i in 0..3u8 {
            let mut buf = [0u8; REQUEST_BUF_LEN];
            let req = NeighRequest {
                ifindex: 2,
                addr: [10, 0, 0, i].into(),
                lladdr: None,
                state: NudState::NONE,
                flags: NtfFlags::NONE,
                flags_ext: None,
                protocol: None,
            };
            let n = wire::neigh_del(&mut buf, 100 + u32::from(i), &req).unwrap();
            window.extend_from_slice(&buf[..wire::nlmsg::align(n)]);
        }
        set_ack_on_last(&mut window, 3).unwrap();
        let acks: Vec<bool> = MessageIter::new(&window)
            .map(|m| m.unwrap().flags() & NLM_F_ACK != 0)
            .collect();
        assert_eq!(acks, [false, false, true]);
        assert!(set_ack_on_last(&mut window, 4).is_err());
    }
}
