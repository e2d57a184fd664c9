//! [`MapReader`]: the read-only view, lock-free, safe over a read-only mapping.

use crate::entry::NeighKey;
use crate::sync::{prefetch, spin_hint, AtomicU64, Ordering};

use super::error::{Busy, MapError};
use super::geometry::Geometry;
use super::header::*;
use super::iter::Iter;
use super::params::Layout;
use super::seqlock::{CrossedLocks, Stamp, VersionLock, WriterLock};
use super::slot::{self, SlotKey};
use super::tags::{before_first, candidates, funnel, stops, window_tags, Mask, Window, WIDTH};
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
    /// One lock group per lock (see [`Geometry`] for the index math): word 0 is the
    /// version (`seqlock.rs`), then the tags (`slot::tag`, 8 per word, lowest byte first)
    /// of the lock's slots and of the next lock's first `WIDTH` slots (a copy: writers of
    /// those slots hold both locks).
    groups: &'a [AtomicU64],
    slots: &'a [AtomicU64],
    /// One writer lock per lock (`seqlock.rs`); a reader never loads them.
    writer_locks: &'a [AtomicU64],
    geo: Geometry,
}

/// A lookup's first window, read: from group `g` (the home's lock group) under `stamp`,
/// the tags `x` and the key's candidates among them, `cand`.
pub(crate) struct FirstWindow {
    pub g: usize,
    pub stamp: Stamp,
    pub x: Window,
    pub cand: Mask,
}

/// Waits before retry `attempt + 1` of a read that met a move: `2^attempt` spin hints,
/// at most 8, so a reader that keeps meeting moves lets the mover's stores through (its
/// version and tags share the cache line the reader polls) instead of contending for the
/// line. [`READ_RETRIES`] tries then take about 2,000 spin hints before `Busy`.
#[inline]
fn back_off(attempt: usize) {
    for _ in 0..1u32 << attempt.min(3) {
        spin_hint();
    }
}

/// What one optimistic probe found.
pub(crate) enum Probe {
    /// The key's slot words, validated.
    Found([u64; 4]),
    /// The key is absent (validated).
    Absent,
    /// A lock the probe crossed was moving keys, or moved some meanwhile: try again.
    Retry,
}

impl core::fmt::Debug for MapReader<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MapReader")
            .field("capacity", &self.capacity())
            .field("lock_count", &self.geo.lock_count)
            .field("probe_max", &self.geo.probe_max)
            .field("len", &self.len())
            .finish()
    }
}

impl<'a> MapReader<'a> {
    /// Joins a formatted region given as words (in-process users, loom models). Validates
    /// the magic (loaded with Acquire, pairing with the formatter's Release), the layout
    /// version, the shape (capacity, lock count, probe_max) and the derived offsets and
    /// total size against each other and against `words.len()`, and refuses a region a
    /// writer left poisoned. O(1).
    ///
    /// Errors: [`MapError`] naming the first check that failed; never a panic.
    pub fn join(words: &'a [AtomicU64]) -> Result<Self, MapError> {
        let r = Self::join_even_poisoned(words)?;
        if r.is_poisoned() {
            return Err(MapError::Poisoned);
        }
        Ok(r)
    }

    /// [`join`](Self::join) without the poisoned check: for a writer about to repair the
    /// region ([`NeighMap::join_to_repair`](super::NeighMap::join_to_repair)).
    pub(crate) fn join_even_poisoned(words: &'a [AtomicU64]) -> Result<Self, MapError> {
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
            ("lock groups offset", H_GROUPS_OFFSET, layout.groups_offset),
            ("lock group size", H_GROUP_BYTES, layout.group_bytes),
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
        let groups_at = layout.groups_offset / 8;
        let group_words = layout.group_bytes / 8;
        let slots_at = layout.slots_offset / 8;
        let writer_locks_at = layout.writer_locks_offset / 8;
        Ok(MapReader {
            header: &words[..HEADER_WORDS],
            groups: &words[groups_at..groups_at + layout.lock_count * group_words],
            slots: &words[slots_at..slots_at + 4 * layout.capacity],
            writer_locks: &words[writer_locks_at..writer_locks_at + layout.lock_count],
            geo: Geometry::new(layout, seed),
        })
    }

