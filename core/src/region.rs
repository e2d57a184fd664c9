//! The shared region: a neighbor map, optionally followed by a request ring, in one block
//! of memory that several processes map (at different addresses: nothing inside is a
//! pointer). This module is the one place where bytes become atomics, and the one place
//! that knows how the map and the ring sit together.
//!
//! # Layout
//!
//! ```text
//! offset 0            the map (see crate::map): header | lock groups | slots | writer locks
//! offset map_bytes    the request ring (see crate::ring): ring header | cells   (optional)
//! ```
//!
//! `map_bytes` is the map's total size, which the map header records (word 9, checked on
//! join against the shape in words 3-5), a multiple of 64. The ring header records the
//! offset it was formatted at (`base`), and a join refuses a ring found anywhere else. So
//! a region is either a bare map or a map followed by exactly one ring, and a joiner
//! finds the ring from the map header alone.
//!
//! [`RegionView::format_words`] formats the ring first and the map last: the map's magic is
//! stored last (Release), so whoever sees a formatted map also sees the ring after it.
//! A region whose bytes after the map hold no ring magic (too short for a ring header, or
//! zeros: a caller's buffer rounded up to pages) is a bare map.
//!
//! # Entry points
//!
//! - [`region_footprint`]: bytes for a map and a ring.
//! - [`RegionView`]: format or join over words, or (`unsafe`) over raw shared memory; hands
//!   out the map's reader and writer and the ring.
//! - [`NeighMap::format`] / [`NeighMap::join`] over `&mut [u8]`, and `format_raw` /
//!   `join_raw` (also [`MapReader::join_raw`]) over shared memory: a bare map.
//!
//! Not compiled under `cfg(loom)`: loom's atomics are not plain words, so loom models build
//! maps and rings over words directly.

use core::fmt;
use core::sync::atomic::AtomicU64;

use crate::map::{footprint, MapError, MapParams, MapReader, NeighMap, REGION_ALIGN};
use crate::ring::{ring_footprint, RequestRing, RingError, RingStats, RING_MAGIC};

const _: () = assert!(REGION_ALIGN >= core::mem::align_of::<AtomicU64>());
const _: () = assert!(core::mem::size_of::<AtomicU64>() == 8);

/// How a region is joined: whether this view may store into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Loads only: enough for lookups and ring statistics. The memory may be read-only
    /// (`PROT_READ`), so a view of this access hands out no writer and no ring to post to.
    ReadOnly,
    /// Loads and stores.
    ReadWrite,
}

/// Why a region could not be sized, formatted or joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// The map part: bad parameters, misaligned, too small, not formatted, another layout
    /// version, corrupted header.
    Map(MapError),
    /// The ring part: bad cell count, or a ring header after the map that does not fit it.
    Ring(RingError),
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Map(e) => e.fmt(f),
            Self::Ring(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for RegionError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Map(e) => Some(e),
            Self::Ring(e) => Some(e),
        }
    }
}

impl From<MapError> for RegionError {
    fn from(e: MapError) -> Self {
        Self::Map(e)
    }
}

impl From<RingError> for RegionError {
    fn from(e: RingError) -> Self {
        Self::Ring(e)
    }
}

/// Bytes a region with a map of `params` and a ring of `ring_cells` cells (0: no ring)
/// takes: the map's [`footprint`] plus the ring's [`ring_footprint`]. Errors: invalid
/// parameters or cell count. O(1).
pub fn region_footprint(params: &MapParams, ring_cells: usize) -> Result<usize, RegionError> {
    let map = footprint(params)?;
    let ring = if ring_cells == 0 {
        0
    } else {
        ring_footprint(ring_cells)?
    };
    map.checked_add(ring)
        .ok_or(RegionError::Map(MapError::TooLarge))
}

/// A validated view of a region: the map and, if the region has one, the request ring.
/// `Copy`, and as cheap to pass around as the slices it holds.
#[derive(Clone, Copy, Debug)]
pub struct RegionView<'a> {
    reader: MapReader<'a>,
    writer: Option<NeighMap<'a>>,
    ring: Option<RequestRing<'a>>,
    map_bytes: usize,
}

