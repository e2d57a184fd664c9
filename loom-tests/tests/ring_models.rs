//! Loom models of the neigh-core resolution request ring: the real ring code over loom's
//! atomics (`RUSTFLAGS="--cfg loom"`), every interleaving explored up to a preemption bound.
//!
//! Each model formats a tiny ring (2 or 4 cells, so positions wrap after a few posts), runs
//! producers and the single consumer concurrently, then drains what is left and checks that
//! every request whose `post` returned `Ok` was drained exactly once, in each producer's
//! order, intact (the address halves and the ifindex are derived from one tag, so a request
//! mixing two posts is caught), that nothing else was drained, and that the counters agree.
//! A `post` that blocked (spun waiting for room) would never return, which loom reports as
//! "exceeded maximum number of branches". See README.md for the list and what each caught.
#![cfg(loom)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use loom::sync::atomic::AtomicU64;
use loom::thread;
use neigh_core::ring::{ring_footprint, PostError, RequestRing, ResolveRequest};

/// Preemption bound for every model unless `LOOM_MAX_PREEMPTIONS` is set (see README.md
/// for the time each model takes at bounds 3 and 4).
const PREEMPTION_BOUND: usize = 3;

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(PREEMPTION_BOUND);
    }
    b.max_branches = 100_000;
    b
}

/// A fresh ring of `cells` cells over leaked loom atomics (the words outlive the threads
/// that borrow them; a few hundred bytes per explored execution).
fn new_ring(cells: usize) -> RequestRing<'static> {
    let n = ring_footprint(cells).unwrap() / 8;
    let words: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let words: &'static [AtomicU64] = Box::leak(words.into_boxed_slice());
    RequestRing::format(words, cells, 0).unwrap()
}

/// The request of tag `t` (1..=0xffff): IPv6 `t:..:t` on ifindex `t`, so both address words
/// and the ifindex word of a cell carry the tag; a cell mixing two posts decodes to a
/// request that is no `req(t)`.
fn req(t: u16) -> ResolveRequest {
    ResolveRequest {
        ifindex: u32::from(t),
        addr: IpAddr::V6(Ipv6Addr::new(t, 0, 0, t, t, 0, 0, t)),
    }
}

/// An IPv4 request of tag `t` (10.0.0.t on ifindex `t`), to cover the v4-mapped encoding.
fn req4(t: u8) -> ResolveRequest {
    ResolveRequest {
        ifindex: u32::from(t),
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, t)),
    }
}

/// Posts `reqs` in order; returns the ones accepted and the number refused as full. For
/// models without an `abandon`, where `Abandoned` would mean two producers published into
/// one claim.
fn post_all(ring: &RequestRing<'_>, reqs: &[ResolveRequest]) -> (Vec<ResolveRequest>, u64) {
    let mut ok = Vec::new();
    let mut full = 0;
    for q in reqs {
        match ring.post(q) {
            Ok(()) => ok.push(*q),
            Err(PostError::Full) => full += 1,
            Err(PostError::Abandoned) => panic!("abandoned without an abandon"),
        }
    }
    (ok, full)
}

/// Checks the drained requests against what the producers had accepted: each accepted
/// request exactly once (so none invented, none torn: a torn one is no accepted request),
/// each producer's requests in its posting order. Then checks the counters.
fn check(
    ring: &RequestRing<'_>,
    drained: &[ResolveRequest],
    accepted: &[Vec<ResolveRequest>],
    full: u64,
) {
    let mut want: Vec<ResolveRequest> = accepted.iter().flatten().copied().collect();
    let mut got = drained.to_vec();
    want.sort();
    got.sort();
    assert_eq!(got, want, "drained {drained:?}, accepted {accepted:?}");
    for producer in accepted {
        let order: Vec<_> = drained.iter().filter(|q| producer.contains(q)).collect();
        let posted: Vec<_> = producer.iter().collect();
        assert_eq!(order, posted, "a producer's requests out of order");
    }
    let s = ring.stats();
    let n = drained.len() as u64;
    assert_eq!(s.posted, n, "posted counter");
    assert_eq!(s.drained, n, "drained counter");
    assert_eq!(s.dropped_full, full, "dropped_full counter");
    assert_eq!((s.pending, s.abandoned), (0, 0));
}

