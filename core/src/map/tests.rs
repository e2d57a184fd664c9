//! White-box tests of the map: a seeded model-based test against a `BTreeMap`, the Robin
//! Hood invariants after every operation, wrap-around and lock-crossing shifts, region
//! errors, and a two-thread stress test. Sizes shrink under miri.

extern crate std;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::vec::Vec;

use core::sync::atomic::AtomicU64;

use super::slot::{self, SlotKey};
use super::*;
use crate::entry::{Ingest, NeighEntry, NeighKey};
use crate::wire::{NtfFlags, NudState};

/// xorshift64*: deterministic, dependency-free, fast under miri.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn words(params: &MapParams) -> Vec<AtomicU64> {
    let n = footprint(params).unwrap() / 8;
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Key number `i`: IPv4 for even i, IPv6 for odd, over a few interfaces.
fn key(i: u64) -> NeighKey {
    let addr = if i % 2 == 0 {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32))
    } else {
        IpAddr::V6(Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            0,
            0,
            (i >> 16) as u16,
            i as u16,
        ))
    };
    NeighKey {
        ifindex: 1 + (i % 3) as u32,
        addr,
    }
}

/// The MAC an entry for `k` written with `generation` carries: lets a reader check that a
/// MAC belongs to the key and generation it was read with.
fn mac_of(k: &NeighKey, generation: u8) -> [u8; 6] {
    let h = SlotKey::new(k).hash(0x5eed) ^ u64::from(generation).wrapping_mul(0x9e37_79b9);
    let b = h.to_le_bytes();
    [b[0] & 0xfe, b[1], b[2], b[3], b[4], generation]
}

/// The entry written for `k` with `generation`: its MAC, NUD state and flags all carry
/// the generation, so a reader can check that a value it read is one whole write's (the
/// flags lose bit 0, NTF_USE, which the map does not store).
fn entry(k: NeighKey, generation: u8, resolved: bool) -> NeighEntry {
    NeighEntry {
        key: k,
        mac: resolved.then(|| mac_of(&k, generation)),
        state: NudState(u16::from(generation)),
        flags: NtfFlags(generation),
    }
}

/// The generation whose write a value read from the map is, if the value is one write's
/// whole (see [`entry`]); `None` for a torn value or a MAC of another key.
fn value_generation(k: &NeighKey, e: &MapEntry) -> Option<u8> {
    let g = e.state().0 as u8;
    let whole = e.flags() == NtfFlags(g & !1) && e.mac().is_none_or(|m| m == mac_of(k, g));
    whole.then_some(g)
}

/// Checks the Robin Hood invariants and the entry count with no writer running. Returns
/// the longest probe distance of an entry.
fn check_invariants(map: &NeighMap<'_>) -> usize {
    let r = map.reader();
    let cap = r.capacity();
    let mut count = 0;
    let mut longest = 0;
    for s in 0..cap {
        let w = r.load_slot(s);
        if !slot::is_occupied(w[2]) {
            assert_eq!(w, [0; 4], "empty slot {s} not zeroed");
            assert_eq!(r.load_tag(s), 0, "empty slot {s}: tag");
            continue;
        }
        count += 1;
        let e = slot::decode(w);
        let home = r.geometry().home(&SlotKey::new(&e.key()));
        let d = (s + cap - home) % cap;
        assert_eq!(
            r.load_tag(s),
            slot::tag(r.fingerprint_of(&SlotKey::new(&e.key())), d),
            "slot {s}: tag"
        );
        assert_eq!(slot::dist(w[2]), d, "slot {s}: stored distance");
        assert!(
            d < r.geometry().probe_max,
            "slot {s}: distance {d} past probe_max"
        );
        longest = longest.max(d);
        for back in 1..=d {
            let t = (s + cap - back) % cap;
            let wt = r.load_slot(t);
            assert!(slot::is_occupied(wt[2]), "hole at {t} inside run of {s}");
            assert!(
                slot::dist(wt[2]) >= d - back,
                "slot {t} breaks Robin Hood order before {s}"
            );
        }
    }
    assert_eq!(count, map.len());
    longest
}

type Model = BTreeMap<NeighKey, MapEntry>;

fn check_against_model(map: &NeighMap<'_>, model: &Model, universe: u64) {
    for i in 0..universe {
        let k = key(i);
        assert_eq!(map.get(&k).unwrap(), model.get(&k).copied(), "key {i}");
    }
    let mut seen: Vec<MapEntry> = map.iter().map(|e| e.unwrap()).collect();
    let mut want: Vec<MapEntry> = model.values().copied().collect();
    seen.sort_by_key(|e| e.key());
    want.sort_by_key(|e| e.key());
    assert_eq!(seen, want);
}