impl<'a> RegionView<'a> {
    /// Formats `words` as an empty map of `params` followed by an empty ring of
    /// `ring_cells` cells (0: a bare map). The ring is formatted first and the map's magic
    /// stored last, so a concurrent joiner sees either no map or the map and its ring.
    /// Nobody else may write the words meanwhile. Errors: bad parameters, too few words.
    /// O(words).
    pub fn format_words(
        words: &'a [AtomicU64],
        params: &MapParams,
        ring_cells: usize,
    ) -> Result<Self, RegionError> {
        let map_bytes = footprint(params)?;
        let total = region_footprint(params, ring_cells)?;
        if words.len().saturating_mul(8) < total {
            return Err(RegionError::Map(MapError::RegionTooSmall {
                needed: total,
                len: words.len().saturating_mul(8),
            }));
        }
        let ring = if ring_cells == 0 {
            None
        } else {
            Some(RequestRing::format(
                &words[map_bytes / 8..total / 8],
                ring_cells,
                map_bytes as u64,
            )?)
        };
        let writer = NeighMap::format_words(&words[..map_bytes / 8], params)?;
        Ok(RegionView {
            reader: writer.reader(),
            writer: Some(writer),
            ring,
            map_bytes,
        })
    }

    /// Joins a region formatted by any process: validates the map header (magic, layout
    /// version, shape, sizes against `words.len()`) and, when the words after the map
    /// start with the ring magic, the ring header (version, sizes, `base`). With
    /// [`Access::ReadOnly`] the view never stores. Errors: [`RegionError::Map`] for the
    /// map's checks, [`RegionError::Ring`] for a ring header that does not fit. O(1).
    pub fn join_words(words: &'a [AtomicU64], access: Access) -> Result<Self, RegionError> {
        Self::join_inner(words, access, false)
    }

    /// Joins a region, read-write, for a writer that takes it over from writers gone for
    /// good and repairs it first ([`NeighMap::repair`]): as
    /// [`join_words`](Self::join_words) with [`Access::ReadWrite`], but a poisoned map is
    /// accepted. O(1).
    pub fn join_words_to_repair(words: &'a [AtomicU64]) -> Result<Self, RegionError> {
        Self::join_inner(words, Access::ReadWrite, true)
    }

    fn join_inner(
        words: &'a [AtomicU64],
        access: Access,
        poisoned_ok: bool,
    ) -> Result<Self, RegionError> {
        let reader = if poisoned_ok {
            NeighMap::join_to_repair(words)?.reader()
        } else {
            MapReader::join(words)?
        };
        let map_bytes = footprint(&MapParams::from_stats(&reader.stats())?)?;
        let map_words = map_bytes / 8;
        // The map's join checked `words` against its total size; `get` keeps this
        // panic-free all the same.
        let after = words.get(map_words..).unwrap_or(&[]);
        let ring = match after.first() {
            Some(w) if w.load(core::sync::atomic::Ordering::Acquire) == RING_MAGIC => {
                Some(RequestRing::join(after, map_bytes as u64)?)
            }
            _ => None,
        };
        let map_words = words.get(..map_words).unwrap_or(words);
        let writer = match access {
            Access::ReadOnly => None,
            Access::ReadWrite if poisoned_ok => Some(NeighMap::join_to_repair(map_words)?),
            Access::ReadWrite => Some(NeighMap::join_words(map_words)?),
        };
        Ok(RegionView {
            reader,
            writer,
            ring,
            map_bytes,
        })
    }

    /// Formats memory shared with other processes; see [`format_words`](Self::format_words)
    /// for the checks and errors, plus [`MapError::Misaligned`] when `ptr` is not
    /// [`REGION_ALIGN`]-aligned. O(len).
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes for `'a` (the mapping
    /// outlives the view), and during `'a` every access to those bytes, by this or any
    /// other process, must be atomic (through a view, a map or a ring of this crate): no
    /// plain reads, writes or `memcpy` of the live region.
    pub unsafe fn format_raw(
        ptr: *mut u8,
        len: usize,
        params: &MapParams,
        ring_cells: usize,
    ) -> Result<Self, RegionError> {
        // SAFETY: forwarded from this function's contract.
        let words = unsafe { words_of(ptr, len)? };
        Self::format_words(words, params, ring_cells)
    }

    /// Joins memory shared with other processes; see [`join_words`](Self::join_words) for
    /// the checks and errors, plus [`MapError::Misaligned`]. With [`Access::ReadOnly`] the
    /// memory may be mapped `PROT_READ`: the view only loads (Rust allows atomic loads of
    /// up to 8 bytes from read-only memory on targets with native 64-bit atomics, such as
    /// x86_64 and aarch64). O(1).
    ///
    /// # Safety
    /// `ptr` must be valid for reads (and writes, for [`Access::ReadWrite`]) of `len` bytes
    /// for `'a`, and during `'a` every write to those bytes, by any process, must be
    /// atomic.
    pub unsafe fn join_raw(
        ptr: *const u8,
        len: usize,
        access: Access,
    ) -> Result<Self, RegionError> {
        // SAFETY: forwarded from this function's contract.
        let words = unsafe { words_of(ptr, len)? };
        Self::join_words(words, access)
    }

    /// [`join_words_to_repair`](Self::join_words_to_repair) over shared memory; see
    /// [`join_raw`](Self::join_raw) for the checks and errors. O(1).
    ///
    /// # Safety
    /// As for [`join_raw`](Self::join_raw) with [`Access::ReadWrite`].
    pub unsafe fn join_raw_to_repair(ptr: *mut u8, len: usize) -> Result<Self, RegionError> {
        // SAFETY: forwarded from this function's contract.
        let words = unsafe { words_of(ptr, len)? };
        Self::join_words_to_repair(words)
    }

    /// A lock-free reader of the map. O(1).
    pub fn reader(&self) -> MapReader<'a> {
        self.reader
    }

