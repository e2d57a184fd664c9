//! `neigh monitor`: neighbor events (`RTNLGRP_NEIGH`) as they happen, printed as
//! `ip monitor neigh` prints them (`Deleted ...`, `miss ...`), or one JSON object per line.

use std::io;

use log::{info, warn};
use neigh::netlink::{RouteSocket, SocketOptions};
use neigh_core::wire::consts::RTNLGRP_NEIGH;
use neigh_core::wire::{MessageIter, NeighMessage};

use crate::cli::{Globals, MonitorArgs};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::{Filter, Renderer};
use crate::timestamp;

/// Subscribes, then prints every event until killed. The interface table is loaded at
/// start and re-loaded (over a second socket: the subscribed one carries events) when an
/// event names an interface it does not know, as ip's `ll_index_to_name` asks the kernel;
/// an index still unknown then prints as `ifN`. Datagrams not sent by the kernel are
/// dropped and logged (warn level). `ENOBUFS` is reported and monitoring goes on, as
/// `ip monitor` does. Errors: socket errors (exit 1).
pub fn monitor(g: &Globals, args: &MonitorArgs) -> Result<(), CliError> {
    let mut sock = RouteSocket::open(&SocketOptions::default())
        .map_err(|e| CliError::from_io(1, "Cannot open netlink socket", &e))?;
    // The link dump completes before joining the group, so no event interleaves with it.
    let mut links = LinkTable::load(&mut sock)
        .map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let mut filter = Filter::all();
    filter.family = g.family;
    if let Some(d) = &args.dev {
        filter.index = links
            .index_of(d)
            .ok_or_else(|| CliError::invarg("Device does not exist\n", d))?;
    }
    sock.add_membership(RTNLGRP_NEIGH)
        .map_err(|e| CliError::from_io(1, "Cannot join RTNLGRP_NEIGH", &e))?;
    info!(
        "monitoring neighbor events on netlink port id {}",
        sock.port_id()
    );
    let mut link_sock: Option<RouteSocket> = None;
    let mut out = Output::new();
    // The events from the first one naming an unknown interface on, kept (as received,
    // 4-byte aligned) to be printed in order once the interface table is re-loaded.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let mut r = Renderer::new(&links, g.json, false, g.stats, filter.index != 0).styled(g);
        let res = sock.recv_events(|msg| {
            let m = match NeighMessage::parse(msg) {
                Ok(m) if filter.accepts(&m) => m,
                Ok(_) => return,
                Err(e) => return warn!("skipping a malformed neighbor event: {e}"),
            };
            if pending.is_empty() && links.get(m.ifindex).is_some() {
                headers(&mut out.buf, g, args);
                r.neigh(&mut out.buf, &m, true);
            } else {
                pending.extend_from_slice(msg.bytes());
                pending.resize(pending.len().next_multiple_of(4), 0);
            }
        });
        if !pending.is_empty() {
            reload_links(&mut link_sock, &mut links);
            let mut r = Renderer::new(&links, g.json, false, g.stats, filter.index != 0).styled(g);
            for msg in MessageIter::new(&pending).flatten() {
                if let Ok(m) = NeighMessage::parse(&msg) {
                    headers(&mut out.buf, g, args);
                    r.neigh(&mut out.buf, &m, true);
                }
            }
            pending.clear();
        }
        match res {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                eprintln!(
                    "netlink receive error {} ({})",
                    neigh::netlink::strerror(libc::ENOBUFS),
                    libc::ENOBUFS
                );
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CliError::from_io(1, "netlink receive error", &e)),
        }
        out.flush().map_err(|e| CliError::from_io(1, "write", &e))?;
    }
}

/// What `ip monitor` prints before an event (`print_headers`): the timestamp of `-t` /
/// `-ts`, then `[NEIGH]` with `label`.
fn headers(out: &mut Vec<u8>, g: &Globals, args: &MonitorArgs) {
    if g.timestamp > 0 {
        timestamp::push(out, g.timestamp > 1);
    }
    if args.label {
        out.extend_from_slice(b"[NEIGH]");
    }
}

/// Re-loads the interface table over `link_sock` (opened on first use). On failure the
/// old table stays and a warning is logged: events still print, unknown indexes as `ifN`.
fn reload_links(link_sock: &mut Option<RouteSocket>, links: &mut LinkTable) {
    let sock = match link_sock {
        Some(s) => s,
        None => match RouteSocket::open(&SocketOptions::default()) {
            Ok(s) => link_sock.insert(s),
            Err(e) => return warn!("cannot open a socket to re-load interface names: {e}"),
        },
    };
    match LinkTable::load(sock) {
        Ok(t) => *links = t,
        Err(e) => warn!("cannot re-load interface names: {e}"),
    }
}