/// Random operations against a BTreeMap model, on a small map so that probe runs wrap,
/// cross locks, and hit probe_max and capacity.
fn model_run(params: MapParams, universe: u64, ops: usize, seed: u64) {
    let w = words(&params);
    let map = NeighMap::format_words(&w, &params).unwrap();
    let mut model = Model::new();
    let mut rng = Rng::new(seed);
    let (mut fulls, mut removes) = (0u64, 0u64);
    let mut generation = 0u8;
    for op in 0..ops {
        let k = key(rng.below(universe));
        match rng.below(100) {
            0..=54 => {
                let e = entry(k, generation, rng.below(4) != 0);
                let was = model.contains_key(&k);
                match map.upsert(&e, generation) {
                    Ok(Upserted::Updated) => assert!(was, "op {op}: update of absent key"),
                    Ok(Upserted::Inserted) => assert!(!was, "op {op}: insert of present key"),
                    Err(Full) => {
                        assert!(!was, "op {op}: update refused");
                        fulls += 1;
                    }
                }
                if map.get(&k).unwrap().is_some() {
                    model.insert(k, MapEntry::new(&e, generation));
                }
            }
            55..=89 => {
                let removed = map.remove(&k);
                assert_eq!(removed, model.remove(&k).is_some(), "op {op}: remove");
                removes += u64::from(removed);
            }
            90..=96 => {
                let got = map.get(&k).unwrap();
                assert_eq!(got, model.get(&k).copied(), "op {op}: get");
            }
            97..=98 => {
                generation = generation.wrapping_add(1);
                // Keep a random half at the new generation, then sweep the rest.
                let keys: Vec<NeighKey> = model.keys().copied().collect();
                for k in keys {
                    let previous = model[&k].generation();
                    match rng.below(4) {
                        0 => {
                            let e = entry(k, generation, true);
                            assert_eq!(map.upsert(&e, generation), Ok(Upserted::Updated));
                            model.insert(k, MapEntry::new(&e, generation));
                        }
                        1 => {
                            // What a resync does for an entry the kernel did not change.
                            let e = model[&k].entry();
                            let m = map.mark(&e, generation).unwrap();
                            assert_eq!(m, Marked::Updated { previous }, "op {op}");
                            assert!(m.newly_marked(generation), "op {op}");
                            model.insert(k, MapEntry::new(&e, generation));
                        }
                        _ => {}
                    }
                }
                let before = model.len();
                model.retain(|_, e| e.generation() == generation);
                let swept = map.sweep(generation);
                assert_eq!(swept, before - model.len(), "op {op}: sweep count");
                removes += swept as u64;
                assert_eq!(map.stats().generation, u64::from(generation));
            }
            _ => {
                if rng.below(10) == 0 {
                    assert_eq!(map.clear(), model.len());
                    removes += model.len() as u64;
                    model.clear();
                }
            }
        }
        assert_eq!(map.len(), model.len(), "op {op}: len");
        if op % 16 == 0 {
            check_invariants(&map);
        }
    }
    check_invariants(&map);
    check_against_model(&map, &model, universe);
    let st = map.stats();
    assert_eq!(st.full, fulls);
    assert_eq!(st.removes, removes);
    assert_eq!(st.len, model.len() as u64);
}

const fn scaled(n: usize) -> usize {
    if cfg!(miri) {
        n / 200
    } else {
        n
    }
}

#[test]
fn model_small_map_many_locks() {
    // 128 slots, 16 per lock (the fewest allowed): probe runs cross locks and wrap; keys
    // outnumber slots, so the map fills up and inserts are refused.
    let p = MapParams {
        capacity: 128,
        lock_count: 8,
        probe_max: 32,
        seed: 1,
    };
    model_run(p, 180, scaled(20_000), 7);
}

#[test]
fn model_full_map_one_lock() {
    // probe_max = capacity: the map can be filled to the last slot.
    let p = MapParams {
        capacity: 16,
        lock_count: 1,
        probe_max: 16,
        seed: 2,
    };
    model_run(p, 24, scaled(10_000), 8);
}

#[test]
fn model_short_probe_smallest_locks() {
    let p = MapParams {
        capacity: 64,
        lock_count: 4,
        probe_max: 4,
        seed: 3,
    };
    model_run(p, 80, scaled(10_000), 9);
}

#[test]
// A logic test of long runs, minutes under miri; the model tests run there (scaled).
#[cfg_attr(miri, ignore)]
fn tagged_reads_of_long_runs() {
    // 16 slots per lock (the smallest span read through the tags) filled until inserts are
    // refused: probe runs wrap, cross several locks and reach distances past what a tag
    // stores exactly (slot::TAG_DIST_MAX), where readers compare saturated tags. Then a
    // random half is removed (back-shifts across the same runs) and all is read again.
    let p = MapParams {
        capacity: 256,
        lock_count: 16,
        probe_max: 120,
        seed: 11,
    };
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let mut model = Model::new();
    // 40 keys of one home near the end force a run of 40 that wraps; others fill in.
    let crowd = keys_with_home(&map, 248, 40);
    let all: Vec<NeighKey> = crowd.iter().copied().chain((0..400).map(key)).collect();
    for k in &all {
        let e = entry(*k, 0, true);
        if map.upsert(&e, 0).is_ok() {
            model.insert(e.key, MapEntry::new(&e, 0));
        }
    }
    assert!(map.stats().full > 0, "the map filled up");
    let longest = check_invariants(&map);
    assert!(longest > slot::TAG_DIST_MAX, "longest distance {longest}");
    let check = |model: &Model| {
        for k in &all {
            assert_eq!(map.get(k).unwrap(), model.get(k).copied(), "{k:?}");
        }
    };
    check(&model);
    let mut rng = Rng::new(13);
    for k in &all {
        if rng.below(2) == 0 {
            assert_eq!(map.remove(k), model.remove(k).is_some());
        }
    }
    check_invariants(&map);
    check(&model);
}

#[test]
fn model_default_params() {
    let p = MapParams::for_entries(200);
    model_run(p, 600, scaled(20_000), 10);
}

#[test]
fn home_slot_agrees_between_params_and_reader() {
    let p = MapParams::for_entries(1000);
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    for i in 0..100 {
        assert_eq!(p.home_slot(&key(i)), map.reader().home_slot(&key(i)));
    }
}

