//! [`MapReader`]: the read-only view, lock-free, safe over a read-only mapping.

use crate::entry::NeighKey;
use crate::sync::{fence, spin_hint, AtomicU64, Ordering};

use super::error::{Busy, MapError};
use super::header::*;
use super::iter::Iter;
use super::params::Layout;
use super::slot::{self, SlotKey};
use super::{MapEntry, READ_RETRIES};

/// A read-only view of a map region. Every access is an atomic load, so it is safe over a
/// `PROT_READ` mapping of a region another process writes. `Copy`, `Send` and `Sync`:
/// hand one to every data-plane thread.
///
/// Get one from [`MapReader::join`], [`MapReader::join_raw`] or
/// [`NeighMap::reader`](super::NeighMap::reader).
#[derive(Clone, Copy)]
pub struct MapReader<'a> {
    header: &'a [AtomicU64],
    locks: &'a [AtomicU64],
    /// One tag byte per slot, 8 to a word (see `slot::tag`); slot `s` is byte `s % 8`
    /// (bits `8 * (s % 8)..`) of word `s / 8`, covered by the same lock as the slot.
    tags: &'a [AtomicU64],
    slots: &'a [AtomicU64],
    /// capacity - 1
    mask: usize,
    /// log2(slots per lock)
    lock_shift: u32,
    probe_max: usize,
    seed: u64,
}

/// The consecutive locks a probe crossed, from `first` to `last` (with wrap), all
/// revalidated at its end ([`MapReader::unchanged`]): a back-shift moving the key across a
/// lock boundary while the probe runs changes at least one of them. Versions only grow, so
/// the crossed locks are unchanged exactly when the sum of their versions is: no array to
/// fill.
struct CrossedLocks {
    first: usize,
    last: usize,
    /// Sum of the versions seen when each lock was entered.
    sum: u64,
    count: usize,
}

impl CrossedLocks {
    /// A probe that entered lock `first` at (even) version `v0`.
    #[inline]
    fn new(first: usize, v0: u64) -> Self {
        Self {
            first,
            last: first,
            sum: v0,
            count: 1,
        }
    }
}

impl core::fmt::Debug for MapReader<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MapReader")
            .field("capacity", &self.capacity())
            .field("lock_count", &self.lock_count())
            .field("probe_max", &self.probe_max)
            .field("len", &self.len())
            .finish()
    }
}

