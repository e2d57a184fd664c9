//! Hosts as illumos ndp(8) takes them: a name or an address, `ADDR%IF` for a zone,
//! looked up with `getaddrinfo(3)` for IPv6 only, every address acted on
//! (`ndp_host_enumerate`); the interface each address goes to (`ndp_initialize_lifreq`:
//! `-i`, else the zone, else the route); and the name printed for an address
//! (`getnameinfo(3)`, numeric under `-n`). Source: illumos-gate
//! `usr/src/cmd/cmd-inet/usr.sbin/ndp.c`.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv6Addr};

use neigh::netlink::RouteSocket;

use crate::links::LinkTable;
use crate::route_lookup;

/// One address of a host, as `getaddrinfo` gave it.
#[derive(Clone, Copy, Debug)]
pub struct HostAddr {
    pub addr: Ipv6Addr,
    /// The zone (`sin6_scope_id`): an interface index, 0 for none.
    pub scope: u32,
}

/// ndp's `MAX_ATTEMPTS`: lookups retried while the resolver says "try again".
const MAX_ATTEMPTS: usize = 5;

/// The IPv6 addresses of `host`, in `getaddrinfo`'s order, each once. Errors: ndp's
/// texts, `Unable to lookup HOST: GAI_STRERROR` and `Failed multiple times to lookup
/// HOST`. Cost: one `getaddrinfo(3)` (which may ask DNS) per attempt.
pub fn lookup(host: &str) -> Result<Vec<HostAddr>, String> {
    let Ok(c_host) = CString::new(host) else {
        return Err(format!(
            "Unable to lookup {host}: Name or service not known"
        ));
    };
    for _ in 0..MAX_ATTEMPTS {
        // SAFETY: an all-zero addrinfo is a valid "no hints" value; fields set below.
        let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
        hints.ai_family = libc::AF_INET6;
        // One answer per address (glibc gives one per socket type otherwise).
        hints.ai_socktype = libc::SOCK_DGRAM;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: `c_host` is NUL-terminated, `hints` initialised, `res` a valid out
        // pointer; the list is freed below.
        let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
        if rc == libc::EAI_AGAIN {
            continue;
        }
        if rc != 0 {
            return Err(format!("Unable to lookup {host}: {}", gai_strerror(rc)));
        }
        let mut out: Vec<HostAddr> = Vec::new();
        let mut p = res;
        while !p.is_null() {
            // SAFETY: `p` is a node of the list getaddrinfo returned, not yet freed.
            let ai = unsafe { &*p };
            if ai.ai_family == libc::AF_INET6 && !ai.ai_addr.is_null() {
                // SAFETY: an AF_INET6 answer's ai_addr points to a sockaddr_in6.
                let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                let h = HostAddr {
                    addr: Ipv6Addr::from(sa.sin6_addr.s6_addr),
                    scope: sa.sin6_scope_id,
                };
                if !out.iter().any(|o| o.addr == h.addr && o.scope == h.scope) {
                    out.push(h);
                }
            }
            p = ai.ai_next;
        }
        // SAFETY: `res` came from a successful getaddrinfo and is freed once.
        unsafe { libc::freeaddrinfo(res) };
        return Ok(out);
    }
    Err(format!("Failed multiple times to lookup {host}"))
}

fn gai_strerror(rc: i32) -> String {
    // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(libc::gai_strerror(rc)) }
        .to_string_lossy()
        .into_owned()
}

/// Where an address goes: an interface index, or the `-i` name that names none (ndp's
/// ioctl then fails with `ENXIO`, in the words of the action).
pub enum Placement {
    Index(u32),
    NoSuchInterface,
}

/// ndp's `ndp_initialize_lifreq`: `-i IF` if given, else the zone, else (link-local
/// addresses excepted) the interface of the route to the address. Errors: ndp's texts
/// (`Invalid zone identifier: N`, the link-scope and routing-table ones). Cost: at most
/// one `RTM_GETROUTE`.
pub fn place(
    sock: &mut RouteSocket,
    links: &LinkTable,
    iface: Option<&str>,
    h: &HostAddr,
) -> Result<Placement, String> {
    if let Some(name) = iface {
        return Ok(match links.index_of(name) {
            Some(i) => Placement::Index(i),
            None => Placement::NoSuchInterface,
        });
    }
    if h.scope != 0 {
        return match links.get(h.scope) {
            Some(_) => Ok(Placement::Index(h.scope)),
            None => Err(format!("Invalid zone identifier: {}", h.scope)),
        };
    }
    if is_link_scope(&h.addr) {
        return Err(
            "Link-scope addresses should specify an interface with a zone ID, or with -i."
                .to_string(),
        );
    }
    match route_lookup::output_interface(sock, h.addr) {
        Ok(Some(i)) => Ok(Placement::Index(i)),
        Ok(None) => Err("Unable to find appropriate interface for address".to_string()),
        Err(_) => Err(format!(
            "An appropriate interface for the address {} is not in the routing table; \
             use -i to force an interface",
            h.addr
        )),
    }
}

/// `IN6_IS_ADDR_LINKSCOPE`: link-local unicast (fe80::/10) or link-local multicast
/// (ff02::/16 and other scope-2 multicast).
fn is_link_scope(a: &Ipv6Addr) -> bool {
    let o = a.octets();
    (o[0] == 0xfe && o[1] & 0xc0 == 0x80) || (o[0] == 0xff && o[1] & 0x0f == 0x02)
}

/// The name ndp prints in parentheses: `getnameinfo(3)` of the address with its zone,
/// the host name if there is one (numeric under `-n`), else the address. `None` when
/// the lookup fails (ndp: `Unable to lookup hostname for ADDR`).
pub fn display_name(h: &HostAddr, numeric: bool) -> Option<String> {
    let flags = if numeric { libc::NI_NUMERICHOST } else { 0 };
    let name = crate::resolve::name_info(IpAddr::V6(h.addr), h.scope, flags)?;
    Some(String::from_utf8_lossy(&name).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_hosts_and_zones() {
        let v = lookup("2001:db8::1").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].addr, "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        let v = lookup("fe80::1%1").unwrap();
        assert_eq!(v[0].scope, 1);
        assert!(lookup("10.0.0.1")
            .unwrap_err()
            .starts_with("Unable to lookup 10.0.0.1: "));
        let h = HostAddr {
            addr: "2001:db8::1".parse().unwrap(),
            scope: 0,
        };
        assert_eq!(display_name(&h, true).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn link_scope() {
        assert!(is_link_scope(&"fe80::1".parse().unwrap()));
        assert!(is_link_scope(&"ff02::1".parse().unwrap()));
        assert!(!is_link_scope(&"2001:db8::1".parse().unwrap()));
        assert!(!is_link_scope(&"ff05::1".parse().unwrap()));
    }
}