/// The reader finds a slot's lock group and tag word with one shift and a mask; writers
/// with the lock index and the offset in the lock. Both must name the same words, at
/// every lock size.
#[test]
fn group_and_tag_word_indices_agree_with_lock_arithmetic() {
    for (capacity, lock_count) in [(32, 2), (128, 8), (128, 4), (512, 4), (1024, 2), (64, 1)] {
        let p = MapParams {
            capacity,
            lock_count,
            probe_max: 8,
            seed: 1,
        };
        let w = words(&p);
        let map = NeighMap::format_words(&w, &p).unwrap();
        let r = map.reader();
        let geo = r.geometry();
        for s in 0..capacity {
            let (l, o) = (geo.lock_of(s), s % (capacity / lock_count));
            assert_eq!(
                geo.tag_word_in(geo.group_index(s), s),
                geo.tag_index(l, o),
                "slot {s} of {capacity} under {lock_count} locks"
            );
            assert!(
                core::ptr::eq(r.slot_lock(s).word(), r.lock(l).word()),
                "slot {s} of {capacity} under {lock_count} locks"
            );
        }
    }
}

#[test]
fn fills_to_capacity_then_full() {
    let p = MapParams {
        capacity: 32,
        lock_count: 2,
        probe_max: 32,
        seed: 4,
    };
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    for i in 0..32 {
        assert_eq!(
            map.upsert(&entry(key(i), 0, true), 0),
            Ok(Upserted::Inserted)
        );
    }
    assert_eq!(map.upsert(&entry(key(32), 0, true), 0), Err(Full));
    assert_eq!(
        map.upsert(&entry(key(3), 1, false), 1),
        Ok(Upserted::Updated)
    );
    assert_eq!(map.stats().full, 1);
    assert_eq!(map.len(), 32);
    check_invariants(&map);
    for i in 0..32 {
        assert!(map.get(&key(i)).unwrap().is_some());
    }
    assert_eq!(map.get(&key(32)).unwrap(), None);
}

/// Keys (from `key(i)`) whose home slot is `home`.
fn keys_with_home(map: &NeighMap<'_>, home: usize, n: usize) -> Vec<NeighKey> {
    let r = map.reader();
    (0..1_000_000)
        .map(key)
        .filter(|k| r.home_slot(k) == home)
        .take(n)
        .collect()
}

fn slot_of(map: &NeighMap<'_>, k: &NeighKey) -> Option<usize> {
    let r = map.reader();
    (0..r.capacity()).find(|&s| {
        let w = r.load_slot(s);
        SlotKey::new(k).matches(w[0], w[1], w[2])
    })
}

#[test]
fn remove_shifts_back_across_wrap_and_lock_boundary() {
    // 128 slots, 16 per lock. Five keys homed at slot 126 occupy 126, 127, 0, 1, 2: the
    // run wraps and crosses from the last lock to lock 0.
    let p = MapParams {
        capacity: 128,
        lock_count: 8,
        probe_max: 16,
        seed: 5,
    };
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let ks = keys_with_home(&map, 126, 5);
    assert_eq!(ks.len(), 5);
    for (g, k) in ks.iter().enumerate() {
        map.upsert(&entry(*k, g as u8, true), g as u8).unwrap();
    }
    let slots: Vec<_> = ks.iter().map(|k| slot_of(&map, k).unwrap()).collect();
    assert_eq!(slots, [126, 127, 0, 1, 2]);
    assert!(map.remove(&ks[1]));
    check_invariants(&map);
    let slots: Vec<_> = ks[2..].iter().map(|k| slot_of(&map, k).unwrap()).collect();
    assert_eq!(slots, [127, 0, 1], "run shifted back across the wrap");
    for (g, k) in ks.iter().enumerate() {
        let got = map.get(k).unwrap();
        if g == 1 {
            assert_eq!(got, None);
        } else {
            let got = got.unwrap();
            assert_eq!(got.generation(), g as u8);
            assert_eq!(got.mac(), Some(mac_of(k, g as u8)));
        }
    }
    // An entry homed at 0 sits behind the wrapped run and moves back when it shrinks.
    let k0 = keys_with_home(&map, 0, 1)[0];
    map.upsert(&entry(k0, 9, true), 9).unwrap();
    assert_eq!(slot_of(&map, &k0), Some(2));
    assert!(map.remove(&ks[0]));
    assert_eq!(slot_of(&map, &k0), Some(1));
    check_invariants(&map);
}

#[test]
fn insert_displaces_in_robin_hood_order() {
    let p = MapParams {
        capacity: 64,
        lock_count: 4,
        probe_max: 8,
        seed: 6,
    };
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let at3 = keys_with_home(&map, 13, 3);
    let at4 = keys_with_home(&map, 14, 1)[0];
    map.upsert(&entry(at4, 0, true), 0).unwrap();
    for k in &at3 {
        map.upsert(&entry(*k, 0, true), 0).unwrap();
    }
    // The homed-at-13 run (slots 13..16) comes first; the homed-at-14 entry was pushed on
    // to slot 16, across from lock 0 into lock 1, and stays findable.
    assert_eq!(slot_of(&map, &at4), Some(16));
    check_invariants(&map);
    assert!(map.get(&at4).unwrap().is_some());
    // probe_max 8: an entry homed at 13 may sit at most at slot 20; the 9th is refused.
    let more = keys_with_home(&map, 13, 10);
    let mut refused = 0;
    for k in &more[3..] {
        if map.upsert(&entry(*k, 0, true), 0) == Err(Full) {
            refused += 1;
        }
    }
    assert_eq!(refused, 2, "probe_max must refuse the 9th and 10th");
    assert_eq!(slot_of(&map, &at4), Some(21));
    check_invariants(&map);
    assert_eq!(map.stats().full, refused);
}

