//! The map handle ([`neigh_map`]) and its lifecycle: size, format, join, leave.

use std::ffi::{c_char, c_int, c_void, CStr};

use neigh_core::map::{footprint, MapParams, MapReader, NeighMap, REGION_ALIGN};
use neigh_core::region::RegionView;

use super::error::{
    fail, region_error_code, Origin, NEIGH_EFAULT, NEIGH_EINVAL, NEIGH_EOVERFLOW, NEIGH_OK,
};
use super::guard;
use crate::region::Region;
use crate::workspace::Access;

/// `mode` of `neigh_map_join` / `neigh_map_join_shm`: lookups only. A named region is
/// mapped `PROT_READ`, so a stray write faults instead of corrupting the map.
pub const NEIGH_READ_ONLY: c_int = 0;
/// `mode` of `neigh_map_join` / `neigh_map_join_shm`: lookups, writes and resolution
/// requests.
pub const NEIGH_READ_WRITE: c_int = 1;

/// An opaque handle on a joined map: created by `neigh_map_format`, `neigh_map_join` or
/// `neigh_map_join_shm`, destroyed by `neigh_map_leave`. Any number of threads may look up
/// through one handle at once; see each function for writes.
pub struct neigh_map {
    // The one self-referential struct of the crate. The views are `'static` because C,
    // not Rust, bounds their life, and the handle keeps them ready so a lookup validates
    // nothing. That is sound in both cases:
    // - memory the caller passed (`neigh_map_format`, `neigh_map_join`, `neigh_mirror_map`):
    //   the caller promises it stays mapped until `neigh_map_leave`, which frees the handle;
    // - a region joined by name (`neigh_map_join_shm`): the handle owns the mapping in
    //   `_memory`, whose address does not change when the handle moves (it is an `mmap`,
    //   not part of the struct), and it is unmapped only when the handle drops, after the
    //   views (fields drop in declaration order). The views never leave the handle:
    //   functions borrow them from `&neigh_map` for the duration of one call.
    pub(crate) reader: MapReader<'static>,
    /// `None` for a read-only join.
    pub(crate) writer: Option<NeighMap<'static>>,
    /// The whole region: the map and, if it has one (the mirror's regions do), the
    /// resolution request ring after it (posted to only through a read-write handle).
    pub(crate) region: RegionView<'static>,
    /// The mapping of a region joined by name; `None` when the caller owns the memory.
    _memory: Option<Region>,
}

/// Returns the number of bytes a region needs to hold a map meant for `entries` neighbors
/// (the same shape `neigh_map_format` gives that `entries`): 68.5 to 137 bytes per entry,
/// the map is at most half full at `entries` entries. Returns 0 if that does not fit
/// in `size_t`.
///
/// Any thread may call it. Cost: O(1), no allocation.
#[no_mangle]
pub extern "C" fn neigh_map_footprint(entries: usize) -> usize {
    footprint(&MapParams::for_entries(entries)).unwrap_or(0)
}

/// Returns the alignment a region's start must have (64 bytes, one cache line). Memory
/// from `mmap` or `aligned_alloc(neigh_map_align(), ...)` qualifies.
///
/// Any thread may call it. Cost: O(1).
#[no_mangle]
pub extern "C" fn neigh_map_align() -> usize {
    REGION_ALIGN
}