impl<'a> MapReader<'a> {
    /// Joins a formatted region given as words (in-process users, loom models). Validates
    /// the magic (loaded with Acquire, pairing with the formatter's Release), the layout
    /// version, the shape (capacity, lock count, probe_max) and the derived offsets and
    /// total size against each other and against `words.len()`. O(1).
    ///
    /// Errors: [`MapError`] naming the first check that failed; never a panic.
    pub fn join(words: &'a [AtomicU64]) -> Result<Self, MapError> {
        let len_bytes = words.len().saturating_mul(8);
        if words.len() < HEADER_WORDS {
            return Err(MapError::RegionTooSmall {
                needed: HEADER_BYTES,
                len: len_bytes,
            });
        }
        let h = |i: usize| words[i].load(Ordering::Relaxed);
        let magic = words[H_MAGIC].load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(MapError::BadMagic { found: magic });
        }
        if h(H_VERSION) != LAYOUT_VERSION {
            return Err(MapError::UnsupportedVersion {
                found: h(H_VERSION),
                supported: LAYOUT_VERSION,
            });
        }
        let layout = Layout::new(h(H_CAPACITY), h(H_LOCK_COUNT), h(H_PROBE_MAX))?;
        let derived = [
            ("header size", H_HEADER_BYTES, HEADER_BYTES),
            ("locks offset", H_LOCKS_OFFSET, layout.locks_offset),
            ("tags offset", H_TAGS_OFFSET, layout.tags_offset),
            ("slots offset", H_SLOTS_OFFSET, layout.slots_offset),
            ("total size", H_TOTAL_BYTES, layout.total_bytes),
        ];
        for (field, word, expected) in derived {
            if h(word) != expected as u64 {
                return Err(MapError::LayoutMismatch {
                    field,
                    found: h(word),
                    expected: expected as u64,
                });
            }
        }
        Self::from_layout(words, &layout, h(H_SEED))
    }

    /// Builds the view once the header is known to describe `layout`.
    pub(crate) fn from_layout(
        words: &'a [AtomicU64],
        layout: &Layout,
        seed: u64,
    ) -> Result<Self, MapError> {
        if words.len().saturating_mul(8) < layout.total_bytes {
            return Err(MapError::RegionTooSmall {
                needed: layout.total_bytes,
                len: words.len().saturating_mul(8),
            });
        }
        let locks_at = layout.locks_offset / 8;
        let slots_at = layout.slots_offset / 8;
        let tags_at = layout.tags_offset / 8;
        let span = layout.capacity / layout.lock_count;
        Ok(MapReader {
            header: &words[..HEADER_WORDS],
            locks: &words[locks_at..locks_at + layout.lock_count],
            tags: &words[tags_at..tags_at + layout.capacity.div_ceil(8)],
            slots: &words[slots_at..slots_at + 4 * layout.capacity],
            mask: layout.capacity - 1,
            lock_shift: span.trailing_zeros(),
            probe_max: layout.probe_max,
            seed,
        })
    }

    /// Looks a key up. Lock-free: copies the entry out under the seqlock recipe and
    /// retries (up to [`READ_RETRIES`] times) when a writer held or changed any lock the
    /// probe crossed, so the answer is consistent (never torn, never a MAC of another key)
    /// and never a false absent for a key present during the whole call.
    ///
    /// Returns `Ok(Some(entry))`, `Ok(None)` (absent), or `Err(Busy)` after the retries.
    /// Cost: O(probe_max) loads per try; typically one lock word and one slot.
    #[inline]
    pub fn get(&self, key: &NeighKey) -> Result<Option<MapEntry>, Busy> {
        let k = SlotKey::new(key);
        let h = k.hash(self.seed);
        let home = (h as usize) & self.mask;
        // With at least 8 slots per lock, a tag word lies under one lock: the probe is
        // decided from the tag array, reading only the slots whose tag matches.
        let tagged = self.lock_shift >= 3;
        for _ in 0..READ_RETRIES {
            let found = if tagged {
                self.try_get_tagged(&k, home, slot::tag(h))
            } else {
                self.try_get(&k, home)
            };
            if let Some(found) = found {
                return Ok(found.map(slot::decode));
            }
            spin_hint();
        }
        Err(Busy)
    }

    /// One optimistic probe over the tag array (at least 8 slots per lock, so every tag
    /// word read lies under one lock). `None`: a lock was held or changed, retry.
    /// `Some(None)`: absent. `Some(Some(words))`: the validated slot words of the key.
    ///
    /// Scans the tags of slots `home..home + probe_max` a word at a time: the key, if
    /// present, sits before the first empty slot of its run, in a slot whose tag equals
    /// `tag`; only those slots are read. (A straight-line home-slot check first, as in
    /// [`Self::try_get`], measured slower: its branch is a coin flip for misses.) Every
    /// lock covering a tag word read is loaded (Acquire) before the word and revalidated
    /// at the end, as in [`Self::try_get_probe`].
    #[inline]
    fn try_get_tagged(&self, k: &SlotKey, home: usize, tag: u8) -> Option<Option<[u64; 4]>> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let first = self.lock_of(home);
        let v0 = self.locks[first].load(Ordering::Acquire);
        if v0 & 1 != 0 {
            return None;
        }
        let pattern = LO.wrapping_mul(u64::from(tag));
        let mut crossed = CrossedLocks::new(first, v0);
        // Unwrapped slot numbers: `base` is the first slot of the tag word being scanned,
        // `end` one past the last slot the key may occupy.
        let mut base = home & !7;
        let end = home + self.probe_max;
        // Bytes of the first word before `home` are not part of the probe.
        let mut valid = HI << (8 * (home & 7));
        let mut found = None;
        'scan: loop {
            let s0 = base & self.mask;
            if !self.cross(&mut crossed, self.lock_of(s0)) {
                return None;
            }
            // Bytes past `end` in the last word are scanned too: they lie under the lock
            // just loaded, and no entry sits that far from its home anyway.
            let x = self.tags[s0 >> 3].load(Ordering::Relaxed);
            // An occupied slot's tag has bit 7 set, an empty one is 0.
            let empty = !x & valid;
            // Exact per-byte zero test of x ^ pattern (no borrow across bytes).
            let y = x ^ pattern;
            let equal = !(((y & !HI).wrapping_add(!HI)) | y) & valid;
            // Candidates before the first empty slot, lowest first.
            let before_empty = if empty != 0 {
                (empty & empty.wrapping_neg()) - 1
            } else {
                !0
            };
            let mut cand = equal & before_empty;
            while cand != 0 {
                let s = (base + (cand.trailing_zeros() / 8) as usize) & self.mask;
                let w = self.load_slot(s);
                if k.matches(w[0], w[1], w[2]) {
                    found = Some(w);
                    break 'scan;
                }
                cand &= cand - 1;
            }
            base += 8;
            if empty != 0 || base >= end {
                break;
            }
            valid = HI;
        }
        self.unchanged(&crossed).then_some(found)
    }

    /// One optimistic probe. `None`: a lock was held or changed, retry. `Some(None)`:
    /// absent. `Some(Some(words))`: the validated slot words of the key.
    #[inline]
    fn try_get(&self, k: &SlotKey, home: usize) -> Option<Option<[u64; 4]>> {
        let first = self.lock_of(home);
        let v0 = self.locks[first].load(Ordering::Acquire);
        if v0 & 1 != 0 {
            return None;
        }
        // Fast path, straight-line: the home slot decides (empty, or the key).
        let w = self.load_slot(home);
        if !slot::is_occupied(w[2]) || k.matches(w[0], w[1], w[2]) {
            fence(Ordering::Acquire);
            if self.locks[first].load(Ordering::Relaxed) != v0 {
                return None;
            }
            return Some(slot::is_occupied(w[2]).then_some(w));
        }
        self.try_get_probe(k, home, first, v0)
    }

    /// The rest of the probe after the home slot held another key.
    #[inline]
    fn try_get_probe(
        &self,
        k: &SlotKey,
        home: usize,
        first: usize,
        v0: u64,
    ) -> Option<Option<[u64; 4]>> {
        let mut crossed = CrossedLocks::new(first, v0);
        let mut found = None;
        for d in 1..self.probe_max {
            let s = (home + d) & self.mask;
            if !self.cross(&mut crossed, self.lock_of(s)) {
                return None;
            }
            let w = self.load_slot(s);
            if !slot::is_occupied(w[2]) {
                break;
            }
            if k.matches(w[0], w[1], w[2]) {
                found = Some(w);
                break;
            }
            // Robin Hood order: the key would sit before any entry closer to its home.
            if slot::dist(w[2]) < d {
                break;
            }
        }
        self.unchanged(&crossed).then_some(found)
    }

    /// Moves a probe onto slot lock `l`: a lock not crossed yet (the next one: probes
    /// advance one slot or one tag word at a time) is loaded with Acquire and added to
    /// `c`. False when a writer holds it (retry).
    #[inline]
    fn cross(&self, c: &mut CrossedLocks, l: usize) -> bool {
        if l != c.last {
            c.last = l;
            let v = self.locks[l].load(Ordering::Acquire);
            if v & 1 != 0 {
                return false;
            }
            c.sum = c.sum.wrapping_add(v);
            c.count += 1;
        }
        true
    }

    /// The end of the seqlock recipe for a probe: after `fence(Acquire)`, true when no
    /// lock the probe crossed changed version since it was entered.
    #[inline]
    fn unchanged(&self, c: &CrossedLocks) -> bool {
        fence(Ordering::Acquire);
        if c.count == 1 {
            return self.locks[c.first].load(Ordering::Relaxed) == c.sum;
        }
        let n = self.locks.len();
        let now = (0..c.count).fold(0u64, |acc, i| {
            acc.wrapping_add(self.locks[(c.first + i) & (n - 1)].load(Ordering::Relaxed))
        });
        now == c.sum
    }

    /// Reads slot `s`'s words (Relaxed; only meaningful inside the seqlock recipe).
    #[inline]
    pub(crate) fn load_slot(&self, s: usize) -> [u64; 4] {
        let w = &self.slots[4 * s..4 * s + 4];
        [
            w[0].load(Ordering::Relaxed),
            w[1].load(Ordering::Relaxed),
            w[2].load(Ordering::Relaxed),
            w[3].load(Ordering::Relaxed),
        ]
    }

    /// Reads slot `s` consistently (its one lock, validated), or `Busy` after the retries.
    pub(crate) fn read_slot(&self, s: usize) -> Result<[u64; 4], Busy> {
        let lock = &self.locks[self.lock_of(s)];
        for _ in 0..READ_RETRIES {
            let v = lock.load(Ordering::Acquire);
            if v & 1 == 0 {
                let w = self.load_slot(s);
                fence(Ordering::Acquire);
                if lock.load(Ordering::Relaxed) == v {
                    return Ok(w);
                }
            }
            spin_hint();
        }
        Err(Busy)
    }

    /// Iterates over all entries, slot by slot. Each item is one entry read consistently,
    /// or `Err(Busy)` for a slot whose lock stayed held (the iterator then moves on).
    /// Weakly consistent: an entry inserted, removed or moved (by a back-shift) while the
    /// iteration runs may be missed or seen twice; stop the writer for a snapshot.
    /// Cost: O(capacity).
    pub fn iter(&self) -> Iter<'a> {
        Iter::new(*self)
    }

    /// Number of entries (the writers' counter; may lag a concurrent write). O(1).
    pub fn len(&self) -> usize {
        self.header[H_LEN].load(Ordering::Relaxed) as usize
    }

    /// True when [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slot where `key`'s probe starts (see [`MapParams::home_slot`](super::MapParams::home_slot)). O(1).
    pub fn home_slot(&self, key: &NeighKey) -> usize {
        self.home(&SlotKey::new(key))
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The header's shape and counters. O(1).
    pub fn stats(&self) -> MapStats {
        let h = |i: usize| self.header[i].load(Ordering::Relaxed);
        MapStats {
            capacity: h(H_CAPACITY),
            lock_count: h(H_LOCK_COUNT),
            probe_max: h(H_PROBE_MAX),
            seed: h(H_SEED),
            len: h(H_LEN),
            inserts: h(H_INSERTS),
            updates: h(H_UPDATES),
            removes: h(H_REMOVES),
            full: h(H_FULL),
            generation: h(H_GENERATION),
            owner: h(H_OWNER),
            heartbeat: h(H_HEARTBEAT),
        }
    }

    /// Statistics word `i` (`0..STAT_WORDS`), or `None` past the end. Their meaning is the
    /// owner's (the std mirror names them). O(1).
    pub fn stat(&self, i: usize) -> Option<u64> {
        (i < STAT_WORDS).then(|| self.header[H_STATS + i].load(Ordering::Relaxed))
    }

    pub(crate) fn header(&self) -> &'a [AtomicU64] {
        self.header
    }

    pub(crate) fn locks(&self) -> &'a [AtomicU64] {
        self.locks
    }

    pub(crate) fn slots(&self) -> &'a [AtomicU64] {
        self.slots
    }

    /// The tag of slot `s` (Relaxed; only meaningful under its lock or the seqlock recipe).
    #[inline]
    pub(crate) fn load_tag(&self, s: usize) -> u8 {
        (self.tags[s >> 3].load(Ordering::Relaxed) >> (8 * (s & 7))) as u8
    }

    /// Sets the tag of slot `s`; the caller holds its lock. Other bytes of the word may
    /// belong to slots under other locks (fewer than 8 slots per lock), which other writers
    /// change concurrently: the byte is changed with one atomic XOR, never a plain store
    /// of the whole word.
    #[inline]
    pub(crate) fn store_tag(&self, s: usize, tag: u8) {
        let old = self.load_tag(s);
        if old != tag {
            self.tags[s >> 3].fetch_xor(u64::from(old ^ tag) << (8 * (s & 7)), Ordering::Relaxed);
        }
    }

    pub(crate) fn lock_count(&self) -> usize {
        self.locks.len()
    }

    pub(crate) fn mask(&self) -> usize {
        self.mask
    }

    pub(crate) fn probe_max(&self) -> usize {
        self.probe_max
    }

    #[inline]
    pub(crate) fn lock_of(&self, slot: usize) -> usize {
        slot >> self.lock_shift
    }

    #[inline]
    pub(crate) fn home(&self, k: &SlotKey) -> usize {
        (k.hash(self.seed) as usize) & self.mask
    }

    /// The tag of `k`'s entry (see `slot::tag`).
    #[cfg(test)]
    pub(crate) fn tag_of(&self, k: &SlotKey) -> u8 {
        slot::tag(k.hash(self.seed))
    }

    /// [`home`](Self::home) and the tag (`slot::tag`) of `k`'s entry, from one hash.
    #[inline]
    pub(crate) fn home_and_tag(&self, k: &SlotKey) -> (usize, u8) {
        let h = k.hash(self.seed);
        ((h as usize) & self.mask, slot::tag(h))
    }
}