#[test]
fn apply_ingest_decisions() {
    let p = MapParams::for_entries(16);
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let k = key(1);
    let e = entry(k, 3, false);
    assert_eq!(map.apply(&Ingest::Upsert(e), 3), Ok(Applied::Inserted));
    assert_eq!(map.apply(&Ingest::Upsert(e), 3), Ok(Applied::Updated));
    assert_eq!(map.get(&k).unwrap().unwrap().mac(), None);
    assert_eq!(map.apply(&Ingest::Remove(k), 3), Ok(Applied::Removed));
    assert_eq!(map.apply(&Ingest::Remove(k), 3), Ok(Applied::Absent));
    let why = crate::entry::IgnoreReason::Proxy;
    assert_eq!(
        map.apply(&Ingest::Ignore(why), 3),
        Ok(Applied::Ignored(why))
    );
    assert!(map.is_empty());
    let st = map.stats();
    assert_eq!((st.inserts, st.updates, st.removes), (1, 1, 1));
}

#[test]
fn mark_reports_the_previous_generation() {
    let p = MapParams::for_entries(64);
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let k = key(7);
    let e = entry(k, 1, true);
    assert_eq!(map.mark(&e, 1), Ok(Marked::Inserted));
    assert!(Marked::Inserted.newly_marked(1));
    let m = map.mark(&e, 2).unwrap();
    assert_eq!(m, Marked::Updated { previous: 1 });
    assert!(m.newly_marked(2));
    assert_eq!(map.get(&k).unwrap(), Some(MapEntry::new(&e, 2)));
    // Marked twice in one generation (a dump may repeat an entry): not newly marked.
    let changed = entry(k, 9, false);
    let m = map.mark(&changed, 2).unwrap();
    assert_eq!(m, Marked::Updated { previous: 2 });
    assert!(!m.newly_marked(2));
    assert_eq!(map.get(&k).unwrap(), Some(MapEntry::new(&changed, 2)));
    // Entries displaced from their home slot, next to inserts and removes.
    let home = map.reader().home_slot(&key(100));
    let run = keys_with_home(&map, home, 5);
    for (i, k) in run.iter().enumerate() {
        assert_eq!(map.mark(&entry(*k, i as u8, true), 2), Ok(Marked::Inserted));
    }
    assert!(map.remove(&run[1]));
    let mut newly = 0;
    for (i, k) in run.iter().enumerate().skip(2) {
        let m = map.mark(&entry(*k, i as u8, true), 3).unwrap();
        assert_eq!(m, Marked::Updated { previous: 2 });
        newly += usize::from(m.newly_marked(3));
    }
    check_invariants(&map);
    assert_eq!(newly, 3);
    assert_eq!(map.len(), 5, "two entries not marked with 3");
    assert_eq!(map.sweep(3), 2, "the first of the run and key 7");
    assert_eq!(map.len(), newly);
    check_invariants(&map);
    let st = map.stats();
    assert_eq!((st.inserts, st.updates, st.removes), (6, 5, 3));
}

#[test]
fn home_slot_addr_is_the_home_slot_inside_the_slots() {
    let p = MapParams::for_entries(64);
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let slots = map.reader().slots();
    let range = slots.as_ptr_range();
    for i in 0..200 {
        let k = key(i);
        let a = map.home_slot_addr(&k);
        let home = map.reader().home_slot(&k);
        assert_eq!(a, core::ptr::from_ref(&slots[4 * home]).cast());
        assert!(range.contains(&a.cast()));
    }
}

#[test]
fn header_owner_heartbeat_and_stat_words() {
    let p = MapParams::for_entries(16);
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    map.set_owner(4242);
    map.heartbeat(17);
    assert!(map.stat_add(0, 5));
    assert!(map.stat_add(0, 2));
    assert!(map.stat_store(STAT_WORDS - 1, 99));
    assert!(!map.stat_add(STAT_WORDS, 1));
    let r = MapReader::join(&w).unwrap();
    let st = r.stats();
    assert_eq!((st.owner, st.heartbeat), (4242, 17));
    assert_eq!(r.stat(0), Some(7));
    assert_eq!(r.stat(STAT_WORDS - 1), Some(99));
    assert_eq!(r.stat(STAT_WORDS), None);
    assert_eq!(st.capacity, p.capacity as u64);
    assert_eq!(st.seed, p.seed);
    // Every statistics word has a header word of its own, none of them the poison word.
    for i in 0..STAT_WORDS {
        assert!(map.stat_store(i, 1000 + i as u64));
    }
    assert!(!r.is_poisoned());
    let stored: Vec<u64> = (0..STAT_WORDS).map(|i| r.stat(i).unwrap()).collect();
    assert_eq!(
        stored,
        (0..STAT_WORDS).map(|i| 1000 + i as u64).collect::<Vec<_>>()
    );
}

/// 32 slots in 2 locks of 16: small enough to place keys by hand.
const SMALL: MapParams = MapParams {
    capacity: 32,
    lock_count: 2,
    probe_max: 8,
    seed: 7,
};

