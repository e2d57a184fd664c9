//! `neigh show` and `neigh flush`: one filtered neighbor dump, printed or deleted.

use std::io;

use log::warn;
use neigh::netlink::{KernelError, RouteSocket};
use neigh_core::wire::consts::{AF_UNSPEC, RTM_NEWNEIGH};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter, NeighMessage, NeighRequest, NtfFlags, NudState};

use crate::cli::{Globals, ListArgs};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::{Filter, Renderer};

/// iproute2's `MAX_ROUNDS` for flush.
const MAX_ROUNDS: u32 = 10;

/// The filter and the dump request `args` mean.
struct Plan {
    filter: Filter,
    dump: DumpFilter,
}

fn plan(g: &Globals, args: &ListArgs, links: &LinkTable) -> Result<Plan, CliError> {
    let mut family = g.family;
    if family == AF_UNSPEC {
        family = args.prefix.map_or(AF_UNSPEC, |p| p.family());
    }
    let index = match &args.dev {
        Some(d) => links.index_of(d).ok_or_else(|| CliError::nodev(d))?,
        None => 0,
    };
    let master = match &args.master {
        Some(m) => Some(
            links
                .index_of(m)
                .ok_or_else(|| CliError::invarg("Device does not exist\n", m))?,
        ),
        None => None,
    };
    Ok(Plan {
        filter: Filter {
            family,
            index,
            state: args.state,
            prefix: args.prefix,
            protocol: args.protocol,
            unused_only: args.unused,
            router_only: args.router,
        },
        dump: DumpFilter {
            ifindex: (index != 0).then_some(index),
            master,
            proxy: args.proxy,
        },
    })
}

/// Runs `neigh show`: dumps (filtered by the kernel by interface when `dev` is given),
/// filters like `ip`, prints text or JSON. Exit 1 with "Dump terminated" on a failed dump.
pub fn show(sock: &mut RouteSocket, g: &Globals, args: &ListArgs) -> Result<(), CliError> {
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let plan = plan(g, args, &links)?;
    let mut r = Renderer::new(&links, g.json, g.pretty, g.stats, plan.filter.index != 0);
    let mut out = Output::new();
    let mut req = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = wire::neigh_dump(&mut req, seq, plan.filter.family, plan.dump)
        .map_err(|e| CliError::new(1, format!("Cannot send dump request: {e}")))?;
    r.begin_list(&mut out.buf);
    let res = sock.request(&req[..n], |msg| {
        match NeighMessage::parse(msg) {
            Ok(m) if plan.filter.accepts(&m) => {
                r.neigh(&mut out.buf, &m, false);
                out.maybe_flush()?;
            }
            Ok(_) => {}
            Err(e) => warn!("skipping a malformed neighbor message: {e}"),
        }
        Ok(())
    });
    match res {
        Err(e) => {
            let _ = out.flush();
            return Err(dump_failed(&e));
        }
        // As iproute2's rtnl_dump_filter says it (neighbor dumps do not set the flag
        // today; the check costs nothing).
        Ok(done) if done.interrupted => eprintln!("Dump was interrupted and may be inconsistent."),
        Ok(_) => {}
    }
    r.end_list(&mut out.buf);
    out.flush().map_err(|e| CliError::from_io(1, "write", &e))
}

/// ip prints the kernel's complaint, then "Dump terminated", and exits 1.
fn dump_failed(e: &io::Error) -> CliError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return CliError::new(1, "");
    }
    let first = CliError::from_io(1, "Dump terminated", e);
    if KernelError::from_io(e).is_some() {
        CliError::new(1, format!("{}\nDump terminated", first.message))
    } else {
        first
    }
}

/// Runs `neigh flush`: rounds of dump-and-delete until a dump finds nothing (at most 10),
/// printing what `ip -s [-s] neigh flush` prints. Requires an argument, like ip.
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
    let mut batch = DeleteBatch::default();
    for round in 0..MAX_ROUNDS {
        collect_deletes(sock, &plan, g, &mut r, &mut out, &mut batch)?;
        if batch.count == 0 {
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
        send_deletes(sock, &batch, &mut out)?;
        if g.stats > 0 {
            out.buf.extend_from_slice(
                format!(
                    "\n*** Round {}, deleting {} entries ***\n",
                    round + 1,
                    batch.count
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

/// One round's `RTM_DELNEIGH` requests, back to back, with consecutive sequence numbers.
#[derive(Default)]
struct DeleteBatch {
    bytes: Vec<u8>,
    first_seq: u32,
    count: u32,
}

/// Dumps what `plan` matches and builds a delete request for each entry into `batch`
/// (printing each with -s -s). Errors: the dump failed ("Flush terminated").
fn collect_deletes(
    sock: &mut RouteSocket,
    plan: &Plan,
    g: &Globals,
    r: &mut Renderer<'_>,
    out: &mut Output,
    batch: &mut DeleteBatch,
) -> Result<(), CliError> {
    let mut req = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = wire::neigh_dump(&mut req, seq, plan.filter.family, plan.dump)
        .map_err(|e| CliError::new(1, format!("Cannot send dump request: {e}")))?;
    batch.bytes.clear();
    batch.count = 0;
    // Sequence numbers of the batch follow the dump's, consecutively.
    batch.first_seq = seq.wrapping_add(1);
    let res = sock.request(&req[..n], |msg| {
        let Ok(m) = NeighMessage::parse(msg) else {
            return Ok(());
        };
        if m.kind != RTM_NEWNEIGH || !plan.filter.accepts(&m) {
            return Ok(());
        }
        let Some(addr) = m.dst else { return Ok(()) };
        let del = NeighRequest {
            ifindex: m.ifindex,
            addr,
            lladdr: None,
            state: NudState::NONE,
            flags: NtfFlags(m.flags.0 & NtfFlags::PROXY.0),
            flags_ext: None,
            protocol: None,
        };
        let s = batch.first_seq.wrapping_add(batch.count);
        let start = batch.bytes.len();
        batch.bytes.resize(start + REQUEST_BUF_LEN, 0);
        match wire::neigh_del(&mut batch.bytes[start..], s, &del) {
            Ok(len) => batch.bytes.truncate(start + wire::nlmsg::align(len)),
            Err(e) => {
                batch.bytes.truncate(start);
                warn!("cannot build a delete request: {e}");
                return Ok(());
            }
        }
        batch.count += 1;
        if g.stats >= 2 {
            r.neigh(&mut out.buf, &m, false);
        }
        Ok(())
    });
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
    Ok(())
}

/// Sends `batch` and reads the acks. An entry that vanished between dump and delete
/// (`ENOENT`) is not a failure; any other refusal is ("Failed to send flush request").
fn send_deletes(
    sock: &mut RouteSocket,
    batch: &DeleteBatch,
    out: &mut Output,
) -> Result<(), CliError> {
    // Keep our own sequence counter past the batch.
    for _ in 0..batch.count {
        sock.next_seq();
    }
    let mut failure: Option<KernelError> = None;
    sock.request_batch(&batch.bytes, batch.first_seq, batch.count, |_, k| {
        if k.errno != libc::ENOENT && failure.is_none() {
            failure = Some(k);
        }
    })
    .map_err(|e| CliError::from_io(1, "Failed to send flush request", &e))?;
    if let Some(k) = failure {
        let _ = out.flush();
        return Err(CliError::new(
            1,
            format!(
                "Failed to send flush request: {}",
                neigh::netlink::strerror(k.errno)
            ),
        ));
    }
    Ok(())
}
