//! The seqlock of a lock's range, split in two words so that readers never see writers
//! that only update values:
//!
//! - the **version** (word 0 of the lock's group, beside the tags readers read): even =
//!   stable, odd = a writer is moving keys; it grows by 2 with every move;
//! - the **writer lock** (in the writer-locks section, after the slots): writers
//!   serialize on it; readers never load it, so taking and releasing it does not even
//!   touch a cache line readers use.
//!
//! Writers change a slot in one of two ways. A *value update* of a present key (MAC, NUD
//! state, flags; the generation) stores whole words the key's readers take as they are
//! (see `slot.rs`) under the writer lock alone, so a writer stopped or killed in the middle
//! of one never makes a reader retry. A *move* (insert, remove, clear: keys change slots,
//! tags change) also follows the recipe of DESIGN.md on the version:
//!
//! ```text
//! writer: lock:   writer.fetch_or(1) (Acquire) until the old value was 0
//!         move:   version.fetch_add(1) on each held lock (odd); fence(Release);
//!                 payload words .store(Relaxed);
//!                 version.fetch_add(1) (Release) on each (even again)
//!         unlock: writer.fetch_and(0) (Release)
//! reader: v = version.load(Acquire); odd: retry
//!         copy payload words with .load(Relaxed)
//!         fence(Acquire); version.load(Relaxed) != v: retry
//! ```
//!
//! What a reader can observe, interleaving by interleaving: a read that overlaps no move
//! validates, and every slot it read held the same key throughout (only moves change key
//! words and tags), so it returns that key with a value word some update stored (whole:
//! one atomic word). A read that overlaps a move either loads an odd version first
//! (retry) or finds a later version at the end (retry); it never returns. So `Busy`
//! (retries used up) is possible only while keys move, or after a writer died in a move.
//!
//! Every write to either word is a read-modify-write. (With plain stores beside RMWs,
//! loom's model lets a spinning writer read the value of a store that the holder has
//! since overwritten, forever.)

use crate::sync::{fence, spin_hint, AtomicU64, Ordering};

/// A lock's version word, as readers and moving writers use it.
#[derive(Clone, Copy)]
pub(crate) struct VersionLock<'a>(&'a AtomicU64);

/// The version a reader saw when it entered a lock's range: even when no move was in
/// progress then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// True when no move was in progress: a read under this stamp may validate.
    #[inline(always)]
    pub fn is_stable(self) -> bool {
        self.0 & 1 == 0
    }

    /// The version, a number that grows with every move: the crossed-locks rule sums
    /// these.
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

    /// Starts a read of the lock's range: loads the version (Acquire). The data read
    /// after it is valid if [`validate`](Self::validate) says so.
    #[inline(always)]
    pub fn begin_read(self) -> Stamp {
        Stamp(self.0.load(Ordering::Acquire))
    }

    /// Ends a read: after `fence(Acquire)`, true when `s` was stable and no move has
    /// started or ended since it was taken.
    #[inline(always)]
    pub fn validate(self, s: Stamp) -> bool {
        fence(Ordering::Acquire);
        s.is_stable() & (self.current() == s)
    }

    /// The version now (Relaxed): for a reader that has already issued its
    /// `fence(Acquire)` (see [`CrossedLocks`]).
    #[inline(always)]
    fn current(self) -> Stamp {
        Stamp(self.0.load(Ordering::Relaxed))
    }

    /// Marks the range as moving (odd). The caller holds its writer lock, and issues
    /// [`fence_moving`] after marking every lock of the move and before its first
    /// payload store.
    pub fn begin_move(self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a move (even again, 2 above where it started). Release: a reader that loads
    /// it sees every payload store of the move.
    pub fn end_move(self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// A lock's writer word: 1 while a writer holds the lock. Readers never load it.
#[derive(Clone, Copy)]
pub(crate) struct WriterLock<'a>(&'a AtomicU64);

impl<'a> WriterLock<'a> {
    #[inline(always)]
    pub fn new(word: &'a AtomicU64) -> Self {
        WriterLock(word)
    }

    /// Takes the lock if no writer holds it, without waiting: also how a writer takes a
    /// lock below the ones it holds without breaking the increasing-order rule.
    pub fn try_lock(self) -> bool {
        // One RMW rather than load-then-CAS: an old value of 0 means this writer set it;
        // 1, that the word was left as it was.
        self.0.fetch_or(1, Ordering::Acquire) == 0
    }

    /// Takes the lock, spinning while another writer holds it. A writer that died
    /// holding it blocks other writers until the region is repaired or re-formatted;
    /// readers are not blocked by it unless it died in a move.
    pub fn lock(self) {
        while !self.try_lock() {
            while self.0.load(Ordering::Relaxed) != 0 {
                spin_hint();
            }
        }
    }

    /// Whether a writer holds the lock (for a writer taking over from writers gone for
    /// good: what they held, it now holds).
    pub fn is_held(self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }

    /// Releases the lock, publishing the holder's writes to the next writer (Release).
    pub fn unlock(self) {
        self.0.fetch_and(0, Ordering::Release);
    }
}

/// Orders the odd versions of a move before its payload stores, for readers that
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
