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
    /// One lock group per lock, `1 << group_shift` words each: word 0 is the version,
    /// then the tags (`slot::tag`, 8 per word, lowest byte first) of the lock's slots and
    /// of the next lock's first 8 slots (a copy: writers of those slots hold both locks).
    groups: &'a [AtomicU64],
    slots: &'a [AtomicU64],
    /// capacity - 1
    mask: usize,
    /// log2(slots per lock)
    lock_shift: u32,
    /// log2(words per lock group)
    group_shift: u32,
    /// lock_shift - group_shift: slot >> this, masked with `group_mask`, is the index of
    /// its lock's group.
    group_at_shift: u32,
    /// Clears the low group_shift bits.
    group_mask: usize,
    /// (slots per lock) / 8 - 1: masks a slot's index / 8 to its tag word in its group.
    tag_word_mask: usize,
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
    /// Moves the probe onto lock `l`, whose version `v` was loaded (Acquire) before the
    /// data it covers was read: a lock not crossed yet (the next one: probes advance one
    /// window of 8 slots at a time, and a lock covers at least 8) is added. False when `v`
    /// is odd (a writer holds it: retry).
    #[inline]
    fn enter(&mut self, l: usize, v: u64) -> bool {
        if l != self.last {
            if v & 1 != 0 {
                return false;
            }
            self.last = l;
            self.sum = self.sum.wrapping_add(v);
            self.count += 1;
        }
        true
    }

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

/// Bit 7 of every byte of a tag word.
const HI: u64 = 0x8080_8080_8080_8080;

/// Windows whose tags differ: distances up to `slot::TAG_DIST_MAX`, then one saturated.
const WINDOWS: usize = slot::TAG_DIST_MAX / 8 + 2;

/// `window_tags` for each distinct window.
const WINDOW_TAGS: [u64; WINDOWS] = {
    let mut t = [0u64; WINDOWS];
    let mut i = 0;
    while i < WINDOWS {
        let mut j = 0;
        while j < 8 {
            t[i] |= (slot::tag(0, 8 * i + j) as u64) << (8 * j);
            j += 1;
        }
        i += 1;
    }
    t
};

/// The tags (`slot::tag`, fingerprint 0) an entry would have at each of the 8 probe
/// distances of window `i` (distances `8i..8i+8`), lowest byte first; distances past
/// `slot::TAG_DIST_MAX` are saturated.
#[inline]
fn window_tags(i: usize) -> u64 {
    WINDOW_TAGS[i.min(WINDOWS - 1)]
}

/// The candidates in one window of 8 tags `x` (probe distances `8i..8i+8`, tags of window
/// `i` in `base` from [`window_tags`]) for a key of fingerprint `fp`: bit 7 of each byte
/// whose tag is the key's at that distance. Exact per byte: no carry crosses bytes.
#[inline]
fn candidates(x: u64, base: u64, fp: u8) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    let y = x ^ (base | LO.wrapping_mul(u64::from(fp)));
    !(((y & !HI).wrapping_add(!HI)) | y) & HI
}

/// Where a probe stops in one window of 8 tags `x` (as for [`candidates`]): bit 7 of each
/// byte that is an empty slot or an entry closer to its home than the probe (the Robin
/// Hood rule, exact for distances below `slot::TAG_DIST_MAX`, where a stored distance is
/// exact; past it only entries stored below the saturated value stop the probe). Since a
/// tag is `(distance + 1) << TAG_FP_BITS | fingerprint` and an empty slot's is 0, those
/// are the bytes of `x` below the byte of `base` (unsigned). Exact per byte: no borrow
/// crosses bytes.
#[inline]
fn stops(x: u64, base: u64) -> u64 {
    // Per byte, bit 7 of (x | 0x80) - (base & 0x7f) (no borrow, since 0x80 > 0x7f) is set
    // iff x's low 7 bits >= base's. Then x < base iff x's bit 7 is below base's, or the
    // two are equal and the low 7 bits are below.
    let low_at_least = (x | HI).wrapping_sub(base & !HI);
    ((!x & base) | !(x ^ base | low_at_least)) & HI
}

/// The bits below the lowest set bit of `m` (all bits when `m` is 0): the tag bytes before
/// the first stop.
#[inline]
fn before_first(m: u64) -> u64 {
    if m != 0 {
        (m & m.wrapping_neg()) - 1
    } else {
        !0
    }
}

/// The 8 bytes from byte `sh / 8` on of the 16-byte little-endian pair `lo, hi`
/// (`sh` in `0..=64`).
#[inline]
fn funnel(lo: u64, hi: u64, sh: u32) -> u64 {
    ((u128::from(hi) << 64 | u128::from(lo)) >> sh) as u64
}

