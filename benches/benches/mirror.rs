//! The mirror: full resync of a 100,000-entry table into the map vs a bare
//! `recv` loop of the same dump (the kernel's limit); kernel-event-to-map latency
//! (p50/p99) under a steady stream of other changes; and the ingest rate of the event
//! path (parse + ingest policy + map apply) over 100,000 synthesized RTM_NEWNEIGH.
//!
//! Runs in a private network namespace (PERMANENT entries loaded with `ip -batch`),
//! entered with `setns` before any thread starts. Needs root; skips with a message
//! otherwise. Prints the resync/recv ratio and the latency percentiles after criterion's
//! groups; benches/README.md quotes them.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use neigh::mirror::{Mirror, MirrorConfig, DUMP_RCVBUF};
use neigh::netlink::{RouteSocket, SocketOptions};
use neigh_benches::{median, raw_dump, KernelTable, DEV};
use neigh_core::map::{footprint, MapParams, NeighMap};
use neigh_core::wire::consts::{AF_INET, RTM_NEWNEIGH};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, ingest, MessageIter, NeighMessage, NeighRequest, NewMode, Parsed};
use neigh_core::{NeighKey, NtfFlags, NudState};

const ENTRIES: u32 = 100_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn replace_req(buf: &mut [u8], seq: u32, ifindex: u32, addr: Ipv4Addr, mac: &[u8; 6]) -> usize {
    wire::neigh_new(
        buf,
        seq,
        &NeighRequest {
            ifindex,
            addr: IpAddr::V4(addr),
            lladdr: Some(mac),
            state: NudState::PERMANENT,
            flags: NtfFlags::NONE,
            flags_ext: None,
            protocol: None,
        },
        NewMode::Replace,
    )
    .expect("build")
}

/// Interleaved medians of 15 (see [`bench_resync`]).
struct ResyncMedians {
    /// Bare recv loop on a socket with the mirror's dump socket buffer.
    raw: Duration,
    /// The same loop on a socket with the default (8 MiB) buffer.
    raw_big_buffer: Duration,
    /// The mirror's full resync.
    resync: Duration,
}

fn bench_resync(c: &mut Criterion) -> ResyncMedians {
    // Like with like: the bare loop reads the dump on a socket with the receive buffer
    // the mirror's dump socket has (see neigh::mirror::DUMP_RCVBUF). The interleaved pass
    // also times it with the default 8 MiB buffer, to show the baseline is not slower.
    let mut sock = RouteSocket::open(&SocketOptions {
        rcvbuf: DUMP_RCVBUF,
        ..SocketOptions::default()
    })
    .expect("socket");
    let mut big = RouteSocket::open(&SocketOptions::default()).expect("socket");
    let mut buf = vec![0u8; 64 << 10];
    let count = raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq());
    assert!(count >= ENTRIES as usize, "table size {count}");
    let mut mirror = Mirror::new(MirrorConfig {
        capacity: ENTRIES as usize,
        periodic_resync: None,
        ..Default::default()
    })
    .expect("mirror");
    assert!(mirror.reader().expect("reader").len() >= ENTRIES as usize);
    let mut resync = || {
        mirror.request_resync();
        let r = mirror.poll_once(Duration::ZERO).expect("resync");
        assert_eq!(r.resyncs, 1);
    };
    {
        let mut g = c.benchmark_group("resync_100k");
        g.sample_size(20);
        g.throughput(Throughput::Elements(u64::from(ENTRIES)));
        g.bench_function("bare_recv_dump", |b| {
            b.iter(|| black_box(raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq())))
        });
        g.bench_function("mirror_resync_into_map", |b| b.iter(&mut resync));
        g.finish();
    }
    // Interleaved, for the ratio README.md quotes.
    let (mut raw, mut raw_big, mut full) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        black_box(raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq()));
        raw.push(t.elapsed());
        let t = Instant::now();
        resync();
        full.push(t.elapsed());
        let t = Instant::now();
        black_box(raw_dump(big.as_raw_fd(), &mut buf, big.next_seq()));
        raw_big.push(t.elapsed());
    }
    ResyncMedians {
        raw: median(raw),
        raw_big_buffer: median(raw_big),
        resync: median(full),
    }
}

