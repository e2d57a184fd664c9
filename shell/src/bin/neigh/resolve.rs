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
    name_info(*ip, 0, libc::NI_NAMEREQD)
}

/// `getnameinfo(3)` of `ip` (an IPv6 address in zone `scope`, 0 for none) under `flags`:
/// what it writes, or `None` when it fails. May wait on DNS unless `flags` say otherwise.
pub fn name_info(ip: IpAddr, scope: u32, flags: libc::c_int) -> Option<Vec<u8>> {
    let mut host = [0u8; 1025];
    let rc = match ip {
        IpAddr::V4(a) => {
            // SAFETY: an all-zero sockaddr_in is valid; family and address set below.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            // SAFETY: `sa` is a complete sockaddr_in.
            unsafe { getnameinfo(&sa, &mut host, flags) }
        }
        IpAddr::V6(a) => {
            // SAFETY: an all-zero sockaddr_in6 is valid; family, address and zone set below.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = a.octets();
            sa.sin6_scope_id = scope;
            // SAFETY: `sa` is a complete sockaddr_in6.
            unsafe { getnameinfo(&sa, &mut host, flags) }
        }
    };
    if rc != 0 {
        return None;
    }
    let end = host.iter().position(|&b| b == 0)?;
    Some(host[..end].to_vec())
}

/// `getnameinfo(3)` of the socket address `sa` into `host` (NUL-terminated there by the
/// call).
///
/// # Safety
/// `T` is a socket address struct (`sockaddr_in`, `sockaddr_in6`) and `sa` is complete
/// for the family it names.
unsafe fn getnameinfo<T>(sa: &T, host: &mut [u8; 1025], flags: libc::c_int) -> libc::c_int {
    // SAFETY: `sa` is a whole socket address of `size_of::<T>()` bytes (the caller's
    // contract); `host` is writable for its length.
    unsafe {
        libc::getnameinfo(
            (sa as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
            host.as_mut_ptr().cast(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            flags,
        )
    }
}
