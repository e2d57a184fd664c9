//! [`MapReader::get_burst`]: many lookups staged so that their cache misses overlap.
//!
//! A lookup in a large map misses the cache twice: on its lock group (version and tags)
//! and, for a hit, on its slot. One key after another, each miss is paid in full. A burst
//! walks its keys three times, as DPDK's `rte_hash_lookup_bulk` does:
//!
//! 1. hash every key, and prefetch its home's lock group;
//! 2. take every key's stamp and first tag window (the groups are arriving by now), pick
//!    its candidates, and prefetch the first candidate's slot (a miss usually has none,
//!    so it fetches no slot at all);
//! 3. read every key's candidates, validate, and finish as [`MapReader::get`] does (the
//!    general scan for a probe the first window does not decide or a read that did not
//!    validate).
//!
//! Each key's read is the seqlock recipe of `get`, only spread over the stages: its stamp
//! is taken before its window and slots are read, and validated after. Prefetches read
//! nothing into the program; on targets without one they are left out and the stages
//! still overlap what the CPU overlaps on its own.

use crate::entry::NeighKey;
use crate::sync::prefetch;

use super::error::Busy;
use super::reader::{FirstWindow, MapReader};
use super::seqlock::Stamp;
use super::slot::SlotKey;
use super::tags::{candidates, window_tags, Mask, Window};
use super::MapEntry;

/// Keys one burst stages at once; [`MapReader::get_burst`] takes any number, this many
/// at a time.
pub const BURST: usize = 32;

/// One key between the stages.
#[derive(Clone, Copy)]
struct Staged {
    k: SlotKey,
    home: usize,
    fp: u8,
    /// The home's lock group (index in the groups array).
    g: usize,
    stamp: Stamp,
    /// The first window's tags.
    x: Window,
    /// The key's candidates in them.
    cand: Mask,
}

impl<'a> MapReader<'a> {
    /// Looks up `keys`, writing what [`get`](Self::get) would return for `keys[i]` to
    /// `out[i]`, for the first `min(keys.len(), out.len())` keys; returns how many were
    /// found (`Ok(Some(_))`). Same guarantees as `get` for each key (lock-free, never
    /// torn, never a false absent, `Busy` only while keys move), without a single order
    /// between the keys' reads.
    ///
    /// Cost: that of the lookups, with the cache misses of up to [`BURST`] keys in flight
    /// at once (see the module docs); no allocation (about 2 KiB of stack). It pays off
    /// when lookups miss the cache (a map of many megabytes); in a cache-resident map a
    /// loop of `get` does less work per key.
    pub fn get_burst(
        &self,
        keys: &[NeighKey],
        out: &mut [Result<Option<MapEntry>, Busy>],
    ) -> usize {
        let n = keys.len().min(out.len());
        self.get_burst_with(n, |i| keys[i], |i, r| out[i] = r)
    }

    /// [`get_burst`](Self::get_burst) for keys held elsewhere than in a slice of
    /// [`NeighKey`] (say, a C caller's arrays of interface indexes and addresses): looks up
    /// `key(i)` for each `i < n` and hands what [`get`](Self::get) would return for it to
    /// `put(i, result)`, each `i` once; returns how many were found. Same guarantees and
    /// cost as `get_burst` (`key` is called once per key, `put` once per key, in index
    /// order within each group of [`BURST`]).
    #[inline]
    pub fn get_burst_with(
        &self,
        n: usize,
        key: impl Fn(usize) -> NeighKey,
        mut put: impl FnMut(usize, Result<Option<MapEntry>, Busy>),
    ) -> usize {
        (0..n)
            .step_by(BURST)
            .map(|start| self.get_staged(start, (n - start).min(BURST), &key, &mut put))
            .sum()
    }

    /// One burst of the `len` (at most [`BURST`]) keys from index `start`.
    #[inline(always)]
    fn get_staged(
        &self,
        start: usize,
        len: usize,
        key: &impl Fn(usize) -> NeighKey,
        put: &mut impl FnMut(usize, Result<Option<MapEntry>, Busy>),
    ) -> usize {
        let geo = *self.geometry();
        let mut staged = [Staged {
            k: SlotKey {
                w0: 0,
                w1: 0,
                w2: 0,
            },
            home: 0,
            fp: 0,
            g: 0,
            stamp: Stamp::default(),
            x: 0,
            cand: 0,
        }; BURST];
        let staged = &mut staged[..len];
        for (i, s) in staged.iter_mut().enumerate() {
            s.k = SlotKey::new(&key(start + i));
            (s.home, s.fp) = geo.home_and_fingerprint(&s.k);
            s.g = geo.group_index(s.home);
            prefetch(&self.groups()[s.g]);
        }
        for s in staged.iter_mut() {
            s.stamp = self.version_at(s.g).begin_read();
            s.x = self.window_at(s.g, s.home);
            s.cand = candidates(s.x, window_tags(0), s.fp);
            if s.cand != 0 {
                prefetch(&self.slots()[4 * self.candidate_slot(s.home, s.cand)]);
            }
        }
        let mut found = 0;
        for (i, s) in staged.iter().enumerate() {
            let first = FirstWindow {
                g: s.g,
                stamp: s.stamp,
                x: s.x,
                cand: s.cand,
            };
            let r = self.decide_first_window(&s.k, s.home, s.fp, &first);
            found += usize::from(matches!(r, Ok(Some(_))));
            put(start + i, r);
        }
        found
    }
}