    /// The map for writing; `None` for a read-only view. O(1).
    pub fn writer(&self) -> Option<NeighMap<'a>> {
        self.writer
    }

    /// The request ring, to post requests (producers) or drain them (the mirror); `None`
    /// for a bare map or a read-only view (posting stores). O(1).
    pub fn ring(&self) -> Option<RequestRing<'a>> {
        self.writer.and(self.ring)
    }

    /// Whether the region has a request ring (on a read-only view too). O(1).
    pub fn has_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// The ring's counters, on a read-only view too; `None` for a bare map. O(1).
    pub fn ring_stats(&self) -> Option<RingStats> {
        self.ring.map(|r| r.stats())
    }

    /// The map's size in bytes, which is where the ring starts. O(1).
    pub fn map_bytes(&self) -> usize {
        self.map_bytes
    }

    /// The ring's size in bytes, 0 for a bare map. O(1).
    pub fn ring_bytes(&self) -> usize {
        self.ring
            .map_or(0, |r| ring_footprint(r.capacity()).unwrap_or(0))
    }
}

/// Views `len` bytes at `ptr` as words (the trailing `len % 8` bytes are left out).
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes for `'a`, and every access to those bytes
/// during `'a`, by any thread or process, must be atomic (or a load, if there is no
/// writer). `ptr` is checked to be non-null and [`REGION_ALIGN`]-aligned here.
unsafe fn words_of<'a>(ptr: *const u8, len: usize) -> Result<&'a [AtomicU64], MapError> {
    let addr = ptr as usize;
    if ptr.is_null() || addr % REGION_ALIGN != 0 {
        return Err(MapError::Misaligned {
            addr,
            align: REGION_ALIGN,
        });
    }
    // SAFETY: ptr is non-null and aligned for AtomicU64 (checked above; REGION_ALIGN >=
    // its alignment, asserted at compile time); the len / 8 * 8 <= len bytes are valid for
    // 'a and accessed only atomically (the caller's contract); AtomicU64 is 8 bytes with
    // no invalid bit patterns and interior mutability, so a shared slice of it may alias
    // memory that other threads or processes change through atomics.
    Ok(unsafe { core::slice::from_raw_parts(ptr.cast::<AtomicU64>(), len / 8) })
}

fn words_of_mut(region: &mut [u8]) -> Result<&[AtomicU64], MapError> {
    // SAFETY: the exclusive borrow of `region` lasts as long as the returned slice, so no
    // other reference can access the bytes non-atomically meanwhile; the pointer and
    // length come from a valid slice.
    unsafe { words_of(region.as_mut_ptr(), region.len()) }
}

impl<'a> NeighMap<'a> {
    /// Formats `region` (which must start on a [`REGION_ALIGN`] boundary and hold
    /// [`footprint`]`(params)` bytes) as an empty map. Errors: misaligned,
    /// too short, or invalid `params`. O(footprint).
    pub fn format(region: &'a mut [u8], params: &MapParams) -> Result<Self, MapError> {
        Self::format_words(words_of_mut(region)?, params)
    }

    /// Joins a region formatted by any process, for writing. Validates magic, layout
    /// version, shape and sizes against `region.len()`; see [`MapReader::join`]. O(1).
    pub fn join(region: &'a mut [u8]) -> Result<Self, MapError> {
        Self::join_words(words_of_mut(region)?)
    }