    /// Looks a key up. Lock-free: copies the entry out under the seqlock recipe
    /// (`seqlock.rs`) and retries (up to [`READ_RETRIES`] times) when a writer was moving
    /// keys in, or moved keys across, any lock range the probe crossed, so the answer is
    /// consistent (the key with a value some write stored whole, never a MAC of another
    /// key) and never a false absent for a key present during the whole call. A value
    /// update of a present key never makes it retry.
    ///
    /// Returns `Ok(Some(entry))`, `Ok(None)` (absent), or `Err(Busy)` after the retries,
    /// which only keys moving all that time (or a writer that died moving them) cause.
    /// Cost: O(probe_max) loads per try; typically one lock group (version and tags, one
    /// cache line) and, for a hit, one slot, fetched together.
    ///
    /// `#[inline(always)]`: the first window is straight-line code meant to sit in the
    /// caller's loop (the general scan is out of line), and the C entry points call it
    /// through one more function.
    #[inline(always)]
    pub fn get(&self, key: &NeighKey) -> Result<Option<MapEntry>, Busy> {
        let k = SlotKey::new(key);
        let (home, fp) = self.geo.home_and_fingerprint(&k);
        // Most lookups are decided by the first window of WIDTH tags, from `home` on (the key
        // is found there, or the probe stops there), all in the group of `home`'s lock,
        // which also covers the slots they tag: inline and straight-line. The rest take
        // the general scan, out of line.
        let g = self.geo.group_index(home);
        // A hit most likely sits at `home` or next to it: fetch that line in parallel
        // with the group's, instead of after it.
        prefetch(&self.slots[4 * home]);
        let stamp = self.version_at(g).begin_read();
        let x = self.window_at(g, home);
        let first = FirstWindow {
            g,
            stamp,
            x,
            cand: candidates(x, window_tags(0), fp),
        };
        self.decide_first_window(&k, home, fp, &first)
    }

    /// The end of a lookup whose first window is read (`first`): the key's candidate
    /// slots in it, the validation, and the general scan when the window does not decide
    /// (the probe goes on past it) or did not validate. Shared by [`get`](Self::get) and
    /// the bursts, which read the windows of many keys before deciding any.
    #[inline(always)]
    pub(crate) fn decide_first_window(
        &self,
        k: &SlotKey,
        home: usize,
        fp: u8,
        &FirstWindow { g, stamp, x, cand }: &FirstWindow,
    ) -> Result<Option<MapEntry>, Busy> {
        let lock = self.version_at(g);
        // A hit needs only the candidates: those past where the probe stops cannot hold
        // the key (unless the read was torn, which the validation catches), and checking
        // them costs a hit less than computing the stop first. The hit and the miss each
        // validate on their own path: merged, the compiler kept the found words on the
        // stack across the validation.
        match self.find_candidate(k, home, cand) {
            Some(w) if lock.validate(stamp) => return Ok(Some(slot::decode(w))),
            Some(_) => {}
            None if stops(x, window_tags(0)) == 0 => {
                return self.get_slow(*k, home, fp, Some(stamp))
            }
            None if lock.validate(stamp) => return Ok(None),
            None => {}
        }
        self.get_slow(*k, home, fp, None)
    }

    /// [`get`](Self::get) when the first window did not decide (`resume`: the stamp of
    /// the home's lock it read under, so the first try goes on from window 1) or did not
    /// validate: the general scan, retried from window 0 up to [`READ_RETRIES`] times in
    /// all.
    #[inline(never)]
    fn get_slow(
        &self,
        k: SlotKey,
        home: usize,
        fp: u8,
        mut resume: Option<Stamp>,
    ) -> Result<Option<MapEntry>, Busy> {
        for attempt in 0..READ_RETRIES {
            let probe = match resume.take() {
                Some(stamp) => self.scan(&k, home, fp, 1, stamp),
                None => {
                    let stamp = self.slot_lock(home).begin_read();
                    self.scan(&k, home, fp, 0, stamp)
                }
            };
            match probe {
                Probe::Found(w) => return Ok(Some(slot::decode(w))),
                Probe::Absent => return Ok(None),
                Probe::Retry => back_off(attempt),
            }
        }
        Err(Busy)
    }

