//! `neigh ndp`: illumos ndp(8) on Linux's IPv6 neighbor table, its output, messages and
//! exit status included. Where each piece comes from (illumos-gate):
//!
//! - the grammar and usage errors: `usr/src/cmd/cmd-inet/usr.sbin/ndp.c` `main`
//!   (`ndp_args.rs`);
//! - `-a`, `-A PERIOD`: ndp runs `netstat -p -f inet6`, whose table is netstat.c's
//!   `ndp_report` (`ndp_table.rs`);
//! - `HOST`: ndp.c `ndp_get`, `ndp_display`, `ndp_display_missing`: one line per address
//!   of HOST, `ADDR (NAME) at LLADDR[ router][ temp]` or `ADDR (NAME) -- no entry`,
//!   where NAME is `getnameinfo(3)`'s (the address under `-n`) and LLADDR is `_link_ntoa`'s
//!   (`%x` bytes joined by `:`, so `2:0:0:0:0:1`); ndp(8)'s EXAMPLES show the same lines
//!   (`fd00::1 (fd00::1) at 90:b8:d0:4b:c7:3b temp`, `fd00::2 (epicac) -- no entry`).
//!   The kernel answers SIOCLIFGETND with `ESRCH` for an entry without a link-layer
//!   address (`ndp_query`: `!NCE_ISREACHABLE`), so INCOMPLETE, FAILED and NONE entries
//!   print `-- no entry` too;
//! - `-s`, `-d`, `-f`: ndp.c `ndp_set_nce`, `ndp_set`, `ndp_delete`, `ndp_set_file`,
//!   with their warnings (`ndp: No entry for ADDR`, `ndp: Line N incomplete, skipping:
//!   ...`);
//! - hosts and interfaces: `ndp_host_enumerate`, `ndp_initialize_lifreq`, `ndp_find_interface`
//!   (`ndp_host.rs`, `route_lookup.rs`).
//!
//! Exit status, as ndp's `main`: 0, or 1 when anything failed (each failure is one
//! `ndp: ...` line on stderr; the other addresses and lines are still done). A HOST
//! without an entry is not a failure.
//!
//! The SIOCLIF*ND requests become rtnetlink ones: SIOCLIFGETND is `RTM_GETNEIGH` on the
//! interface, SIOCLIFSETND an `RTM_NEWNEIGH` replace (`NDF_STATIC`: PERMANENT, else
//! `temp`: REACHABLE, as ndp creates it; `router`: `NTF_ROUTER`), SIOCLIFDELND
//! `RTM_DELNEIGH`. `any` (`NDF_ANYCAST_ON`) has no Linux counterpart: neigh says so on
//! stderr and sets the rest. ndp's `proxy` ("NDP proxying is currently not supported")
//! sets a Linux proxy entry (`NTF_PROXY`) instead.

use std::net::IpAddr;

use neigh::netlink::{strerror, KernelError, RouteSocket};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, NeighMessage, NtfExtFlags, NtfFlags, NudState};

use crate::cli::{ModifyArgs, ModifyKind};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::modify;
use crate::ndp_args::{NdpAction, NdpArgs};
use crate::ndp_host::{self, HostAddr, Placement};
use crate::ndp_table;

/// ndp.c's `MAX_OPTS`: the words after the lladdr a `-f` line may carry.
const MAX_OPTS: usize = 5;

