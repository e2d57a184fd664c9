//! The data-plane path: [`neigh_map_lookup4`] and [`neigh_map_lookup6`], one key per call,
//! and [`neigh_map_lookup4_burst`] / [`neigh_map_lookup6_burst`], many keys per call.
//!
//! No allocation, no lock, no system call: argument checks, then the map's seqlock read
//! ([`MapReader::get`](neigh_core::map::MapReader::get)) and a 12-byte copy. A burst
//! hands its keys to
//! [`MapReader::get_burst_with`](neigh_core::map::MapReader::get_burst_with), which
//! stages them 32 at a time so that their cache misses overlap (prefetching every key's
//! lock group, then its candidate slot, before reading any).

use std::ffi::c_int;

use neigh_core::entry::NeighKey;
use neigh_core::map::Busy;

use super::entry::neigh_entry;
use super::error::{NEIGH_ABSENT, NEIGH_EBUSY, NEIGH_EFAULT, NEIGH_EINVAL, NEIGH_FOUND};
use super::guard;
use super::handle::{check_ptr, handle, neigh_map};
use super::key::{key4, key6, read_ipv6};

/// Looks up the IPv4 neighbor `ipv4_be` (network byte order, as in `struct in_addr`) on
/// interface `ifindex` and, when found, copies it to `*out`.
///
/// Returns `NEIGH_FOUND` (1; `*out` written; check `out->resolved` before using the MAC),
/// `NEIGH_ABSENT` (0; `*out` untouched), `NEIGH_EBUSY` (a writer kept moving entries in the
/// key's range for the whole retry budget, which value updates never do; `*out` untouched;
/// retry later), `NEIGH_EFAULT` (NULL `map` or `out`), `NEIGH_EINVAL` (misaligned `map` or
/// `out`).
///
/// Any number of threads may call it at once on the same handle, concurrently with a
/// writer in this or another process. Lock-free: never blocks, never allocates, never
/// makes a system call. Cost: O(probe_max) atomic loads per try, typically one lock group
/// (version and tags, 32 bytes) and one 32-byte slot; at most 256 tries.
///
/// # Safety
/// `map` is NULL or a live handle; `out` is NULL or valid for writing a `neigh_entry`.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_lookup4(
    map: *const neigh_map,
    ifindex: u32,
    ipv4_be: u32,
    out: *mut neigh_entry,
) -> c_int {
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { lookup(map, &key4(ifindex, ipv4_be), out) })
}

/// Looks up the IPv6 neighbor whose 16 address bytes (`struct in6_addr.s6_addr`) are at
/// `ipv6` on interface `ifindex`; same results, errors (`NEIGH_EFAULT` also for a NULL
/// `ipv6`), concurrency and cost as `neigh_map_lookup4`.
///
/// # Safety
/// `map` is NULL or a live handle; `ipv6` is NULL or valid for reading 16 bytes (any
/// alignment); `out` is NULL or valid for writing a `neigh_entry`.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_lookup6(
    map: *const neigh_map,
    ifindex: u32,
    ipv6: *const u8,
    out: *mut neigh_entry,
) -> c_int {
    guard(|| {
        // SAFETY: `ipv6` is NULL or valid for 16 bytes (this function's contract).
        let Some(addr) = (unsafe { read_ipv6(ipv6) }) else {
            return NEIGH_EFAULT;
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { lookup(map, &key6(ifindex, addr), out) }
    })
}

/// Looks up `n` IPv4 neighbors in one call: for each `i < n`, `rc[i]` is what
/// `neigh_map_lookup4(map, ifindex[i], ipv4_be[i], &out[i])` would return, and `out[i]` is
/// written exactly when `rc[i]` is `NEIGH_FOUND`.
///
/// Returns the number of `NEIGH_FOUND` results (0 to `n`), or, with nothing read or
/// written: `NEIGH_EFAULT` (NULL `map`, `ifindex`, `ipv4_be`, `out` or `rc`),
/// `NEIGH_EINVAL` (a misaligned pointer, or `n` above `INT_MAX`). Same concurrency as
/// `neigh_map_lookup4`. Cost: `n` lookups, without a call per key.
///
/// # Safety
/// `map` is NULL or a live handle; each array pointer is NULL or valid for `n` elements
/// (`out` and `rc` writable); `out` and `rc` do not overlap the inputs.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_lookup4_burst(
    map: *const neigh_map,
    n: usize,
    ifindex: *const u32,
    ipv4_be: *const u32,
    out: *mut neigh_entry,
    rc: *mut c_int,
) -> c_int {
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { lookup_burst(map, n, ifindex, ipv4_be, out, rc, key4) })
}

