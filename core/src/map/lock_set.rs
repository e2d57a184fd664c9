//! [`LockSet`]: the locks one writer holds, taken in an order that cannot deadlock.
//!
//! Writers wait for locks in increasing index order only, so any number of writers cannot
//! deadlock: a writer waiting for lock `x` holds only locks below `x`. A writer that finds
//! it needs the lock just below the ones it holds tries it once, without waiting, and
//! otherwise releases everything and retakes the range in order. A probe run that
//! wraps from the last slot to slot 0 needs locks `i..N` and `0..j`; [`LockSet`] then takes
//! `0..j` first (releasing and retaking what it held if it has to).
//!
//! A set also brackets a move ([`LockSet::begin_move`] / [`LockSet::end_move`]: the
//! versions of every lock it holds odd, then even again). A set dropped in the middle of
//! a move (the writer unwound from a panic) keeps its locks held and their versions odd,
//! and marks the region poisoned: readers of those ranges get `Busy` (bounded), never a
//! half-moved run, and no new join accepts the region until a writer taking it over
//! repairs it (`repair.rs`, which brackets its own move with
//! [`LockSet::begin_repair`]).

use crate::sync::{AtomicU64, Ordering};

use super::reader::MapReader;
use super::seqlock::fence_moving;
use super::tags::WIDTH;

/// A cyclic range of held locks `first, first+1, ... first+count-1` (mod lock count),
/// released on drop. Writers grow it one lock at a time as their probe walks on.
pub(crate) struct LockSet<'m, 'a> {
    map: &'m MapReader<'a>,
    first: usize,
    count: usize,
    /// Between `begin_move` and `end_move`.
    moving: bool,
}

impl<'m, 'a> LockSet<'m, 'a> {
    /// Takes `count` locks starting at `first` (mod lock count), in increasing index order.
    pub fn acquire(map: &'m MapReader<'a>, first: usize, count: usize) -> Self {
        let mut set = LockSet {
            map,
            first,
            count: count.min(map.geometry().lock_count),
            moving: false,
        };
        set.take_all();
        set
    }

    fn take_all(&mut self) {
        let n = self.map.geometry().lock_count;
        let end = self.first + self.count;
        let take =
            |range: core::ops::Range<usize>| range.for_each(|l| self.map.writer_lock(l).lock());
        if end > n {
            // Wrapped: the low indices 0..end-n come first.
            take(0..end - n);
            take(self.first..n);
        } else {
            take(self.first..end);
        }
    }

    /// The held locks' indexes, from the first.
    fn held(&self) -> impl Iterator<Item = usize> {
        let n = self.map.geometry().lock_count;
        (self.first..self.first + self.count).map(move |l| l % n)
    }

    fn release_all(&mut self) {
        self.held().for_each(|l| self.map.writer_lock(l).unlock());
    }

    /// Whether this set holds the lock covering `slot`'s words: enough to read them, or to
    /// overwrite them while its tag stays as it is.
    #[inline]
    pub fn holds(&self, slot: usize) -> bool {
        let n = self.map.geometry().lock_count;
        (self.map.geometry().lock_of(slot) + n - self.first) % n < self.count
    }

    /// Whether this set holds every lock a writer of `slot` needs: the lock covering it
    /// and, for one of its lock's first `WIDTH` slots, the previous lock too, whose group
    /// holds a copy of its tag (the lock of the slot `WIDTH` before covers both cases).
    #[inline]
    pub fn covers(&self, slot: usize) -> bool {
        self.holds(slot) && self.holds(slot.wrapping_sub(WIDTH) & self.map.geometry().mask)
    }

    /// Adds the next lock. When that lock's index is below one already held (the range
    /// wraps), every lock is released and the whole range retaken in increasing order, so
    /// the slots may have changed meanwhile: callers restart their walk either way.
    pub fn extend(&mut self) {
        let n = self.map.geometry().lock_count;
        if self.count >= n {
            return;
        }
        let next = self.first + self.count;
        if next < n {
            self.map.writer_lock(next).lock();
            self.count += 1;
        } else {
            self.release_all();
            self.count += 1;
            self.take_all();
        }
    }

    /// Makes the set cover writes of tags at slot `at` (whose lock it holds) and after, as
    /// far as the set reaches: when `at` is one of the first `WIDTH` slots of the first lock
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
        let n = self.map.geometry().lock_count;
        if self.count >= n {
            return true;
        }
        let prev = (self.first + n - 1) % n;
        if self.map.writer_lock(prev).try_lock() {
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

    /// Makes every held lock's version odd (readers of their ranges retry from now on), then
    /// fences: the caller's payload stores come after. Call once the set is complete.
    pub fn begin_move(&mut self) {
        self.held().for_each(|l| self.map.lock(l).begin_move());
        fence_moving();
        self.moving = true;
    }

    /// Starts a move that repairs what writers gone for good left: as
    /// [`begin_move`](Self::begin_move), but a lock whose version such a writer left odd
    /// (it died moving keys there) stays as it is, so that [`end_move`](Self::end_move)
    /// makes every held lock's version even. Readers of those ranges go on retrying
    /// until then, and never see the run half repaired either.
    pub fn begin_repair(&mut self) {
        self.held().for_each(|l| {
            let v = self.map.lock(l);
            if v.begin_read().is_stable() {
                v.begin_move();
            }
        });
        fence_moving();
        self.moving = true;
    }

    /// Ends the move: every held lock's version is even again, 2 higher (readers that
    /// overlapped the move fail their validation and retry). The locks stay held until
    /// the drop.
    pub fn end_move(&mut self) {
        self.held().for_each(|l| self.map.lock(l).end_move());
        self.moving = false;
    }
}

/// Marks the region poisoned (see [`MapReader::is_poisoned`]).
fn poison(header: &[AtomicU64]) {
    header[super::header::H_POISONED].store(1, Ordering::Release);
}

impl Drop for LockSet<'_, '_> {
    /// Releases the locks, unless a move is under way: only a writer unwinding from a
    /// panic drops a set between `begin_move` and `end_move`, and then the run may be
    /// half moved. Its locks stay held and their versions odd, so readers never accept
    /// what it left, and the region is marked poisoned.
    fn drop(&mut self) {
        if self.moving {
            poison(self.map.header());
            return;
        }
        self.release_all();
    }
}