/// A [`SMALL`] map over `w` holding one key (generation 0), homed at `home`.
fn small_map_with_key_at(w: &[AtomicU64], home: usize) -> (NeighMap<'_>, NeighKey) {
    let map = NeighMap::format_words(w, &SMALL).unwrap();
    let k = keys_with_home(&map, home, 1)[0];
    map.upsert(&entry(k, 0, true), 0).unwrap();
    (map, k)
}

#[test]
fn only_a_move_in_progress_makes_readers_busy() {
    let w = words(&SMALL);
    let (map, k) = small_map_with_key_at(&w, 2);
    let far = keys_with_home(&map, 24, 1)[0];
    let r = map.reader();
    let mut locks = lock_set::LockSet::acquire(&r, 0, 1);
    // Held for a value update: readers never look at writer locks.
    assert_eq!(map.get(&k).unwrap().unwrap().entry(), entry(k, 0, true));
    assert!(map.iter().all(|e| e.is_ok()));
    locks.begin_move();
    assert_eq!(map.get(&k), Err(Busy));
    assert_eq!(map.get(&far), Ok(None), "other lock's range stays readable");
    assert!(map.iter().any(|e| e == Err(Busy)));
    locks.end_move();
    drop(locks);
    assert!(map.get(&k).unwrap().is_some());
    assert!(!r.is_poisoned());
}

/// The writer stops (a test hook waits) between a value update's value store and its
/// generation store, holding its lock: a reader on another thread carries on, never
/// `Busy`, and sees the new value, whole (with the old generation: the two are read
/// independently).
#[test]
fn a_writer_stopped_in_a_value_update_never_makes_readers_busy() {
    use std::sync::Barrier;
    static STOPPED: Barrier = Barrier::new(2);
    fn stop_here() {
        STOPPED.wait();
        STOPPED.wait();
    }
    let w = words(&SMALL);
    let (map, k) = small_map_with_key_at(&w, 2);
    std::thread::scope(|s| {
        s.spawn(|| {
            writer::fault::VALUE_STORED.set(Some(stop_here));
            assert_eq!(map.upsert(&entry(k, 1, true), 1), Ok(Upserted::Updated));
        });
        STOPPED.wait();
        let r = map.reader();
        for _ in 0..if cfg!(miri) { 10 } else { 100_000 } {
            let e = r.get(&k).expect("never busy").expect("present");
            assert_eq!(value_generation(&k, &e), Some(1), "the new value, whole");
            assert_eq!(
                e.generation(),
                0,
                "the generation is stored after the value"
            );
        }
        STOPPED.wait();
    });
    assert_eq!(map.get(&k).unwrap().unwrap().generation(), 1);
}

/// A writer that panics after shifting one slot of a move (a test hook): the locks of
/// the move stay held and moving, so no reader sees the half-moved run (`Busy`), and
/// the region is poisoned: joins refuse it.
#[test]
fn a_writer_that_unwinds_mid_move_leaves_it_held_and_poisons_the_region() {
    fn fail_here() {
        panic!("fault injected mid-move");
    }
    let p = MapParams {
        capacity: 64,
        lock_count: 4,
        probe_max: 8,
        seed: 7,
    };
    for remove in [true, false] {
        let w = words(&p);
        let map = NeighMap::format_words(&w, &p).unwrap();
        // a, b, c home at 29 and sit at 29, 30, 31 (lock 1, whose first 16 tags lock 0's
        // group copies); removing a shifts b and c back, inserting x[1] (home 28, after
        // x[0] at 28) shifts them on. Either move holds locks 0 and 1.
        let run = keys_with_home(&map, 29, 3);
        let x = keys_with_home(&map, 28, 2);
        map.upsert(&entry(x[0], 0, true), 0).unwrap();
        for k in &run {
            map.upsert(&entry(*k, 0, true), 0).unwrap();
        }
        let far = keys_with_home(&map, 56, 1)[0];
        map.upsert(&entry(far, 0, true), 0).unwrap();
        let unwound = std::panic::catch_unwind(|| {
            writer::fault::MOVED_ONE.set(Some(fail_here));
            if remove {
                map.remove(&run[0]);
            } else {
                let _ = map.upsert(&entry(x[1], 0, true), 0);
            }
        });
        writer::fault::MOVED_ONE.set(None);
        assert!(unwound.is_err());
        let r = map.reader();
        assert!(r.is_poisoned());
        for k in &run {
            assert_eq!(r.get(k), Err(Busy), "remove {remove}: {k:?}");
        }
        assert!(r.get(&far).unwrap().is_some(), "other ranges stay readable");
        assert_eq!(MapReader::join(&w).unwrap_err(), MapError::Poisoned);
        assert_eq!(NeighMap::join_words(&w).unwrap_err(), MapError::Poisoned);
        assert!(MapError::Poisoned.to_string().contains("format it again"));
    }
}

