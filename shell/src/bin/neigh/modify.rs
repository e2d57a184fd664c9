//! `neigh add | replace | change | del`: one acked `RTM_NEWNEIGH` / `RTM_DELNEIGH`.

use neigh::netlink::RouteSocket;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, BuildError, NeighRequest, NewMode, NtfExtFlags};

use crate::cli::{ModifyArgs, ModifyKind};
use crate::error::CliError;
use crate::links::LinkTable;

/// Sends the change and waits for the kernel's ACK. Errors: unknown device (exit 1), the
/// kernel's refusal as `ip` prints it (`RTNETLINK answers: File exists`, `Error: Invalid
/// link address.`, `RTNETLINK answers: Operation not permitted`; exit 2).
pub fn modify(sock: &mut RouteSocket, args: &ModifyArgs) -> Result<(), CliError> {
    let links =
        LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
    modify_with(sock, &links, args)
}

/// [`modify`] with the interface table already loaded (a batch loads it once).
pub fn modify_with(
    sock: &mut RouteSocket,
    links: &LinkTable,
    args: &ModifyArgs,
) -> Result<(), CliError> {
    let ifindex = ifindex(links, args)?;
    let mut buf = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = build(&mut buf, seq, ifindex, args).map_err(|e| CliError::new(1, e.to_string()))?;
    sock.request(&buf[..n], |_| Ok(()))
        .map(|_| ())
        .map_err(|e| CliError::from_io(2, "RTNETLINK answers", &e))
}

/// The index of `args`' device (0 without `dev`). Errors: `Cannot find device` (exit 1).
pub fn ifindex(links: &LinkTable, args: &ModifyArgs) -> Result<u32, CliError> {
    match &args.dev {
        Some(d) => links.index_of(d).ok_or_else(|| CliError::nodev(d)),
        None => Ok(0),
    }
}

/// Writes the request `args` stands for, on interface `ifindex`, with `NLM_F_ACK`, into
/// `buf`; returns its length. Errors: the builder's (a short buffer, an over-long lladdr).
pub fn build(
    buf: &mut [u8],
    seq: u32,
    ifindex: u32,
    args: &ModifyArgs,
) -> Result<usize, BuildError> {
    let req = NeighRequest {
        ifindex,
        addr: args.addr,
        lladdr: args.lladdr.as_deref(),
        state: args.state,
        flags: args.flags,
        flags_ext: (args.flags_ext != NtfExtFlags::NONE).then_some(args.flags_ext),
        protocol: args.protocol,
    };
    match args.kind {
        ModifyKind::Add => wire::neigh_new(buf, seq, &req, NewMode::Add),
        ModifyKind::Replace => wire::neigh_new(buf, seq, &req, NewMode::Replace),
        ModifyKind::Change => wire::neigh_new(buf, seq, &req, NewMode::Change),
        ModifyKind::Delete => wire::neigh_del(buf, seq, &req),
    }
}
