//! `-r`: addresses printed as host names, as iproute2's `resolve_address` finds them (the
//! C library's host lookup: /etc/hosts, then DNS), each address looked up once per run.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;

use crate::addr;

/// A cache of reverse lookups.
#[derive(Default)]
pub struct Resolver {
    names: RefCell<HashMap<IpAddr, Option<Vec<u8>>>>,
}

impl Resolver {
    /// Appends `ip`'s host name, or the address itself when it has none. Cost: one
    /// `getnameinfo(3)` per distinct address (which may wait on DNS).
    pub fn push(&self, out: &mut Vec<u8>, ip: &IpAddr) {
        let mut names = self.names.borrow_mut();
        match names.entry(*ip).or_insert_with(|| lookup(ip)) {
            Some(name) => out.extend_from_slice(name),
            None => addr::push_ip(out, ip),
        }
    }
}

/// `getnameinfo(NI_NAMEREQD)`: the name, or `None`.
fn lookup(ip: &IpAddr) -> Option<Vec<u8>> {
    let mut host = [0u8; 1025];
    // SAFETY: the sockaddr structs are fully initialised (zeroed, then the family and
    // address set) and passed with their exact sizes; `host` is writable for its length
    // and getnameinfo NUL-terminates what it writes there.
    let rc = unsafe {
        match ip {
            IpAddr::V4(a) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr().cast(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
            IpAddr::V6(a) => {
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_addr.s6_addr = a.octets();
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr().cast(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
        }
    };
    if rc != 0 {
        return None;
    }
    let end = host.iter().position(|&b| b == 0)?;
    Some(host[..end].to_vec())
}
