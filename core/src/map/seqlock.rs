//! The seqlock: one version word per lock group, shared by readers and writers.
//!
//! The word holds three things:
//!
//! ```text
//! bit 0      WRITER   a writer holds the lock (writers serialize on it; readers ignore it)
//! bit 1      MOVING   the holder is moving keys (readers retry while it is set)
//! bits 2-63  the move count of the range: +1 at the end of every move
//! ```
//!
//! Writers change a slot in one of two ways. A *value update* of a present key (MAC, NUD
//! state, flags, generation) stores whole words the key's readers take as they are (see
//! `slot.rs`): it holds `WRITER` only and never touches the part readers validate, so a
//! writer stopped or killed in the middle of one never makes a reader retry. A *move*
//! (insert, remove, clear: keys change slots, tags change) is the recipe of DESIGN.md,
//! with `MOVING` in the role of the odd version:
//!
//! ```text
//! writer: lock:  fetch_or(WRITER) (Acquire) until the old value lacked it
//!         move:  fetch_or(MOVING) on each held lock; fence(Release);
//!                payload words .store(Relaxed);
//!                fetch_add(MOVE - MOVING) (Release): MOVING cleared, count + 1
//!         unlock: fetch_and(!WRITER) (Release)
//! reader: s = load(Acquire) & !WRITER; MOVING set: retry
//!         copy payload words with .load(Relaxed)
//!         fence(Acquire); load(Relaxed) & !WRITER != s: retry
//! ```
//!
//! What a reader can observe, interleaving by interleaving: a read that overlaps no move
//! validates, and every slot it read held the same key throughout (only moves change key
//! words and tags), so it returns that key with a value word some update stored (whole:
//! one atomic word). A read that overlaps a move either loads `MOVING` first (retry) or
//! reads a count that differs at the end (retry); it never returns. So `Busy` (retries
//! used up) is possible only while keys move, or after a writer died in a move.
//!
//! Every write to the word is a read-modify-write: other writers' `fetch_or` on a held
//! word writes back the same value, and the holder's changes never rest on a value it
//! loaded earlier. (With plain stores beside the RMWs, loom's model lets a spinning
//! writer read the value of a store the holder has since overwritten, forever.)

use crate::sync::{fence, spin_hint, AtomicU64, Ordering};

/// A writer holds the lock.
const WRITER: u64 = 1;
/// The holder is moving keys in the lock's range.
const MOVING: u64 = 2;
/// One move, in the count bits.
const MOVE: u64 = 4;

/// A lock group's version word.
#[derive(Clone, Copy)]
pub(crate) struct VersionLock<'a>(&'a AtomicU64);

/// The version a reader saw when it entered a lock's range: the move count, plus
/// `MOVING` when a writer was moving keys then (the read cannot succeed; retry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// True when no move was in progress: a read under this stamp may validate.
    #[inline(always)]
    pub fn is_stable(self) -> bool {
        self.0 & MOVING == 0
    }

    /// The stamp as a number that grows with every move (`MOVING` is clear in every
    /// stable stamp): the crossed-locks rule sums these.
    #[inline(always)]
    pub fn count(self) -> u64 {
        self.0
    }
}

impl<'a> VersionLock<'a> {
    #[inline(always)]
    pub fn new(word: &'a AtomicU64) -> Self {
        VersionLock(word)
    }

