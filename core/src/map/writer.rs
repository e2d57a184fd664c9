//! [`NeighMap`]: the writer (and reader) of a map region.

use crate::entry::{IgnoreReason, Ingest, NeighEntry, NeighKey};
use crate::sync::{AtomicU64, Ordering};

use super::error::{Busy, Full, MapError};
use super::header::*;
use super::iter::Iter;
use super::lock_set::LockSet;
use super::params::MapParams;
use super::reader::MapReader;
use super::slot::{self, SlotKey, DIST_ONE};
use super::tags::WIDTH;
use super::MapEntry;

/// A map region opened for writing (and reading). All methods take `&self`: writers
/// serialize on the version locks, so several threads (or processes) may write at once,
/// though the mirror is normally the only writer. Readers elsewhere use a [`MapReader`].
///
/// Writes never allocate and never block readers. A value update of a present key (the
/// common write: every NUD transition, every resync mark) stores the entry's value word
/// and generation, each whole, and readers take them as they are, without a retry. Only a
/// move (an insert that shifts a run, a removal's back-shift, `clear`) makes readers of
/// its ranges retry, and after the bounded retries return [`Busy`]. A writer holds the
/// locks covering the slots from the key's home slot to the last slot it changes, for
/// O(probe run) work (see `seqlock.rs` and `lock_set.rs`).
#[derive(Clone, Copy, Debug)]
pub struct NeighMap<'a> {
    r: MapReader<'a>,
}

/// What [`NeighMap::upsert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// The key was absent and was inserted.
    Inserted,
    /// The key was present and its entry overwritten.
    Updated,
}

/// What [`NeighMap::mark`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marked {
    /// The key was absent and was inserted.
    Inserted,
    /// The key was present and its entry overwritten.
    Updated {
        /// The generation the entry had before.
        previous: u8,
    },
}

impl Marked {
    /// True when the key's entry did not carry `generation` before this mark: an insert,
    /// or an overwrite of an entry of another generation. Counting these over a resync
    /// tells how many entries the resync moved to `generation`. O(1).
    pub fn newly_marked(self, generation: u8) -> bool {
        match self {
            Marked::Inserted => true,
            Marked::Updated { previous } => previous != generation,
        }
    }
}

/// What [`NeighMap::apply`] did with an ingest decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Upsert of an absent key.
    Inserted,
    /// Upsert of a present key.
    Updated,
    /// Remove of a present key.
    Removed,
    /// Remove of an absent key (nothing to do).
    Absent,
    /// The decision was `Ignore`; the map was not touched.
    Ignored(IgnoreReason),
}

/// A walk needs a slot whose lock the writer does not hold yet.
struct NeedLock;

enum UpsertPlan {
    Update {
        at: usize,
    },
    /// Shift slots `at..end` (cyclic) one slot forward, then write the entry at `at` with
    /// probe distance `dist`. `end` is empty.
    Insert {
        at: usize,
        end: usize,
        dist: usize,
    },
    Full,
}

/// What a writer's walk decided, under the locks it read.
trait Plan {
    /// The first slot whose tag the plan rewrites, if any (it then rewrites the tags of
    /// the rest of its run too).
    fn tags_from(&self) -> Option<usize>;
}

impl Plan for UpsertPlan {
    /// An insert rewrites the tags of its whole shifted run; an update leaves them alone.
    fn tags_from(&self) -> Option<usize> {
        match *self {
            UpsertPlan::Insert { at, .. } => Some(at),
            UpsertPlan::Update { .. } | UpsertPlan::Full => None,
        }
    }
}

enum RemovePlan {
    Absent,
    /// Shift slots `at+1..=last` (cyclic) one slot back, then empty `last`.
    Remove {
        at: usize,
        last: usize,
    },
}

impl Plan for RemovePlan {
    fn tags_from(&self) -> Option<usize> {
        match *self {
            RemovePlan::Remove { at, .. } => Some(at),
            RemovePlan::Absent => None,
        }
    }
}

