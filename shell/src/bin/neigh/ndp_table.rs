//! `neigh ndp -a` and `-A PERIOD`: the IPv6 neighbor table in the format illumos ndp(8)
//! prints, which is that of `netstat -p -f inet6` (ndp's `ndp_get_all` runs it).
//! Source: illumos-gate `usr/src/cmd/cmd-inet/usr.bin/netstat/netstat.c`, `ndp_report`:
//!
//! ```text
//!
//! Net to Media Table: IPv6
//!  If   Physical Address    Type      State      Destination/Mask
//! ----- -----------------  ------- ------------ ---------------------------
//! %-5s %-17s  %-7s %-12s %-27s
//!
//! ```
//!
//! The header comes only before the first entry; the blank line after the table always.
//! Physical addresses are `%02x` bytes joined by `:` (netstat's `octetstr`, code 'h'),
//! empty without one; interfaces by name, `if#N` for an index without one; addresses as
//! host names (the local domain stripped, netstat's `pr_addr6`) unless `-n`.
//!
//! Linux's entries in illumos's words: NUD states INCOMPLETE, REACHABLE, STALE, DELAY,
//! PROBE keep their names, FAILED is UNREACHABLE, PERMANENT and NOARP are REACHABLE (as
//! illumos's static and multicast entries are), NONE is UNKNOWN; the type is `static`
//! for PERMANENT, `other` for NOARP (multicast), `dynamic` for the rest. Linux keeps no
//! entries for the host's own addresses, so no `local` rows.

use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use neigh::netlink::RouteSocket;
use neigh_core::wire::consts::AF_INET6;
use neigh_core::wire::{DumpFilter, NeighMessage, NudState};

use crate::error::CliError;
use crate::links::LinkTable;
use crate::resolve::Resolver;

const HEADER: &str = "\nNet to Media Table: IPv6\n \
If   Physical Address    Type      State      Destination/Mask\n\
----- -----------------  ------- ------------ ---------------------------\n";

/// illumos's name of a Linux NUD state (netstat's `ipv6NetToMediaState` column).
pub fn state_name(s: NudState) -> &'static str {
    match s {
        NudState::INCOMPLETE => "INCOMPLETE",
        NudState::REACHABLE | NudState::PERMANENT | NudState::NOARP => "REACHABLE",
        NudState::STALE => "STALE",
        NudState::DELAY => "DELAY",
        NudState::PROBE => "PROBE",
        NudState::FAILED => "UNREACHABLE",
        _ => "UNKNOWN",
    }
}

/// illumos's entry type (netstat's `ipv6NetToMediaType` column).
pub fn type_name(s: NudState) -> &'static str {
    match s {
        NudState::PERMANENT => "static",
        NudState::NOARP => "other",
        _ => "dynamic",
    }
}

/// Host names for the Destination column, as netstat's `pr_addr6` finds them: the
/// reverse lookup's name with the local domain (the host name's part after its first
/// dot) cut off, else the address.
struct Names {
    resolver: Resolver,
    domain: Option<String>,
}

impl Names {
    fn new() -> Self {
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is writable for its length; gethostname NUL-terminates within it
        // when the name fits (the last byte stays 0 otherwise).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
        let host = if rc == 0 {
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            String::new()
        };
        Self {
            resolver: Resolver::default(),
            domain: host.split_once('.').map(|(_, d)| d.to_ascii_lowercase()),
        }
    }

    fn name(&self, ip: &IpAddr) -> String {
        let mut out = Vec::new();
        self.resolver.push(&mut out, ip);
        let mut name = String::from_utf8_lossy(&out).into_owned();
        if let (Some(domain), Some(dot)) = (&self.domain, name.find('.')) {
            if name[dot + 1..].eq_ignore_ascii_case(domain) {
                name.truncate(dot);
            }
        }
        name
    }
}

/// One row of the table into `out`.
fn row(out: &mut String, links: &LinkTable, m: &NeighMessage<'_>, dest: &str) {
    let ifname = match links.get(m.ifindex) {
        Some(l) => String::from_utf8_lossy(&l.name).into_owned(),
        None => format!("if#{}", m.ifindex),
    };
    let mac = m
        .lladdr
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    out.push_str(&format!(
        "{ifname:<5} {mac:<17}  {:<7} {:<12} {dest:<27}\n",
        type_name(m.state),
        state_name(m.state)
    ));
}

/// The whole table, as one `netstat -p -f inet6` prints it. Errors: a failed dump
/// (exit 1). Cost: a link dump, a neighbor dump, and under `!numeric` one reverse
/// lookup per distinct address.
pub fn table(sock: &mut RouteSocket, numeric: bool) -> Result<String, CliError> {
    let links = LinkTable::load(sock)
        .map_err(|e| CliError::from_io(1, "ndp: Cannot send dump request", &e))?;
    let names = (!numeric).then(Names::new);
    let mut out = String::new();
    sock.dump_neighbors(AF_INET6, DumpFilter::default(), |m| {
        let Some(dst) = m.dst else { return Ok(()) };
        if out.is_empty() {
            out.push_str(HEADER);
        }
        let dest = match &names {
            Some(n) => n.name(&dst),
            None => dst.to_string(),
        };
        row(&mut out, &links, m, &dest);
        Ok(())
    })
    .map_err(|e| CliError::from_io(1, "ndp: Dump terminated", &e))?;
    out.push('\n');
    Ok(out)
}

/// `-a`: prints the table once.
pub fn print(sock: &mut RouteSocket, numeric: bool) -> Result<(), CliError> {
    let t = table(sock, numeric)?;
    write_out(&t)
}

/// `-A PERIOD`: prints the table now and then every `period` seconds, on a fixed
/// schedule (ndp arms an interval timer), until killed; with a period of 0 once, then
/// it waits (ndp's timer is then disarmed). Returns only on an error.
pub fn repeat(sock: &mut RouteSocket, numeric: bool, period: u64) -> Result<(), CliError> {
    let step = Duration::from_secs(period);
    let mut next = Instant::now();
    loop {
        print(sock, numeric)?;
        if period == 0 {
            loop {
                std::thread::sleep(Duration::from_secs(86400));
            }
        }
        next += step;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

fn write_out(text: &str) -> Result<(), CliError> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(|e| CliError::new(1, format!("ndp: write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_netstats() {
        let lines: Vec<&str> = HEADER.split('\n').collect();
        assert_eq!(lines[0], "");
        assert_eq!(lines[1], "Net to Media Table: IPv6");
        assert_eq!(
            lines[2],
            " If   Physical Address    Type      State      Destination/Mask"
        );
        assert_eq!(
            lines[3],
            "----- -----------------  ------- ------------ ---------------------------"
        );
    }

    #[test]
    fn states_and_types() {
        assert_eq!(state_name(NudState::FAILED), "UNREACHABLE");
        assert_eq!(state_name(NudState::PERMANENT), "REACHABLE");
        assert_eq!(state_name(NudState::NONE), "UNKNOWN");
        assert_eq!(type_name(NudState::PERMANENT), "static");
        assert_eq!(type_name(NudState::NOARP), "other");
        assert_eq!(type_name(NudState::STALE), "dynamic");
    }
}
