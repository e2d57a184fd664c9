//! The one place where bytes become atomics: constructors over `&mut [u8]` and over raw
//! memory shared with other processes. Not compiled under `cfg(loom)` (loom's atomics are
//! not plain words); loom models use the words constructors.

use core::sync::atomic::AtomicU64;

use super::error::MapError;
use super::params::MapParams;
use super::reader::MapReader;
use super::writer::NeighMap;
use super::REGION_ALIGN;

const _: () = assert!(REGION_ALIGN >= core::mem::align_of::<AtomicU64>());
const _: () = assert!(core::mem::size_of::<AtomicU64>() == 8);

fn check_region(ptr: *const u8, len: usize) -> Result<usize, MapError> {
    let addr = ptr as usize;
    if ptr.is_null() || addr % REGION_ALIGN != 0 {
        return Err(MapError::Misaligned {
            addr,
            align: REGION_ALIGN,
        });
    }
    Ok(len / 8)
}

/// Views `len` bytes at `ptr` as words.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes for `'a`, and every access to those bytes
/// during `'a`, by any thread or process, must be atomic (or a read-only access, if there
/// is no writer). `ptr` is checked to be non-null and [`REGION_ALIGN`]-aligned here.
unsafe fn words_of<'a>(ptr: *const u8, len: usize) -> Result<&'a [AtomicU64], MapError> {
    let n = check_region(ptr, len)?;
    // SAFETY: ptr is non-null and aligned for AtomicU64 (checked above; REGION_ALIGN >=
    // its alignment, asserted at compile time); the n * 8 <= len bytes are valid for 'a
    // and accessed only atomically (the caller's contract); AtomicU64 is 8 bytes with no
    // invalid bit patterns and interior mutability, so a shared slice of it may alias
    // memory that other threads or processes change through atomics.
    Ok(unsafe { core::slice::from_raw_parts(ptr.cast::<AtomicU64>(), n) })
}

fn words_of_mut(region: &mut [u8]) -> Result<&[AtomicU64], MapError> {
    // SAFETY: the exclusive borrow of `region` lasts as long as the returned slice, so no
    // other reference can access the bytes non-atomically meanwhile; the pointer and
    // length come from a valid slice.
    unsafe { words_of(region.as_mut_ptr(), region.len()) }
}

impl<'a> NeighMap<'a> {
    /// Formats `region` (which must start on a [`REGION_ALIGN`] boundary and hold
    /// [`footprint`](super::footprint)`(params)` bytes) as an empty map. Errors: misaligned,
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
