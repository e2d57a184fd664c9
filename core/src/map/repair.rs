//! [`NeighMap::repair`]: what a writer taking a region over does first when the writers
//! before it are gone for good (killed, or unwound from a panic), so that the region's
//! readers can go on using it.
//!
//! Such a writer may have left:
//! - writer locks held: it held them, and nobody else will release them;
//! - versions odd: it died moving keys (an insert's shift, a removal's back-shift,
//!   `clear`), and readers of those ranges get `Busy` until they are even again;
//! - the run it was moving half moved, and the poisoned mark if it unwound.
//!
//! A move writes each slot with its occupied bit cleared first and set last (see
//! `NeighMap::store_words`), and overwrites only slots whose entry it has copied already
//! (or the one being removed). So a half-moved run holds whole entries, in Robin Hood
//! order, one of them maybe twice in adjacent slots, and maybe a slot that reads as empty
//! with leftover words. [`NeighMap::repair`] rebuilds each such run under its locks with
//! their versions still odd (readers retry, as they already did since the writer died),
//! then publishes it by making the versions even.
//!
//! Rebuilding a run is one compaction pass over the slots of its locks and the cluster
//! that spills past them (up to a slot that is empty or holds an entry at its home: no
//! entry after it depends on the slots before): each entry whose stored distance leads
//! back to its home is kept once and moved to the first free slot from its home, every
//! other slot is zeroed, every tag rewritten. Entries only move back, so the pass reads
//! each slot before it writes it, and it writes an entry's new place before zeroing its
//! old one: a repair that dies midway leaves a run the next one can rebuild. The entry an
//! interrupted insert was adding may be lost,
//! and one a removal was taking out is gone: the new owner's resync puts back what the
//! kernel has. Two adjacent copies of one key with different values (which a single dead
//! writer cannot leave) are both dropped rather than guessed between. A run that covers
//! every lock (an interrupted `clear`) is cleared.

use crate::sync::Ordering;

use super::header::{H_LEN, H_POISONED};
use super::lock_set::LockSet;
use super::slot::{self, SlotKey, DIST_ONE, W2_KEY_MASK};
use super::writer::NeighMap;

/// What [`NeighMap::repair`] found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Writer locks that writers gone for good held (released).
    pub held_locks: usize,
    /// Interrupted moves: runs of consecutive locks whose versions were left odd
    /// (rebuilt and published).
    pub interrupted_moves: usize,
    /// Entries an interrupted move had left twice, kept once.
    pub duplicates: usize,
    /// Slots dropped: a key whose stored distance does not lead back to its home, copies
    /// of one key that disagree, or the entries of an interrupted `clear`.
    pub dropped: usize,
    /// The region was marked poisoned (the mark is cleared).
    pub was_poisoned: bool,
    /// Entries in the map afterwards (the header's count is set to it).
    pub len: usize,
}

impl Repaired {
    /// True when there was nothing to repair: no lock was held, no move interrupted, the
    /// region was not poisoned.
    pub fn was_clean(&self) -> bool {
        self.held_locks == 0 && self.interrupted_moves == 0 && !self.was_poisoned
    }
}

