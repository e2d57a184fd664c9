//! `neigh get`: one entry by (address, interface) with a single `RTM_GETNEIGH`.

use neigh::netlink::RouteSocket;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, NeighMessage};

use crate::cli::{GetArgs, Globals};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::Renderer;

/// Asks the kernel for one entry and prints it like `ip neigh get` (with `dev`). With
/// `-j` it prints a one-element JSON list. Errors: unknown device (exit 1), the kernel's
/// refusal, e.g. "Error: Neighbour entry not found." (exit 2).
pub fn get(sock: &mut RouteSocket, g: &Globals, args: &GetArgs) -> Result<(), CliError> {
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let ifindex = match &args.dev {
        Some(d) => links.index_of(d).ok_or_else(|| CliError::nodev(d))?,
        None => 0,
    };
    let mut req = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = wire::neigh_get(&mut req, seq, ifindex, args.addr, args.proxy)
        .map_err(|e| CliError::new(1, e.to_string()))?;
    let mut r = Renderer::new(&links, g.json, g.pretty, g.stats, false).styled(g);
    let mut out = Output::new();
    r.begin_list(&mut out.buf);
    sock.request(&req[..n], |msg| {
        if let Ok(m) = NeighMessage::parse(msg) {
            r.neigh(&mut out.buf, &m, false);
        }
        Ok(())
    })
    .map_err(|e| CliError::from_io(2, "RTNETLINK answers", &e).recoverable())?;
    r.end_list(&mut out.buf);
    out.flush().map_err(|e| CliError::from_io(1, "write", &e))
}
