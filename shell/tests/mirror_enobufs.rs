//! Lost sync: a tiny event-socket buffer and bursts of 100,000 changes make the kernel
//! drop events (`ENOBUFS`) for sure; the mirror must notice (stats), re-dump, and still
//! converge to the kernel's table, 10 runs out of 10, while a reader thread never sees a
//! torn entry and never misses an entry present throughout.

mod common;
mod mirror_support;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Netns;
use mirror_support::*;
use neigh::mirror::{MirrorConfig, MirrorStats, StatWord};
use neigh_core::NeighKey;

/// Entries per set; a run replaces one set and deletes the other: 2 x SET changes.
const SET: u32 = 50_000;
const RUNS: u32 = 10;

fn set_addr(set: u32, i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 100 + set as u8, (i >> 8) as u8, i as u8))
}

#[test]
fn mirror_enobufs_bursts_converge() {
    let Some(ns) = Netns::new("mirror_enobufs") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    quiet_veth(&ns, "vs", "vt");
    let idx = links(&ns);
    let mut stable = Vec::new();
    let mut script = String::new();
    for i in 1..=50u32 {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, i as u8));
        let mac = test_mac(&addr, 0);
        let _ = writeln!(
            script,
            "neigh replace {addr} lladdr {} dev vs nud permanent",
            mac_text(&mac)
        );
        stable.push((
            NeighKey {
                ifindex: idx["vs"],
                addr,
            },
            mac,
        ));
    }
    // Set 1 exists before the mirror starts (its first dump has 50,000 entries).
    for i in 0..SET {
        let a = set_addr(1, i);
        let _ = writeln!(
            script,
            "neigh replace {a} lladdr {} dev va nud permanent",
            mac_text(&test_mac(&a, 1))
        );
    }
    ip_batch(&ns, &script);

    let name = map_name("mirror_enobufs");
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name.clone()),
            capacity: 3 * SET as usize,
            // The smallest buffer the kernel allows (it rounds up to ~4.5 KiB).
            rcvbuf: 1,
            periodic_resync: None,
            ..Default::default()
        },
    );
    let region = mirror.join();
    let n = assert_converges(&ns, &region, Duration::from_secs(30));
    assert_eq!(n, SET as usize + stable.len());

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let reader = spawn_reader(
        name.clone(),
        stable.clone(),
        Arc::clone(&stop),
        Arc::clone(&rounds),
    );

    for run in 0..RUNS {
        let (fresh, old) = (run % 2, (run + 1) % 2);
        let variant = 2 + run as u8;
        let before = MirrorStats::read(&region.reader().expect("reader"));
        let mut script = String::with_capacity(SET as usize * 120);
        for i in 0..SET {
            let a = set_addr(fresh, i);
            let _ = writeln!(
                script,
                "neigh replace {a} lladdr {} dev va nud permanent",
                mac_text(&test_mac(&a, variant))
            );
            let _ = writeln!(script, "neigh del {} dev va", set_addr(old, i));
        }
        let t = Instant::now();
        ip_batch(&ns, &script);
        let burst = t.elapsed();
        let n = assert_converges(&ns, &region, Duration::from_secs(60));
        assert_eq!(n, SET as usize + stable.len(), "run {run}: table size");
        let after = MirrorStats::read(&region.reader().expect("reader"));
        let enobufs = after.get(StatWord::Enobufs) - before.get(StatWord::Enobufs);
        let resyncs = after.get(StatWord::Resyncs) - before.get(StatWord::Resyncs);
        eprintln!(
            "run {run}: {} changes in {burst:?}, {enobufs} ENOBUFS, {resyncs} resyncs, converged after {:?}",
            2 * SET,
            t.elapsed()
        );
        assert!(
            enobufs > 0,
            "run {run}: the burst did not overflow the buffer"
        );
        assert!(
            resyncs >= enobufs.min(1),
            "run {run}: no resync after ENOBUFS"
        );
    }

    finish_reader(&stop, &rounds, reader);
    mirror.stop().expect("clean stop");
}
