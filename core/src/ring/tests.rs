//! Ring tests: order, full, abandon, header checks, and a multi-producer stress run.

use super::*;
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn words(cells: usize) -> Vec<AtomicU64> {
    (0..ring_footprint(cells).unwrap() / 8)
        .map(|_| AtomicU64::new(0))
        .collect()
}

fn v4(i: u32) -> ResolveRequest {
    ResolveRequest {
        ifindex: 2 + i % 3,
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
    }
}

#[test]
fn fifo_full_and_counters() {
    let w = words(8);
    let r = RequestRing::format(&w, 8, 4096).unwrap();
    for i in 0..8 {
        r.post(&v4(i)).unwrap();
    }
    assert_eq!(r.post(&v4(99)), Err(PostError::Full));
    let six = ResolveRequest {
        ifindex: 7,
        addr: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4)),
    };
    let mut got = Vec::new();
    let d = r.drain(3, |q| got.push(q));
    assert_eq!(
        d,
        Drained {
            taken: 3,
            blocked_at: None
        }
    );
    r.post(&six).unwrap();
    let d = r.drain(usize::MAX, |q| got.push(q));
    assert_eq!(d.taken, 6);
    let mut want: Vec<_> = (0..8).map(v4).collect();
    want.push(six);
    assert_eq!(got, want);
    let s = r.stats();
    assert_eq!(
        (s.posted, s.dropped_full, s.drained, s.pending),
        (9, 1, 9, 0)
    );
    // Many laps around the ring keep order.
    for lap in 0..100u32 {
        for i in 0..5 {
            r.post(&v4(lap * 5 + i)).unwrap();
        }
        let mut got = Vec::new();
        r.drain(usize::MAX, |q| got.push(q));
        assert_eq!(got, (0..5).map(|i| v4(lap * 5 + i)).collect::<Vec<_>>());
    }
}

#[test]
fn join_checks_header() {
    let w = words(16);
    assert!(matches!(
        RequestRing::join(&w, 0),
        Err(RingError::BadMagic { found: 0 })
    ));
    RequestRing::format(&w, 16, 640).unwrap();
    let r = RequestRing::join(&w, 640).unwrap();
    assert_eq!(r.capacity(), 16);
    assert!(matches!(
        RequestRing::join(&w, 0),
        Err(RingError::LayoutMismatch {
            field: "base offset",
            ..
        })
    ));
    assert!(matches!(
        RequestRing::join(&w[..40], 640),
        Err(RingError::TooSmall { .. })
    ));
    w[R_VERSION].store(2, Ordering::Relaxed);
    assert!(matches!(
        RequestRing::join(&w, 640),
        Err(RingError::UnsupportedVersion { found: 2 })
    ));
    assert!(matches!(
        ring_footprint(3),
        Err(RingError::BadCells { cells: 3 })
    ));
    assert!(matches!(
        RequestRing::format(&w[..10], 16, 0),
        Err(RingError::TooSmall { .. })
    ));
}

#[test]
fn stuck_claim_is_abandoned_and_late_publish_fails() {
    let w = words(4);
    let r = RequestRing::format(&w, 4, 0).unwrap();
    // Simulate a producer that claimed position 0 and stalled before publishing.
    w[R_ENQUEUE].store(1, Ordering::Relaxed);
    r.post(&v4(1)).unwrap();
    let mut got = Vec::new();
    let d = r.drain(usize::MAX, |q| got.push(q));
    assert_eq!(
        d,
        Drained {
            taken: 0,
            blocked_at: Some(0)
        }
    );
    assert!(
        !r.abandon(1),
        "only the consumer's position can be abandoned"
    );
    assert!(r.abandon(0));
    let d = r.drain(usize::MAX, |q| got.push(q));
    assert_eq!((d.taken, got), (1, vec![v4(1)]));
    // The stalled producer's publish (CAS 0 -> 1) now fails: seq moved on a lap.
    let cell = r.cell(0);
    assert!(cell[0]
        .compare_exchange(0, 1, Ordering::Release, Ordering::Relaxed)
        .is_err());
    assert_eq!(r.stats().abandoned, 1);
    // The ring keeps working across the skipped position.
    for i in 0..4 {
        r.post(&v4(10 + i)).unwrap();
    }
    let mut got = Vec::new();
    r.drain(usize::MAX, |q| got.push(q));
    assert_eq!(got, (10..14).map(v4).collect::<Vec<_>>());
}