/// Looks up `n` IPv6 neighbors in one call: the addresses are `n` consecutive 16-byte
/// `struct in6_addr` values at `ipv6` (any alignment); otherwise as
/// `neigh_map_lookup4_burst`, each result being what `neigh_map_lookup6` would return.
///
/// # Safety
/// As `neigh_map_lookup4_burst`; `ipv6` is NULL or valid for reading `16 * n` bytes.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_lookup6_burst(
    map: *const neigh_map,
    n: usize,
    ifindex: *const u32,
    ipv6: *const u8,
    out: *mut neigh_entry,
    rc: *mut c_int,
) -> c_int {
    // `[u8; 16]` has alignment 1: any `ipv6` is aligned for it.
    let addrs = ipv6.cast::<[u8; 16]>();
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { lookup_burst(map, n, ifindex, addrs, out, rc, key6) })
}

/// The shared body of the bursts: argument checks (nothing read or written on failure),
/// then one `get` per key in one loop, results into `out` and `rc`; returns the number
/// found.
///
/// # Safety
/// `map` is NULL or a live handle; each array pointer is NULL or valid for `n` elements
/// (`out` and `rc` writable, not overlapping the inputs).
#[inline(always)]
unsafe fn lookup_burst<A: Copy>(
    map: *const neigh_map,
    n: usize,
    ifindex: *const u32,
    addrs: *const A,
    out: *mut neigh_entry,
    rc: *mut c_int,
    key: fn(u32, A) -> NeighKey,
) -> c_int {
    // SAFETY: `map` is NULL or a live handle (the caller's contract).
    let map = match unsafe { handle(map) } {
        Ok(m) => m,
        Err(e) => return e,
    };
    if ifindex.is_null() || addrs.is_null() || out.is_null() || rc.is_null() {
        return NEIGH_EFAULT;
    }
    let aligned = ifindex.is_aligned() && addrs.is_aligned() && out.is_aligned() && rc.is_aligned();
    if n > c_int::MAX as usize || !aligned {
        return NEIGH_EINVAL;
    }
    // SAFETY: non-NULL and aligned (checked), valid for `n` elements, `out` and `rc`
    // writable and not overlapping the inputs (the caller's contract).
    let (ifindex, addrs, out, rc) = unsafe {
        (
            std::slice::from_raw_parts(ifindex, n),
            std::slice::from_raw_parts(addrs, n),
            std::slice::from_raw_parts_mut(out, n),
            std::slice::from_raw_parts_mut(rc, n),
        )
    };
    let found = map.reader.get_burst_with(
        n,
        |i| key(ifindex[i], addrs[i]),
        |i, got| {
            rc[i] = match got {
                Ok(Some(e)) => {
                    out[i] = neigh_entry::from_map(&e);
                    NEIGH_FOUND
                }
                Ok(None) => NEIGH_ABSENT,
                Err(Busy) => NEIGH_EBUSY,
            }
        },
    );
    // At most `n`, which is at most INT_MAX (checked above).
    found as c_int
}

/// The shared body of the lookups.
///
/// # Safety
/// `map` is NULL or a live handle; `out` is NULL or valid for writing a `neigh_entry`.
#[inline(always)]
unsafe fn lookup(map: *const neigh_map, key: &NeighKey, out: *mut neigh_entry) -> c_int {
    // SAFETY: `map` is NULL or a live handle (the caller's contract).
    let map = match unsafe { handle(map) } {
        Ok(m) => m,
        Err(rc) => return rc,
    };
    if let Err(rc) = check_ptr(out) {
        return rc;
    }
    match map.reader.get(key) {
        Ok(Some(e)) => {
            // SAFETY: `out` is non-NULL and aligned (checked) and writable (contract).
            unsafe { out.write(neigh_entry::from_map(&e)) };
            NEIGH_FOUND
        }
        Ok(None) => NEIGH_ABSENT,
        Err(_busy) => NEIGH_EBUSY,
    }
}