impl<'a> NeighMap<'a> {
    /// Formats `words` as an empty map with `params`, overwriting everything in the
    /// layout's range (words past [`footprint`](super::footprint)/8 are left alone). The
    /// magic is stored last (Release), so a concurrent `join` sees a complete header or
    /// `BadMagic`. Errors: invalid `params`, or `words` too short. O(footprint).
    pub fn format_words(words: &'a [AtomicU64], params: &MapParams) -> Result<Self, MapError> {
        let layout = params.layout()?;
        let needed_words = layout.total_bytes / 8;
        if words.len() < needed_words {
            return Err(MapError::RegionTooSmall {
                needed: layout.total_bytes,
                len: words.len().saturating_mul(8),
            });
        }
        words[H_MAGIC].store(0, Ordering::Relaxed);
        for w in &words[1..needed_words] {
            w.store(0, Ordering::Relaxed);
        }
        let h = |i: usize, v: u64| words[i].store(v, Ordering::Relaxed);
        h(H_VERSION, LAYOUT_VERSION);
        h(H_HEADER_BYTES, HEADER_BYTES as u64);
        h(H_CAPACITY, layout.capacity as u64);
        h(H_LOCK_COUNT, layout.lock_count as u64);
        h(H_PROBE_MAX, layout.probe_max as u64);
        h(H_SEED, params.seed);
        h(H_GROUPS_OFFSET, layout.groups_offset as u64);
        h(H_SLOTS_OFFSET, layout.slots_offset as u64);
        h(H_GROUP_BYTES, layout.group_bytes as u64);
        h(H_TOTAL_BYTES, layout.total_bytes as u64);
        words[H_MAGIC].store(MAGIC, Ordering::Release);
        Ok(NeighMap {
            r: MapReader::from_layout(words, &layout, params.seed)?,
        })
    }

    /// Joins a formatted region given as words, for writing. Same checks and errors as
    /// [`MapReader::join`]. O(1).
    pub fn join_words(words: &'a [AtomicU64]) -> Result<Self, MapError> {
        Ok(NeighMap {
            r: MapReader::join(words)?,
        })
    }

    /// Joins a formatted region for a writer that takes it over from writers gone for
    /// good and will [`repair`](Self::repair) it first: as
    /// [`join_words`](Self::join_words), but a poisoned region is accepted. O(1).
    pub fn join_to_repair(words: &'a [AtomicU64]) -> Result<Self, MapError> {
        Ok(NeighMap {
            r: MapReader::join_even_poisoned(words)?,
        })
    }

