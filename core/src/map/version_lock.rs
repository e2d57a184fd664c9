//! The version locks: one `u64` per range of slots, even = stable, odd = a writer holds it.
//!
//! This is the writer half of the seqlock recipe in DESIGN.md (the reader half is in
//! `reader.rs`, where it is interleaved with the probe):
//!
//! ```text
//! lock:   fetch_or(1) (Acquire) until the old value was even: v -> v+1; fence(Release)
//! write:  payload words .store(Relaxed)
//! unlock: version.fetch_add(1, Release)   (v+1 -> v+2)
//! ```
//!
//! Writers wait for locks in increasing index order only, so any number of writers cannot
//! deadlock: a writer waiting for lock `x` holds only locks below `x`. A writer that finds
//! it needs the lock just below the ones it holds tries it once, without waiting, and
//! otherwise releases everything and retakes the range in order. A probe run that
//! wraps from the last slot to slot 0 needs locks `i..N` and `0..j`; [`LockSet`] then takes
//! `0..j` first (releasing and retaking what it held if it has to).

use crate::sync::{fence, spin_hint, AtomicU64, Ordering};

use super::reader::MapReader;

/// Takes one lock, spinning while another writer holds it. A writer that crashed holding
/// it blocks other writers forever (readers only get `Busy`); the map expects one live
/// writer process, whose heartbeat tells the others.
fn lock(v: &AtomicU64) {
    while !try_lock(v) {
        while v.load(Ordering::Relaxed) & 1 != 0 {
            spin_hint();
        }
    }
}

/// Takes one lock if no writer holds it, without waiting: also how a writer takes a lock
/// below the ones it holds without breaking the increasing-order rule (it never waits for
/// it).
fn try_lock(v: &AtomicU64) -> bool {
    // `fetch_or(1)` is the CAS v(even) -> v+1 of the recipe in one RMW: an even old value
    // means this writer set the bit and owns the lock; an odd one was left unchanged.
    // (One RMW rather than load-then-CAS also keeps loom's DPOR from losing the race
    // between a reader's version load and this write: loom tracks one last access per
    // atomic, and an intervening load by the writer would hide the reader's.)
    if v.fetch_or(1, Ordering::Acquire) & 1 != 0 {
        return false;
    }
    // Orders the odd version before this writer's payload stores, for readers that
    // observe any of them (they then fail their final version check).
    fence(Ordering::Release);
    true
}

fn unlock(v: &AtomicU64) {
    v.fetch_add(1, Ordering::Release);
}

/// A cyclic range of held locks `first, first+1, ... first+count-1` (mod lock count),
/// released on drop. Writers grow it one lock at a time as their probe walks on.
pub(crate) struct LockSet<'m, 'a> {
    map: &'m MapReader<'a>,
    first: usize,
    count: usize,
}

impl<'m, 'a> LockSet<'m, 'a> {
    /// Takes `count` locks starting at `first` (mod lock count), in increasing index order.
    pub fn acquire(map: &'m MapReader<'a>, first: usize, count: usize) -> Self {
        let mut set = LockSet {
            map,
            first,
            count: count.min(map.lock_count()),
        };
        set.take_all();
        set
    }

    fn take_all(&mut self) {
        let n = self.map.lock_count();
        let end = self.first + self.count;
        let take = |range: core::ops::Range<usize>| range.for_each(|l| lock(self.map.lock(l)));
        if end > n {
            // Wrapped: the low indices 0..end-n come first.
            take(0..end - n);
            take(self.first..n);
        } else {
            take(self.first..end);
        }
    }

    fn release_all(&mut self) {
        let n = self.map.lock_count();
        for i in 0..self.count {
            unlock(self.map.lock((self.first + i) % n));
        }
    }

    /// Whether this set holds the lock covering `slot`'s words: enough to read them, or to
    /// overwrite them while its tag stays as it is.
    #[inline]
    pub fn holds(&self, slot: usize) -> bool {
        let n = self.map.lock_count();
        (self.map.lock_of(slot) + n - self.first) % n < self.count
    }

    /// Whether this set holds every lock a writer of `slot` needs: the lock covering it
    /// and, for one of its lock's first 8 slots, the previous lock too, whose group holds
    /// a copy of its tag (the lock of the slot 8 before covers both cases).
    #[inline]
    pub fn covers(&self, slot: usize) -> bool {
        self.holds(slot) && self.holds(slot.wrapping_sub(8) & self.map.mask())
    }

    /// Adds the next lock. When that lock's index is below one already held (the range
    /// wraps), every lock is released and the whole range retaken in increasing order, so
    /// the slots may have changed meanwhile: callers restart their walk either way.
    pub fn extend(&mut self) {
        let n = self.map.lock_count();
        if self.count >= n {
            return;
        }
        let next = self.first + self.count;
        if next < n {
            lock(self.map.lock(next));
            self.count += 1;
        } else {
            self.release_all();
            self.count += 1;
            self.take_all();
        }
    }

    /// Makes the set cover writes of tags at slot `at` (whose lock it holds) and after, as
    /// far as the set reaches: when `at` is one of the first 8 slots of the first lock
    /// held, that adds the lock before ([`extend_back`](Self::extend_back)). The locks
    /// held run contiguously up from there, so every later slot's previous lock is held
    /// too. False when the set had to be released and retaken: re-plan.
    pub fn cover_writes_from(&mut self, at: usize) -> bool {
        self.covers(at) || self.extend_back()
    }

    /// Adds the lock before the first one held. True when it was taken without waiting
    /// and nothing was released. Otherwise (another writer holds it) every lock is
    /// released and the whole range retaken in increasing order, since waiting for a
    /// lower lock while holding higher ones could deadlock with a writer walking up; the
    /// slots may then have changed, and callers restart their walk.
    pub fn extend_back(&mut self) -> bool {
        let n = self.map.lock_count();
        if self.count >= n {
            return true;
        }
        let prev = (self.first + n - 1) % n;
        if try_lock(self.map.lock(prev)) {
            self.first = prev;
            self.count += 1;
            return true;
        }
        self.release_all();
        self.first = prev;
        self.count += 1;
        self.take_all();
        false
    }
}

impl Drop for LockSet<'_, '_> {
    fn drop(&mut self) {
        self.release_all();
    }
}
