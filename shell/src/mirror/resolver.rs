//! Serving resolution requests: deduplication, rate limiting, and the two ways of making
//! the kernel resolve a neighbor.
//!
//! Each request drained from the ring goes through, in order: validity (interface and
//! family mirrored), "already resolved" (the map has a REACHABLE/PERMANENT/NOARP entry),
//! the per-address hold-down (one ask per (interface, address) per period), and the global
//! token bucket. Survivors are asked of the kernel with `RTM_NEWNEIGH` `NTF_USE` +
//! `NUD_INCOMPLETE` (`NLM_F_CREATE | NLM_F_REPLACE`): the kernel creates the entry if
//! needed and starts resolution (ARP request / neighbor solicitation); on an existing entry
//! `NTF_USE` only triggers a probe and changes nothing else. That needs `CAP_NET_ADMIN`;
//! after the first `EPERM` the resolver switches for good to sending a one-byte UDP
//! datagram with TTL/hop limit 1 to port 9 (discard) out of the interface
//! (`IP_UNICAST_IF`/`IPV6_UNICAST_IF`, no privilege needed), which makes the kernel
//! resolve the next hop as for any packet.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use neigh_core::map::NeighMap;
use neigh_core::ring::ResolveRequest;
use neigh_core::wire::{neigh_new, request::REQUEST_BUF_LEN, NeighRequest, NewMode};
use neigh_core::{NeighKey, NtfFlags, NudState};

use super::config::ResolveConfig;
use crate::netlink::{KernelError, RouteSocket};

/// What happened to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handed to the kernel.
    Served,
    /// Already resolved, or asked within the hold-down period.
    Deduped,
    /// The global token bucket was empty.
    RateLimited,
    /// Not a mirrored interface/family, or the kernel refused.
    Failed,
}

/// The resolver's state: a token bucket, the hold-down table and the fallback sockets.
#[derive(Debug)]
pub(crate) struct Resolver {
    cfg: ResolveConfig,
    tokens: f64,
    refilled: Instant,
    held: HashMap<ResolveRequest, Instant>,
    use_udp: bool,
    udp4: Option<UdpSocket>,
    udp6: Option<UdpSocket>,
}

const SETTLED: NudState =
    NudState(NudState::REACHABLE.0 | NudState::PERMANENT.0 | NudState::NOARP.0);

impl Resolver {
    pub fn new(cfg: ResolveConfig, now: Instant) -> Self {
        Self {
            cfg,
            tokens: cfg.burst,
            refilled: now,
            held: HashMap::new(),
            use_udp: cfg.udp_only,
            udp4: None,
            udp6: None,
        }
    }

    /// Decides on and, if warranted, serves one request. `allowed` says whether the
    /// mirror covers its interface and family. Cost: O(1) plus one netlink round trip or
    /// one `sendto` when served.
    pub fn handle(
        &mut self,
        req: ResolveRequest,
        now: Instant,
        map: &NeighMap<'_>,
        sock: &mut RouteSocket,
        allowed: bool,
    ) -> Outcome {
        if !allowed {
            return Outcome::Failed;
        }
        let key = NeighKey {
            ifindex: req.ifindex,
            addr: req.addr,
        };
        if let Ok(Some(e)) = map.get(&key) {
            if e.is_resolved() && e.state().intersects(SETTLED) {
                return Outcome::Deduped;
            }
        }
        if let Some(&at) = self.held.get(&req) {
            if now.duration_since(at) < self.cfg.hold_down {
                return Outcome::Deduped;
            }
        }
        self.refill(now);
        if self.tokens < 1.0 {
            return Outcome::RateLimited;
        }
        self.tokens -= 1.0;
        self.held.insert(req, now);
        if self.held.len() > 4096 {
            let hold = self.cfg.hold_down;
            self.held.retain(|_, at| now.duration_since(*at) < hold);
        }
        match self.ask(&req, sock) {
            Ok(()) => Outcome::Served,
            Err(e) => {
                debug!("resolve {} on ifindex {}: {e}", req.addr, req.ifindex);
                Outcome::Failed
            }
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + dt * self.cfg.rate_per_sec).min(self.cfg.burst);
    }

    fn ask(&mut self, req: &ResolveRequest, sock: &mut RouteSocket) -> io::Result<()> {
        if !self.use_udp {
            match ask_kernel(req, sock) {
                Err(e) if KernelError::from_io(&e).is_some_and(|k| k.errno == libc::EPERM) => {
                    info!("resolve: no CAP_NET_ADMIN; falling back to TTL-1 UDP datagrams");
                    self.use_udp = true;
                }
                other => return other,
            }
        }
        self.send_udp(req)
    }

