//! The neigh map side by side with hashbrown (not concurrent, same key), dashmap and
//! papaya: lookup hit and miss at 50% and 90% load of 65,536 slots (neigh one key per
//! call and in bursts of `BURST`), reads while another
//! thread upserts at full speed, and upsert / insert+remove cost. Results and ratios are
//! in benches/README.md.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use neigh_core::map::{
    footprint, MapEntry, MapParams, NeighMap, BURST, DEFAULT_SLOTS_PER_LOCK, REGION_ALIGN,
};
use neigh_core::{NeighEntry, NeighKey, NtfFlags, NudState};

const CAPACITY: usize = 65_536;
/// Lookups per measured iteration (random order, so caches behave as in a data plane).
const BATCH: usize = 1_000;

fn key(i: u32) -> NeighKey {
    NeighKey {
        ifindex: 1 + (i & 3),
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
    }
}

fn entry(i: u32, generation: u8) -> NeighEntry {
    let b = i.to_le_bytes();
    NeighEntry {
        key: key(i),
        mac: Some([2, b[0], b[1], b[2], b[3], generation]),
        state: NudState::REACHABLE,
        flags: NtfFlags::NONE,
    }
}

/// xorshift64*: reproducible key orders.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn shuffled(range: std::ops::Range<u32>, seed: u64) -> Vec<NeighKey> {
    let mut v: Vec<u32> = range.collect();
    let mut rng = Rng(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    v.into_iter().map(key).collect()
}

fn params() -> MapParams {
    MapParams {
        capacity: CAPACITY,
        lock_count: CAPACITY / DEFAULT_SLOTS_PER_LOCK,
        probe_max: 128,
        seed: 0x1234_5678_9abc_def0,
    }
}

/// A 64-byte-aligned region carved out of a Vec (no unsafe).
fn region(buf: &mut Vec<u8>) -> &mut [u8] {
    let len = footprint(&params()).unwrap();
    buf.resize(len + REGION_ALIGN, 0);
    let off = buf.as_ptr().align_offset(REGION_ALIGN);
    &mut buf[off..off + len]
}

fn fill(map: &NeighMap<'_>, n: u32) {
    for i in 0..n {
        map.upsert(&entry(i, 0), 0).expect("bench load fits");
    }
}

fn lookups(c: &mut Criterion) {
    for load in [50usize, 90] {
        let n = (CAPACITY * load / 100) as u32;
        let hits = shuffled(0..n, 1);
        let misses = shuffled(n..2 * n, 2);
        let mut buf = Vec::new();
        let map = NeighMap::format(region(&mut buf), &params()).unwrap();
        fill(&map, n);
        let reader = map.reader();
        let mut hb = hashbrown::HashMap::with_capacity(n as usize);
        let dm = dashmap::DashMap::with_capacity(n as usize);
        let pa = papaya::HashMap::with_capacity(n as usize);
        for i in 0..n {
            let e = MapEntry::new(&entry(i, 0), 0);
            hb.insert(e.key(), e);
            dm.insert(e.key(), e);
            pa.pin().insert(e.key(), e);
        }
        for (kind, keys) in [("hit", &hits), ("miss", &misses)] {
            let mut g = c.benchmark_group(format!("lookup_{kind}_{load}pct"));
            g.throughput(Throughput::Elements(BATCH as u64));
            let mut at = 0;
            let mut next = move || {
                at = (at + BATCH) % (keys.len() - BATCH);
                &keys[at..at + BATCH]
            };
            g.bench_function("neigh", |b| {
                b.iter(|| {
                    for k in next() {
                        let _ = black_box(reader.get(k));
                    }
                })
            });
            g.bench_function("neigh_burst", |b| {
                let mut out = [Ok(None); BURST];
                b.iter(|| {
                    for keys in next().chunks(BURST) {
                        let n = keys.len();
                        black_box(reader.get_burst(keys, &mut out[..n]));
                        black_box(&out);
                    }
                })
            });
            g.bench_function("hashbrown", |b| {
                b.iter(|| {
                    for k in next() {
                        black_box(hb.get(k).copied());
                    }
                })
            });
            g.bench_function("dashmap", |b| {
                b.iter(|| {
                    for k in next() {
                        black_box(dm.get(k).map(|r| *r));
                    }
                })
            });
            g.bench_function("papaya", |b| {
                b.iter(|| {
                    for k in next() {
                        black_box(pa.pin().get(k).copied());
                    }
                })
            });
            g.finish();
        }
    }
}

