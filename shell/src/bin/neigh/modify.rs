//! `neigh add | replace | change | del`: one acked `RTM_NEWNEIGH` / `RTM_DELNEIGH`.

use neigh::netlink::RouteSocket;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, NeighRequest, NewMode, NtfExtFlags};

use crate::cli::{ModifyArgs, ModifyKind};
use crate::error::CliError;
use crate::links::LinkTable;

/// Sends the change and waits for the kernel's ACK. Errors: unknown device (exit 1), the
/// kernel's refusal as `ip` prints it (`RTNETLINK answers: File exists`, `Error: Invalid
/// link address.`, `RTNETLINK answers: Operation not permitted`; exit 2).
pub fn modify(sock: &mut RouteSocket, args: &ModifyArgs) -> Result<(), CliError> {
    let ifindex = match &args.dev {
        Some(d) => {
            let links = LinkTable::load(sock)
                .map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
            links.index_of(d).ok_or_else(|| CliError::nodev(d))?
        }
        None => 0,
    };
    let req = NeighRequest {
        ifindex,
        addr: args.addr,
        lladdr: args.lladdr.as_deref(),
        state: args.state,
        flags: args.flags,
        flags_ext: (args.flags_ext != NtfExtFlags::NONE).then_some(args.flags_ext),
        protocol: args.protocol,
    };
    let mut buf = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let built = match args.kind {
        ModifyKind::Add => wire::neigh_new(&mut buf, seq, &req, NewMode::Add),
        ModifyKind::Replace => wire::neigh_new(&mut buf, seq, &req, NewMode::Replace),
        ModifyKind::Change => wire::neigh_new(&mut buf, seq, &req, NewMode::Change),
        ModifyKind::Delete => wire::neigh_del(&mut buf, seq, &req),
    };
    let n = built.map_err(|e| CliError::new(1, e.to_string()))?;
    sock.request(&buf[..n], |_| Ok(()))
        .map(|_| ())
        .map_err(|e| CliError::from_io(2, "RTNETLINK answers", &e))
}