/// Event-to-map latency: replace one entry's MAC over netlink and spin until the map
/// (written by a mirror thread) shows it, while another thread changes other entries at
/// a steady rate. Also records the request's ACK time alone, the baseline.
fn bench_latency(c: &mut Criterion, ifindex: u32) -> (Vec<Duration>, Vec<Duration>, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let mirror_stop = Arc::clone(&stop);
    let mirror = std::thread::spawn(move || {
        let mut m = Mirror::new(MirrorConfig {
            map_name: Some(format!("neigh-bench-mirror-{}", std::process::id())),
            capacity: 2 * ENTRIES as usize,
            periodic_resync: None,
            ..Default::default()
        })
        .expect("mirror");
        tx.send(()).expect("ready");
        m.run(&mirror_stop).expect("run");
    });
    rx.recv().expect("mirror ready");
    let name = format!("neigh-bench-mirror-{}", std::process::id());
    let region =
        neigh::mirror::Region::open(&name, neigh::workspace::Access::ReadOnly).expect("join");
    let reader = region.reader().expect("reader");

    // Background stream: 32 replaces every 4 ms (about 8,000 changes/s) on 10.200/16.
    let changed = Arc::new(AtomicU64::new(0));
    let bg = {
        let (stop, changed) = (Arc::clone(&stop), Arc::clone(&changed));
        std::thread::spawn(move || {
            let mut s = RouteSocket::open(&SocketOptions::default()).expect("socket");
            let mut batch = Vec::new();
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                batch.clear();
                let first = s.next_seq();
                for k in 0..32u32 {
                    let seq = if k == 0 { first } else { s.next_seq() };
                    let i = (round * 32 + k) % 4096;
                    let mut b = [0u8; REQUEST_BUF_LEN];
                    let mac = [2, 0xbb, 0, (round & 0xff) as u8, (i >> 8) as u8, i as u8];
                    let n = replace_req(
                        &mut b,
                        seq,
                        ifindex,
                        Ipv4Addr::new(10, 200, (i >> 8) as u8, i as u8),
                        &mac,
                    );
                    batch.extend_from_slice(&b[..n]);
                }
                s.request_batch(&batch, first, 32, |_, e| panic!("background change: {e}"))
                    .expect("batch");
                changed.fetch_add(32, Ordering::Relaxed);
                round += 1;
                std::thread::sleep(Duration::from_millis(4));
            }
        })
    };

    let mut sock = RouteSocket::open(&SocketOptions::default()).expect("socket");
    let target = Ipv4Addr::new(10, 250, 0, 1);
    let key = NeighKey {
        ifindex,
        addr: IpAddr::V4(target),
    };
    let samples = Mutex::new(Vec::new());
    let acks = Mutex::new(Vec::new());
    let mut flip = 0u32;
    let mut one = |sock: &mut RouteSocket| -> Duration {
        flip = flip.wrapping_add(1);
        let mac = [
            2,
            0xcc,
            0,
            (flip >> 16) as u8,
            (flip >> 8) as u8,
            flip as u8,
        ];
        let mut b = [0u8; REQUEST_BUF_LEN];
        let seq = sock.next_seq();
        let n = replace_req(&mut b, seq, ifindex, target, &mac);
        let t = Instant::now();
        sock.request(&b[..n], |_| Ok(())).expect("replace");
        let ack = t.elapsed();
        loop {
            if let Ok(Some(e)) = reader.get(&key) {
                if e.mac() == Some(mac) {
                    break;
                }
            }
            std::hint::spin_loop();
            if t.elapsed() > Duration::from_secs(5) {
                panic!("change not visible in the map after 5 s");
            }
        }
        let lat = t.elapsed();
        samples.lock().expect("samples").push(lat);
        acks.lock().expect("acks").push(ack);
        lat
    };
    {
        let mut g = c.benchmark_group("event_to_map");
        g.sample_size(50);
        g.bench_function("replace_to_visible_under_8k_changes_per_s", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| one(&mut sock)).sum())
        });
        g.finish();
    }
    stop.store(true, Ordering::Relaxed);
    bg.join().expect("background");
    mirror.join().expect("mirror");
    drop(region);
    let _ = neigh::workspace::Workspace::unlink_shm(&name);
    let mut s = samples.into_inner().expect("samples");
    let mut a = acks.into_inner().expect("acks");
    s.sort();
    a.sort();
    (s, a, changed.load(Ordering::Relaxed))
}