    fn send_udp(&mut self, req: &ResolveRequest) -> io::Result<()> {
        let (slot, bind) = match req.addr {
            IpAddr::V4(_) => (&mut self.udp4, "0.0.0.0:0"),
            IpAddr::V6(_) => (&mut self.udp6, "[::]:0"),
        };
        if slot.is_none() {
            let s = UdpSocket::bind(bind)?;
            match req.addr {
                IpAddr::V4(_) => s.set_ttl(1)?,
                IpAddr::V6(_) => setsockopt(&s, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 1)?,
            }
            *slot = Some(s);
        }
        let Some(s) = slot.as_ref() else {
            return Err(io::Error::other("no UDP socket"));
        };
        let to = match req.addr {
            IpAddr::V4(a) => {
                // IP_UNICAST_IF takes the index in network byte order.
                setsockopt(
                    s,
                    libc::IPPROTO_IP,
                    libc::IP_UNICAST_IF,
                    req.ifindex.to_be() as i32,
                )?;
                SocketAddr::from((a, 9))
            }
            IpAddr::V6(a) => {
                setsockopt(
                    s,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_UNICAST_IF,
                    req.ifindex as i32,
                )?;
                SocketAddr::V6(SocketAddrV6::new(a, 9, 0, req.ifindex))
            }
        };
        s.send_to(&[0], to).map(|_| ())
    }
}

/// `RTM_NEWNEIGH` with `NTF_USE` and `NUD_INCOMPLETE`, create-or-replace, acked.
fn ask_kernel(req: &ResolveRequest, sock: &mut RouteSocket) -> io::Result<()> {
    let mut buf = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = neigh_new(
        &mut buf,
        seq,
        &NeighRequest {
            ifindex: req.ifindex,
            addr: req.addr,
            lladdr: None,
            state: NudState::INCOMPLETE,
            flags: NtfFlags::USE,
            flags_ext: None,
            protocol: None,
        },
        NewMode::Replace,
    )
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    sock.request(&buf[..n], |_| Ok(())).map(|_| ())
}

fn setsockopt(s: &UdpSocket, level: i32, name: i32, value: i32) -> io::Result<()> {
    crate::sys::set_int_sockopt(s, level, name, value).inspect_err(|e| {
        warn!("resolve: setsockopt({level}, {name}): {e}");
    })
}

/// How long a ring claim may stay unpublished before the consumer skips it. Claims made
/// before the consumer first saw the drain blocked share one wait, so K claims crashed
/// producers left in a row cost one such wait, not K.
pub(crate) const STUCK_CLAIM: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use neigh_core::map::MapParams;
    use std::net::Ipv4Addr;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn hold_down_rate_limit_and_validity() {
        // A socket is needed for the signature; no request reaches it: the tests below
        // stop before `ask` or use a map entry that is already resolved.
        let Ok(mut sock) = RouteSocket::open(&Default::default()) else {
            eprintln!("SKIPPED: cannot open a netlink socket");
            return;
        };
        let p = MapParams::for_entries(16);
        let words: Vec<AtomicU64> = (0..neigh_core::map::footprint(&p).unwrap() / 8)
            .map(|_| AtomicU64::new(0))
            .collect();
        let map = NeighMap::format_words(&words, &p).unwrap();
        let t0 = Instant::now();
        let cfg = ResolveConfig {
            ring_cells: 16,
            rate_per_sec: 0.0,
            burst: 0.0,
            hold_down: Duration::from_secs(1),
            udp_only: false,
        };
        let mut r = Resolver::new(cfg, t0);
        let q = ResolveRequest {
            ifindex: 1,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        };
        assert_eq!(r.handle(q, t0, &map, &mut sock, false), Outcome::Failed);
        assert_eq!(r.handle(q, t0, &map, &mut sock, true), Outcome::RateLimited);
        // Held down once asked: simulate an earlier ask.
        r.held.insert(q, t0);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(r.handle(q, t1, &map, &mut sock, true), Outcome::Deduped);
        let t2 = t0 + Duration::from_millis(1500);
        assert_eq!(r.handle(q, t2, &map, &mut sock, true), Outcome::RateLimited);
        // Already resolved in the map: deduplicated, whatever the bucket says.
        let e = neigh_core::NeighEntry {
            key: NeighKey {
                ifindex: 1,
                addr: q.addr,
            },
            mac: Some([2, 0, 0, 0, 0, 1]),
            state: NudState::REACHABLE,
            flags: NtfFlags::NONE,
        };
        map.upsert(&e, 1).unwrap();
        assert_eq!(r.handle(q, t2, &map, &mut sock, true), Outcome::Deduped);
    }

    #[test]
    fn token_bucket_refills_at_rate_up_to_burst() {
        let t0 = Instant::now();
        let mut r = Resolver::new(
            ResolveConfig {
                ring_cells: 16,
                rate_per_sec: 10.0,
                burst: 5.0,
                hold_down: Duration::ZERO,
                udp_only: false,
            },
            t0,
        );
        r.tokens = 0.0;
        r.refill(t0 + Duration::from_millis(200));
        assert!((r.tokens - 2.0).abs() < 1e-9);
        r.refill(t0 + Duration::from_secs(10));
        assert!((r.tokens - 5.0).abs() < 1e-9);
    }
}