/// `get_burst` answers exactly as `get` for hits, misses and long probes, at any burst
/// length (shorter than, equal to and longer than `BURST`, and `out` shorter than
/// `keys`).
#[test]
fn burst_agrees_with_get() {
    let p = MapParams {
        capacity: 512,
        lock_count: 32,
        probe_max: 64,
        seed: 21,
    };
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    let mut rng = Rng::new(5);
    // 90% load: probes past the first window, across locks.
    for i in 0..460 {
        let _ = map.upsert(&entry(key(i), i as u8, rng.below(4) != 0), 1);
    }
    let keys: Vec<NeighKey> = (0..400).map(|_| key(rng.below(600))).collect();
    let r = map.reader();
    let want: Vec<_> = keys.iter().map(|k| r.get(k)).collect();
    assert!(want.iter().any(|e| matches!(e, Ok(None))));
    for len in [0, 1, 7, BURST, BURST + 1, 100, 400] {
        let mut out = std::vec![Err(Busy); len];
        let found = r.get_burst(&keys[..len], &mut out);
        assert_eq!(out, want[..len], "burst of {len}");
        assert_eq!(
            found,
            want[..len]
                .iter()
                .filter(|e| matches!(e, Ok(Some(_))))
                .count()
        );
    }
    let mut short = std::vec![Err(Busy); 10];
    assert_eq!(
        r.get_burst(&keys, &mut short),
        want[..10]
            .iter()
            .filter(|e| matches!(e, Ok(Some(_))))
            .count()
    );
    assert_eq!(short, want[..10]);
}

/// Aligned byte buffer carved out of a Vec (no unsafe in tests).
fn aligned(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    buf.resize(len + REGION_ALIGN, 0);
    let off = buf.as_ptr().align_offset(REGION_ALIGN);
    &mut buf[off..off + len]
}

#[test]
fn byte_region_format_join_and_errors() {
    let p = MapParams::for_entries(8);
    let len = footprint(&p).unwrap();
    let mut buf = Vec::new();
    let region = aligned(&mut buf, len);
    {
        let map = NeighMap::format(region, &p).unwrap();
        map.upsert(&entry(key(5), 1, true), 1).unwrap();
    }
    {
        let map = NeighMap::join(region).unwrap();
        assert_eq!(map.get(&key(5)).unwrap().unwrap().generation(), 1);
    }
    // Too short for the layout, and too short for a header.
    assert!(matches!(
        NeighMap::join(&mut region[..len - 8]),
        Err(MapError::RegionTooSmall { needed, .. }) if needed == len
    ));
    assert!(matches!(
        NeighMap::join(&mut region[..100]),
        Err(MapError::RegionTooSmall { .. })
    ));
    assert!(matches!(
        NeighMap::format(&mut region[..len - 64], &p),
        Err(MapError::RegionTooSmall { .. })
    ));
    // Misaligned start.
    assert!(matches!(
        NeighMap::join(&mut region[8..]),
        Err(MapError::Misaligned { align: 64, .. })
    ));
    // Each corrupted header word is refused with its own error.
    let corrupt = |region: &mut [u8], word: usize, value: u64| -> MapError {
        let saved: [u8; 8] = region[word * 8..word * 8 + 8].try_into().unwrap();
        region[word * 8..word * 8 + 8].copy_from_slice(&value.to_ne_bytes());
        let err = NeighMap::join(region).unwrap_err();
        region[word * 8..word * 8 + 8].copy_from_slice(&saved);
        assert!(NeighMap::join(region).is_ok());
        std::println!("{err}");
        err
    };
    use super::header::*;
    assert!(matches!(
        corrupt(region, H_MAGIC, 7),
        MapError::BadMagic { found: 7 }
    ));
    assert!(matches!(
        corrupt(region, H_VERSION, 1),
        MapError::UnsupportedVersion { found: 1, .. }
    ));
    assert!(matches!(
        corrupt(region, H_CAPACITY, 48),
        MapError::BadCapacity { .. }
    ));
    assert!(matches!(
        corrupt(region, H_CAPACITY, 1 << 40),
        MapError::BadCapacity { .. }
    ));
    // A larger (valid) capacity no longer matches the layout (more slots per lock make
    // larger lock groups), or the region length.
    assert!(matches!(
        corrupt(region, H_CAPACITY, p.capacity as u64 * 2),
        MapError::LayoutMismatch {
            field: "lock group size",
            ..
        }
    ));
    assert!(matches!(
        corrupt(region, H_LOCK_COUNT, 3),
        MapError::BadLockCount { .. }
    ));
    // More locks: a longer lock group section (or a probe_max too long for them).
    assert!(matches!(
        corrupt(region, H_LOCK_COUNT, p.lock_count as u64 * 2),
        MapError::LayoutMismatch {
            field: "slots offset",
            ..
        } | MapError::BadProbeMax { .. }
    ));
    // Fewer than 8 slots per lock.
    assert!(matches!(
        corrupt(region, H_LOCK_COUNT, p.lock_count as u64 * 4),
        MapError::BadLockCount { .. }
    ));
    assert!(matches!(
        corrupt(region, H_LOCK_COUNT, p.lock_count as u64 * 32),
        MapError::BadLockCount { .. }
    ));
    assert!(matches!(
        corrupt(region, H_PROBE_MAX, 0),
        MapError::BadProbeMax { .. }
    ));
    assert!(matches!(
        corrupt(region, H_PROBE_MAX, 1000),
        MapError::BadProbeMax { .. }
    ));
    assert!(matches!(
        corrupt(region, H_HEADER_BYTES, 4096),
        MapError::LayoutMismatch {
            field: "header size",
            ..
        }
    ));
    assert!(matches!(
        corrupt(region, H_GROUPS_OFFSET, 0),
        MapError::LayoutMismatch {
            field: "lock groups offset",
            ..
        }
    ));
    assert!(matches!(
        corrupt(region, H_GROUP_BYTES, 0),
        MapError::LayoutMismatch {
            field: "lock group size",
            ..
        }
    ));
    assert!(matches!(
        corrupt(region, H_SLOTS_OFFSET, u64::MAX),
        MapError::LayoutMismatch {
            field: "slots offset",
            ..
        }
    ));
    assert!(matches!(
        corrupt(region, H_TOTAL_BYTES, 64),
        MapError::LayoutMismatch {
            field: "total size",
            ..
        }
    ));
    // An all-zero region is not a map.
    region.fill(0);
    assert!(matches!(
        NeighMap::join(region),
        Err(MapError::BadMagic { found: 0 })
    ));
}