/// Formats the caller's `region` of `len` bytes as an empty map for `entries` neighbors
/// (see `neigh_map_footprint`) with hash `seed`, and stores a read-write handle in `*out`.
/// Pass a random seed for a long-lived map: neighbor addresses are partly chosen by the
/// network. Everything in the region is overwritten.
///
/// Contract: `region` stays mapped and writable until `neigh_map_leave(*out)`; while the
/// map lives, every access to the region, by any thread or process, goes through this
/// library (no `memcpy`, `memset` or plain reads of the live region). Nobody else may use
/// the region while it is being formatted. Call from one thread; the handle may then be
/// shared.
///
/// Returns `NEIGH_OK`, or: `NEIGH_EFAULT` (`region` or `out` NULL), `NEIGH_EINVAL` (`region`
/// not `neigh_map_align()`-aligned), `NEIGH_ERANGE` (`len` < `neigh_map_footprint(entries)`),
/// `NEIGH_EOVERFLOW` (`entries` too large). On error `*out` is set to NULL
/// (when `out` is not NULL) and `neigh_last_error()` has details.
///
/// Cost: O(footprint) stores; allocates the handle (a few dozen bytes).
///
/// # Safety
/// As stated in the contract: `region` valid for reads and writes of `len` bytes for the
/// handle's life; `out` NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_format(
    region: *mut c_void,
    len: usize,
    entries: usize,
    seed: u64,
    out: *mut *mut neigh_map,
) -> c_int {
    guard(|| {
        // SAFETY: `out` is NULL or valid for a pointer write (this function's contract).
        let out = match unsafe { out_slot(out) } {
            Ok(out) => out,
            Err(rc) => return rc,
        };
        if region.is_null() {
            return fail(NEIGH_EFAULT, "region is NULL");
        }
        let params = MapParams {
            seed,
            ..MapParams::for_entries(entries)
        };
        if footprint(&params).is_err() {
            return fail(NEIGH_EOVERFLOW, format!("{entries} entries do not fit"));
        }
        // SAFETY: the caller keeps `region` (len bytes, read-write) mapped for the handle's
        // life and touches it only through this library (this function's contract); the
        // handle is the only place the 'static views live (see `neigh_map`).
        match unsafe { RegionView::format_raw(region.cast(), len, &params, 0) } {
            Ok(view) => publish(out, view, None),
            Err(e) => fail(region_error_code(&e.into(), Origin::Params), e),
        }
    })
}

/// Joins the map another party formatted in `region` (`len` bytes; e.g. a mapping the
/// caller made itself) and stores a handle in `*out`. `mode` is `NEIGH_READ_ONLY` (the
/// region may be mapped `PROT_READ`) or `NEIGH_READ_WRITE`. Checks the magic, layout
/// version, shape and sizes against `len`.
///
/// Contract: `region` stays mapped (and writable for `NEIGH_READ_WRITE`) until
/// `neigh_map_leave(*out)`, and every write to it, by any process, goes through this
/// library or the Rust map. Any thread may call it.
///
/// Returns `NEIGH_OK`, or: `NEIGH_EFAULT` (NULL `region`/`out`), `NEIGH_EINVAL` (misaligned
/// `region`, unknown `mode`), `NEIGH_ERANGE` (`len` too small for the header or the layout
/// it describes), `NEIGH_EBADMSG` (not a map), `NEIGH_EPROTONOSUPPORT` (other layout
/// version), `NEIGH_EUCLEAN` (corrupted header). On error `*out` is NULL
/// and `neigh_last_error()` has details.
///
/// Cost: O(1) (reads the header); allocates the handle.
///
/// # Safety
/// As stated in the contract; `out` NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_join(
    region: *mut c_void,
    len: usize,
    mode: c_int,
    out: *mut *mut neigh_map,
) -> c_int {
    guard(|| {
        // SAFETY: `out` is NULL or valid for a pointer write (this function's contract).
        let out = match unsafe { out_slot(out) } {
            Ok(out) => out,
            Err(rc) => return rc,
        };
        if region.is_null() {
            return fail(NEIGH_EFAULT, "region is NULL");
        }
        // SAFETY: the caller keeps `region` mapped with `mode`'s access for the handle's
        // life and every write to it is atomic (this function's contract).
        unsafe { join_region(region.cast(), len, mode, out) }
    })
}

/// The body of [`neigh_map_join`] once `out` and `region` are checked.
///
/// # Safety
/// `region` valid for reads (and writes, for `NEIGH_READ_WRITE`) of `len` bytes for the
/// handle's life, every write to it atomic.
pub(crate) unsafe fn join_region(
    region: *mut u8,
    len: usize,
    mode: c_int,
    out: &mut *mut neigh_map,
) -> c_int {
    let access = match access_of(mode) {
        Ok(a) => a,
        Err(rc) => return rc,
    };
    // SAFETY: forwarded from this function's contract (see `neigh_map` for the 'static).
    match unsafe { RegionView::join_raw(region, len, access) } {
        Ok(view) => publish(out, view, None),
        Err(e) => fail(region_error_code(&e.into(), Origin::Header), e),
    }
}

