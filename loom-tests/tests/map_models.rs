//! Loom models of the neigh-core map: the real map code over loom's atomics
//! (`RUSTFLAGS="--cfg loom"`), every interleaving explored up to a preemption bound.
//!
//! Each model builds a tiny map (32 slots in 2 locks of 16, the fewest slots per lock
//! allowed, so probe runs cross lock boundaries and wrap; two models use 64 slots in 4
//! locks), places keys at chosen home slots, then runs writers and a reader. Readers
//! decide from the tags in each lock's group and read only the slots whose tag matches.
//! A reader's answer must be the right key with a whole value of one write (MAC, state
//! and flags of one generation: never torn, never another key's MAC), or `Busy` while
//! keys move; never `Busy` while only values change; never absent for a key present
//! throughout.
#![cfg(loom)]

use std::net::{IpAddr, Ipv4Addr};

use loom::sync::atomic::AtomicU64;
use loom::thread;
use neigh_core::map::{footprint, Busy, MapParams, MapReader, NeighMap};
use neigh_core::{NeighEntry, NeighKey, NtfFlags, NudState};

/// Preemption bound for every model unless `LOOM_MAX_PREEMPTIONS` is set (see README.md
/// for the time each model takes at bounds 3 and 4).
const PREEMPTION_BOUND: usize = 3;

const PARAMS: MapParams = MapParams {
    capacity: 32,
    lock_count: 2,
    probe_max: 32,
    seed: 0x10,
};

/// 64 slots in 4 locks of 16, for runs that cross more than one boundary.
const FOUR_LOCKS: MapParams = MapParams {
    capacity: 64,
    lock_count: 4,
    probe_max: 64,
    seed: 0x10,
};

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(PREEMPTION_BOUND);
    }
    b.max_branches = 100_000;
    b
}

/// A fresh map over leaked loom atomics (the words outlive the threads that borrow them;
/// a few hundred bytes per explored execution).
fn new_map() -> NeighMap<'static> {
    new_map_with(&PARAMS)
}

fn new_map_with(params: &MapParams) -> NeighMap<'static> {
    let n = footprint(params).unwrap() / 8;
    let words: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let words: &'static [AtomicU64] = Box::leak(words.into_boxed_slice());
    NeighMap::format_words(words, params).unwrap()
}

/// The `nth` key (IPv4 10.0.x.y on ifindex 1) whose home slot in a [`PARAMS`] map is
/// `home`.
fn key_at(home: usize, nth: usize) -> NeighKey {
    key_in(&PARAMS, home, nth)
}

/// The `nth` key whose home slot in a map with `params` is `home`.
fn key_in(params: &MapParams, home: usize, nth: usize) -> NeighKey {
    (0u32..)
        .map(|i| NeighKey {
            ifindex: 1,
            addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        })
        .filter(|k| params.home_slot(k) == home)
        .nth(nth)
        .unwrap()
}

fn mac_of(k: &NeighKey, generation: u8) -> [u8; 6] {
    let IpAddr::V4(a) = k.addr else {
        unreachable!()
    };
    let o = a.octets();
    [
        2,
        o[2],
        o[3],
        generation,
        generation ^ 0x5a,
        o[3] ^ generation,
    ]
}

/// The NUD state written with `generation`: the value word (MAC, state, flags) carries the
/// generation in each of its parts, so a reader can tell which write a value is and that it
/// is that write's whole.
fn state_of(generation: u8) -> NudState {
    NudState(u16::from(generation))
}

/// The flags written with `generation` (bit 0, NTF_USE, is not stored by the map).
fn flags_of(generation: u8) -> NtfFlags {
    NtfFlags(generation & !1)
}

fn entry(k: NeighKey, generation: u8) -> NeighEntry {
    NeighEntry {
        key: k,
        mac: Some(mac_of(&k, generation)),
        state: state_of(generation),
        flags: flags_of(generation),
    }
}

fn put(map: &NeighMap<'_>, k: NeighKey, generation: u8) {
    map.upsert(&entry(k, generation), generation).unwrap();
}

