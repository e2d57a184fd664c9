//! The static routing table given on the command line: `PREFIX [via NEXTHOP] dev IF`.
//!
//! Longest prefix wins, checked route by route (routes are kept longest first): a
//! forwarder with a handful of routes needs no more. A table of thousands wants a trie
//! or DPDK's DIR-24-8; the lookup path after it stays the same.

use core::fmt;
use core::net::IpAddr;

/// One route as typed: `prefix/len [via nexthop] dev dev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The network (host bits are ignored).
    pub prefix: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
    /// The next hop; `None` for a connected network, where the next hop is the packet's
    /// destination itself.
    pub via: Option<IpAddr>,
    /// The output interface's name.
    pub dev: String,
}

/// Why a route does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteError(pub String);

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RouteError {}

impl RouteSpec {
    /// Parses the words after `--route`: `PREFIX [via NEXTHOP] dev IF` (`PREFIX` without
    /// `/LEN` is a host route). The next hop must be of the prefix's family.
    pub fn parse(words: &[&str]) -> Result<Self, RouteError> {
        let err = |m: &str| RouteError(format!("route {:?}: {m}", words.join(" ")));
        let (prefix, via, dev) = match words {
            [p, "via", nh, "dev", d] => (*p, Some(*nh), *d),
            [p, "dev", d] => (*p, None, *d),
            _ => return Err(err("expected PREFIX [via NEXTHOP] dev IF")),
        };
        let (addr, len) = match prefix.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (prefix, None),
        };
        let prefix: IpAddr = addr.parse().map_err(|_| err("bad prefix address"))?;
        let max = if prefix.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| err("bad prefix length"))?,
            None => max,
        };
        let via = via
            .map(|v| v.parse::<IpAddr>().map_err(|_| err("bad next hop")))
            .transpose()?;
        if via.is_some_and(|v| v.is_ipv4() != prefix.is_ipv4()) {
            return Err(err("next hop and prefix of different families"));
        }
        if dev.is_empty() {
            return Err(err("empty interface name"));
        }
        Ok(RouteSpec {
            prefix,
            len,
            via,
            dev: dev.to_owned(),
        })
    }
}

/// Where a packet goes: out of port `port`, to the neighbor `nexthop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    /// Index of the output port (the forwarder's own numbering).
    pub port: usize,
    /// The neighbor to send to: the route's next hop, or the destination itself.
    pub nexthop: IpAddr,
}

#[derive(Clone, Copy, Debug)]
struct Route {
    /// The network as a 128-bit number (IPv4 in the low 32 bits), host bits cleared.
    net: u128,
    mask: u128,
    v4: bool,
    via: Option<IpAddr>,
    port: usize,
}

/// The routes, longest prefix first.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn mask(len: u8, v4: bool) -> u128 {
    let width = if v4 { 32 } else { 128 };
    let host = width - u32::from(len);
    let all = if v4 { u128::from(u32::MAX) } else { u128::MAX };
    all.checked_shl(host).unwrap_or(0) & all
}

impl RouteTable {
    /// Adds `spec`, sending out of port `port`.
    pub fn add(&mut self, spec: &RouteSpec, port: usize) {
        let v4 = spec.prefix.is_ipv4();
        let mask = mask(spec.len, v4);
        let route = Route {
            net: bits(spec.prefix) & mask,
            mask,
            v4,
            via: spec.via,
            port,
        };
        let at = self
            .routes
            .partition_point(|r| r.mask.count_ones() >= mask.count_ones());
        self.routes.insert(at, route);
    }

    /// The hop of the longest prefix holding `dst`, or `None`. O(routes).
    #[inline]
    pub fn lookup(&self, dst: IpAddr) -> Option<Hop> {
        let (d, v4) = (bits(dst), dst.is_ipv4());
        self.routes
            .iter()
            .find(|r| r.v4 == v4 && d & r.mask == r.net)
            .map(|r| Hop {
                port: r.port,
                nexthop: r.via.unwrap_or(dst),
            })
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True when there is no route.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> RouteSpec {
        RouteSpec::parse(&s.split_whitespace().collect::<Vec<_>>()).expect(s)
    }

    #[test]
    fn parses_the_grammar_and_refuses_the_rest() {
        let r = spec("10.1.2.0/24 via 10.1.2.2 dev b");
        assert_eq!(r.len, 24);
        assert_eq!(r.via, Some("10.1.2.2".parse().unwrap()));
        assert_eq!(r.dev, "b");
        assert_eq!(spec("2001:db8::1 dev a").len, 128);
        assert_eq!(spec("0.0.0.0/0 via 10.0.0.1 dev a").len, 0);
        for bad in [
            "10.1.2.0/24 via 10.1.2.2",
            "10.1.2.0/33 dev a",
            "10.1.2.0/x dev a",
            "bogus/8 dev a",
            "10.0.0.0/8 via 2001:db8::1 dev a",
            "10.0.0.0/8 via nowhere dev a",
            "10.0.0.0/8 dev",
            "",
        ] {
            let words: Vec<_> = bad.split_whitespace().collect();
            assert!(RouteSpec::parse(&words).is_err(), "{bad}");
        }
    }

    #[test]
    fn longest_prefix_wins_and_families_stay_apart() {
        let mut t = RouteTable::default();
        t.add(&spec("0.0.0.0/0 via 10.0.0.1 dev a"), 0);
        t.add(&spec("10.1.2.0/24 dev b"), 1);
        t.add(&spec("10.1.2.128/25 via 10.1.2.1 dev c"), 2);
        t.add(&spec("2001:db8:2::/64 dev b"), 1);
        let hop = |a: &str| t.lookup(a.parse().unwrap());
        assert_eq!(
            hop("10.1.2.7"),
            Some(Hop {
                port: 1,
                nexthop: "10.1.2.7".parse().unwrap()
            })
        );
        assert_eq!(
            hop("10.1.2.200"),
            Some(Hop {
                port: 2,
                nexthop: "10.1.2.1".parse().unwrap()
            })
        );
        assert_eq!(hop("192.0.2.1").map(|h| h.port), Some(0));
        assert_eq!(hop("2001:db8:2::9").map(|h| h.port), Some(1));
        assert_eq!(hop("2001:db8:3::9"), None, "no v6 default route");
    }
}