/// Joins the named shared-memory map `name` (`/dev/shm/NAME`, else the hugetlbfs at
/// `/dev/hugepages`), as the mirror (`neigh mirror`) publishes it, and stores a handle in
/// `*out`. `mode` is `NEIGH_READ_ONLY` (mapped `PROT_READ`: enough for a data plane) or
/// `NEIGH_READ_WRITE`. The region must be owned by this user and not writable by others.
/// The mapping is released by `neigh_map_leave`. Any thread may call it.
///
/// A mirror that restarts on the same name takes the same region over in place, so the
/// handle stays valid across restarts (after a crash, a SIGKILL or a clean stop) and
/// converges to the kernel's table within the new mirror's first dump. Only a mirror
/// started with another capacity or ring, or replacing a mirror that hangs, creates a
/// new region, and it marks the old one superseded first: check `neigh_map_status` from
/// a housekeeping loop and join again when it says `superseded`.
///
/// Returns `NEIGH_OK`, or: `NEIGH_EFAULT` (NULL `name`/`out`), `NEIGH_EINVAL` (bad `mode`;
/// a name that is empty, not UTF-8, contains '/', or is "." or ".."), `NEIGH_ENOENT` (no
/// such map), `NEIGH_EACCES` (foreign or group/world-writable region, or permission
/// denied), `NEIGH_ERANGE`, `NEIGH_EBADMSG`, `NEIGH_EPROTONOSUPPORT`, `NEIGH_EUCLEAN` (as
/// for `neigh_map_join`), another negative errno from `open`/`mmap` (`NEIGH_ENOMEM`...).
/// On error `*out` is NULL and `neigh_last_error()` has details.
///
/// Cost: open, fstat, mmap and close system calls; allocates the handle.
///
/// # Safety
/// `name` NULL or a NUL-terminated string; `out` NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_join_shm(
    name: *const c_char,
    mode: c_int,
    out: *mut *mut neigh_map,
) -> c_int {
    guard(|| {
        // SAFETY: `out` is NULL or valid for a pointer write (this function's contract).
        let out = match unsafe { out_slot(out) } {
            Ok(out) => out,
            Err(rc) => return rc,
        };
        if name.is_null() {
            return fail(NEIGH_EFAULT, "name is NULL");
        }
        // SAFETY: `name` is a non-NULL, NUL-terminated string (this function's contract).
        let name = unsafe { CStr::from_ptr(name) };
        let Ok(name) = name.to_str() else {
            return fail(NEIGH_EINVAL, "map name is not UTF-8");
        };
        let access = match access_of(mode) {
            Ok(a) => a,
            Err(rc) => return rc,
        };
        let memory = match Region::open(name, access) {
            Ok(r) => r,
            Err(e) => {
                return fail(
                    region_error_code(&e, Origin::Header),
                    format_args!("{name}: {e}"),
                )
            }
        };
        let ws = memory.workspace();
        // SAFETY: `ws` maps `ws.len()` bytes with `access` and moves into the handle with
        // `memory`, which unmaps it only after the views drop (see `neigh_map`); the mirror
        // writes the region only through the map's and ring's atomics.
        match unsafe { RegionView::join_raw(ws.as_mut_ptr(), ws.len(), access) } {
            Ok(view) => publish(out, view, Some(memory)),
            Err(e) => fail(
                region_error_code(&e.into(), Origin::Header),
                format_args!("{name}: {e}"),
            ),
        }
    })
}

