//! The interface table: names and link types from one `RTM_GETLINK` dump, as iproute2's
//! `ll_init_map` loads them, so printing a neighbor never needs a system call.

use std::io;

use neigh::netlink::RouteSocket;
use neigh_core::wire::{self, request::REQUEST_BUF_LEN, LinkMessage, Parsed};

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// `ifi_index`.
    pub index: u32,
    /// `ifi_type` (`ARPHRD_*`): decides how a link-layer address is printed.
    pub link_type: u16,
    /// `IFLA_IFNAME` without NUL (bytes: Linux names need not be UTF-8).
    pub name: Vec<u8>,
    /// `IFLA_INFO_KIND` ("vrf", "veth", ...), empty when the kernel sends none.
    pub kind: Vec<u8>,
}

/// Every interface of the namespace, sorted by index. Lookups are O(log n) with no
/// allocation.
#[derive(Clone, Debug, Default)]
pub struct LinkTable {
    links: Vec<Link>,
}

impl LinkTable {
    /// Dumps the links over `sock`. Errors: socket and kernel errors of the dump. Cost:
    /// one dump, one allocation per interface.
    pub fn load(sock: &mut RouteSocket) -> io::Result<Self> {
        let mut req = [0u8; REQUEST_BUF_LEN];
        let seq = sock.next_seq();
        let n = wire::link_dump(&mut req, seq).map_err(io::Error::other)?;
        let mut links = Vec::new();
        sock.request(&req[..n], |msg| {
            if let Ok(Parsed::Link(l)) = msg.parse() {
                links.push(Self::entry(&l));
            }
            Ok(())
        })?;
        links.sort_by_key(|l| l.index);
        links.dedup_by_key(|l| l.index);
        Ok(Self { links })
    }

    fn entry(l: &LinkMessage<'_>) -> Link {
        Link {
            index: l.ifindex,
            link_type: l.ifi_type,
            name: l.name.unwrap_or_default().to_vec(),
            kind: l.info_kind.unwrap_or_default().to_vec(),
        }
    }

    /// Builds a table from known links (tests).
    #[cfg(test)]
    pub fn from_links(mut links: Vec<Link>) -> Self {
        links.sort_by_key(|l| l.index);
        Self { links }
    }

    /// The interface with index `index`.
    pub fn get(&self, index: u32) -> Option<&Link> {
        self.links
            .binary_search_by_key(&index, |l| l.index)
            .ok()
            .map(|i| &self.links[i])
    }

    /// The index of the interface called `name`, as `ip`'s `ll_name_to_index` finds it:
    /// a name in the table, else the kernel's answer for it (`if_nametoindex`, which also
    /// knows alternative names, `IFLA_ALT_IFNAME`), else `ifN` read as index N. O(n) plus
    /// one system call for a name not in the table (called once per command line).
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.links
            .iter()
            .find(|l| l.name == name.as_bytes())
            .map(|l| l.index)
            .or_else(|| neigh::sys::interface_index(name))
            .or_else(|| {
                name.strip_prefix("if")
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|n| n.parse().ok())
                    .filter(|&i| i != 0)
            })
    }

    /// Whether the interface called `name` is a VRF (link kind "vrf"), as iproute2's
    /// `name_is_vrf` decides.
    pub fn is_vrf(&self, name: &str) -> bool {
        self.index_of(name)
            .and_then(|i| self.get(i))
            .is_some_and(|l| l.kind == b"vrf")
    }

    /// Appends the interface's name, or `ifN` as `ip` prints an unknown index.
    pub fn push_name(&self, out: &mut Vec<u8>, index: u32) {
        match self.get(index) {
            Some(l) => out.extend_from_slice(&l.name),
            None => {
                out.extend_from_slice(b"if");
                crate::addr::push_u32(out, index);
            }
        }
    }

    /// The interface's `ARPHRD_*` type, 0 when unknown.
    pub fn link_type(&self, index: u32) -> u16 {
        self.get(index).map_or(0, |l| l.link_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let t = LinkTable::from_links(vec![
            Link {
                index: 7,
                link_type: 1,
                name: b"eth1".to_vec(),
                kind: b"vrf".to_vec(),
            },
            Link {
                index: 2,
                link_type: 1,
                name: b"eth0".to_vec(),
                kind: Vec::new(),
            },
        ]);
        assert_eq!(t.index_of("eth1"), Some(7));
        assert_eq!(t.index_of("neigh-no-such-if"), None);
        assert_eq!(t.index_of("if42"), Some(42));
        assert_eq!(t.index_of("if"), None);
        assert!(t.is_vrf("eth1") && !t.is_vrf("eth0"));
        let mut out = Vec::new();
        t.push_name(&mut out, 2);
        out.push(b' ');
        t.push_name(&mut out, 42);
        assert_eq!(out, b"eth0 if42");
        assert_eq!(t.link_type(7), 1);
    }
}