/// The end of the seqlock recipe for one lock: after `fence(Acquire)`, true when `lock`
/// still holds `v0`, the version loaded (Acquire) before the data, and `v0` is even (no
/// writer held it then).
#[inline(always)]
fn unchanged_since(lock: &AtomicU64, v0: u64) -> bool {
    fence(Ordering::Acquire);
    (v0 & 1 == 0) & (lock.load(Ordering::Relaxed) == v0)
}

/// Stores byte `tag` at bit `shift` of `word` (a plain load and store: the caller holds
/// the lock covering the whole word).
#[inline]
fn set_byte((word, shift): (&AtomicU64, usize), tag: u8) {
    let x = word.load(Ordering::Relaxed);
    let delta = u64::from((x >> shift) as u8 ^ tag) << shift;
    if delta != 0 {
        word.store(x ^ delta, Ordering::Relaxed);
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
        let span = layout.capacity / layout.lock_count;
        Ok(MapReader {
            header: &words[..HEADER_WORDS],
            groups: &words[groups_at..groups_at + layout.lock_count * group_words],
            slots: &words[slots_at..slots_at + 4 * layout.capacity],
            mask: layout.capacity - 1,
            lock_shift: span.trailing_zeros(),
            group_shift: group_words.trailing_zeros(),
            group_at_shift: span.trailing_zeros() - group_words.trailing_zeros(),
            tag_word_mask: span / 8 - 1,
            group_mask: !(group_words - 1),
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
    /// Cost: O(probe_max) loads per try; typically one lock group (version and tags, half
    /// a cache line) and, for a hit, one slot.
    ///
    /// `#[inline(always)]`: the first window is straight-line code meant to sit in the
    /// caller's loop (the general scan is out of line); called out of line, as LLVM chose
    /// for the C entry points, it cost the C path 1.3-1.5x the inlined Rust path.
    #[inline(always)]
    pub fn get(&self, key: &NeighKey) -> Result<Option<MapEntry>, Busy> {
        let k = SlotKey::new(key);
        let (home, fp) = self.home_and_fingerprint(&k);
        // Most lookups are decided by the first window of 8 tags, from `home` on (the key
        // is found there, or the probe stops there), all in the group of `home`'s lock,
        // which also covers the slots they tag: inline and straight-line. The rest take
        // the general scan, out of line.
        let g = self.group_index(home);
        let lock = &self.groups[g];
        let v0 = lock.load(Ordering::Acquire);
        let x = self.window_at(g, home);
        // A hit needs only the candidates: those past where the probe stops cannot hold
        // the key (unless the read was torn, which the validation catches), and checking
        // them costs a hit less than computing the stop first. The hit and the miss each
        // validate on their own path: merged, the compiler kept the found words on the
        // stack across the validation (4 more instructions a hit, 13 a miss).
        match self.find_candidate(&k, home, candidates(x, window_tags(0), fp)) {
            Some(w) if unchanged_since(lock, v0) => return Ok(Some(slot::decode(w))),
            Some(_) => {}
            None if stops(x, window_tags(0)) == 0 => return self.get_slow(k, home, fp, Some(v0)),
            None if unchanged_since(lock, v0) => return Ok(None),
            None => {}
        }
        self.get_slow(k, home, fp, None)
    }

    /// [`get`](Self::get) when the first window did not decide (`resume`: the home lock's
    /// version it loaded, so the first try goes on from window 1) or its lock was held:
    /// the general scan, retried from window 0 up to [`READ_RETRIES`] times in all.
    #[inline(never)]
    fn get_slow(
        &self,
        k: SlotKey,
        home: usize,
        fp: u8,
        mut resume: Option<u64>,
    ) -> Result<Option<MapEntry>, Busy> {
        for _ in 0..READ_RETRIES {
            let found = match resume.take() {
                Some(v0) => self.try_get_scan(&k, home, fp, 1, v0),
                None => {
                    let v0 = self.slot_lock(home).load(Ordering::Acquire);
                    self.try_get_scan(&k, home, fp, 0, v0)
                }
            };
            if let Some(found) = found {
                return Ok(found.map(slot::decode));
            }
            spin_hint();
        }
        Err(Busy)
    }

    /// The tags of window `[p, p + 8)` (probe distances of one window), lowest byte first,
    /// from the group of `p`'s lock (`g`, its [`group_index`](Self::group_index)), which
    /// holds them all: its own slots' tags followed by the copy of the next lock's first 8.
    /// Only meaningful under the seqlock recipe (the caller loads the lock's version first).
    #[inline(always)]
    fn window_at(&self, g: usize, p: usize) -> u64 {
        let t = self.tag_word_in(g, p);
        let lo = self.groups[t].load(Ordering::Relaxed);
        let hi = self.groups[t + 1].load(Ordering::Relaxed);
        funnel(lo, hi, 8 * (p & 7) as u32)
    }

    /// One optimistic probe, from window `from` on (1: window 0 was read, undecided, by
    /// the first-window probe), `v0` being the version of `home`'s lock loaded (Acquire)
    /// before any of its tags were read. `None`: a lock was held or changed, retry.
    /// `Some(None)`: absent. `Some(Some(words))`: the validated slot words of the key.
    ///
    /// Scans windows of 8 tags (window `i`: probe distances `8i..8i+8`,
    /// each from the group of its first slot's lock) until the probe is decided: the
    /// key's tag at its distance leads to its slot, or the probe stops ([`stops`]:
    /// an empty slot, or an entry closer to its home than the probe). Only candidate slots
    /// are read. Every lock whose group was read is loaded (Acquire) before it and
    /// revalidated at the end; windows advance 8 slots and locks cover at least 8, so the
    /// probe moves onto at most the next lock each time.
    fn try_get_scan(
        &self,
        k: &SlotKey,
        home: usize,
        fp: u8,
        from: usize,
        v0: u64,
    ) -> Option<Option<[u64; 4]>> {
        if v0 & 1 != 0 {
            return None;
        }
        let mut crossed = CrossedLocks::new(self.lock_of(home), v0);
        let mut found = None;
        for i in from..self.probe_max.div_ceil(8) {
            let p = (home + 8 * i) & self.mask;
            if !self.cross(&mut crossed, self.lock_of(p)) {
                return None;
            }
            let x = self.window_at(self.group_index(p), p);
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
        self.unchanged(&crossed).then_some(found)
    }

    /// The words of the candidate slot holding `k`, if any: `cand` has bit 7 set in byte
    /// `j` for slot `p + j` (mod capacity) whose tag matched; candidates are read lowest
    /// first (Relaxed, inside the caller's seqlock recipe).
    #[inline(always)]
    fn find_candidate(&self, k: &SlotKey, p: usize, mut cand: u64) -> Option<[u64; 4]> {
        while cand != 0 {
            let s = (p + (cand.trailing_zeros() / 8) as usize) & self.mask;
            let w = self.load_slot(s);
            if k.matches(w[0], w[1], w[2]) {
                return Some(w);
            }
            cand &= cand - 1;
        }
        None
    }

    /// Moves a probe onto slot lock `l` ([`CrossedLocks::enter`]), loading its version
    /// (Acquire) if it was not crossed yet. False when a writer holds it (retry).
    #[inline]
    fn cross(&self, c: &mut CrossedLocks, l: usize) -> bool {
        l == c.last || c.enter(l, self.lock(l).load(Ordering::Acquire))
    }

    /// The end of the seqlock recipe for a probe: after `fence(Acquire)`, true when no
    /// lock the probe crossed changed version since it was entered.
    #[inline]
    fn unchanged(&self, c: &CrossedLocks) -> bool {
        fence(Ordering::Acquire);
        if c.count == 1 {
            return self.lock(c.first).load(Ordering::Relaxed) == c.sum;
        }
        let n = self.lock_count();
        let now = (0..c.count).fold(0u64, |acc, i| {
            acc.wrapping_add(self.lock((c.first + i) & (n - 1)).load(Ordering::Relaxed))
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
        let lock = self.slot_lock(s);
        for _ in 0..READ_RETRIES {
            let v = lock.load(Ordering::Acquire);
            let w = self.load_slot(s);
            if unchanged_since(lock, v) {
                return Ok(w);
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

    /// The version word of lock `l`.
    #[inline]
    pub(crate) fn lock(&self, l: usize) -> &'a AtomicU64 {
        &self.groups[l << self.group_shift]
    }

    pub(crate) fn slots(&self) -> &'a [AtomicU64] {
        self.slots
    }

    /// The tag word holding byte `o` of lock `l`'s tags (`o` below the span: its own
    /// slots; `span..span + 8`: the copy of the next lock's first 8), and the byte's shift.
    #[inline]
    fn tag_word(&self, l: usize, o: usize) -> (&'a AtomicU64, usize) {
        (&self.groups[self.tag_index(l, o)], 8 * (o & 7))
    }

    /// Index in `groups` of the word holding byte `o` of lock `l`'s tags (see
    /// [`tag_word`](Self::tag_word)).
    #[inline(always)]
    pub(crate) fn tag_index(&self, l: usize, o: usize) -> usize {
        (l << self.group_shift) + 1 + (o >> 3)
    }

    /// Index in `groups` of slot `s`'s lock group (its version word): that of
    /// [`lock`](Self::lock)`(lock_of(s))` in one shift and a mask.
    #[inline(always)]
    pub(crate) fn group_index(&self, s: usize) -> usize {
        (s >> self.group_at_shift) & self.group_mask
    }

    /// The version word of the lock covering slot `s`: [`lock`](Self::lock)`(lock_of(s))`,
    /// found with [`group_index`](Self::group_index).
    #[inline(always)]
    pub(crate) fn slot_lock(&self, s: usize) -> &'a AtomicU64 {
        &self.groups[self.group_index(s)]
    }

    /// Index in `groups` of the tag word holding slot `s`'s tag, `g` being `s`'s
    /// [`group_index`](Self::group_index): the [`tag_index`](Self::tag_index) of its lock
    /// and offset, in a shift, a mask and two adds.
    #[inline(always)]
    pub(crate) fn tag_word_in(&self, g: usize, s: usize) -> usize {
        g + 1 + ((s >> 3) & self.tag_word_mask)
    }

    /// Slot `s`'s position within its lock's range.
    #[inline(always)]
    fn lock_offset(&self, s: usize) -> usize {
        s & ((1 << self.lock_shift) - 1)
    }

    /// The tag of slot `s` (Relaxed; only meaningful under its lock or the seqlock recipe).
    #[inline]
    pub(crate) fn load_tag(&self, s: usize) -> u8 {
        let (word, shift) = self.tag_word(self.lock_of(s), self.lock_offset(s));
        (word.load(Ordering::Relaxed) >> shift) as u8
    }

    /// Sets the tag of slot `s`, and its copy in the previous lock's group when `s` is one
    /// of its lock's first 8 slots. The caller holds both locks (see `NeighMap`'s lock
    /// rule), which cover the whole words written, so plain stores of the changed words
    /// are safe.
    #[inline]
    pub(crate) fn store_tag(&self, s: usize, tag: u8) {
        let l = self.lock_of(s);
        let o = self.lock_offset(s);
        set_byte(self.tag_word(l, o), tag);
        if o < 8 {
            let prev = (l + self.lock_count() - 1) & (self.lock_count() - 1);
            set_byte(self.tag_word(prev, (1 << self.lock_shift) + o), tag);
        }
    }

    pub(crate) fn lock_count(&self) -> usize {
        self.groups.len() >> self.group_shift
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

    /// The fingerprint of `k` (see `slot::fingerprint`).
    #[cfg(test)]
    pub(crate) fn fingerprint_of(&self, k: &SlotKey) -> u8 {
        slot::fingerprint(k.hash(self.seed))
    }

    /// [`home`](Self::home) and the fingerprint (`slot::fingerprint`) of `k`, from one hash.
    #[inline]
    pub(crate) fn home_and_fingerprint(&self, k: &SlotKey) -> (usize, u8) {
        let h = k.hash(self.seed);
        ((h as usize) & self.mask, slot::fingerprint(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::tests::Rng;

    /// The per-byte SWAR of `candidates` and `stops` against byte-by-byte comparisons, for
    /// windows of real tags (empty, or any fingerprint at any distance, saturated ones
    /// included) and of arbitrary bytes (a torn read may see anything): a carry or borrow
    /// crossing bytes, or a wrong bit of the tag format, shows up as a differing byte.
    #[test]
    fn window_tests_agree_with_byte_by_byte_comparisons() {
        // Plain arithmetic: miri checks it for overflow only, on a few rounds.
        let rounds = if cfg!(miri) { 20 } else { 20_000 };
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for round in 0..rounds {
            let x = if round % 2 == 0 {
                (0..8).fold(0u64, |acc, j| {
                    let r = rng.next();
                    let t = if r % 5 == 0 {
                        0
                    } else {
                        slot::tag((r >> 8) as u8, (r >> 16) as usize % 48)
                    };
                    acc | u64::from(t) << (8 * j)
                })
            } else {
                rng.next()
            };
            for i in 0..WINDOWS + 1 {
                let base = window_tags(i);
                for fp in 0..1u8 << slot::TAG_FP_BITS {
                    let cand = candidates(x, base, fp);
                    let stop = stops(x, base);
                    for j in 0..8 {
                        let t = (x >> (8 * j)) as u8;
                        let d = 8 * i + j;
                        let bit = |m: u64| m >> (8 * j) & 0xff;
                        assert_eq!(
                            bit(cand) != 0,
                            t == slot::tag(fp, d),
                            "x {x:#x} i {i} j {j}"
                        );
                        assert_eq!(bit(cand) & 0x7f, 0);
                        let stored = usize::from(t >> slot::TAG_FP_BITS);
                        let probe = d.min(slot::TAG_DIST_MAX) + 1;
                        assert_eq!(bit(stop) != 0, stored < probe, "x {x:#x} i {i} j {j}");
                        assert_eq!(bit(stop) & 0x7f, 0);
                    }
                }
            }
        }
    }
}