/// Destroys a handle: frees it and, for a map joined by name, unmaps the region. The map
/// itself (the region's contents) is left as it is. NULL is ignored.
///
/// Contract: no other call may use `map` during or after this one (join every thread
/// that looks up through it first). Cost: O(1), one `munmap` for a named map.
///
/// # Safety
/// `map` is NULL or a handle from this library not yet left.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_leave(map: *mut neigh_map) {
    let _ = guard(|| {
        if map.is_null() || !map.is_aligned() {
            return NEIGH_EINVAL;
        }
        // SAFETY: `map` came from Box::into_raw in `publish` and is left once (contract).
        drop(unsafe { Box::from_raw(map) });
        NEIGH_OK
    });
}

/// Returns the number of entries in the map (the writer's counter; may lag a concurrent
/// write), or 0 for a NULL or misaligned handle. Any thread. Cost: O(1), one load.
///
/// # Safety
/// `map` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_len(map: *const neigh_map) -> usize {
    // SAFETY: `map` is NULL or a live handle (contract), checked by `handle`.
    match unsafe { handle(map) } {
        Ok(m) => m.reader.len(),
        Err(_) => 0,
    }
}

/// Returns the number of slots of the map, or 0 for a NULL or misaligned handle. Any
/// thread. Cost: O(1).
///
/// # Safety
/// `map` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_capacity(map: *const neigh_map) -> usize {
    // SAFETY: `map` is NULL or a live handle (contract), checked by `handle`.
    match unsafe { handle(map) } {
        Ok(m) => m.reader.capacity(),
        Err(_) => 0,
    }
}

/// The checks every entry point makes on a pointer argument before using it:
/// `NEIGH_EFAULT` when it is NULL, `NEIGH_EINVAL` when it is misaligned for `T`.
#[inline(always)]
pub(crate) fn check_ptr<T>(p: *const T) -> Result<(), c_int> {
    if p.is_null() {
        Err(NEIGH_EFAULT)
    } else if !p.is_aligned() {
        Err(NEIGH_EINVAL)
    } else {
        Ok(())
    }
}

/// Borrows a handle after checking it is non-NULL and aligned.
///
/// # Safety
/// `map` is NULL, misaligned, or points to a live handle.
#[inline(always)]
pub(crate) unsafe fn handle<'h>(map: *const neigh_map) -> Result<&'h neigh_map, c_int> {
    check_ptr(map)?;
    // SAFETY: non-NULL and aligned (checked), live (the caller's contract).
    Ok(unsafe { &*map })
}

/// Checks `out`, clears `*out`, and returns it as a reference.
///
/// # Safety
/// `out` is NULL, misaligned, or valid for a pointer write.
pub(crate) unsafe fn out_slot<'o, T>(out: *mut *mut T) -> Result<&'o mut *mut T, c_int> {
    if out.is_null() {
        return Err(fail(NEIGH_EFAULT, "out is NULL"));
    }
    if !out.is_aligned() {
        return Err(fail(NEIGH_EINVAL, "out is misaligned"));
    }
    // SAFETY: non-NULL and aligned (checked) and writable (the caller's contract).
    let out = unsafe { &mut *out };
    *out = std::ptr::null_mut();
    Ok(out)
}

fn access_of(mode: c_int) -> Result<Access, c_int> {
    match mode {
        NEIGH_READ_ONLY => Ok(Access::ReadOnly),
        NEIGH_READ_WRITE => Ok(Access::ReadWrite),
        _ => Err(fail(
            NEIGH_EINVAL,
            format_args!("mode {mode} is neither NEIGH_READ_ONLY nor NEIGH_READ_WRITE"),
        )),
    }
}

/// Boxes a handle on `region` (owning `memory`, for a region joined by name) and hands it
/// to the caller.
fn publish(out: &mut *mut neigh_map, region: RegionView<'static>, memory: Option<Region>) -> c_int {
    let handle = neigh_map {
        reader: region.reader(),
        writer: region.writer(),
        region,
        _memory: memory,
    };
    // Box::new aborts on allocation failure (a handle is a few dozen bytes); ENOMEM from
    // this API only ever comes from mapping a named region.
    *out = Box::into_raw(Box::new(handle));
    NEIGH_OK
}