    /// One optimistic probe from window `from` on (1: window 0 was read, undecided, by
    /// the first-window probe), `stamp` being that of `home`'s lock, taken before any of
    /// its tags were read.
    ///
    /// Scans windows of `WIDTH` tags (window `i`: probe distances `WIDTH * i..WIDTH * (i +
    /// 1)`, each from the group of its first slot's lock) until the probe is decided: the key's tag at its
    /// distance leads to its slot, or the probe stops ([`stops`]: an empty slot, or an
    /// entry closer to its home than the probe). Only candidate slots are read. Every
    /// lock whose group was read is entered before it and validated at the end (the
    /// crossed-locks rule, [`CrossedLocks`]); windows advance `WIDTH` slots and locks
    /// cover at least `WIDTH`, so the probe moves onto at most the next lock each time.
    fn scan(&self, k: &SlotKey, home: usize, fp: u8, from: usize, stamp: Stamp) -> Probe {
        let Some(mut crossed) = CrossedLocks::new(self.geo.lock_of(home), stamp) else {
            return Probe::Retry;
        };
        let mut found = None;
        for i in from..self.geo.windows() {
            let p = (home + WIDTH * i) & self.geo.mask;
            let l = self.geo.lock_of(p);
            if l != crossed.last() && !crossed.enter(l, self.lock(l).begin_read()) {
                return Probe::Retry;
            }
            let x = self.window_at(self.geo.group_index(p), p);
            let base = window_tags(i);
            let stop = stops(x, base);
            if let Some(w) = self.find_candidate(k, p, candidates(x, base, fp) & before_first(stop))
            {
                found = Some(w);
                break;
            }
            if stop != 0 {
                break;
            }
        }
        if !crossed.validate(self.geo.lock_count, |l| self.lock(l)) {
            return Probe::Retry;
        }
        match found {
            Some(w) => Probe::Found(w),
            None => Probe::Absent,
        }
    }

    /// The tags of window `[p, p + WIDTH)` (probe distances of one window), lowest byte
    /// first, from the group of `p`'s lock (`g`, its [`Geometry::group_index`]), which
    /// holds them all: its own slots' tags followed by the copy of the next lock's first
    /// `WIDTH`. Only meaningful under the seqlock recipe (the caller takes the lock's
    /// stamp first).
    #[inline(always)]
    pub(crate) fn window_at(&self, g: usize, p: usize) -> Window {
        let t = self.geo.tag_word_in(g, p);
        let w = [
            self.groups[t].load(Ordering::Relaxed),
            self.groups[t + 1].load(Ordering::Relaxed),
            self.groups[t + 2].load(Ordering::Relaxed),
        ];
        funnel(w, 8 * (p & 7) as u32)
    }

    /// The words of the candidate slot holding `k`, if any: bit `j` of `cand` is set for
    /// slot `p + j` (mod capacity) whose tag matched; candidates are read lowest first
    /// (Relaxed, inside the caller's seqlock recipe).
    #[inline(always)]
    fn find_candidate(&self, k: &SlotKey, p: usize, mut cand: Mask) -> Option<[u64; 4]> {
        while cand != 0 {
            let w = self.load_slot(self.candidate_slot(p, cand));
            if k.matches(w[0], w[1], w[2]) {
                return Some(w);
            }
            cand &= cand - 1;
        }
        None
    }

    /// The slot of the lowest candidate in `cand` (see
    /// [`find_candidate`](Self::find_candidate)) of the window from `p`: always in
    /// bounds, whatever `cand` holds.
    #[inline(always)]
    pub(crate) fn candidate_slot(&self, p: usize, cand: Mask) -> usize {
        (p + cand.trailing_zeros() as usize) & self.geo.mask
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
        let lock = self.slot_lock(s);
        for attempt in 0..READ_RETRIES {
            let stamp = lock.begin_read();
            let w = self.load_slot(s);
            if lock.validate(stamp) {
                return Ok(w);
            }
            back_off(attempt);
        }
        Err(Busy)
    }