/// Runs the consumer on its own thread: `drains` drains of at most `max` requests each,
/// concurrent with the producers; returns what it drained, in order.
///
/// The consumer is spawned, not the producers, so that loom's first schedule runs the
/// producer on the main thread first: loom's DPOR remembers only the last access to each
/// atomic, and a producer's own load of a cell's `seq` (or of the enqueue position) before
/// its CAS would otherwise hide a consumer's earlier load of it, leaving that race
/// unexplored. Producer writes first, consumer loads after, is a race loom always sees.
fn spawn_consumer(
    ring: RequestRing<'static>,
    drains: usize,
    max: usize,
) -> thread::JoinHandle<Vec<ResolveRequest>> {
    thread::spawn(move || {
        let mut drained = Vec::new();
        for _ in 0..drains {
            ring.drain(max, |q| drained.push(q));
        }
        drained
    })
}

#[test]
fn two_producers_and_the_consumer_deliver_each_request_once_intact() {
    builder().check(|| {
        let ring = new_ring(4);
        let c = spawn_consumer(ring, 2, usize::MAX);
        let p2 = thread::spawn(move || post_all(&ring, &[req(0x0202)]));
        let (a1, f1) = post_all(&ring, &[req(0x0101), req4(3)]);
        let (a2, f2) = p2.join().unwrap();
        // The consumer drained twice while both producers posted (each drain may have
        // seen none, some, or stopped at a claimed-unpublished cell); once all are done,
        // everything left is published.
        let mut drained = c.join().unwrap();
        let d = ring.drain(usize::MAX, |q| drained.push(q));
        assert_eq!(d.blocked_at, None, "blocked after every producer returned");
        assert_eq!(f1 + f2, 0, "a 4-cell ring cannot fill with 3 requests");
        check(&ring, &drained, &[a1, a2], 0);
    });
}

#[test]
fn posting_into_a_ring_that_fills_concurrently_succeeds_or_counts_full() {
    builder().check(|| {
        // Two cells, one already taken: one free cell for two producers posting two
        // requests each, while the consumer may free a cell (twice, one at a time). The
        // ring is full for some of the four posts in every interleaving.
        let ring = new_ring(2);
        let first = req4(1);
        ring.post(&first).unwrap();
        let c = spawn_consumer(ring, 2, 1);
        let p2 = thread::spawn(move || post_all(&ring, &[req4(3), req(0x0505)]));
        let (a1, f1) = post_all(&ring, &[req(0x0202), req4(4)]);
        let (a2, f2) = p2.join().unwrap();
        let mut drained = c.join().unwrap();
        ring.drain(usize::MAX, |q| drained.push(q));
        assert!(
            !a1.is_empty() || !a2.is_empty(),
            "both producers refused with a free cell"
        );
        assert_eq!(a1.len() + a2.len() + (f1 + f2) as usize, 4);
        // 1 + 4 requests, 2 cells, at most 2 drained meanwhile: at least one refused.
        assert!(f1 + f2 >= 1, "5 requests fitted into 2 cells + 2 drains");
        check(&ring, &drained, &[vec![first], a1, a2], f1 + f2);
    });
}

#[test]
fn consumer_and_producer_race_on_the_wrap_of_a_two_cell_ring() {
    builder().check(|| {
        let ring = new_ring(2);
        // Positions 0 to 3, two laps of the two cells: a post of lap 1 reuses a cell if
        // the consumer freed it, and the consumer may be reading the cell's lap-0 request
        // while the producer refills it (or finds it still full).
        let c = spawn_consumer(ring, 3, usize::MAX);
        let (a, full) = post_all(&ring, &[req(0x0101), req4(2), req(0x0303), req4(4)]);
        let mut drained = c.join().unwrap();
        ring.drain(usize::MAX, |q| drained.push(q));
        assert!(
            a.len() >= 2,
            "a 2-cell ring refused one of its first 2 posts"
        );
        check(&ring, &drained, &[a], full);
    });
}

