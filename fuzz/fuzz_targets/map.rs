//! Map vs model: arbitrary parameters and operation sequences, checked step by step
//! against a `HashMap`. Any divergence, panic or hang is a bug.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::AtomicU64;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use neigh_core::map::{
    footprint, Full, MapEntry, MapParams, NeighMap, Upserted, MIN_SLOTS_PER_LOCK,
};
use neigh_core::{NeighEntry, NeighKey, NtfFlags, NudState};

#[derive(Arbitrary, Debug)]
struct Input {
    /// log2 of the capacity (mod 7: 1..=64 slots).
    capacity_log2: u8,
    /// log2 of the lock count (capped at the capacity).
    locks_log2: u8,
    probe_max: u8,
    seed: u64,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Upsert {
        key: u8,
        mac: Option<[u8; 6]>,
        state: u16,
        flags: u8,
        generation: u8,
    },
    Remove {
        key: u8,
    },
    Get {
        key: u8,
    },
    Sweep {
        generation: u8,
    },
    Clear,
    CheckAll,
}

/// 256 keys: small enough to collide, IPv4 and IPv6, two interfaces.
fn key(k: u8) -> NeighKey {
    let addr = if k & 1 == 0 {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, k))
    } else {
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(k)))
    };
    NeighKey {
        ifindex: 1 + u32::from(k >> 7),
        addr,
    }
}

fn check_all(map: &NeighMap<'_>, model: &HashMap<NeighKey, MapEntry>) {
    for k in 0..=255u8 {
        assert_eq!(map.get(&key(k)).unwrap(), model.get(&key(k)).copied());
    }
    // The staged burst answers as the single lookups do.
    let keys: Vec<NeighKey> = (0..=255u8).map(key).collect();
    let mut burst = vec![Ok(None); keys.len()];
    map.reader().get_burst(&keys, &mut burst);
    for (k, got) in keys.iter().zip(burst) {
        assert_eq!(got.unwrap(), model.get(k).copied());
    }
    let mut seen: Vec<MapEntry> = map.iter().map(|e| e.unwrap()).collect();
    seen.sort_by_key(|e| e.key());
    let mut want: Vec<MapEntry> = model.values().copied().collect();
    want.sort_by_key(|e| e.key());
    assert_eq!(seen, want);
}

fuzz_target!(|input: Input| {
    // 16 to 256 slots, at least 16 per lock (the fewest allowed).
    let capacity = 16usize << (input.capacity_log2 % 5);
    let params = MapParams {
        capacity,
        lock_count: (1usize << (input.locks_log2 % 5)).min(capacity / MIN_SLOTS_PER_LOCK),
        probe_max: usize::from(input.probe_max),
        seed: input.seed,
    };
    // Invalid parameters must be refused, never panic.
    let Ok(len) = footprint(&params) else { return };
    let words: Vec<AtomicU64> = (0..len / 8).map(|_| AtomicU64::new(0)).collect();
    let map = NeighMap::format_words(&words, &params).expect("footprint accepted params");
    let mut model: HashMap<NeighKey, MapEntry> = HashMap::new();
    let mut fulls = 0u64;
    for op in input.ops.iter().take(512) {
        match *op {
            Op::Upsert {
                key: k,
                mac,
                state,
                flags,
                generation,
            } => {
                let entry = NeighEntry {
                    key: key(k),
                    mac,
                    state: NudState(state),
                    flags: NtfFlags(flags),
                };
                let present = model.contains_key(&entry.key);
                match map.upsert(&entry, generation) {
                    Ok(Upserted::Updated) => assert!(present),
                    Ok(Upserted::Inserted) => assert!(!present),
                    Err(Full) => {
                        assert!(!present, "update refused");
                        fulls += 1;
                        continue;
                    }
                }
                model.insert(entry.key, MapEntry::new(&entry, generation));
            }
            Op::Remove { key: k } => {
                assert_eq!(map.remove(&key(k)), model.remove(&key(k)).is_some());
            }
            Op::Get { key: k } => {
                assert_eq!(map.get(&key(k)).unwrap(), model.get(&key(k)).copied());
            }
            Op::Sweep { generation } => {
                let before = model.len();
                model.retain(|_, e| e.generation() == generation);
                assert_eq!(map.sweep(generation), before - model.len());
            }
            Op::Clear => {
                assert_eq!(map.clear(), model.len());
                model.clear();
            }
            Op::CheckAll => check_all(&map, &model),
        }
        assert_eq!(map.len(), model.len());
    }
    check_all(&map, &model);
    assert_eq!(map.stats().full, fulls);
});