    /// Iterates over all entries, slot by slot. Each item is one entry read consistently,
    /// or `Err(Busy)` for a slot whose keys kept moving (the iterator then moves on).
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
        self.geo.home(&SlotKey::new(key))
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.geo.capacity()
    }

    /// True when a writer unwound (panicked) in the middle of moving keys: it left the
    /// locks of that move held, so lookups of the keys there return `Busy`, and no new
    /// [`join`](Self::join) accepts the region until a writer taking it over repairs it
    /// ([`NeighMap::repair`](super::NeighMap::repair)). O(1).
    pub fn is_poisoned(&self) -> bool {
        self.header[H_POISONED].load(Ordering::Acquire) != 0
    }

    /// True once the region was replaced by another one
    /// ([`NeighMap::supersede`](super::NeighMap::supersede)): no writer will ever update it
    /// again, and the name it was joined by now leads to its successor. Lookups still
    /// answer from the frozen entries; join the name again. O(1), one load.
    pub fn is_superseded(&self) -> bool {
        self.header[H_SUPERSEDED].load(Ordering::Acquire) != 0
    }

    /// The claim word: the number of claims (high 32 bits) and the id of the writer
    /// holding the claim, 0 when released (low 32 bits); see
    /// [`NeighMap::claim`](super::NeighMap::claim). Acquire: a reader that sees a claim
    /// released sees everything its holder wrote before. O(1), one load.
    pub fn claim_word(&self) -> u64 {
        self.header[H_CLAIM].load(Ordering::Acquire)
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
            claims: self.claim_word() >> 32,
            claim_holder: self.claim_word() as u32,
            superseded: self.is_superseded(),
            poisoned: self.is_poisoned(),
        }
    }

    /// Statistics word `i` (`0..STAT_WORDS`), or `None` past the end. Their meaning is the
    /// owner's (the std mirror names them). O(1).
    pub fn stat(&self, i: usize) -> Option<u64> {
        stat_word(i).map(|w| self.header[w].load(Ordering::Relaxed))
    }

    pub(crate) fn header(&self) -> &'a [AtomicU64] {
        self.header
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geo
    }

    pub(crate) fn groups(&self) -> &'a [AtomicU64] {
        self.groups
    }

    pub(crate) fn slots(&self) -> &'a [AtomicU64] {
        self.slots
    }

    /// The version of lock `l`.
    #[inline(always)]
    pub(crate) fn lock(&self, l: usize) -> VersionLock<'a> {
        VersionLock::new(&self.groups[self.geo.group_of_lock(l)])
    }

    /// The writer lock of lock `l` (for writers only).
    #[inline(always)]
    pub(crate) fn writer_lock(&self, l: usize) -> WriterLock<'a> {
        WriterLock::new(&self.writer_locks[l])
    }

    /// The version lock whose group starts at index `g` of the groups array (a
    /// [`Geometry::group_index`]).
    #[inline(always)]
    pub(crate) fn version_at(&self, g: usize) -> VersionLock<'a> {
        VersionLock::new(&self.groups[g])
    }

    /// The version lock covering slot `s`: [`lock`](Self::lock)`(lock_of(s))`, found
    /// with [`Geometry::group_index`].
    #[inline(always)]
    pub(crate) fn slot_lock(&self, s: usize) -> VersionLock<'a> {
        self.version_at(self.geo.group_index(s))
    }

    /// The tag word holding byte `o` of lock `l`'s tags (see [`Geometry::tag_index`]),
    /// and the byte's shift.
    #[inline]
    pub(crate) fn tag_word(&self, l: usize, o: usize) -> (&'a AtomicU64, usize) {
        (&self.groups[self.geo.tag_index(l, o)], 8 * (o & 7))
    }

    /// The tag of slot `s` (Relaxed; only meaningful under its lock or the seqlock recipe).
    #[inline]
    pub(crate) fn load_tag(&self, s: usize) -> u8 {
        let (word, shift) = self.tag_word(self.geo.lock_of(s), self.geo.lock_offset(s));
        (word.load(Ordering::Relaxed) >> shift) as u8
    }

    /// The fingerprint of `k` (see `slot::fingerprint`).
    #[cfg(test)]
    pub(crate) fn fingerprint_of(&self, k: &SlotKey) -> u8 {
        self.geo.home_and_fingerprint(k).1
    }
}