/// The event path's CPU cost: parse, ingest policy and map apply of 100,000
/// RTM_NEWNEIGH messages packed in 32 KiB datagrams, as the mirror receives them.
fn bench_ingest(c: &mut Criterion) {
    let mut datagrams: Vec<Vec<u8>> = vec![Vec::with_capacity(32 << 10)];
    for i in 0..ENTRIES {
        let mac = [2, 0, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let msg = NeighMessage {
            kind: RTM_NEWNEIGH,
            family: AF_INET,
            ifindex: 2,
            state: NudState::REACHABLE,
            dst: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))),
            lladdr: Some(&mac),
            ..Default::default()
        };
        let mut b = [0u8; 256];
        let n = msg.emit(&mut b, 0, 0).expect("emit");
        if datagrams.last().is_some_and(|d| d.len() + n > 32 << 10) {
            datagrams.push(Vec::with_capacity(32 << 10));
        }
        datagrams
            .last_mut()
            .expect("one")
            .extend_from_slice(&b[..n]);
    }
    let params = MapParams::for_entries(ENTRIES as usize);
    let words: Vec<std::sync::atomic::AtomicU64> = (0..footprint(&params).expect("fp") / 8)
        .map(|_| std::sync::atomic::AtomicU64::new(0))
        .collect();
    let map = NeighMap::format_words(&words, &params).expect("format");
    let mut gen = 0u8;
    let mut g = c.benchmark_group("ingest");
    g.sample_size(20);
    g.throughput(Throughput::Elements(u64::from(ENTRIES)));
    g.bench_function("parse_ingest_apply_100k_events", |b| {
        b.iter(|| {
            gen = gen.wrapping_add(1);
            let mut applied = 0;
            for d in &datagrams {
                for m in MessageIter::new(d) {
                    if let Ok(Ok(Parsed::Neigh(nm))) = m.map(|m| Parsed::parse(&m)) {
                        if map.apply(&ingest(&nm), gen).is_ok() {
                            applied += 1;
                        }
                    }
                }
            }
            assert_eq!(applied, ENTRIES);
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_ingest(&mut c);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("mirror bench: resync and latency SKIPPED: need root (network namespace)");
        c.final_summary();
        return;
    }
    let table = KernelTable::load("mirror", ENTRIES).expect("load the table");
    // No other thread exists yet; threads spawned later inherit the namespace.
    table.enter().expect("enter the namespace");
    let ifindex = {
        let name = std::ffi::CString::new(DEV).expect("name");
        // SAFETY: valid NUL-terminated name.
        unsafe { libc::if_nametoindex(name.as_ptr()) }
    };
    assert_ne!(ifindex, 0, "b0 missing");
    let resync = bench_resync(&mut c);
    let (lat, ack, changed) = bench_latency(&mut c, ifindex);
    c.final_summary();
    eprintln!(
        "resync_100k (interleaved medians of 15): bare recv {:?}, mirror resync {:?}, ratio {:.2}x \
         (bare recv with an 8 MiB buffer: {:?})",
        resync.raw,
        resync.resync,
        resync.resync.as_secs_f64() / resync.raw.as_secs_f64(),
        resync.raw_big_buffer,
    );
    if !lat.is_empty() {
        eprintln!(
            "event_to_map over {} samples ({changed} background changes): p50 {:?} p99 {:?} max {:?}; \
             request ACK alone p50 {:?} p99 {:?}",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat[lat.len() - 1],
            percentile(&ack, 0.5),
            percentile(&ack, 0.99),
        );
    }
}