/// Checks one read of a key that is present throughout: `Busy` or the key with a whole
/// value of one of the `generations` (MAC, state and flags of one write: never torn,
/// never another key's MAC), and a generation among them (the generation is read apart
/// from the value: an update stores the value, then the generation). Returns the
/// value's generation.
fn check_present(r: &MapReader<'_>, k: &NeighKey, generations: &[u8]) -> Option<u8> {
    match r.get(k) {
        Err(Busy) => None,
        Ok(None) => panic!("false absent for {k:?}"),
        Ok(Some(e)) => Some(check_value(k, &e, generations)),
    }
}

/// As [`check_present`], for a read that must not be `Busy` either: a value update never
/// makes a reader retry, let alone give up.
fn check_present_never_busy(r: &MapReader<'_>, k: &NeighKey, generations: &[u8]) -> u8 {
    match r.get(k) {
        Err(Busy) => panic!("busy during a value update for {k:?}"),
        Ok(None) => panic!("false absent for {k:?}"),
        Ok(Some(e)) => check_value(k, &e, generations),
    }
}

fn check_value(k: &NeighKey, e: &neigh_core::MapEntry, generations: &[u8]) -> u8 {
    let entry = e.entry();
    assert_eq!(entry.key, *k);
    let v = entry.state.0 as u8;
    assert!(generations.contains(&v), "value of generation {v}");
    assert_eq!(
        entry.mac,
        Some(mac_of(k, v)),
        "torn value or another key's MAC"
    );
    assert_eq!(entry.flags, flags_of(v), "torn value");
    assert!(
        generations.contains(&e.generation()),
        "generation {}",
        e.generation()
    );
    v
}

fn generation_of(map: &NeighMap<'_>, k: &NeighKey) -> Option<u8> {
    map.get(k).unwrap().map(|e| e.generation())
}

/// 64 slots in 2 locks of 32: a writer homed in the second half of a lock's range takes
/// that lock alone (one homed in the first 16 slots also takes the previous lock).
const TWO_WIDE_LOCKS: MapParams = MapParams {
    capacity: 64,
    lock_count: 2,
    probe_max: 64,
    seed: 0x10,
};

/// Two writers and a reader. `same_region`: both writers' keys are homed in lock 0 (and
/// take only lock 0); otherwise writer 2 works in lock 1 alone.
fn two_writers(same_region: bool) {
    builder().check(move || {
        let map = new_map_with(&TWO_WIDE_LOCKS);
        let at = |home, nth| key_in(&TWO_WIDE_LOCKS, home, nth);
        let stable = at(17, 0);
        put(&map, stable, 1);
        let k1 = at(16, 0);
        let k2 = if same_region { at(16, 1) } else { at(48, 0) };
        let w1 = thread::spawn(move || put(&map, k1, 2));
        let w2 = thread::spawn(move || put(&map, k2, 3));
        check_present(&map.reader(), &stable, &[1]);
        w1.join().unwrap();
        w2.join().unwrap();
        assert_eq!(generation_of(&map, &stable), Some(1));
        assert_eq!(generation_of(&map, &k1), Some(2));
        assert_eq!(generation_of(&map, &k2), Some(3));
        assert_eq!(map.len(), 3);
    });
}

#[test]
fn two_writers_same_lock_region_with_reader() {
    two_writers(true);
}

#[test]
fn two_writers_different_lock_regions_with_reader() {
    two_writers(false);
}

/// Fills a map of `params` with `placed` (generation 1), then inserts `spawned`
/// (generation 2) from a new thread and `here` (generation 3) from this one, and checks
/// that both inserts landed and nothing else changed. A deadlock between the two writers
/// makes loom report a livelock ("exceeded maximum number of branches").
fn insert_two_at_once(params: &MapParams, placed: &[NeighKey], spawned: NeighKey, here: NeighKey) {
    let map = new_map_with(params);
    for &k in placed {
        put(&map, k, 1);
    }
    let w = thread::spawn(move || put(&map, spawned, 2));
    put(&map, here, 3);
    w.join().unwrap();
    for &k in placed {
        assert_eq!(generation_of(&map, &k), Some(1));
    }
    assert_eq!(generation_of(&map, &spawned), Some(2));
    assert_eq!(generation_of(&map, &here), Some(3));
    assert_eq!(map.len(), placed.len() + 2);
}