#[test]
fn a_claim_abandoned_by_the_consumer_is_either_published_or_dropped_never_both() {
    builder().check(|| {
        let ring = new_ring(2);
        // The consumer plays the mirror meeting a stalled producer: a drain that stops at a
        // claimed-but-unpublished cell abandons it at once (the mirror waits first; under
        // loom the stall is just an interleaving).
        let c = thread::spawn(move || {
            let mut drained = Vec::new();
            let d = ring.drain(usize::MAX, |q| drained.push(q));
            let abandoned = d.blocked_at.is_some_and(|pos| ring.abandon(pos));
            ring.drain(usize::MAX, |q| drained.push(q));
            (drained, abandoned)
        });
        let reqs = [req(0x0101), req4(2)];
        // Two posts, positions 0 and 1: the consumer may abandon either claim (never both:
        // it abandons at most once), and a claim's fate does not depend on the other's.
        let results = reqs.map(|q| ring.post(&q));
        let (mut drained, abandoned) = c.join().unwrap();
        ring.drain(usize::MAX, |q| drained.push(q));
        let mut published = Vec::new();
        for (q, r) in reqs.iter().zip(results) {
            match r {
                Ok(()) => published.push(*q),
                Err(PostError::Abandoned) => assert!(abandoned, "Abandoned without an abandon"),
                Err(PostError::Full) => panic!("a 2-cell ring full after 1 post"),
            }
        }
        // Published claims come out exactly once in order; an abandoned one never does.
        assert_eq!(drained, published);
        let s = ring.stats();
        let lost = 2 - published.len() as u64;
        assert_eq!(
            lost,
            u64::from(abandoned),
            "abandon succeeded on a published claim"
        );
        assert_eq!((s.posted, s.abandoned), (published.len() as u64, lost));
        assert_eq!((s.drained, s.dropped_full, s.pending), (s.posted, 0, 0));
        // The ring goes on across the skipped position: two more posts fill it, both come
        // out in order.
        let (c2, d2) = (req(0x0303), req4(4));
        assert_eq!((ring.post(&c2), ring.post(&d2)), (Ok(()), Ok(())));
        let mut rest = Vec::new();
        ring.drain(usize::MAX, |q| rest.push(q));
        assert_eq!(rest, [c2, d2]);
    });
}

#[test]
fn abandoning_a_position_no_producer_claimed_is_refused() {
    builder().check(|| {
        let ring = new_ring(2);
        // A consumer abandoning its position without a `blocked_at` for it (misuse, or a
        // stale one): before the producer claims position 0 this must be refused, else
        // the cell ends a lap ahead of the enqueue position and every post spins forever.
        let c = thread::spawn(move || {
            let abandoned = ring.abandon(0);
            let mut drained = Vec::new();
            ring.drain(usize::MAX, |q| drained.push(q));
            (drained, abandoned)
        });
        let a = req(0x0101);
        let ra = ring.post(&a);
        let (mut drained, abandoned) = c.join().unwrap();
        ring.drain(usize::MAX, |q| drained.push(q));
        if abandoned {
            assert_eq!(ra, Err(PostError::Abandoned), "abandoned a published claim");
            assert!(drained.is_empty());
        } else {
            assert_eq!(ra, Ok(()));
            assert_eq!(drained, [a]);
        }
        // Whatever happened, the ring still takes and delivers requests.
        let b = req4(2);
        assert_eq!(ring.post(&b), Ok(()));
        let mut rest = Vec::new();
        ring.drain(usize::MAX, |q| rest.push(q));
        assert_eq!(rest, [b]);
        assert_eq!(ring.stats().pending, 0);
    });
}

#[test]
fn stats_read_during_posts_and_drains_never_underflow() {
    builder().check(|| {
        let ring = new_ring(2);
        // A monitoring thread reads the counters while the mirror's thread posts and
        // drains. `pending` is the enqueue minus the dequeue position: read in the wrong
        // order (or without ordering), a dequeue position newer than the enqueue position
        // read makes it wrap to ~2^64.
        let m = thread::spawn(move || {
            let s = ring.stats();
            // Read one after the other, the positions may be of different moments: up
            // to every post in flight, never wrapped.
            assert!(s.pending <= 3, "pending {} after 3 posts", s.pending);
        });
        for t in 1..=3 {
            assert_eq!(ring.post(&req4(t)), Ok(()));
            let mut got = Vec::new();
            ring.drain(usize::MAX, |q| got.push(q));
            assert_eq!(got, [req4(t)]);
        }
        m.join().unwrap();
    });
}
