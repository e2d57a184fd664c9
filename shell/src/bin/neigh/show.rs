//! `neigh show`: one filtered neighbor dump, printed; and the plan (filter and dump
//! request) that `show` and `flush` share.

use std::io;

use log::warn;
use neigh::netlink::{KernelError, RouteSocket};
use neigh_core::wire::consts::AF_UNSPEC;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter, NeighMessage};

use crate::cli::{Globals, ListArgs, MasterFilter};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::{Filter, Renderer};

/// The filter and the dump request `args` mean.
pub struct Plan {
    pub filter: Filter,
    pub dump: DumpFilter,
    /// `type TYPE`: the interfaces' ARPHRD type.
    pub link_type: Option<u16>,
}

impl Plan {
    /// Whether `m` is listed: ip's filter, then the link type.
    pub fn accepts(&self, m: &NeighMessage<'_>, links: &LinkTable) -> bool {
        self.filter.accepts(m)
            && self
                .link_type
                .is_none_or(|t| links.link_type(m.ifindex) == t)
    }
}

pub fn plan(g: &Globals, args: &ListArgs, links: &LinkTable) -> Result<Plan, CliError> {
    let mut family = g.family;
    if family == AF_UNSPEC {
        family = args.prefix.map_or(AF_UNSPEC, |p| p.family());
    }
    let index = match &args.dev {
        Some(d) => links.index_of(d).ok_or_else(|| CliError::nodev(d))?,
        None => 0,
    };
    let master = match &args.master {
        Some(MasterFilter::Dev(m)) => Some(
            links
                .index_of(m)
                .ok_or_else(|| CliError::invarg("Device does not exist\n", m))?,
        ),
        Some(MasterFilter::Vrf(v)) => {
            if !links.is_vrf(v) {
                return Err(CliError::invarg("Not a valid VRF name\n", v));
            }
            Some(
                links
                    .index_of(v)
                    .ok_or_else(|| CliError::invarg("Device does not exist\n", v))?,
            )
        }
        // The kernel's "no master" (-1 as NDA_MASTER), as ip sends it.
        Some(MasterFilter::None) => Some(u32::MAX),
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
        link_type: args.link_type,
    })
}

/// Runs `neigh show`: dumps (filtered by the kernel by interface when `dev` is given),
/// filters like `ip`, prints text or JSON. Exit 1 with "Dump terminated" on a failed dump.
pub fn show(sock: &mut RouteSocket, g: &Globals, args: &ListArgs) -> Result<(), CliError> {
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let plan = plan(g, args, &links)?;
    let mut r = Renderer::new(&links, g.json, g.pretty, g.stats, plan.filter.index != 0).styled(g);
    let mut out = Output::new();
    let mut req = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = wire::neigh_dump(&mut req, seq, plan.filter.family, plan.dump)
        .map_err(|e| CliError::new(1, format!("Cannot send dump request: {e}")))?;
    r.begin_list(&mut out.buf);
    let res = sock.request(&req[..n], |msg| {
        match NeighMessage::parse(msg) {
            Ok(m) if plan.accepts(&m, &links) => {
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