#[test]
fn an_unclaimed_position_is_not_abandoned() {
    let w = words(2);
    let r = RequestRing::format(&w, 2, 0).unwrap();
    // Empty ring: position 0 is free, not claimed. Skipping it would put cell 0 a lap
    // ahead of the enqueue position and wedge every later post.
    assert!(!r.abandon(0));
    r.post(&v4(1)).unwrap();
    let mut got = Vec::new();
    r.drain(usize::MAX, |q| got.push(q));
    // Drained up to the enqueue position again: position 1 is free.
    assert!(!r.abandon(1));
    r.post(&v4(2)).unwrap();
    r.drain(usize::MAX, |q| got.push(q));
    assert_eq!(got, vec![v4(1), v4(2)]);
    let s = r.stats();
    assert_eq!((s.abandoned, s.pending), (0, 0));
}

#[test]
fn garbage_cells_are_consumed_not_returned() {
    let w = words(4);
    let r = RequestRing::format(&w, 4, 0).unwrap();
    r.post(&v4(1)).unwrap();
    // Corrupt the family word of the published cell.
    r.cell(0)[3].store(9 << 32 | 5, Ordering::Relaxed);
    let mut got = Vec::new();
    assert_eq!(r.drain(usize::MAX, |q| got.push(q)).taken, 1);
    assert!(got.is_empty());
}

#[test]
fn many_producers_one_consumer_lose_nothing_uncounted() {
    const PRODUCERS: u32 = 4;
    const EACH: u32 = 20_000;
    let w: Arc<Vec<AtomicU64>> = Arc::new(words(64));
    RequestRing::format(&w, 64, 0).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (w, done) = (Arc::clone(&w), Arc::clone(&done));
        std::thread::spawn(move || {
            let r = RequestRing::join(&w, 0).unwrap();
            let mut seen = HashSet::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                r.drain(usize::MAX, |q| assert!(seen.insert(q), "duplicate {q:?}"));
                if finished {
                    r.drain(usize::MAX, |q| assert!(seen.insert(q), "duplicate {q:?}"));
                    return seen;
                }
            }
        })
    };
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let w = Arc::clone(&w);
            std::thread::spawn(move || {
                let r = RequestRing::join(&w, 0).unwrap();
                let mut ok = HashSet::new();
                for i in 0..EACH {
                    let q = v4(p * EACH + i);
                    match r.post(&q) {
                        Ok(()) => assert!(ok.insert(q)),
                        Err(PostError::Full) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let mut posted = HashSet::new();
    for p in producers {
        posted.extend(p.join().unwrap());
    }
    done.store(true, Ordering::Release);
    let seen = consumer.join().unwrap();
    assert_eq!(
        seen, posted,
        "every accepted request is drained exactly once"
    );
    let r = RequestRing::join(&w, 0).unwrap();
    let s = r.stats();
    assert_eq!(s.posted as usize, posted.len());
    assert_eq!(s.posted + s.dropped_full, u64::from(PRODUCERS * EACH));
    assert_eq!(s.pending, 0);
}

#[test]
fn the_enqueue_position_counts_claims_published_or_not() {
    let w = words(4);
    let r = RequestRing::format(&w, 4, 0).unwrap();
    assert_eq!(r.enqueue_position(), 0);
    // A producer that claimed position 0 and stalled, then one that published.
    w[R_ENQUEUE].store(1, Ordering::Relaxed);
    r.post(&v4(1)).unwrap();
    assert_eq!(r.enqueue_position(), 2);
    let d = r.drain(usize::MAX, |_| {});
    assert_eq!(d.blocked_at, Some(0));
    assert!(r.abandon(0));
    assert_eq!(r.enqueue_position(), 2, "abandoning claims nothing");
}

/// A consumer that died between freeing a cell and advancing its position (simulated by
/// putting the position back): the next consumer goes on from the next request instead
/// of stalling on a cell it reads as neither published nor claimable.
#[test]
fn a_consumer_killed_between_its_two_stores_does_not_stall_the_next() {
    let w = words(8);
    let r = RequestRing::format(&w, 8, 4096).unwrap();
    for i in 0..3 {
        r.post(&v4(i)).unwrap();
    }
    let mut got = Vec::new();
    r.drain(1, |q| got.push(q));
    w[R_DEQUEUE].store(0, Ordering::Relaxed);
    let d = r.drain(8, |q| got.push(q));
    assert_eq!(got, vec![v4(0), v4(1), v4(2)]);
    assert_eq!(d.blocked_at, None);
    r.post(&v4(3)).unwrap();
    r.drain(8, |q| got.push(q));
    assert_eq!(got.last(), Some(&v4(3)));
}
