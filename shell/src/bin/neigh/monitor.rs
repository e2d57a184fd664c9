//! `neigh monitor`: neighbor events (`RTNLGRP_NEIGH`) as they happen, printed as
//! `ip monitor neigh` prints them (`Deleted ...`, `miss ...`), or one JSON object per line.

use std::io;

use log::{info, warn};
use neigh::netlink::{RouteSocket, SocketOptions};
use neigh_core::wire::consts::RTNLGRP_NEIGH;
use neigh_core::wire::NeighMessage;

use crate::cli::{Globals, MonitorArgs};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::{Filter, Renderer};

/// Subscribes, then prints every event until killed. The interface table is loaded once
/// at start (an interface created later prints as `ifN`). Datagrams not sent by the
/// kernel are dropped and logged (warn level). `ENOBUFS` is reported and monitoring goes
/// on, as `ip monitor` does. Errors: socket errors (exit 1).
pub fn monitor(g: &Globals, args: &MonitorArgs) -> Result<(), CliError> {
    let mut sock = RouteSocket::open(&SocketOptions::default())
        .map_err(|e| CliError::from_io(1, "Cannot open netlink socket", &e))?;
    // The link dump completes before joining the group, so no event interleaves with it.
    let links = LinkTable::load(&mut sock)
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
    let mut r = Renderer::new(&links, g.json, false, g.stats, filter.index != 0);
    let mut out = Output::new();
    loop {
        let res = sock.recv_events(|msg| match NeighMessage::parse(msg) {
            Ok(m) if filter.accepts(&m) => r.neigh(&mut out.buf, &m, true),
            Ok(_) => {}
            Err(e) => warn!("skipping a malformed neighbor event: {e}"),
        });
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