impl NeighMap<'_> {
    /// Repairs what writers gone for good left in the region (see the module docs):
    /// releases the writer locks they held, rebuilds every run an interrupted move left,
    /// publishes it, recounts the entries and clears the poisoned mark. Readers go on
    /// meanwhile: a reader of a range being rebuilt retries (and may return `Busy`), as
    /// it did since the writer died; no reader ever sees a half-rebuilt run.
    ///
    /// Contract: the caller is now the region's only writer, and every writer that wrote
    /// it before has stopped for good (its process is gone, or it has marked itself
    /// stopped and will never write again). Call it once, before any other write. On a
    /// clean region it only reads. Get the map with
    /// [`join_to_repair`](Self::join_to_repair) when the region may be poisoned.
    ///
    /// Cost: O(lock count + capacity) loads (the count of entries is recounted), plus
    /// O(the slots of each interrupted run).
    pub fn repair(&self) -> Repaired {
        let r = self.reader();
        let n = r.geometry().lock_count;
        let mut rep = Repaired {
            was_poisoned: r.is_poisoned(),
            ..Repaired::default()
        };
        for l in 0..n {
            let w = r.writer_lock(l);
            if w.is_held() {
                w.unlock();
                rep.held_locks += 1;
            }
        }
        match (0..n).find(|&l| !self.moving(l)) {
            None => {
                rep.interrupted_moves = 1;
                self.rebuild_all(&mut rep);
            }
            Some(calm) => {
                // Runs of odd locks, once around from a lock that is not one of them.
                let mut i = 1;
                while i < n {
                    let l = (calm + i) % n;
                    if !self.moving(l) {
                        i += 1;
                        continue;
                    }
                    let mut count = 1;
                    while i + count < n && self.moving((l + count) % n) {
                        count += 1;
                    }
                    rep.interrupted_moves += 1;
                    self.rebuild(l, count, &mut rep);
                    i += count;
                }
            }
        }
        let len = (0..r.capacity())
            .filter(|&s| slot::is_occupied(r.load_slot(s)[2]))
            .count();
        r.header()[H_LEN].store(len as u64, Ordering::Relaxed);
        r.header()[H_POISONED].store(0, Ordering::Release);
        rep.len = len;
        rep
    }

    /// Whether lock `l`'s version is odd: a move is under way there, or was when its
    /// writer died.
    fn moving(&self, l: usize) -> bool {
        !self.reader().lock(l).begin_read().is_stable()
    }

    /// Rebuilds the run of `count` odd locks from lock `first` and the cluster spilling
    /// past it, under its locks and the one before (whose group copies the tags of the
    /// run's first slots).
    fn rebuild(&self, first: usize, count: usize, rep: &mut Repaired) {
        let r = self.reader();
        let geo = *r.geometry();
        let (n, mask) = (geo.lock_count, geo.mask);
        let start = first * geo.span();
        // The run ends at the first slot past its locks, in a lock no move left odd, that
        // is empty or holds an entry at its home.
        let mut len = count * geo.span();
        loop {
            if len >= geo.capacity() {
                return self.rebuild_all(rep);
            }
            let s = (start + len) & mask;
            let w2 = r.load_slot(s)[2];
            if !self.moving(geo.lock_of(s)) && (!slot::is_occupied(w2) || slot::dist(w2) == 0) {
                break;
            }
            len += 1;
        }
        let last_lock = geo.lock_of((start + len - 1) & mask);
        let lock_count = (last_lock + n - first) % n + 2;
        if lock_count >= n {
            return self.rebuild_all(rep);
        }
        let mut locks = LockSet::acquire(&r, (first + n - 1) % n, lock_count);
        locks.begin_repair();
        self.compact(start, len, rep);
        locks.end_move();
    }

    /// The compaction pass over slots `start..start + len` (cyclic), whose locks the
    /// caller holds in a repair move (see the module docs).
    fn compact(&self, start: usize, len: usize, rep: &mut Repaired) {
        let r = self.reader();
        let geo = *r.geometry();
        let mask = geo.mask;
        let at = |i: usize| (start + i) & mask;
        // Where the next kept entry may go, relative to `start`.
        let mut cursor = 0usize;
        // The last entry kept: its key, value word and position.
        let mut prev: Option<(SlotKey, u64, usize)> = None;
        for i in 0..len {
            let s = at(i);
            let w = r.load_slot(s);
            if !slot::is_occupied(w[2]) {
                if w != [0; 4] || r.load_tag(s) != 0 {
                    self.store_slot(s, [0; 4], 0);
                }
                continue;
            }
            let k = SlotKey {
                w0: w[0],
                w1: w[1],
                w2: w[2] & W2_KEY_MASK,
            };
            let (home, fp) = geo.home_and_fingerprint(&k);
            let d = slot::dist(w[2]);
            if (home + d) & mask != s || d >= geo.probe_max {
                rep.dropped += 1;
                self.store_slot(s, [0; 4], 0);
                continue;
            }
            if let Some((pk, pv, pt)) = prev {
                if pk == k {
                    self.store_slot(s, [0; 4], 0);
                    if pv == w[3] {
                        rep.duplicates += 1;
                    } else {
                        rep.dropped += 2;
                        self.store_slot(at(pt), [0; 4], 0);
                        cursor = pt;
                        prev = None;
                    }
                    continue;
                }
            }
            // Its home relative to `start` (negative: before it), then the first free
            // slot from there: never after `i`, where it is now.
            let rel_home = i as isize - d as isize;
            let t = rel_home.max(cursor as isize) as usize;
            let nd = (t as isize - rel_home) as u64;
            if t == i {
                // In place: only the tag may be stale (a move writes it after the words).
                self.store_tag(s, slot::tag(fp, d));
            } else {
                let mut nw = w;
                nw[2] = w[2] - (d as u64) * DIST_ONE + nd * DIST_ONE;
                // The new place first: a repair that dies here leaves a copy, not a loss.
                self.store_slot(at(t), nw, fp);
                self.store_slot(s, [0; 4], 0);
            }
            prev = Some((k, w[3], t));
            cursor = t + 1;
        }
    }

    /// Clears the whole map under every lock: the repair of a move that held them all.
    fn rebuild_all(&self, rep: &mut Repaired) {
        let r = self.reader();
        let mut locks = LockSet::acquire(&r, 0, r.geometry().lock_count);
        locks.begin_repair();
        for s in 0..r.capacity() {
            let w = r.load_slot(s);
            if slot::is_occupied(w[2]) {
                rep.dropped += 1;
            }
            if w != [0; 4] || r.load_tag(s) != 0 {
                self.store_slot(s, [0; 4], 0);
            }
        }
        locks.end_move();
    }
}