    /// A read-only view of the same region, to hand to reader threads. O(1).
    pub fn reader(&self) -> MapReader<'a> {
        self.r
    }

    /// See [`MapReader::get`].
    #[inline]
    pub fn get(&self, key: &NeighKey) -> Result<Option<MapEntry>, Busy> {
        self.r.get(key)
    }

    /// See [`MapReader::iter`].
    pub fn iter(&self) -> Iter<'a> {
        self.r.iter()
    }

    /// See [`MapReader::len`].
    pub fn len(&self) -> usize {
        self.r.len()
    }

    /// See [`MapReader::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// See [`MapReader::stats`].
    pub fn stats(&self) -> MapStats {
        self.r.stats()
    }

    /// Inserts `entry` tagged with `generation`, or overwrites the entry of the same key.
    /// An insert places the entry in Robin Hood order, shifting the rest of its probe run
    /// one slot on, under the locks covering that run.
    ///
    /// Errors: [`Full`] when no free slot is reachable within `probe_max` (or the shift
    /// would push an entry past `probe_max - 1` from its home); the map is unchanged and
    /// the header's `full` counter is bumped. An update never fails.
    /// Cost: O(probe run); spins while another writer holds a needed lock.
    pub fn upsert(&self, entry: &NeighEntry, generation: u8) -> Result<Upserted, Full> {
        Ok(match self.mark(entry, generation)? {
            Marked::Inserted => Upserted::Inserted,
            Marked::Updated { .. } => Upserted::Updated,
        })
    }

    /// [`upsert`](Self::upsert), also saying which generation the key had: the mark phase
    /// of mark and sweep. A writer that knows it is the map's only writer can count the
    /// [`Marked::newly_marked`] results of a pass: when they equal [`len`](Self::len) and
    /// the pass removed nothing, every entry carries `generation`, so a
    /// [`sweep`](Self::sweep) would remove nothing and can be skipped.
    ///
    /// Same locks, counters (an overwrite counts as an update), errors ([`Full`]) and
    /// cost as `upsert`.
    pub fn mark(&self, entry: &NeighEntry, generation: u8) -> Result<Marked, Full> {
        let k = SlotKey::new(&entry.key);
        let (home, fp) = self.r.geometry().home_and_fingerprint(&k);
        let (plan, mut locks) = self.plan_locked(home, |locks| self.plan_upsert(&k, home, locks));
        match plan {
            UpsertPlan::Update { at } => {
                let previous = self.update_value(at, entry, generation);
                self.bump(H_UPDATES);
                Ok(Marked::Updated { previous })
            }
            UpsertPlan::Insert { at, end, dist } => {
                let mask = self.r.geometry().mask;
                locks.begin_move();
                let mut j = end;
                while j != at {
                    let prev = (j + mask) & mask;
                    let mut w = self.r.load_slot(prev);
                    w[2] += DIST_ONE;
                    self.store_slot(j, w, self.r.load_tag(prev));
                    fault::moved_one();
                    j = prev;
                }
                self.store_slot(at, slot::encode(entry, generation, dist), fp);
                locks.end_move();
                self.bump(H_LEN);
                self.bump(H_INSERTS);
                Ok(Marked::Inserted)
            }
            UpsertPlan::Full => {
                self.bump(H_FULL);
                Err(Full)
            }
        }
    }

    /// The address of `key`'s home slot: the first slot an upsert, mark or remove of
    /// `key` reads (in a large map, the cache line that likely misses).
    /// For a caller's prefetch instruction (neigh-core has none: they are `unsafe` in
    /// Rust), issued some keys ahead of the writes of a batch so that several of these
    /// misses are in flight at once instead of one after the other. Loads (plain or
    /// atomic) would not do: the writes' lock acquisitions wait for every earlier load.
    /// Reading through the pointer outside the seqlock recipe would be a data race; a
    /// prefetch reads nothing into the program. O(1): one hash.
    #[inline]
    pub fn home_slot_addr(&self, key: &NeighKey) -> *const u8 {
        let home = self.r.geometry().home(&SlotKey::new(key));
        core::ptr::from_ref(&self.r.slots()[4 * home]).cast()
    }

    /// Finds where an upsert goes, reading only slots whose locks are held.
    fn plan_upsert(
        &self,
        k: &SlotKey,
        home: usize,
        locks: &LockSet<'_, '_>,
    ) -> Result<UpsertPlan, NeedLock> {
        let mask = self.r.geometry().mask;
        let probe_max = self.r.geometry().probe_max;
        for d in 0..probe_max {
            let s = (home + d) & mask;
            let w = self.locked_slot(s, locks)?;
            if !slot::is_occupied(w[2]) {
                return Ok(UpsertPlan::Insert {
                    at: s,
                    end: s,
                    dist: d,
                });
            }
            if k.matches(w[0], w[1], w[2]) {
                return Ok(UpsertPlan::Update { at: s });
            }
            if slot::dist(w[2]) < d {
                // The key is absent and belongs here; the run from `s` moves one slot on,
                // which must leave every moved entry within probe_max.
                for t in 0..=mask {
                    let j = (s + t) & mask;
                    let w = self.locked_slot(j, locks)?;
                    if !slot::is_occupied(w[2]) {
                        return Ok(UpsertPlan::Insert {
                            at: s,
                            end: j,
                            dist: d,
                        });
                    }
                    if slot::dist(w[2]) + 1 >= probe_max {
                        return Ok(UpsertPlan::Full);
                    }
                }
                return Ok(UpsertPlan::Full);
            }
        }
        Ok(UpsertPlan::Full)
    }

    /// Removes `key`'s entry; true if it was present. The rest of its probe run moves one
    /// slot back (backward-shift deletion: no tombstones), under the locks covering the
    /// run, which may cross lock boundaries and wrap. O(probe run).
    pub fn remove(&self, key: &NeighKey) -> bool {
        self.remove_if(key, |_| true)
    }

    /// Removes `key`'s entry if `pred` (given its generation, under the lock) agrees.
    fn remove_if(&self, key: &NeighKey, pred: impl Fn(u8) -> bool) -> bool {
        let k = SlotKey::new(key);
        let home = self.r.geometry().home(&k);
        let (plan, mut locks) = self.plan_locked(home, |locks| self.plan_remove(&k, home, locks));
        let RemovePlan::Remove { at, last } = plan else {
            return false;
        };
        if !pred(slot::generation(self.r.load_slot(at)[2])) {
            return false;
        }
        let mask = self.r.geometry().mask;
        locks.begin_move();
        let mut j = at;
        while j != last {
            let next = (j + 1) & mask;
            let mut w = self.r.load_slot(next);
            w[2] -= DIST_ONE;
            self.store_slot(j, w, self.r.load_tag(next));
            fault::moved_one();
            j = next;
        }
        self.store_slot(last, [0; 4], 0);
        locks.end_move();
        self.r.header()[H_LEN].fetch_sub(1, Ordering::Relaxed);
        self.bump(H_REMOVES);
        true
    }

    fn plan_remove(
        &self,
        k: &SlotKey,
        home: usize,
        locks: &LockSet<'_, '_>,
    ) -> Result<RemovePlan, NeedLock> {
        let mask = self.r.geometry().mask;
        for d in 0..self.r.geometry().probe_max {
            let s = (home + d) & mask;
            let w = self.locked_slot(s, locks)?;
            if !slot::is_occupied(w[2]) || slot::dist(w[2]) < d {
                return Ok(RemovePlan::Absent);
            }
            if k.matches(w[0], w[1], w[2]) {
                // The run after `s` ends at an empty slot or an entry in its home slot.
                let mut last = s;
                for t in 1..=mask {
                    let j = (s + t) & mask;
                    let w = self.locked_slot(j, locks)?;
                    if !slot::is_occupied(w[2]) || slot::dist(w[2]) == 0 {
                        break;
                    }
                    last = j;
                }
                return Ok(RemovePlan::Remove { at: s, last });
            }
        }
        Ok(RemovePlan::Absent)
    }

    /// Removes every entry whose generation is not `generation` (mark and sweep after a
    /// resync: the writer re-upserts what the kernel still has with a new generation,
    /// then sweeps the rest), and records `generation` as the header's current one.
    /// Returns how many entries were removed. O(capacity), one lock at a time.
    pub fn sweep(&self, generation: u8) -> usize {
        self.set_generation(generation);
        let mut removed = 0;
        for s in 0..self.r.capacity() {
            // Removing the entry at `s` shifts the next one into `s`: look again.
            loop {
                let w = {
                    let _lock = LockSet::acquire(&self.r, self.r.geometry().lock_of(s), 1);
                    self.r.load_slot(s)
                };
                if !slot::is_occupied(w[2]) {
                    break;
                }
                let e = slot::decode(w);
                if e.generation() == generation || !self.remove_if(&e.key(), |g| g != generation) {
                    break;
                }
                removed += 1;
            }
        }
        removed
    }

    /// Removes every entry (all locks held at once, in increasing order, as one move:
    /// readers retry meanwhile and may get `Busy`). Returns how many were removed. O(capacity).
    pub fn clear(&self) -> usize {
        let mut locks = LockSet::acquire(&self.r, 0, self.r.geometry().lock_count);
        locks.begin_move();
        let mut removed = 0;
        for s in 0..self.r.capacity() {
            if slot::is_occupied(self.r.load_slot(s)[2]) {
                self.store_slot(s, [0; 4], 0);
                removed += 1;
            }
        }
        locks.end_move();
        self.r.header()[H_LEN].store(0, Ordering::Relaxed);
        self.r.header()[H_REMOVES].fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// Applies the ingest policy's decision for one netlink message
    /// ([`crate::wire::ingest`]): upsert with `generation`, remove, or nothing.
    /// Errors: [`Full`] as for [`upsert`](Self::upsert). Cost: that of the operation.
    pub fn apply(&self, ingest: &Ingest, generation: u8) -> Result<Applied, Full> {
        Ok(match ingest {
            Ingest::Upsert(e) => match self.upsert(e, generation)? {
                Upserted::Inserted => Applied::Inserted,
                Upserted::Updated => Applied::Updated,
            },
            Ingest::Remove(k) => {
                if self.remove(k) {
                    Applied::Removed
                } else {
                    Applied::Absent
                }
            }
            Ingest::Ignore(why) => Applied::Ignored(*why),
        })
    }

    /// Records `generation` as the header's current generation (what new upserts are
    /// tagged with; readers see it in [`MapStats::generation`]). O(1).
    pub fn set_generation(&self, generation: u8) {
        self.r.header()[H_GENERATION].store(u64::from(generation), Ordering::Relaxed);
    }

    /// Stores the owner id (opaque; e.g. the writer's pid) in the header. O(1).
    pub fn set_owner(&self, owner: u64) {
        self.r.header()[H_OWNER].store(owner, Ordering::Relaxed);
    }

    /// Claims the region for the writer `id` (non-zero; e.g. its pid): replaces the claim
    /// word `seen` (what [`MapReader::claim_word`] returned when the caller decided to
    /// take the region) with one more claim held by `id`, by compare-and-swap, so that of
    /// several writers deciding on the same `seen` exactly one wins. Returns the new word,
    /// the winner's token (an owner that later finds another word was replaced), or
    /// `Err(current)` when the word was not `seen` any more. O(1).
    pub fn claim(&self, seen: u64, id: u32) -> Result<u64, u64> {
        let next = ((seen >> 32).wrapping_add(1) << 32) | u64::from(id);
        self.r.header()[H_CLAIM]
            .compare_exchange(seen, next, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| next)
    }

    /// Releases the claim `token` (from [`claim`](Self::claim)): the holder's id becomes 0,
    /// saying it will never write again, so that the next writer may take the region
    /// over. Release: that writer sees everything this one wrote. False when the word is
    /// not `token` (another writer claimed the region). O(1).
    pub fn release_claim(&self, token: u64) -> bool {
        self.r.header()[H_CLAIM]
            .compare_exchange(
                token,
                token & !0xffff_ffff,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Marks the region superseded (see [`MapReader::is_superseded`]): a writer replacing
    /// it by another region does it before the replacement takes its name. Release. O(1).
    pub fn supersede(&self) {
        self.r.header()[H_SUPERSEDED].store(1, Ordering::Release);
    }

    /// Stores a heartbeat (opaque; e.g. a monotonic time in ms), so readers can tell a
    /// live writer from a crashed one. Release, pairing with nothing in the map: a reader
    /// only compares it with its own clock. O(1).
    pub fn heartbeat(&self, now: u64) {
        self.r.header()[H_HEARTBEAT].store(now, Ordering::Release);
    }

    /// Adds `delta` (wrapping) to statistics word `i`; false if `i >= STAT_WORDS`. O(1).
    pub fn stat_add(&self, i: usize, delta: u64) -> bool {
        self.stat_word(i)
            .map(|w| w.fetch_add(delta, Ordering::Relaxed))
            .is_some()
    }

    /// Stores `value` in statistics word `i`; false if `i >= STAT_WORDS`. O(1).
    pub fn stat_store(&self, i: usize, value: u64) -> bool {
        self.stat_word(i)
            .map(|w| w.store(value, Ordering::Relaxed))
            .is_some()
    }

    fn stat_word(&self, i: usize) -> Option<&'a AtomicU64> {
        stat_word(i).map(|w| &self.r.header()[w])
    }

    /// Runs a writer's walk from `home` (`plan`, which reads only slots whose lock it is
    /// given) under the locks it needs, and returns its plan with them held: `home`'s
    /// lock, the next ones as the walk goes on, and, when the plan rewrites a tag in a
    /// lock's first `WIDTH` slots, the previous lock, whose group holds a copy
    /// ([`LockSet::cover_writes_from`]). A reader of the key validates the lock of each
    /// window it reads, all from `home`'s on, and a reader of another key that reads the
    /// slot only compares its key words, which an overwrite leaves as they are: so an
    /// overwrite, which leaves the tags alone too, needs no lock before `home`'s.
    fn plan_locked<P: Plan>(
        &self,
        home: usize,
        plan: impl Fn(&LockSet<'_, 'a>) -> Result<P, NeedLock>,
    ) -> (P, LockSet<'_, 'a>) {
        let mut locks = LockSet::acquire(&self.r, self.r.geometry().lock_of(home), 1);
        loop {
            match plan(&locks) {
                Ok(p) => {
                    if p.tags_from().is_none_or(|at| locks.cover_writes_from(at)) {
                        return (p, locks);
                    }
                }
                Err(NeedLock) => locks.extend(),
            }
        }
    }

    /// Reads slot `s`, whose lock `locks` must hold.
    #[inline]
    fn locked_slot(&self, s: usize, locks: &LockSet<'_, '_>) -> Result<[u64; 4], NeedLock> {
        if locks.holds(s) {
            Ok(self.r.load_slot(s))
        } else {
            Err(NeedLock)
        }
    }

    /// Writes slot `s` and its tag (inside a move): 0 for an empty slot, else from the distance in `w` and
    /// the key's fingerprint `fp` (only its low bits count, so a moved entry's old tag may
    /// be passed). The caller holds the locks covering both (see `LockSet::covers`), so a
    /// reader sees the tag and the words of one write or retries.
    #[inline]
    pub(super) fn store_slot(&self, s: usize, w: [u64; 4], fp: u8) {
        self.store_words(s, w);
        let tag = if slot::is_occupied(w[2]) {
            slot::tag(fp, slot::dist(w[2]))
        } else {
            0
        };
        self.store_tag(s, tag);
    }

    /// Writes slot `s`'s words (inside a move). The caller holds its locks.
    ///
    /// Word 2, which holds the occupied bit, is cleared first and written last: a writer
    /// that stops in between for good (killed, or unwinding) leaves a slot that reads as
    /// empty, never one entry's key beside another's value. Every slot a move overwrites
    /// has been copied elsewhere first (or holds the key being removed), so what such a
    /// writer leaves is whole entries, some twice in adjacent slots, which
    /// [`repair`](Self::repair) can rebuild from. Readers are not concerned: they
    /// validate the versions the move made odd. So the loom models, which cannot stop a
    /// writer for good and would only explore the extra store's interleavings, leave the
    /// clearing out; the fault-injection tests check it.
    #[inline]
    fn store_words(&self, s: usize, w: [u64; 4]) {
        let slot = &self.r.slots()[4 * s..4 * s + 4];
        #[cfg(not(loom))]
        {
            slot[2].store(0, Ordering::Relaxed);
            fault::slot_cleared();
            crate::sync::fence(Ordering::Release);
        }
        slot[0].store(w[0], Ordering::Relaxed);
        slot[1].store(w[1], Ordering::Relaxed);
        slot[3].store(w[3], Ordering::Relaxed);
        slot[2].store(w[2], Ordering::Release);
    }

    /// A value update of the key at slot `at` (whose lock, and those from its home's on,
    /// the caller holds; no move): stores the new value word, then the new generation
    /// into word 2, each one whole store a reader takes as it is, and leaves the key
    /// words, the distance and the tag alone. Unchanged words are not written (a resync
    /// mark of an unchanged entry writes only its generation). Returns the generation
    /// the entry had.
    fn update_value(&self, at: usize, entry: &NeighEntry, generation: u8) -> u8 {
        let words = &self.r.slots()[4 * at..4 * at + 4];
        let (w2, w3) = (
            words[2].load(Ordering::Relaxed),
            words[3].load(Ordering::Relaxed),
        );
        let value = slot::value(entry);
        if value != w3 {
            words[3].store(value, Ordering::Release);
        }
        fault::value_stored();
        let marked = slot::with_generation(w2, generation);
        if marked != w2 {
            words[2].store(marked, Ordering::Release);
        }
        slot::generation(w2)
    }

    /// Sets the tag of slot `s`, and its copy in the previous lock's group when `s` is one
    /// of its lock's first `WIDTH` slots. The caller holds both locks in a move (see
    /// [`LockSet::covers`]), and they cover the whole words written, so plain stores of
    /// the changed words are safe.
    #[inline]
    pub(super) fn store_tag(&self, s: usize, tag: u8) {
        let geo = self.r.geometry();
        let l = geo.lock_of(s);
        let o = geo.lock_offset(s);
        set_byte(self.r.tag_word(l, o), tag);
        if o < WIDTH {
            let prev = (l + geo.lock_count - 1) & (geo.lock_count - 1);
            set_byte(self.r.tag_word(prev, geo.span() + o), tag);
        }
    }

    fn bump(&self, word: usize) {
        self.r.header()[word].fetch_add(1, Ordering::Relaxed);
    }
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

/// Test-only fault injection: hooks a test installs to run in the middle of a write (a
/// panic there is a writer unwinding mid-change; a wait there is a writer stopped
/// mid-change). Compiled to nothing outside the crate's own tests.
pub(crate) mod fault {
    #[cfg(all(test, not(loom)))]
    std::thread_local! {
        /// Called after each slot a move has shifted.
        pub static MOVED_ONE: core::cell::Cell<Option<fn()>> = const { core::cell::Cell::new(None) };
        /// Called between a value update's value store and its generation store.
        pub static VALUE_STORED: core::cell::Cell<Option<fn()>> = const { core::cell::Cell::new(None) };
        /// Called after a move cleared a slot's word 2, before it writes the slot's words.
        pub static SLOT_CLEARED: core::cell::Cell<Option<fn()>> = const { core::cell::Cell::new(None) };
    }

    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn slot_cleared() {
        #[cfg(all(test, not(loom)))]
        if let Some(f) = SLOT_CLEARED.get() {
            f();
        }
    }

    #[inline(always)]
    pub(crate) fn moved_one() {
        #[cfg(all(test, not(loom)))]
        if let Some(f) = MOVED_ONE.get() {
            f();
        }
    }

    #[inline(always)]
    pub(crate) fn value_stored() {
        #[cfg(all(test, not(loom)))]
        if let Some(f) = VALUE_STORED.get() {
            f();
        }
    }
}