/// Pins the calling thread to CPU `cpu` (best effort: false if the kernel refused).
fn pin_to(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it; the
    // call reads `size_of::<cpu_set_t>()` bytes from a live local.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Hit lookups at 50% load, alone and while another thread rewrites random present
/// entries (new generation, new MAC) as fast as it can. The reader is pinned to CPU 0 and
/// the writer to CPU 1, so what is measured is the writer's effect through memory, not
/// the two sharing one CPU (unpinned, the scheduler sometimes put both on one vCPU of
/// the 2-vCPU reference machine and reads took 2.5x as long).
fn reads_under_writer(c: &mut Criterion) {
    let pinned = pin_to(0);
    let n = (CAPACITY / 2) as u32;
    let hits = shuffled(0..n, 3);
    let mut buf = Vec::new();
    let map = NeighMap::format(region(&mut buf), &params()).unwrap();
    fill(&map, n);
    let reader = map.reader();
    let mut g = c.benchmark_group("reads_under_writer");
    g.throughput(Throughput::Elements(BATCH as u64));
    for writer in [false, true] {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let writes = writer.then(|| {
                s.spawn(|| {
                    if pinned {
                        pin_to(1);
                    }
                    let mut rng = Rng(4);
                    let mut count = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let i = (rng.next() % u64::from(n)) as u32;
                        map.upsert(&entry(i, count as u8), count as u8).unwrap();
                        count += 1;
                    }
                    count
                })
            });
            let mut at = 0;
            let mut busy = 0u64;
            let name = if writer { "with_writer" } else { "no_writer" };
            g.bench_function(BenchmarkId::new("neigh_hit", name), |b| {
                b.iter(|| {
                    at = (at + BATCH) % (hits.len() - BATCH);
                    for k in &hits[at..at + BATCH] {
                        match reader.get(k) {
                            Ok(e) => {
                                black_box(e);
                            }
                            Err(_) => busy += 1,
                        }
                    }
                })
            });
            stop.store(true, Ordering::Relaxed);
            if let Some(w) = writes {
                let count = w.join().unwrap();
                eprintln!("reads_under_writer: writer did {count} upserts; {busy} reads busy");
            }
        });
    }
    g.finish();
}

/// Write costs at 50% load: overwrite of a present key, and insert of an absent key
/// followed by its removal (the two shift the probe run forth and back).
fn writes(c: &mut Criterion) {
    let n = (CAPACITY / 2) as u32;
    let present = shuffled(0..n, 5);
    let absent: Vec<u32> = (n..2 * n).collect();
    let mut buf = Vec::new();
    let map = NeighMap::format(region(&mut buf), &params()).unwrap();
    fill(&map, n);
    let mut hb = hashbrown::HashMap::with_capacity(n as usize);
    for i in 0..n {
        hb.insert(key(i), MapEntry::new(&entry(i, 0), 0));
    }
    let mut g = c.benchmark_group("writes");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut at = 0;
    g.bench_function("neigh_update", |b| {
        b.iter(|| {
            at = (at + BATCH) % (present.len() - BATCH);
            for k in &present[at..at + BATCH] {
                let e = NeighEntry {
                    key: *k,
                    mac: Some([2, 0, 0, 0, 0, 1]),
                    state: NudState::STALE,
                    flags: NtfFlags::NONE,
                };
                black_box(map.upsert(&e, 1).unwrap());
            }
        })
    });
    g.bench_function("hashbrown_update", |b| {
        b.iter(|| {
            at = (at + BATCH) % (present.len() - BATCH);
            for k in &present[at..at + BATCH] {
                let e = NeighEntry {
                    key: *k,
                    mac: Some([2, 0, 0, 0, 0, 1]),
                    state: NudState::STALE,
                    flags: NtfFlags::NONE,
                };
                black_box(hb.insert(*k, MapEntry::new(&e, 1)));
            }
        })
    });
    g.bench_function("neigh_insert_remove", |b| {
        b.iter(|| {
            at = (at + BATCH) % (absent.len() - BATCH);
            for &i in &absent[at..at + BATCH] {
                map.upsert(&entry(i, 2), 2).unwrap();
                black_box(map.remove(&key(i)));
            }
        })
    });
    g.bench_function("hashbrown_insert_remove", |b| {
        b.iter(|| {
            at = (at + BATCH) % (absent.len() - BATCH);
            for &i in &absent[at..at + BATCH] {
                hb.insert(key(i), MapEntry::new(&entry(i, 2), 2));
                black_box(hb.remove(&key(i)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, lookups, reads_under_writer, writes);
criterion_main!(benches);
