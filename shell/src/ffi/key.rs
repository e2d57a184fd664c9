//! Keys from C arguments: an interface index and an address in network byte order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neigh_core::entry::NeighKey;

/// The key for `ipv4_be`, an IPv4 address as C stores it (`struct in_addr.s_addr`: network
/// byte order, so its in-memory bytes are the address's octets).
#[inline(always)]
pub(crate) fn key4(ifindex: u32, ipv4_be: u32) -> NeighKey {
    NeighKey {
        ifindex,
        addr: IpAddr::V4(Ipv4Addr::from(ipv4_be.to_ne_bytes())),
    }
}

/// The key for a 16-byte IPv6 address (`struct in6_addr.s6_addr`).
#[inline(always)]
pub(crate) fn key6(ifindex: u32, ipv6: [u8; 16]) -> NeighKey {
    NeighKey {
        ifindex,
        addr: IpAddr::V6(Ipv6Addr::from(ipv6)),
    }
}

/// Reads the 16 bytes of an IPv6 address at `p`, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or valid for reads of 16 bytes (any alignment).
#[inline(always)]
pub(crate) unsafe fn read_ipv6(p: *const u8) -> Option<[u8; 16]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL (checked) and valid for 16 bytes (the caller's contract); [u8; 16]
    // has alignment 1, so any address is aligned for it.
    Some(unsafe { p.cast::<[u8; 16]>().read() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_in_network_order_is_the_dotted_address() {
        // 10.1.2.3 as `inet_addr("10.1.2.3")` returns it on any host.
        let be = u32::from_ne_bytes([10, 1, 2, 3]);
        assert_eq!(key4(7, be).addr, "10.1.2.3".parse::<IpAddr>().expect("ip"));
        assert_eq!(key4(7, be).ifindex, 7);
        let v6: Ipv6Addr = "fe80::1".parse().expect("ip");
        // SAFETY: the octets array is 16 readable bytes.
        let read = unsafe { read_ipv6(v6.octets().as_ptr()) };
        assert_eq!(key6(2, read.expect("non-null")).addr, IpAddr::V6(v6));
        // SAFETY: NULL is allowed.
        assert!(unsafe { read_ipv6(std::ptr::null()) }.is_none());
    }
}