#[test]
fn garbage_regions_never_panic() {
    // Random header words with a valid magic and version: join must return Ok or an
    // error, and an Ok map must be usable without out-of-bounds access.
    let mut rng = Rng::new(11);
    let p = MapParams::for_entries(8);
    let len = footprint(&p).unwrap();
    let mut buf = Vec::new();
    let region = aligned(&mut buf, len);
    for _ in 0..scaled(2_000) {
        NeighMap::format(region, &p).unwrap();
        for _ in 0..1 + rng.below(4) {
            let word = 1 + rng.below(16) as usize;
            let v = match rng.below(3) {
                0 => rng.next(),
                1 => 1 << rng.below(64),
                _ => rng.below(1024),
            };
            region[word * 8..word * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        if let Ok(map) = NeighMap::join(region) {
            let _ = map.upsert(&entry(key(1), 0, true), 0);
            let _ = map.get(&key(1));
            let _ = map.iter().count();
            map.remove(&key(1));
        }
    }
}

/// Two threads, real atomics: a writer churns upserts (new generations) and removes that
/// shift probe runs across lock boundaries; a reader checks every answer: the right key,
/// a MAC, state and flags of one write (never torn, never another key's), and never
/// absent for the keys that are never removed.
fn stress(p: MapParams, stable: u64, all: u64, reads: u64) {
    let w = words(&p);
    let map = NeighMap::format_words(&w, &p).unwrap();
    for i in 0..stable {
        map.upsert(&entry(key(i), 0, true), 0).unwrap();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let (checked, busy) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut rng = Rng::new(13);
            let mut generation = 0u8;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                generation = generation.wrapping_add(1);
                let i = rng.below(all);
                if i >= stable && rng.below(2) == 0 {
                    map.remove(&key(i));
                } else {
                    let e = entry(key(i), generation, rng.below(8) != 0);
                    // Churned keys may be refused when their run is long; stable ones are
                    // present, so theirs are updates.
                    let r = map.upsert(&e, generation);
                    assert!(i >= stable || r == Ok(Upserted::Updated));
                }
            }
        });
        let reader = map.reader();
        let mut rng = Rng::new(14);
        let (mut checked, mut busy) = (0u64, 0u64);
        let mut burst = [Err(Busy)];
        for n in 0..reads {
            let i = rng.below(all);
            let k = key(i);
            // Every other read goes through a burst (of one key: same staged path).
            let got = if n % 2 == 0 {
                reader.get(&k)
            } else {
                reader.get_burst(core::slice::from_ref(&k), &mut burst);
                burst[0]
            };
            match got {
                Err(Busy) => busy += 1,
                Ok(None) => assert!(i >= stable, "false absent for stable key {i}"),
                Ok(Some(e)) => {
                    assert_eq!(e.key(), k);
                    assert!(value_generation(&k, &e).is_some(), "torn value {e:?}");
                    checked += 1;
                }
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (checked, busy)
    });
    std::eprintln!("stress: {checked} entries checked, {busy} busy of {reads} reads");
    assert!(checked > reads / 4);
    check_invariants(&map);
}

const STRESS_READS: u64 = if cfg!(miri) { 400 } else { 2_000_000 };

#[test]
fn stress_smallest_locks() {
    // 16 slots per lock, the fewest allowed: probes and back-shifts cross lock boundaries
    // and the copied tags of the next lock's first slots all the time.
    let p = MapParams {
        capacity: 128,
        lock_count: 8,
        probe_max: 32,
        seed: 12,
    };
    stress(p, 48, 96, STRESS_READS);
}

#[test]
fn stress_default_shape() {
    let p = MapParams {
        capacity: 256,
        lock_count: 16,
        probe_max: 64,
        seed: 15,
    };
    stress(p, 100, 200, STRESS_READS);
}