/// Runs `neigh ndp`. Errors: exit 1 after the `ndp: ...` lines already printed (the
/// returned error has no text then), or with ndp's fatal messages (`-f` file unreadable,
/// a failed dump).
pub fn ndp(sock: &mut RouteSocket, args: &NdpArgs) -> Result<(), CliError> {
    match &args.action {
        NdpAction::Table => return ndp_table::print(sock, args.numeric),
        NdpAction::Repeat { period } => return ndp_table::repeat(sock, args.numeric, *period),
        _ => {}
    }
    let links = LinkTable::load(sock)
        .map_err(|e| CliError::from_io(1, "ndp: Cannot send dump request", &e))?;
    let mut run = Run { sock, links, args };
    let ok = match &args.action {
        NdpAction::Get { host } => run.each_address(host, Run::get),
        NdpAction::Delete { host } => run.each_address(host, Run::delete),
        NdpAction::Set { host, lladdr, opts } => run.set_nce(host, lladdr, opts),
        NdpAction::File { path } => run.set_file(path)?,
        NdpAction::Table | NdpAction::Repeat { .. } => true,
    };
    if ok {
        Ok(())
    } else {
        Err(CliError::new(1, ""))
    }
}

/// ndp's `warnx`: one `ndp: ...` line on stderr.
fn warn(msg: &str) {
    eprintln!("ndp: {msg}");
}

/// The errno of a failed request.
fn errno_of(e: &std::io::Error) -> i32 {
    KernelError::from_io(e)
        .map(|k| k.errno)
        .or_else(|| e.raw_os_error())
        .unwrap_or(libc::EIO)
}

/// What one `-s` sets (`ndp_set_nce`'s `lif_nd_req_t`).
struct SetSpec {
    lladdr: Vec<u8>,
    temp: bool,
    router: bool,
    proxy: bool,
}

/// `_link_aton`: hex bytes of one or two digits joined by single colons.
fn link_aton(s: &str) -> Option<Vec<u8>> {
    s.split(':')
        .map(|part| {
            let ok = (1..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| u8::from_str_radix(part, 16).ok()).flatten()
        })
        .collect()
}

/// `_link_ntoa`: `%x` bytes joined by `:`; an empty address prints as `0`, as ndp's
/// zeroed buffer does.
fn link_ntoa(ll: &[u8]) -> String {
    if ll.is_empty() {
        return "0".to_string();
    }
    ll.iter()
        .map(|b| format!("{b:x}"))
        .collect::<Vec<_>>()
        .join(":")
}

struct Run<'a> {
    sock: &'a mut RouteSocket,
    links: LinkTable,
    args: &'a NdpArgs,
}

