//! The illumos `ndp(8)` verbs, mapped onto the `ip neigh` commands for IPv6:
//!
//! | ndp                                         | neigh equivalent                                        |
//! |---------------------------------------------|---------------------------------------------------------|
//! | `ndp -a`, `ndp show [-i IF]`                | `neigh -6 show [dev IF]`                                |
//! | `ndp ADDR`, `ndp get ADDR [-i IF]`          | `neigh get ADDR dev IF` (all interfaces when no `-i`)   |
//! | `ndp -s ADDR LLADDR -i IF [temp] [router]`  | `neigh replace ADDR lladdr LLADDR dev IF nud permanent` (`temp`: `nud reachable`) `[router]` |
//! | `ndp -s ADDR LLADDR -i IF proxy`            | `neigh replace proxy ADDR dev IF`                       |
//! | `ndp -d ADDR [-i IF]`, `ndp delete ...`     | `neigh del ADDR dev IF` (the only entry when no `-i`)   |
//!
//! `-n` (numeric output) is accepted and ignored: neigh never resolves names.

use std::net::IpAddr;

use neigh::netlink::RouteSocket;
use neigh_core::wire::consts::AF_INET6;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter, NeighMessage, NtfExtFlags, NtfFlags, NudState};

use crate::cli::{GetArgs, Globals, ListArgs, ModifyArgs, ModifyKind, NdpCommand};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::output::Output;
use crate::render::{Filter, Renderer};
use crate::{get, modify, show};

/// Runs one ndp verb. Errors: those of the `neigh` command it maps to; a missing `-i` for
/// `-s`; "not found"/"ambiguous" for `-d` without `-i`.
pub fn ndp(sock: &mut RouteSocket, g: &Globals, cmd: &NdpCommand) -> Result<(), CliError> {
    let g6 = Globals {
        family: AF_INET6,
        ..*g
    };
    match cmd {
        NdpCommand::Show { dev } => show::show(sock, &g6, &show_args(dev.clone())),
        NdpCommand::Get { addr, dev: Some(d) } => get::get(
            sock,
            &g6,
            &GetArgs {
                dev: Some(d.clone()),
                addr: *addr,
                proxy: false,
            },
        ),
        NdpCommand::Get { addr, dev: None } => get_everywhere(sock, g, *addr),
        NdpCommand::Set {
            addr,
            lladdr,
            dev,
            temp,
            router,
            proxy,
        } => {
            let Some(dev) = dev else {
                return Err(CliError::new(255, "ndp -s needs the interface: -i IF"));
            };
            let mut flags = NtfFlags::NONE;
            if *router {
                flags = flags | NtfFlags::ROUTER;
            }
            if *proxy {
                flags = flags | NtfFlags::PROXY;
            }
            let args = ModifyArgs {
                kind: ModifyKind::Replace,
                addr: *addr,
                dev: Some(dev.clone()),
                lladdr: (!*proxy).then(|| lladdr.clone()),
                state: if *temp {
                    NudState::REACHABLE
                } else {
                    NudState::PERMANENT
                },
                flags,
                flags_ext: NtfExtFlags::NONE,
                protocol: None,
            };
            modify::modify(sock, &args)
        }
        NdpCommand::Delete { addr, dev } => {
            let dev = match dev {
                Some(d) => d.clone(),
                None => only_interface_of(sock, *addr)?,
            };
            let args = ModifyArgs {
                kind: ModifyKind::Delete,
                addr: *addr,
                dev: Some(dev),
                lladdr: None,
                state: NudState::NONE,
                flags: NtfFlags::NONE,
                flags_ext: NtfExtFlags::NONE,
                protocol: None,
            };
            modify::modify(sock, &args)
        }
    }
}

/// `ndp -a [-i IF]`: `show` of every state but NOARP, on `dev` or everywhere.
fn show_args(dev: Option<String>) -> ListArgs {
    ListArgs {
        any_args: dev.is_some(),
        dev,
        master: None,
        link_type: None,
        state: 0xff & !u32::from(NudState::NOARP.0),
        proxy: false,
        prefix: None,
        router: false,
        unused: false,
        protocol: 0,
    }
}

/// `ndp ADDR` without `-i`: every interface's entry for `addr`.
fn get_everywhere(sock: &mut RouteSocket, g: &Globals, addr: IpAddr) -> Result<(), CliError> {
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let mut r = Renderer::new(&links, g.json, g.pretty, g.stats, false);
    let mut out = Output::new();
    r.begin_list(&mut out.buf);
    let mut found = 0;
    each_entry(sock, addr, |m| {
        found += 1;
        r.neigh(&mut out.buf, m, false);
    })?;
    if found == 0 {
        return Err(CliError::new(2, "Error: Neighbour entry not found."));
    }
    r.end_list(&mut out.buf);
    out.flush().map_err(|e| CliError::from_io(1, "write", &e))
}

/// `ndp -d ADDR` without `-i`: the name of the one interface with an entry for `addr`.
/// Errors: no entry (2), entries on several interfaces (1).
fn only_interface_of(sock: &mut RouteSocket, addr: IpAddr) -> Result<String, CliError> {
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    let mut on: Vec<u32> = Vec::new();
    each_entry(sock, addr, |m| on.push(m.ifindex))?;
    match on.as_slice() {
        [] => Err(CliError::new(2, "Error: Neighbour entry not found.")),
        [one] => {
            let mut name = Vec::new();
            links.push_name(&mut name, *one);
            Ok(String::from_utf8_lossy(&name).into_owned())
        }
        _ => Err(CliError::new(
            1,
            format!("{addr} is on {} interfaces: say which with -i IF", on.len()),
        )),
    }
}

/// Calls `f` for every IPv6 neighbor entry (any state, any interface) whose address is
/// `addr`.
fn each_entry(
    sock: &mut RouteSocket,
    addr: IpAddr,
    mut f: impl FnMut(&NeighMessage<'_>),
) -> Result<(), CliError> {
    let mut req = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = wire::neigh_dump(&mut req, seq, AF_INET6, DumpFilter::default())
        .map_err(|e| CliError::new(1, e.to_string()))?;
    let filter = Filter::all();
    sock.request(&req[..n], |msg| {
        if let Ok(m) = NeighMessage::parse(msg) {
            if m.dst == Some(addr) && filter.accepts(&m) {
                f(&m);
            }
        }
        Ok(())
    })
    .map(|_| ())
    .map_err(|e| CliError::from_io(1, "Dump terminated", &e))
}