std::thread_local! {
    /// Steps left before [`fault_at_countdown`] panics.
    static COUNTDOWN: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// A fault hook: panics (a writer stopping there for good) when [`COUNTDOWN`] runs out.
fn fault_at_countdown() {
    let left = COUNTDOWN.get();
    if left == 0 {
        panic!("fault injected");
    }
    COUNTDOWN.set(left - 1);
}

/// A writer that stops for good in the middle of a move, at every step of it (after any
/// slot it shifted, or between clearing a slot and writing it), on maps loaded enough
/// for runs to cross locks and wrap: `repair` releases its locks, rebuilds the run, and
/// afterwards the map holds every other entry exactly, with the Robin Hood invariants,
/// every version even, no lock held, and no poisoned mark; the key being inserted or
/// removed is absent or whole. The map then takes writes again.
#[test]
// Safe code over atomics, minutes under miri.
#[cfg_attr(miri, ignore)]
fn repair_rebuilds_what_a_writer_that_died_mid_move_left() {
    let p = MapParams {
        capacity: 256,
        lock_count: 16,
        probe_max: 32,
        seed: 11,
    };
    let mut rng = Rng::new(0x4e16);
    let rounds = 400;
    let mut interrupted = 0;
    for round in 0..rounds {
        let w = words(&p);
        let map = NeighMap::format_words(&w, &p).unwrap();
        let mut model = Model::new();
        let fill = 110 + rng.below(60);
        for i in 0..fill {
            let k = key(rng.below(800) + 1000 * (round as u64 % 3));
            let e = entry(k, (i % 7) as u8, i % 5 != 0);
            if map.upsert(&e, (i % 7) as u8).is_ok() {
                model.insert(k, map.get(&k).unwrap().unwrap());
            }
        }
        let remove = rng.below(2) == 0;
        let victim = if remove {
            *model
                .keys()
                .nth(rng.below(model.len() as u64) as usize)
                .unwrap()
        } else {
            (0..)
                .map(|i| key(5000 + i))
                .find(|k| !model.contains_key(k))
                .unwrap()
        };
        let hook: fn() = fault_at_countdown;
        COUNTDOWN.set(rng.below(3) as usize);
        let on_clear = rng.below(2) == 0;
        let unwound = std::panic::catch_unwind(|| {
            if on_clear {
                writer::fault::SLOT_CLEARED.set(Some(hook));
            } else {
                writer::fault::MOVED_ONE.set(Some(hook));
            }
            if remove {
                map.remove(&victim);
            } else {
                let _ = map.upsert(&entry(victim, 9, true), 9);
            }
        });
        writer::fault::SLOT_CLEARED.set(None);
        writer::fault::MOVED_ONE.set(None);
        let map = NeighMap::join_to_repair(&w).unwrap();
        // Now and then a first repair itself stops midway: the next one finishes it.
        let first_repair = (unwound.is_err() && rng.below(3) == 0).then(|| {
            COUNTDOWN.set(rng.below(6) as usize);
            let stopped = std::panic::catch_unwind(|| {
                writer::fault::SLOT_CLEARED.set(Some(hook));
                map.repair()
            });
            writer::fault::SLOT_CLEARED.set(None);
            stopped.is_err()
        });
        let rep = map.repair();
        if unwound.is_err() {
            interrupted += 1;
            match first_repair {
                None => assert!(rep.was_poisoned && rep.interrupted_moves == 1, "{rep:?}"),
                Some(true) => assert!(rep.was_poisoned, "{rep:?}"),
                Some(false) => assert!(rep.was_clean(), "{rep:?}"),
            }
        } else {
            assert!(rep.was_clean(), "{rep:?}");
            if remove {
                model.remove(&victim);
            } else if let Ok(Some(e)) = map.get(&victim) {
                model.insert(victim, e);
            }
        }
        check_invariants(&map);
        let r = map.reader();
        assert!(!r.is_poisoned());
        for l in 0..p.lock_count {
            assert!(r.lock(l).begin_read().is_stable(), "lock {l} left odd");
            assert!(!r.writer_lock(l).is_held(), "lock {l} left held");
        }
        assert_eq!(rep.len, map.len());
        for (k, want) in &model {
            if *k != victim {
                assert_eq!(map.get(k), Ok(Some(*want)), "round {round}: {rep:?}");
            }
        }
        match map.get(&victim).unwrap() {
            None => {}
            Some(e) if remove => assert_eq!(Some(e), model.get(&victim).copied()),
            Some(e) => assert_eq!(value_generation(&victim, &e), Some(9), "{e:?}"),
        }
        let others = model.keys().filter(|k| **k != victim).count();
        let victim_there = usize::from(map.get(&victim).unwrap().is_some());
        assert_eq!(map.len(), others + victim_there);
        map.upsert(&entry(key(9999), 1, true), 1).unwrap();
        assert!(map.remove(&key(9999)));
        check_invariants(&map);
    }
    assert!(
        interrupted > rounds / 3,
        "{interrupted} of {rounds} moves interrupted"
    );
}

/// Writer locks a killed writer held outside any move (in a value update, or walking a
/// run) are released by `repair`, which changes nothing else; before it, a writer of
/// those ranges would wait forever.
#[test]
fn repair_releases_the_locks_of_a_writer_killed_outside_a_move() {
    let w = words(&SMALL);
    let (map, k) = small_map_with_key_at(&w, 2);
    std::mem::forget(lock_set::LockSet::acquire(&map.reader(), 0, 2));
    assert!(map.reader().writer_lock(1).is_held());
    let before: Vec<[u64; 4]> = (0..SMALL.capacity)
        .map(|s| map.reader().load_slot(s))
        .collect();
    let rep = map.repair();
    assert_eq!(
        rep,
        Repaired {
            held_locks: 2,
            len: 1,
            ..Repaired::default()
        }
    );
    let after: Vec<[u64; 4]> = (0..SMALL.capacity)
        .map(|s| map.reader().load_slot(s))
        .collect();
    assert_eq!(before, after);
    assert_eq!(map.upsert(&entry(k, 3, true), 3), Ok(Upserted::Updated));
    assert!(map.repair().was_clean());
}

/// A writer that died in `clear`, which holds every lock: the map is cleared.
#[test]
fn repair_of_an_interrupted_clear_clears_the_map() {
    let w = words(&SMALL);
    let (map, k) = small_map_with_key_at(&w, 2);
    let r = map.reader();
    let mut all = lock_set::LockSet::acquire(&r, 0, SMALL.lock_count);
    all.begin_move();
    std::mem::forget(all);
    assert_eq!(map.get(&k), Err(Busy));
    let rep = map.repair();
    assert_eq!((rep.interrupted_moves, rep.dropped, rep.len), (1, 1, 0));
    assert_eq!(map.get(&k), Ok(None));
    check_invariants(&map);
}