impl Run<'_> {
    /// `ndp_host_enumerate`: `f` for each address of `host` on the interface it goes to
    /// (index 0 for an `-i` name that names none: `f` reports `ENXIO` in its words).
    /// False when the lookup or any address failed (each failure already reported).
    fn each_address(
        &mut self,
        host: &str,
        mut f: impl FnMut(&mut Self, &HostAddr, u32) -> bool,
    ) -> bool {
        let addrs = match ndp_host::lookup(host) {
            Ok(v) => v,
            Err(msg) => {
                warn(&msg);
                return false;
            }
        };
        let mut ok = true;
        for h in &addrs {
            let iface = self.args.iface.as_deref();
            match ndp_host::place(self.sock, &self.links, iface, h) {
                Ok(Placement::Index(i)) => ok &= f(self, h, i),
                Ok(Placement::NoSuchInterface) => ok &= f(self, h, 0),
                Err(msg) => {
                    warn(&msg);
                    ok = false;
                }
            }
        }
        ok
    }

    /// `ndp_get`: prints the entry of `h` on `ifindex` (0: the `-i` interface that does
    /// not exist, `ENXIO` as on illumos).
    fn get(&mut self, h: &HostAddr, ifindex: u32) -> bool {
        let ip = h.addr;
        let entry = match self.query(h, ifindex) {
            Ok(e) => e,
            Err(errno) => {
                warn(&format!("Couldn't lookup {ip}: {}", strerror(errno)));
                return false;
            }
        };
        let Some(name) = ndp_host::display_name(h, self.args.numeric) else {
            warn(&format!("Unable to lookup hostname for {ip}"));
            return false;
        };
        match entry {
            Some((ll, state, flags)) => {
                let mut line = format!("{ip} ({name}) at {}", link_ntoa(&ll));
                if flags.contains(NtfFlags::ROUTER) {
                    line.push_str(" router");
                }
                if state != NudState::PERMANENT {
                    line.push_str(" temp");
                }
                println!("{line}");
            }
            None => println!("{ip} ({name}) -- no entry"),
        }
        true
    }

    /// The entry's link-layer address, state and flags; `None` when there is no entry
    /// with an address (illumos's `ESRCH`). Errors: the errno of the refusal.
    fn query(
        &mut self,
        h: &HostAddr,
        ifindex: u32,
    ) -> Result<Option<(Vec<u8>, NudState, NtfFlags)>, i32> {
        if ifindex == 0 {
            return Err(libc::ENXIO);
        }
        let mut req = [0u8; REQUEST_BUF_LEN];
        let seq = self.sock.next_seq();
        let n = wire::neigh_get(&mut req, seq, ifindex, IpAddr::V6(h.addr), false)
            .map_err(|_| libc::EINVAL)?;
        let mut found = None;
        let r = self.sock.request(&req[..n], |msg| {
            if let Ok(m) = NeighMessage::parse(msg) {
                if m.state.intersects(NudState::VALID) {
                    if let Some(ll) = m.lladdr {
                        found = Some((ll.to_vec(), m.state, m.flags));
                    }
                }
            }
            Ok(())
        });
        match r {
            Ok(_) => Ok(found),
            Err(e) if errno_of(&e) == libc::ENOENT => Ok(None),
            Err(e) => Err(errno_of(&e)),
        }
    }

    /// Sends one change to the kernel and waits for its answer. Errors: the errno.
    fn change(&mut self, ifindex: u32, args: &ModifyArgs) -> Result<(), i32> {
        if ifindex == 0 {
            return Err(libc::ENXIO);
        }
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let seq = self.sock.next_seq();
        let n = modify::build(&mut buf, seq, ifindex, args).map_err(|_| libc::EINVAL)?;
        self.sock
            .request(&buf[..n], |_| Ok(()))
            .map(|_| ())
            .map_err(|e| errno_of(&e))
    }

    /// `ndp_delete`.
    fn delete(&mut self, h: &HostAddr, ifindex: u32) -> bool {
        let ip = h.addr;
        let args = ModifyArgs {
            kind: ModifyKind::Delete,
            addr: IpAddr::V6(ip),
            dev: None,
            lladdr: None,
            state: NudState::NONE,
            flags: NtfFlags::NONE,
            flags_ext: NtfExtFlags::NONE,
            protocol: None,
        };
        match self.change(ifindex, &args) {
            Ok(()) => true,
            Err(libc::ENOENT) => {
                warn(&format!("No entry for {ip}"));
                false
            }
            Err(libc::EPERM) => {
                warn(&format!(
                    "Permission denied, could not delete entry for {ip}"
                ));
                false
            }
            Err(errno) => {
                warn(&format!(
                    "Couldn't delete mapping for {ip}: {}",
                    strerror(errno)
                ));
                false
            }
        }
    }

    /// `ndp_set_nce`: checks the lladdr and the options, then sets every address of
    /// `host`.
    fn set_nce(&mut self, host: &str, lladdr: &str, opts: &[String]) -> bool {
        let Some(ll) = link_aton(lladdr) else {
            warn(&format!("Unable to parse link-layer address \"{lladdr}\""));
            return false;
        };
        if ll.len() > 32 {
            // Linux's MAX_ADDR_LEN; ndp's message, its trailing newline included.
            warn("The size of the link-layer address is too large to set\n");
            return false;
        }
        let mut spec = SetSpec {
            lladdr: ll,
            temp: false,
            router: false,
            proxy: false,
        };
        let mut any = false;
        for opt in opts {
            match opt.as_str() {
                "temp" => spec.temp = true,
                "any" => any = true,
                "router" => spec.router = true,
                "proxy" => spec.proxy = true,
                other => {
                    warn(&format!("Unrecognized option \"{other}\""));
                    return false;
                }
            }
        }
        if any {
            warn(&format!(
                "warning: \"any\" (anycast) has no Linux equivalent; {host} is set without it"
            ));
        }
        self.each_address(host, |run, h, ifindex| run.set(h, ifindex, &spec))
    }

    /// `ndp_set`: one `RTM_NEWNEIGH` replace.
    fn set(&mut self, h: &HostAddr, ifindex: u32, spec: &SetSpec) -> bool {
        let ip = h.addr;
        let mut flags = NtfFlags::NONE;
        if spec.router {
            flags = flags | NtfFlags::ROUTER;
        }
        if spec.proxy {
            flags = flags | NtfFlags::PROXY;
        }
        let args = ModifyArgs {
            kind: ModifyKind::Replace,
            addr: IpAddr::V6(ip),
            dev: None,
            lladdr: (!spec.proxy).then(|| spec.lladdr.clone()),
            state: if spec.temp {
                NudState::REACHABLE
            } else {
                NudState::PERMANENT
            },
            flags,
            flags_ext: NtfExtFlags::NONE,
            protocol: None,
        };
        match self.change(ifindex, &args) {
            Ok(()) => true,
            Err(libc::EPERM) => {
                warn(&format!("Permission denied, could not set entry for {ip}"));
                false
            }
            Err(errno) => {
                warn(&format!(
                    "Failed to set mapping for {ip}: {}",
                    strerror(errno)
                ));
                false
            }
        }
    }

    /// `ndp_set_file`: `-s` for each line `HOST LLADDR [OPT]...` of `path`; `#` lines
    /// are skipped, incomplete ones reported with their number. Errors: ndp's fatal
    /// `Error while opening file PATH: STRERROR` (exit 1, nothing set).
    fn set_file(&mut self, path: &str) -> Result<bool, CliError> {
        let text = std::fs::read(path).map_err(|e| {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            CliError::new(
                1,
                format!("ndp: Error while opening file {path}: {}", strerror(errno)),
            )
        })?;
        let mut ok = true;
        if text.is_empty() {
            return Ok(true);
        }
        let body = text.strip_suffix(b"\n").unwrap_or(&text);
        for (n, raw) in body.split(|&b| b == b'\n').enumerate() {
            let lineno = n + 1;
            if raw.first() == Some(&b'#') {
                continue;
            }
            let line = String::from_utf8_lossy(raw);
            let mut words = line
                .split([' ', '\t', '\r', '\n'])
                .filter(|w| !w.is_empty());
            let Some(host) = words.next() else {
                warn(&format!(
                    "Line {lineno} incomplete, skipping: missing host identifier"
                ));
                ok = false;
                continue;
            };
            let Some(lladdr) = words.next() else {
                warn(&format!(
                    "Line {lineno} incomplete, skipping: missing link-layer address"
                ));
                ok = false;
                continue;
            };
            let opts: Vec<String> = words.take(MAX_OPTS).map(String::from).collect();
            ok &= self.set_nce(host, lladdr, &opts);
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_addresses_as_ndp_reads_and_prints_them() {
        assert_eq!(
            link_aton("90:b8:d0:4b:c7:3b"),
            Some(vec![0x90, 0xb8, 0xd0, 0x4b, 0xc7, 0x3b])
        );
        assert_eq!(link_aton("2:0:0:0:0:1"), Some(vec![2, 0, 0, 0, 0, 1]));
        for bad in ["", ":1", "1:", "1::2", "123", "zz", "1:g"] {
            assert_eq!(link_aton(bad), None, "{bad}");
        }
        assert_eq!(link_ntoa(&[2, 0, 0, 0, 0x0a, 0xff]), "2:0:0:0:a:ff");
        assert_eq!(link_ntoa(&[]), "0");
    }
}
