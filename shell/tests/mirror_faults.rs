//! The mirror under attack and under failing sockets: it never exits on a socket error
//! (a failed resync is retried with backoff while events still apply), another process
//! cannot queue datagrams on its sockets, and a flood of forged multicast events cannot
//! stop its heartbeat.

mod common;
mod mirror_support;

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{forged_newneigh, Netns};
use mirror_support::*;
use neigh::mirror::{MirrorConfig, MirrorState, MirrorStats, Region, StatWord};
use neigh_core::NeighKey;

/// One `NETLINK_ROUTE` socket of this namespace, from `/proc/thread-self/net/netlink`.
#[derive(Debug)]
struct NetlinkSock {
    port: u32,
    groups: u32,
    inode: u64,
}

/// The route sockets of user space in the calling thread's network namespace.
fn route_sockets() -> Vec<NetlinkSock> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netlink").expect("netlink table");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (proto, port) = (f.get(1)?.parse::<u32>().ok()?, f.get(2)?.parse().ok()?);
            let groups = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let inode = f.get(9)?.parse().ok()?;
            (proto == 0 && port != 0).then_some(NetlinkSock {
                port,
                groups,
                inode,
            })
        })
        .collect()
}

/// This process's descriptor for the socket of `inode`.
fn fd_of_socket(inode: u64) -> i32 {
    let want = format!("socket:[{inode}]");
    std::fs::read_dir("/proc/self/fd")
        .expect("fd dir")
        .filter_map(Result::ok)
        .find(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_str() == Some(&want)))
        .and_then(|e| e.file_name().to_str()?.parse().ok())
        .expect("the mirror's dump socket among our descriptors")
}