#[test]
fn two_writers_whose_runs_cross_both_ways_do_not_deadlock() {
    builder().check(|| {
        let at = |home, nth| key_in(&FOUR_LOCKS, home, nth);
        // A writer takes its home's lock, then the next ones as its walk goes on. a2
        // (home 63, behind a) starts with lock 3 and its run wraps to slot 0 (lock 0): it
        // must release lock 3 and retake 0, then 3. c (home 2) starts with lock 0, and its
        // insert at slot 2 also needs lock 3, whose group copies lock 0's tags: it tries
        // lock 3 and, if a2 holds it, releases lock 0 and retakes 0, then 3. Taking lock 0
        // while holding lock 3 (the wrapped walk done naively) would deadlock with c.
        let (a, b, a2, c) = (at(63, 0), at(0, 0), at(63, 1), at(2, 0));
        insert_two_at_once(&FOUR_LOCKS, &[a, b], a2, c);
    });
}

#[test]
fn a_writer_needing_the_lock_below_its_own_does_not_deadlock() {
    builder().check(|| {
        let at = |home, nth| key_in(&FOUR_LOCKS, home, nth);
        // A writer starts with its home's lock. a (home 16) inserts at slot 16, one of
        // lock 1's first 16, whose tag lock 0's group copies: it then also needs lock 0,
        // below the one it holds. b (home 15, behind d) holds lock 0 and walks up to slot
        // 16 in lock 1. Waiting for lock 0 while holding lock 1 would deadlock with b; a
        // tries lock 0 once and otherwise releases lock 1 and retakes both in order.
        let (d, a, b) = (at(15, 0), at(16, 0), at(15, 1));
        insert_two_at_once(&FOUR_LOCKS, &[d], a, b);
    });
}

// The value-update models run the reader on the spawned thread and the writer on this
// one. A value update touches nothing a reader validates, and the writer loads a slot
// (planning) before it stores to it; loom tracks one last access per atomic, so with the
// reader's loads all first (a reader on this thread runs before the spawned writer in
// loom's first execution) the writer's own loads would hide them and loom would see no
// race to explore. With the writer first, each reader load meets the writer's last store.

#[test]
fn update_while_reading_is_never_torn_nor_busy() {
    builder().check(|| {
        let map = new_map();
        let k = key_at(3, 0);
        put(&map, k, 1);
        let r = thread::spawn(move || {
            check_present_never_busy(&map.reader(), &k, &[1, 2]);
        });
        put(&map, k, 2);
        r.join().unwrap();
        assert_eq!(generation_of(&map, &k), Some(2));
    });
}

#[test]
fn two_updates_while_reading_twice_never_go_back() {
    builder().check(|| {
        let map = new_map();
        let k = key_at(3, 0);
        put(&map, k, 1);
        let r = thread::spawn(move || {
            let r = map.reader();
            let first = check_present_never_busy(&r, &k, &[1, 2, 3]);
            let second = check_present_never_busy(&r, &k, &[1, 2, 3]);
            assert!(second >= first, "read {second} after {first}");
        });
        put(&map, k, 2);
        put(&map, k, 3);
        r.join().unwrap();
        assert_eq!(generation_of(&map, &k), Some(3));
    });
}

#[test]
fn update_of_a_slot_whose_tag_is_copied_is_never_torn_nor_busy() {
    builder().check(|| {
        let map = new_map();
        // a and k home at slot 15 (lock 0): k sits at slot 16 (lock 1), which a reader of
        // home 15 reads through lock 0's group (the copy of lock 1's first 16 tags). The
        // writer updating k holds both locks.
        let (a, k) = (key_at(15, 0), key_at(15, 1));
        put(&map, a, 1);
        put(&map, k, 1);
        let r = thread::spawn(move || {
            check_present_never_busy(&map.reader(), &k, &[1, 2]);
        });
        put(&map, k, 2);
        r.join().unwrap();
        assert_eq!(generation_of(&map, &k), Some(2));
    });
}

