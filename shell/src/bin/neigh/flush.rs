//! `neigh flush`: rounds of dump-and-delete, as `ip neigh flush` does, with the deletes
//! sent by a helper thread while the dump goes on.
//!
//! The kernel does a delete's work (two notifications, the RCU free) inside the
//! `sendmsg(2)` of whoever sends it, under the RTNL lock: deletes run one at a time
//! whichever thread sends them, and they are most of a flush's cost. What can overlap is
//! the dump (no RTNL) with the deletes: the dumping thread builds the deletes into windows
//! ([`WINDOW_BYTES`]) and hands them to one helper thread with its own socket, which sends
//! them ([`RouteSocket::send_window`]) while the dump goes on. Deleting while dumping can
//! make the dump skip entries (ip's flush, which deletes between the dump's datagrams, has
//! the same property): the next round's dump finds them, and rounds go on until a dump
//! finds nothing.

use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;

use log::warn;
use neigh::netlink::{KernelError, RouteSocket, SocketOptions, WINDOW_BYTES};
use neigh_core::wire::consts::RTM_NEWNEIGH;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, NeighMessage, NeighRequest, NtfFlags, NudState};

use crate::cli::{Globals, ListArgs};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::Renderer;
use crate::show::{plan, Plan};

/// iproute2's `MAX_ROUNDS` for flush.
const MAX_ROUNDS: u32 = 10;

/// Delete threads: one is enough, the kernel runs deletes one at a time (RTNL).
const WORKERS: usize = 1;

/// Runs `neigh flush`: rounds of dump-and-delete until a dump finds nothing (at most 10),
/// printing what `ip -s [-s] neigh flush` prints. Requires an argument, like ip.
/// Errors: `Flush requires arguments.`, the dump failed (`Flush terminated`), a delete
/// was refused for another reason than the entry being gone already (`Failed to send
/// flush request: STRERROR`), no end after 10 rounds.
pub fn flush(sock: &mut RouteSocket, g: &Globals, args: &ListArgs) -> Result<(), CliError> {
    if !args.any_args {
        return Err(CliError::new(1, "Flush requires arguments.").recoverable());
    }
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let mut plan = plan(g, args, &links)?;
    // Entries are printed (with -s -s) as ip does, in text, with `dev` unless filtered.
    let mut r = Renderer::new(&links, false, false, g.stats, plan.filter.index != 0);
    let mut out = Output::new();
    for round in 0..MAX_ROUNDS {
        let deleted = delete_round(sock, &plan, &links, g, &mut r, &mut out)?;
        if deleted == 0 {
            if g.stats > 0 {
                if round == 0 {
                    out.buf.extend_from_slice(b"Nothing to flush.\n");
                } else {
                    let s = if round > 1 { "s" } else { "" };
                    out.buf.extend_from_slice(
                        format!("*** Flush is complete after {round} round{s} ***\n").as_bytes(),
                    );
                }
            }
            return out.flush().map_err(|e| CliError::from_io(1, "write", &e));
        }
        if g.stats > 0 {
            out.buf.extend_from_slice(
                format!(
                    "\n*** Round {}, deleting {deleted} entries ***\n",
                    round + 1
                )
                .as_bytes(),
            );
        }
        out.flush().map_err(|e| CliError::from_io(1, "write", &e))?;
        plan.filter.state &= !u32::from(NudState::FAILED.0);
    }
    out.buf.extend_from_slice(
        format!("*** Flush not complete bailing out after {MAX_ROUNDS} rounds\n").as_bytes(),
    );
    let _ = out.flush();
    Err(CliError::new(255, "").recoverable())
}

/// `RTM_DELNEIGH` requests back to back, with consecutive sequence numbers.
#[derive(Default)]
struct DeleteWindow {
    bytes: Vec<u8>,
    first_seq: u32,
    count: u32,
}