fn state(region: &Region) -> MirrorState {
    MirrorStats::read(&region.reader().expect("reader")).state
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn socket_failures_never_stop_the_mirror_and_junk_cannot_reach_its_dump_socket() {
    let Some(ns) = Netns::new("mirror_faults") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    let name = map_name("mirror_faults");
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name.clone()),
            capacity: 256,
            periodic_resync: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    );
    let region = mirror.join();
    let dump = ns.run_inside(|| {
        let socks = route_sockets();
        assert_eq!(socks.len(), 2, "the mirror's two sockets: {socks:?}");
        let dump = socks
            .into_iter()
            .find(|s| s.groups == 0)
            .expect("dump socket");
        // Another process's junk to the dump socket's port: refused by the kernel, so it
        // never fills the socket's buffer (where it made the next dump fail).
        let forger = neigh::netlink::RouteSocket::open(&Default::default()).expect("socket");
        for _ in 0..200 {
            let e = forger
                .send_to(&[0u8; 512], dump.port)
                .expect_err("junk refused");
            assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");
        }
        dump
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(mirror.is_running(), "the mirror exited after the junk");

    // Break the dump socket under the mirror: every resync now fails (ENOTSOCK).
    let fd = fd_of_socket(dump.inode);
    let null = File::open("/dev/null").expect("/dev/null");
    // SAFETY: dup2 onto a descriptor of this process; the mirror's socket is replaced
    // atomically, and the descriptor stays open (now /dev/null) for the mirror to use.
    assert!(unsafe { libc::dup2(null.as_raw_fd(), fd) } >= 0);
    wait_for("a failing resync", Duration::from_secs(3), || {
        state(&region) == MirrorState::Resyncing
    });
    // Events still apply while resyncs fail, and the heartbeat goes on.
    let va = links(&ns)["va"];
    ns.ip_ok("neigh add 10.7.0.1 lladdr 02:00:0a:07:00:01 dev va nud permanent");
    let key = NeighKey {
        ifindex: va,
        addr: IpAddr::V4(Ipv4Addr::new(10, 7, 0, 1)),
    };
    let reader = region.reader().expect("reader");
    wait_for("an event applied", Duration::from_secs(2), || {
        reader.get(&key).ok().flatten().is_some()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(mirror.is_running(), "the mirror exited on a failed resync");
    let stats = MirrorStats::read(&reader);
    assert!(!stats.stale, "heartbeat {} ms old", stats.heartbeat_age_ms);
    assert_eq!(stats.state, MirrorState::Resyncing);
    // Counted where readers see it; retried with backoff, not at every turn (a turn is
    // 10 ms: 2 s of retries at every turn would be ~200).
    let failed = stats.get(StatWord::ResyncFailures);
    assert!(
        (1..=12).contains(&failed),
        "{failed} failed resyncs counted"
    );

    // Repair it: a fresh socket on the same port id. The retried resync then succeeds.
    let port = dump.port;
    ns.run_inside(move || {
        // SAFETY: plain socket calls on descriptors this closure owns, then dup2 onto the
        // mirror's descriptor (atomic replacement, as above).
        unsafe {
            let s = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            assert!(s >= 0);
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as u16;
            addr.nl_pid = port;
            let len = std::mem::size_of::<libc::sockaddr_nl>() as u32;
            assert_eq!(libc::bind(s, (&raw const addr).cast(), len), 0);
            assert!(libc::dup2(s, fd) >= 0);
            libc::close(s);
        }
    });
    wait_for("a resync after the repair", Duration::from_secs(10), || {
        state(&region) == MirrorState::Synced
    });
    ns.ip_ok("neigh add 10.7.0.2 dev va nud incomplete");
    assert_converges(&ns, &region, Duration::from_secs(5));
    assert!(mirror.is_running());
    mirror.stop().expect("clean stop");
}

#[test]
fn a_flood_of_forged_events_does_not_stop_the_heartbeat() {
    let Some(ns) = Netns::new("mirror_flood") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    let va = links(&ns)["va"];
    let name = map_name("mirror_flood");
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name.clone()),
            capacity: 256,
            periodic_resync: None,
            ..Default::default()
        },
    );
    let region = mirror.join();
    let reader = region.reader().expect("reader");
    let period = Duration::from_millis(MirrorStats::read(&reader).get(StatWord::HeartbeatPeriodMs));

    // A privileged process multicasting forged RTM_NEWNEIGH to RTNLGRP_NEIGH as fast as it
    // can: the kernel delivers multicast to every member, connected or not.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let netns_path = format!("/run/netns/{}", ns.name());
    let forged = forged_newneigh(va);
    let flood = std::thread::spawn(move || {
        let file = File::open(&netns_path).expect("open netns");
        // SAFETY: setns on a valid namespace descriptor (this thread only); then a raw
        // socket this thread owns, its address a zeroed sockaddr_nl filled in.
        unsafe {
            assert_eq!(libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET), 0);
            let s = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            assert!(s >= 0);
            let mut to: libc::sockaddr_nl = std::mem::zeroed();
            to.nl_family = libc::AF_NETLINK as u16;
            to.nl_groups = 1 << (libc::RTNLGRP_NEIGH - 1);
            let len = std::mem::size_of::<libc::sockaddr_nl>() as u32;
            let mut sent = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let rc = libc::sendto(
                    s,
                    forged.as_ptr().cast(),
                    forged.len(),
                    0,
                    (&raw const to).cast(),
                    len,
                );
                assert!(rc >= 0, "sendto: {}", std::io::Error::last_os_error());
                sent += 1;
            }
            libc::close(s);
            sent
        }
    });

    let start = Instant::now();
    let mut oldest = 0u64;
    let mut changed = false;
    while start.elapsed() < Duration::from_secs(4) {
        oldest = oldest.max(MirrorStats::read(&reader).heartbeat_age_ms);
        if !changed && start.elapsed() > Duration::from_secs(1) {
            ns.ip_ok("neigh add 10.8.0.1 lladdr 02:00:0a:08:00:01 dev va nud permanent");
            changed = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().expect("flood thread");
    let stats = MirrorStats::read(&reader);
    eprintln!(
        "flood: {sent} forged datagrams sent, {} dropped by the mirror; oldest heartbeat seen {oldest} ms",
        stats.get(StatWord::Spoofed)
    );
    assert!(
        stats.get(StatWord::Spoofed) > 0,
        "the flood reached the mirror"
    );
    assert!(
        oldest < 2 * period.as_millis() as u64,
        "heartbeat went {oldest} ms without a store (period {period:?})"
    );
    assert!(mirror.is_running());
    // The real change made during the flood is there; the forged entry is not.
    assert_converges(&ns, &region, Duration::from_secs(5));
    mirror.stop().expect("clean stop");
}

/// Producers that crashed between claiming a ring cell and publishing it, K of them in a
/// row: the mirror skips them together after one wait, not one wait each, and serves the
/// request posted after them.
#[test]
fn claims_crashed_producers_left_in_a_row_are_skipped_together() {
    use neigh::workspace::Access;
    use neigh_core::ring::{ring_footprint, ResolveRequest};
    use std::sync::atomic::AtomicU64;

    const CRASHED: u64 = 5;
    const CELLS: usize = 16;
    let Some(ns) = Netns::new("ring_claims") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("addr add 10.9.0.1/24 dev va");
    let va = links(&ns)["va"];
    let name = map_name("ring_claims");
    let mut cfg = MirrorConfig {
        map_name: Some(name.clone()),
        capacity: 256,
        periodic_resync: None,
        ..Default::default()
    };
    cfg.resolve.ring_cells = CELLS;
    cfg.resolve.udp_only = true;
    let mirror = RunningMirror::start(&ns, cfg);
    let poster = Region::open(&name, Access::ReadWrite).expect("join read-write");
    // The ring is the region's tail; its enqueue position is header word 8. Claiming
    // positions without publishing them is what a producer killed mid-post leaves.
    let ws = poster.workspace();
    let ring_at = ws.len() - ring_footprint(CELLS).expect("cells");
    // SAFETY: word 8 of the ring header, inside the live read-write mapping, aligned.
    let enqueue = unsafe { &*ws.as_mut_ptr().add(ring_at + 8 * 8).cast::<AtomicU64>() };
    enqueue.fetch_add(CRASHED, Ordering::AcqRel);
    let ring = poster.ring().expect("ring").expect("valid");
    let req = ResolveRequest {
        ifindex: va,
        addr: IpAddr::V4(Ipv4Addr::new(10, 9, 0, 9)),
    };
    let start = Instant::now();
    ring.post(&req).expect("posted after the crashed claims");
    wait_for("the request drained", Duration::from_secs(10), || {
        poster.ring_stats().is_some_and(|s| s.drained == 1)
    });
    let took = start.elapsed();
    let s = poster.ring_stats().expect("stats");
    assert_eq!(s.abandoned, CRASHED, "{s:?}");
    assert!(
        took < Duration::from_millis(2500),
        "{CRASHED} crashed claims held the request for {took:?}"
    );
    drop(poster);
    mirror.stop().expect("clean stop");
}