#[test]
fn remove_back_shift_across_lock_boundary_is_never_false_absent() {
    builder().check(|| {
        let map = new_map();
        // a and k both home at slot 15 (lock 0): k sits at slot 16 (lock 1; its tag is
        // also copied in lock 0's group). Removing a moves k and its tag back to slot 15.
        let (a, k) = (key_at(15, 0), key_at(15, 1));
        put(&map, a, 1);
        put(&map, k, 1);
        let w = thread::spawn(move || assert!(map.remove(&a)));
        check_present(&map.reader(), &k, &[1]);
        w.join().unwrap();
        assert_eq!(generation_of(&map, &a), None);
        assert_eq!(generation_of(&map, &k), Some(1));
    });
}

#[test]
fn insert_shift_across_lock_boundary_is_never_false_absent() {
    builder().check(|| {
        let map = new_map();
        // x at its home slot 14, k at its home slot 15 (both lock 0). n (home 14) takes
        // slot 15 in Robin Hood order and pushes k (and its tag) to slot 16 (lock 1).
        let (x, k, n) = (key_at(14, 0), key_at(15, 0), key_at(14, 1));
        put(&map, x, 1);
        put(&map, k, 1);
        let w = thread::spawn(move || put(&map, n, 2));
        check_present(&map.reader(), &k, &[1]);
        w.join().unwrap();
        assert_eq!(generation_of(&map, &k), Some(1));
        assert_eq!(generation_of(&map, &n), Some(2));
    });
}

#[test]
fn remove_across_the_wrap_is_never_false_absent() {
    builder().check(|| {
        let map = new_map();
        // a and k home at slot 31 (lock 1); k wraps to slot 0 (lock 0, its tag copied in
        // lock 1's group).
        let (a, k) = (key_at(31, 0), key_at(31, 1));
        put(&map, a, 1);
        put(&map, k, 1);
        let w = thread::spawn(move || assert!(map.remove(&a)));
        check_present(&map.reader(), &k, &[1]);
        w.join().unwrap();
        assert_eq!(generation_of(&map, &k), Some(1));
    });
}

#[test]
fn absent_key_is_never_found_while_a_neighbor_moves() {
    builder().check(|| {
        let map = new_map();
        // a and b home at 15; c (absent throughout) homes at 15 too, so its probe scans
        // the same run while removing a shifts b across the lock boundary.
        let (a, b, c) = (key_at(15, 0), key_at(15, 1), key_at(15, 2));
        put(&map, a, 1);
        put(&map, b, 1);
        let w = thread::spawn(move || assert!(map.remove(&a)));
        assert!(matches!(map.reader().get(&c), Ok(None) | Err(Busy)));
        w.join().unwrap();
        assert_eq!(generation_of(&map, &b), Some(1));
        assert_eq!(generation_of(&map, &c), None);
    });
}

#[test]
fn remove_back_shift_into_an_earlier_crossed_lock_is_never_false_absent() {
    builder().check(|| {
        // Four locks of 16 slots. 17 keys home at slot 16: they fill 16-31 (lock 1), and
        // k, the 17th, sits at 32 (lock 2).
        let map = new_map_with(&FOUR_LOCKS);
        let keys: Vec<NeighKey> = (0..17).map(|i| key_in(&FOUR_LOCKS, 16, i)).collect();
        for k in &keys {
            put(&map, *k, 1);
        }
        let (last, k) = (keys[15], keys[16]);
        // Removing the key at 31 moves k from 32 (lock 2) back to 31 (lock 1). A reader
        // whose scan reads lock 1's group (window 16-31) before the move and lock 2's
        // (window 32-47) after it sees k nowhere and must retry. (The remover also holds
        // lock 1, where k homes: in Robin Hood order every writer that moves k holds the
        // lock of k's home, so the first lock alone would catch this; the reader
        // validates every crossed lock regardless.)
        let w = thread::spawn(move || assert!(map.remove(&last)));
        check_present(&map.reader(), &k, &[1]);
        w.join().unwrap();
        assert_eq!(generation_of(&map, &k), Some(1));
    });
}
