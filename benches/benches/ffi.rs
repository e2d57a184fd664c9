//! The C lookup path vs the Rust one: `neigh_map_lookup4/6`, called through
//! their `extern "C"` symbols exactly as a C program calls them (pointer and alignment
//! checks, `catch_unwind` guard, key building, 12-byte copy-out), vs
//! `MapReader::get` on the same region with the same keys, reading the same fields of a
//! found entry. The FFI must add no measurable
//! cost: target within 1.1x. `c_burst4/6` look the same batch up with one call of
//! `neigh_map_lookup4_burst`/`6_burst` (arrays prepared outside the timed loop).
//!
//! Maps: 65,536 entries (`64k`, a 4 MiB region: lookups mostly miss the caches) and
//! 1,024 entries (`1k`, cache-resident: the per-call overhead is most visible), half IPv4,
//! half IPv6, on 4 interfaces, in a map sized for them (`MapParams::for_entries`),
//! formatted through the C API in anonymous memory. Each iteration looks up a batch of
//! keys (4096 for 64k, 512 for 1k) in a shuffled order: all present (hits), or all absent
//! (misses).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neigh::ffi::{
    neigh_entry, neigh_map, neigh_map_footprint, neigh_map_format, neigh_map_leave,
    neigh_map_lookup4, neigh_map_lookup4_burst, neigh_map_lookup6, neigh_map_lookup6_burst,
    neigh_map_upsert4, neigh_map_upsert6, NEIGH_ABSENT, NEIGH_FOUND, NEIGH_INSERTED, NEIGH_OK,
};
use neigh::workspace::Workspace;
use neigh_core::entry::NeighKey;
use neigh_core::map::{Busy, MapEntry, MapReader};

struct Fixture {
    // `map` and `reader` view `_ws`'s memory; declared first so they are dropped first.
    map: *mut neigh_map,
    reader: MapReader<'static>,
    v4_hits: Vec<(u32, u32)>,
    v4_misses: Vec<(u32, u32)>,
    v6_hits: Vec<(u32, [u8; 16])>,
    _ws: Workspace,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: `map` is the live handle from `fixture`, left once, before `_ws` unmaps.
        unsafe { neigh_map_leave(self.map) };
    }
}

/// A small deterministic generator (xorshift64*), so every run uses the same keys.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

fn fixture(entries: usize, batch: usize) -> Fixture {
    let bytes = neigh_map_footprint(entries);
    let ws = Workspace::anonymous(bytes).expect("mmap");
    let mut map = std::ptr::null_mut();
    // SAFETY: `ws` is a read-write mapping of `bytes` bytes that outlives `map` and the
    // reader (fields dropped in order), used only through the map.
    let rc = unsafe { neigh_map_format(ws.as_mut_ptr().cast(), bytes, entries, 0x5eed, &mut map) };
    assert_eq!(rc, NEIGH_OK);
    // SAFETY: as above; a second, read-only view of the same formatted region.
    let reader = unsafe { MapReader::join_raw(ws.as_mut_ptr(), bytes) }.expect("join");
    let entry = neigh_entry {
        mac: [2, 0, 0, 0, 0, 1],
        state: 0x02,
        flags: 0,
        resolved: 1,
        generation: 0,
        reserved: 0,
    };
    let mut v4_hits = Vec::new();
    let mut v6_hits = Vec::new();
    for i in 0..entries as u32 / 2 {
        let ifindex = 2 + i % 4;
        let v4 = u32::from_ne_bytes(Ipv4Addr::from(0x0a00_0000 | i).octets());
        let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16).octets();
        // SAFETY: live handle, live locals.
        unsafe {
            assert_eq!(neigh_map_upsert4(map, ifindex, v4, &entry), NEIGH_INSERTED);
            assert_eq!(
                neigh_map_upsert6(map, ifindex, v6.as_ptr(), &entry),
                NEIGH_INSERTED
            );
        }
        v4_hits.push((ifindex, v4));
        v6_hits.push((ifindex, v6));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    rng.shuffle(&mut v4_hits);
    rng.shuffle(&mut v6_hits);
    v4_hits.truncate(batch);
    v6_hits.truncate(batch);
    let v4_misses = (0..batch as u32)
        .map(|i| {
            (
                2 + i % 4,
                u32::from_ne_bytes(Ipv4Addr::from(0xc0a8_0000 | i).octets()),
            )
        })
        .collect();
    Fixture {
        map,
        reader,
        v4_hits,
        v4_misses,
        v6_hits,
        _ws: ws,
    }
}

fn key4(ifindex: u32, be: u32) -> NeighKey {
    NeighKey {
        ifindex,
        addr: IpAddr::V4(Ipv4Addr::from(be.to_ne_bytes())),
    }
}