/// One round: dumps what `plan` matches and deletes each entry (printing it with -s -s),
/// the full windows through the helper thread as the dump goes on. Returns how many deletes
/// were sent. Errors: the dump failed ("Flush terminated"); a delete was refused.
fn delete_round(
    sock: &mut RouteSocket,
    plan: &Plan,
    links: &LinkTable,
    g: &Globals,
    r: &mut Renderer<'_>,
    out: &mut Output,
) -> Result<u32, CliError> {
    let (tx, rx) = mpsc::sync_channel::<DeleteWindow>(2);
    let rx = Mutex::new(rx);
    let mut req = [0u8; REQUEST_BUF_LEN];
    let dump_seq = sock.next_seq();
    let n = wire::neigh_dump(&mut req, dump_seq, plan.filter.family, plan.dump)
        .map_err(|e| CliError::new(1, format!("Cannot send dump request: {e}")))?;
    std::thread::scope(|scope| {
        let mut pool = Vec::new();
        let mut window = DeleteWindow::default();
        // Delete sequence numbers follow the dump's (each thread matches answers to its
        // own socket's port, so they need only be distinct within a window).
        let mut next_seq = dump_seq.wrapping_add(1);
        let mut sent = 0u32;
        let res = sock.request(&req[..n], |msg| {
            let Ok(m) = NeighMessage::parse(msg) else {
                return Ok(());
            };
            if m.kind != RTM_NEWNEIGH || !plan.accepts(&m, links) {
                return Ok(());
            }
            let Some(addr) = m.dst else { return Ok(()) };
            if !push_delete(&mut window, &m, addr, &mut next_seq) {
                return Ok(());
            }
            sent += 1;
            if g.stats >= 2 {
                r.neigh(&mut out.buf, &m, false);
            }
            if window.bytes.len() + REQUEST_BUF_LEN > WINDOW_BYTES {
                if pool.len() < WORKERS {
                    pool.push(scope.spawn(|| delete_worker(&rx)));
                }
                // Fails only if every worker is gone, which they are not before `tx` is.
                let _ = tx.send(std::mem::take(&mut window));
            }
            Ok(())
        });
        // The last, partial window: on this thread's socket when no worker was needed.
        let mut failure = None;
        if pool.is_empty() {
            failure = send_window(sock, &mut window).err();
        } else if window.count > 0 {
            let _ = tx.send(window);
        }
        drop(tx);
        for worker in pool {
            let r = worker
                .join()
                .unwrap_or_else(|_| Err(CliError::new(1, "a flush thread panicked")));
            if let Err(e) = r {
                failure.get_or_insert(e);
            }
        }
        if let Err(e) = res {
            let _ = out.flush();
            let msg = CliError::from_io(1, "Flush terminated", &e).message;
            return Err(CliError::new(
                1,
                if KernelError::from_io(&e).is_some() {
                    format!("{msg}\nFlush terminated")
                } else {
                    msg
                },
            ));
        }
        if let Some(e) = failure {
            let _ = out.flush();
            return Err(e);
        }
        Ok(sent)
    })
}

/// Appends the delete of neighbor `m` (address `addr`) to `w`. False (with a warning) if
/// it cannot be built.
fn push_delete(
    w: &mut DeleteWindow,
    m: &NeighMessage<'_>,
    addr: std::net::IpAddr,
    next_seq: &mut u32,
) -> bool {
    let del = NeighRequest {
        ifindex: m.ifindex,
        addr,
        lladdr: None,
        state: NudState::NONE,
        flags: NtfFlags(m.flags.0 & NtfFlags::PROXY.0),
        flags_ext: None,
        protocol: None,
    };
    if w.count == 0 {
        w.first_seq = *next_seq;
    }
    let start = w.bytes.len();
    w.bytes.resize(start + REQUEST_BUF_LEN, 0);
    match wire::neigh_del(&mut w.bytes[start..], *next_seq, &del) {
        Ok(len) => {
            w.bytes.truncate(start + wire::nlmsg::align(len));
            w.count += 1;
            *next_seq = next_seq.wrapping_add(1);
            true
        }
        Err(e) => {
            w.bytes.truncate(start);
            warn!("cannot build a delete request: {e}");
            false
        }
    }
}

/// Sends one window and checks its answers: an entry already gone (`ENOENT`) is no
/// failure, anything else is "Failed to send flush request".
fn send_window(sock: &mut RouteSocket, w: &mut DeleteWindow) -> Result<(), CliError> {
    let mut failure: Option<KernelError> = None;
    sock.send_window(&mut w.bytes, w.first_seq, w.count, |_, k| {
        if k.errno != libc::ENOENT {
            failure.get_or_insert(k);
        }
    })
    .map_err(|e| CliError::from_io(1, "Failed to send flush request", &e))?;
    match failure {
        Some(k) => Err(CliError::new(
            1,
            format!(
                "Failed to send flush request: {}",
                neigh::netlink::strerror(k.errno)
            ),
        )),
        None => Ok(()),
    }
}

/// A delete thread: its own socket; sends every window it receives until the channel
/// closes. After a failure it keeps receiving (so the dumping thread never blocks) but
/// sends nothing more. Returns the first failure.
fn delete_worker(rx: &Mutex<Receiver<DeleteWindow>>) -> Result<(), CliError> {
    let mut sock = RouteSocket::open(&SocketOptions::default())
        .map_err(|e| CliError::from_io(1, "Cannot open netlink socket", &e));
    let mut failure = None;
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(mut w) = next else { break };
        if failure.is_some() {
            continue;
        }
        let res = match &mut sock {
            Ok(s) => send_window(s, &mut w),
            Err(e) => Err(CliError::new(e.code, e.message.clone())),
        };
        if let Err(e) = res {
            failure = Some(e);
        }
    }
    failure.map_or(Ok(()), Err)
}
