//! The data-plane path: [`neigh_map_lookup4`] and [`neigh_map_lookup6`].
//!
//! No allocation, no lock, no system call: argument checks, then the map's seqlock read
//! ([`MapReader::get`](neigh_core::map::MapReader::get)) and a 12-byte copy.

use std::ffi::c_int;

use neigh_core::entry::NeighKey;

use super::entry::neigh_entry;
use super::error::{NEIGH_ABSENT, NEIGH_EBUSY, NEIGH_EFAULT, NEIGH_EINVAL, NEIGH_FOUND};
use super::guard;
use super::handle::{handle, neigh_map};
use super::key::{key4, key6, read_ipv6};

/// Looks up the IPv4 neighbor `ipv4_be` (network byte order, as in `struct in_addr`) on
/// interface `ifindex` and, when found, copies it to `*out`.
///
/// Returns `NEIGH_FOUND` (1; `*out` written; check `out->resolved` before using the MAC),
/// `NEIGH_ABSENT` (0; `*out` untouched), `NEIGH_EBUSY` (a writer held the slot's lock for
/// the whole retry budget; `*out` untouched; retry later), `NEIGH_EFAULT` (NULL `map` or
/// `out`), `NEIGH_EINVAL` (misaligned `map` or `out`).
///
/// Any number of threads may call it at once on the same handle, concurrently with a
/// writer in this or another process. Lock-free: never blocks, never allocates, never
/// makes a system call. Cost: O(probe_max) atomic loads per try, typically one lock word
/// and one 32-byte slot; at most 256 tries.
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
    if out.is_null() {
        return NEIGH_EFAULT;
    }
    if !out.is_aligned() {
        return NEIGH_EINVAL;
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
