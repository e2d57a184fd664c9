//! Resolution requests: a reader that misses posts "resolve ADDR on IF" into the ring;
//! the mirror asks the kernel, the map shows the entry INCOMPLETE (resolution pending),
//! then resolved once a responder on the veth peer answers the ARP request.

mod common;
mod mirror_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::Netns;
use mirror_support::*;
use neigh::mirror::{MirrorConfig, MirrorStats, Region, ResolveConfig, StatWord};
use neigh::workspace::Access;
use neigh_core::ring::ResolveRequest;
use neigh_core::{NeighKey, NudState};

/// Mirror side `ns` (va, 10.3.0.1/24) and responder side `peer` (vb).
fn two_namespaces(test: &str) -> Option<(Netns, Netns)> {
    let ns = Netns::new(test)?;
    let peer = Netns::new(&format!("{test}_peer"))?;
    ns.ip_ok("link add va type veth peer name vb");
    ns.ip_ok(&format!("link set vb netns {}", peer.name()));
    ns.ip_ok("addr add 10.3.0.1/24 dev va");
    ns.ip_ok("link set va up");
    peer.ip_ok("link set vb up");
    Some((ns, peer))
}

fn peer_mac(peer: &Netns) -> [u8; 6] {
    let out = peer.ip_ok("-j link show vb");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let text = v[0]["address"].as_str().expect("address");
    let mut m = [0u8; 6];
    for (b, p) in m.iter_mut().zip(text.split(':')) {
        *b = u8::from_str_radix(p, 16).expect("hex");
    }
    m
}

/// Posts `req` every 300 ms until `done` accepts the map's entry (or 15 s pass).
fn post_until(
    region: &Region,
    poster: &Region,
    req: ResolveRequest,
    mut done: impl FnMut(Option<neigh_core::NeighEntry>) -> bool,
) -> bool {
    let ring = poster.ring().expect("ring").expect("valid ring");
    let key = NeighKey {
        ifindex: req.ifindex,
        addr: req.addr,
    };
    let reader = region.reader().expect("reader");
    let start = Instant::now();
    let mut last_post: Option<Instant> = None;
    while start.elapsed() < Duration::from_secs(15) {
        if last_post.is_none_or(|t| t.elapsed() > Duration::from_millis(300)) {
            ring.post(&req).expect("ring has room");
            last_post = Some(Instant::now());
        }
        let e = reader.get(&key).ok().flatten().map(|e| e.entry());
        if done(e) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn run_resolve(test: &str, udp_only: bool) {
    let Some((ns, peer)) = two_namespaces(test) else {
        return;
    };
    let va = links(&ns)["va"];
    let name = map_name(test);
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name.clone()),
            capacity: 256,
            resolve: ResolveConfig {
                ring_cells: 64,
                hold_down: Duration::from_millis(200),
                udp_only,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let region = mirror.join();
    // A data plane posts through a read-write join of the same region.
    let poster = Region::open(&name, Access::ReadWrite).expect("join read-write");
    let req = ResolveRequest {
        ifindex: va,
        addr: IpAddr::V4(Ipv4Addr::new(10, 3, 0, 2)),
    };
    // Nobody answers yet: the entry must show up unresolved, resolution pending.
    let pending = post_until(&region, &poster, req, |e| {
        e.is_some_and(|e| e.mac.is_none() && e.state.intersects(NudState::INCOMPLETE))
    });
    assert!(pending, "no INCOMPLETE entry after the posted miss");
    // The responder appears: the kernel's next ARP request gets a reply.
    peer.ip_ok("addr add 10.3.0.2/24 dev vb");
    let mac = peer_mac(&peer);
    let resolved = post_until(&region, &poster, req, |e| {
        e.is_some_and(|e| e.mac == Some(mac))
    });
    assert!(resolved, "entry never resolved to the responder's MAC");
    let stats = MirrorStats::read(&region.reader().expect("reader"));
    assert!(
        stats.get(StatWord::RequestsServed) >= 1,
        "{:?}",
        stats.words
    );
    assert!(
        stats.get(StatWord::RequestsDeduped) + stats.get(StatWord::RequestsServed) >= 2,
        "{:?}",
        stats.words
    );
    assert_eq!(stats.get(StatWord::RequestsFailed), 0, "{:?}", stats.words);
    let ring = region.ring_stats().expect("ring stats");
    assert!(ring.posted >= 2 && ring.dropped_full == 0, "{ring:?}");
    drop(poster);
    mirror.stop().expect("clean stop");
}

#[test]
fn mirror_resolve_with_netlink_ntf_use() {
    run_resolve("mirror_resolve_nl", false);
}

#[test]
fn mirror_resolve_with_udp_fallback() {
    run_resolve("mirror_resolve_udp", true);
}

#[test]
fn mirror_ring_full_drops_and_counts() {
    // No mirror drains this region: a full ring must drop at once, never block.
    let name = map_name("mirror_ringfull");
    let params = neigh_core::map::MapParams::for_entries(16);
    let owner = Region::create(Some(&name), &params, 8, &Default::default()).expect("create");
    let poster = Region::open(&name, Access::ReadWrite).expect("join read-write");
    let ring = poster.ring().expect("ring").expect("valid");
    let mut dropped = 0;
    for i in 0..20u8 {
        let req = ResolveRequest {
            ifindex: 1,
            addr: IpAddr::V4(Ipv4Addr::new(10, 4, 0, i)),
        };
        if ring.post(&req).is_err() {
            dropped += 1;
        }
    }
    assert_eq!(
        dropped, 12,
        "8 cells take 8 requests, the rest are dropped at once"
    );
    let ro = Region::open(&name, Access::ReadOnly).expect("join read-only");
    assert_eq!(
        ro.ring_stats().map(|s| (s.posted, s.dropped_full)),
        Some((8, 12))
    );
    drop((owner, poster, ro));
    neigh::workspace::Workspace::unlink_shm(&name).expect("unlink");
}