    /// The word itself (for tests comparing addresses).
    #[cfg(test)]
    pub fn word(self) -> &'a AtomicU64 {
        self.0
    }

    // ---- reader half ----

    /// Starts a read of the lock's range: loads the version (Acquire), ignoring the
    /// writer bit. The data read after it is valid if [`validate`](Self::validate) says
    /// so.
    #[inline(always)]
    pub fn begin_read(self) -> Stamp {
        Stamp(self.0.load(Ordering::Acquire) & !WRITER)
    }

    /// Ends a read: after `fence(Acquire)`, true when `s` was stable and no move has
    /// started or ended since it was taken.
    #[inline(always)]
    pub fn validate(self, s: Stamp) -> bool {
        fence(Ordering::Acquire);
        s.is_stable() & (self.current() == s)
    }

    /// The version now (Relaxed, writer bit cleared): for a reader that has already
    /// issued its `fence(Acquire)` (see [`CrossedLocks`]).
    #[inline(always)]
    fn current(self) -> Stamp {
        Stamp(self.0.load(Ordering::Relaxed) & !WRITER)
    }

    // ---- writer half ----

    /// Takes the lock if no writer holds it, without waiting: also how a writer takes a
    /// lock below the ones it holds without breaking the increasing-order rule.
    pub fn try_lock(self) -> bool {
        // One RMW rather than load-then-CAS: an old value without the bit means this
        // writer set it; with the bit, the word was left as it was. (It also keeps loom's
        // DPOR from losing the race between a reader's load and this write: loom tracks
        // one last access per atomic, and an intervening load would hide the reader's.)
        self.0.fetch_or(WRITER, Ordering::Acquire) & WRITER == 0
    }

    /// Takes the lock, spinning while another writer holds it. A writer that died
    /// holding it blocks other writers until the region is repaired or re-formatted;
    /// readers are not blocked by it unless it died in a move.
    pub fn lock(self) {
        while !self.try_lock() {
            while self.0.load(Ordering::Relaxed) & WRITER != 0 {
                spin_hint();
            }
        }
    }

    /// Releases a held lock, publishing the holder's value updates (Release).
    pub fn unlock(self) {
        self.0.fetch_and(!WRITER, Ordering::Release);
    }

    /// Marks the held lock's range as moving. The caller issues [`fence_moving`] after
    /// marking every lock of the move and before its first payload store.
    pub fn begin_move(self) {
        self.0.fetch_or(MOVING, Ordering::Relaxed);
    }

    /// Ends a move on the held lock: the next move count, `MOVING` cleared, still held
    /// (Release: a reader that loads it sees every payload store of the move).
    pub fn end_move(self) {
        // MOVING is set: adding MOVE - MOVING clears it and carries one into the count.
        self.0.fetch_add(MOVE - MOVING, Ordering::Release);
    }
}

/// Orders the `MOVING` marks of a move before its payload stores, for readers that
/// observe any of those stores (they then fail their validation).
pub(crate) fn fence_moving() {
    fence(Ordering::Release);
}

/// The consecutive locks a probe crossed, from `first` to `last` (with wrap), all
/// revalidated at its end ([`CrossedLocks::validate`]): a back-shift moving the key
/// across a lock boundary while the probe runs changes at least one of them. Stable
/// stamps only grow, so the crossed locks are unchanged exactly when the sum of their
/// stamps is: no array to fill.
pub(crate) struct CrossedLocks {
    first: usize,
    last: usize,
    /// Sum of the stamps seen when each lock was entered.
    sum: u64,
    count: usize,
}

impl CrossedLocks {
    /// A probe that entered lock `first` under stamp `s`; `None` when `s` is not stable.
    #[inline]
    pub fn new(first: usize, s: Stamp) -> Option<Self> {
        s.is_stable().then_some(Self {
            first,
            last: first,
            sum: s.count(),
            count: 1,
        })
    }

    /// The last lock entered.
    #[inline(always)]
    pub fn last(&self) -> usize {
        self.last
    }

    /// Moves the probe onto lock `l`, the one after [`last`](Self::last), entered under
    /// stamp `s` (taken before the data it covers was read). False when `s` is not
    /// stable (retry).
    #[inline]
    pub fn enter(&mut self, l: usize, s: Stamp) -> bool {
        if !s.is_stable() {
            return false;
        }
        self.last = l;
        self.sum = self.sum.wrapping_add(s.count());
        self.count += 1;
        true
    }

    /// The end of the recipe for a probe: after `fence(Acquire)`, true when no lock it
    /// crossed saw a move start or end since it was entered. `lock(i)` gives lock `i`;
    /// `lock_count` is a power of two.
    #[inline]
    pub fn validate<'a>(&self, lock_count: usize, lock: impl Fn(usize) -> VersionLock<'a>) -> bool {
        fence(Ordering::Acquire);
        let now = (0..self.count).fold(0u64, |acc, i| {
            acc.wrapping_add(lock((self.first + i) & (lock_count - 1)).current().count())
        });
        now == self.sum
    }
}