    /// Formats memory shared with other processes (e.g. a `MAP_SHARED` mapping of a
    /// /dev/shm file), possibly mapped at different addresses there: the region holds no
    /// pointers. Same checks and errors as [`format`](Self::format).
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes for `'a` (the mapping
    /// outlives the map), and during `'a` every access to those bytes, by this or any
    /// other process, must go through a `NeighMap`/`MapReader` (or other atomic accesses):
    /// no plain reads, writes or `memcpy` of the live region.
    pub unsafe fn format_raw(
        ptr: *mut u8,
        len: usize,
        params: &MapParams,
    ) -> Result<Self, MapError> {
        // SAFETY: forwarded from this function's contract.
        let words = unsafe { words_of(ptr, len)? };
        Self::format_words(words, params)
    }

    /// Joins shared memory for writing; see [`format_raw`](Self::format_raw) and
    /// [`MapReader::join`] for the checks.
    ///
    /// # Safety
    /// As for [`format_raw`](Self::format_raw).
    pub unsafe fn join_raw(ptr: *mut u8, len: usize) -> Result<Self, MapError> {
        // SAFETY: forwarded from this function's contract.
        let words = unsafe { words_of(ptr, len)? };
        Self::join_words(words)
    }
}

impl<'a> MapReader<'a> {
    /// Joins shared memory for reading only. A `MapReader` only ever loads, so the memory
    /// may be mapped `PROT_READ` (Rust allows atomic loads of up to 8 bytes on read-only
    /// memory on targets with native 64-bit atomics, such as x86_64 and aarch64). Same
    /// checks and errors as [`join`](Self::join).
    ///
    /// # Safety
    /// `ptr` must be valid for reads of `len` bytes for `'a` (the mapping outlives the
    /// reader), and during `'a` every write to those bytes, by any process, must be atomic
    /// (a `NeighMap` writer).
    pub unsafe fn join_raw(ptr: *const u8, len: usize) -> Result<Self, MapError> {
        // SAFETY: forwarded from this function's contract.
        let words = unsafe { words_of(ptr, len)? };
        Self::join(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::ResolveRequest;
    use core::net::{IpAddr, Ipv4Addr};

    fn words(n: usize) -> std::vec::Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn map_and_ring_round_trip() {
        let params = MapParams::for_entries(100);
        let total = region_footprint(&params, 16).unwrap();
        assert_eq!(
            total,
            footprint(&params).unwrap() + ring_footprint(16).unwrap()
        );
        let w = words(total / 8);
        let made = RegionView::format_words(&w, &params, 16).unwrap();
        let ro = RegionView::join_words(&w, Access::ReadOnly).unwrap();
        assert!(ro.writer().is_none() && ro.ring().is_none());
        assert_eq!(ro.ring_stats().map(|s| s.cells), Some(16));
        assert_eq!(ro.map_bytes(), made.map_bytes());
        assert_eq!(ro.ring_bytes(), ring_footprint(16).unwrap());
        let rw = RegionView::join_words(&w, Access::ReadWrite).unwrap();
        let q = ResolveRequest {
            ifindex: 3,
            addr: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        };
        rw.ring().unwrap().post(&q).unwrap();
        let mut got = None;
        made.ring().unwrap().drain(4, |r| got = Some(r));
        assert_eq!(got, Some(q));
        assert_eq!(rw.reader().capacity(), params.capacity);
    }

    #[test]
    fn bare_map_in_a_longer_buffer_and_bad_ring() {
        let params = MapParams::for_entries(10);
        let map = footprint(&params).unwrap();
        let w = words(map / 8 + 64);
        let v = RegionView::format_words(&w, &params, 0).unwrap();
        assert!(v.ring().is_none() && v.ring_stats().is_none());
        let j = RegionView::join_words(&w, Access::ReadWrite).unwrap();
        assert!(j.ring().is_none() && j.writer().is_some());
        // A ring magic after the map with a header that does not fit: refused.
        w[map / 8].store(RING_MAGIC, core::sync::atomic::Ordering::Relaxed);
        assert!(matches!(
            RegionView::join_words(&w, Access::ReadOnly),
            Err(RegionError::Ring(_))
        ));
        // Too small for the ring asked for.
        let short = words(map / 8 + 4);
        assert!(matches!(
            RegionView::format_words(&short, &params, 16),
            Err(RegionError::Map(MapError::RegionTooSmall { .. }))
        ));
    }
}