/// What a caller reads from a found entry: the fields the C API copies into a
/// `neigh_entry` (MAC if resolved, state, flags, generation). The Rust side reads them too,
/// so both sides do the same work.
#[inline(always)]
fn fields(got: Result<Option<MapEntry>, Busy>) -> Option<([u8; 6], u16, u8, u8)> {
    got.ok()?.map(|e| {
        (
            e.mac().unwrap_or([0; 6]),
            e.state().0,
            e.flags().0,
            e.generation(),
        )
    })
}

fn bench_v4(c: &mut Criterion, f: &Fixture, name: &str, keys: &[(u32, u32)], want: i32) {
    let mut g = c.benchmark_group(format!("ffi/{name}"));
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("rust_get", |b| {
        b.iter(|| {
            for &(ifindex, be) in keys {
                let got = f.reader.get(&key4(black_box(ifindex), black_box(be)));
                black_box(fields(got));
            }
        })
    });
    g.bench_function("c_lookup4", |b| {
        let mut out = neigh_entry::default();
        b.iter(|| {
            for &(ifindex, be) in keys {
                // SAFETY: live handle and a live, aligned out struct.
                let rc = unsafe {
                    neigh_map_lookup4(f.map, black_box(ifindex), black_box(be), &mut out)
                };
                black_box((rc, &out));
            }
        })
    });
    g.bench_function("c_burst4", |b| {
        let ifindex: Vec<u32> = keys.iter().map(|k| k.0).collect();
        let addrs: Vec<u32> = keys.iter().map(|k| k.1).collect();
        let mut out = vec![neigh_entry::default(); keys.len()];
        let mut rc = vec![0; keys.len()];
        b.iter(|| {
            // SAFETY: live handle; arrays of `keys.len()` elements, `out` and `rc` writable.
            let found = unsafe {
                neigh_map_lookup4_burst(
                    f.map,
                    keys.len(),
                    black_box(ifindex.as_ptr()),
                    black_box(addrs.as_ptr()),
                    out.as_mut_ptr(),
                    rc.as_mut_ptr(),
                )
            };
            black_box((found, &out, &rc));
        })
    });
    g.finish();
    // The two paths agree on these keys.
    let mut out = neigh_entry::default();
    for &(ifindex, be) in keys {
        let rust = f.reader.get(&key4(ifindex, be)).expect("not busy");
        // SAFETY: as above.
        let rc = unsafe { neigh_map_lookup4(f.map, ifindex, be, &mut out) };
        assert_eq!(rc, want);
        assert_eq!(rust.is_some(), rc == NEIGH_FOUND);
    }
}

fn bench_v6(c: &mut Criterion, f: &Fixture, name: &str) {
    let keys = &f.v6_hits;
    let mut g = c.benchmark_group(format!("ffi/{name}"));
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("rust_get", |b| {
        b.iter(|| {
            for (ifindex, v6) in keys {
                let key = NeighKey {
                    ifindex: black_box(*ifindex),
                    addr: IpAddr::V6(Ipv6Addr::from(*black_box(v6))),
                };
                black_box(fields(f.reader.get(&key)));
            }
        })
    });
    g.bench_function("c_lookup6", |b| {
        let mut out = neigh_entry::default();
        b.iter(|| {
            for (ifindex, v6) in keys {
                // SAFETY: live handle, 16 readable bytes, a live aligned out struct.
                let rc = unsafe {
                    neigh_map_lookup6(f.map, black_box(*ifindex), black_box(v6.as_ptr()), &mut out)
                };
                black_box((rc, &out));
            }
        })
    });
    g.bench_function("c_burst6", |b| {
        let ifindex: Vec<u32> = keys.iter().map(|k| k.0).collect();
        let addrs: Vec<[u8; 16]> = keys.iter().map(|k| k.1).collect();
        let mut out = vec![neigh_entry::default(); keys.len()];
        let mut rc = vec![0; keys.len()];
        b.iter(|| {
            // SAFETY: live handle; arrays of `keys.len()` elements (16 bytes each for the
            // addresses), `out` and `rc` writable.
            let found = unsafe {
                neigh_map_lookup6_burst(
                    f.map,
                    keys.len(),
                    black_box(ifindex.as_ptr()),
                    black_box(addrs.as_ptr().cast()),
                    out.as_mut_ptr(),
                    rc.as_mut_ptr(),
                )
            };
            assert_eq!(found as usize, keys.len());
            black_box((found, &out, &rc));
        })
    });
    g.finish();
}

fn lookups(c: &mut Criterion) {
    let f = fixture(65_536, 4096);
    bench_v4(c, &f, "lookup4_hit_64k", &f.v4_hits, NEIGH_FOUND);
    bench_v4(c, &f, "lookup4_miss_64k", &f.v4_misses, NEIGH_ABSENT);
    bench_v6(c, &f, "lookup6_hit_64k");
    drop(f);
    let f = fixture(1024, 512);
    bench_v4(c, &f, "lookup4_hit_1k", &f.v4_hits, NEIGH_FOUND);
    bench_v6(c, &f, "lookup6_hit_1k");
}

criterion_group!(benches, lookups);
criterion_main!(benches);
