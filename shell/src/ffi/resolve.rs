//! Resolution requests: a data plane that misses asks the mirror to have the kernel
//! resolve the neighbor ([`neigh_map_request_resolve4`], [`neigh_map_request_resolve6`]).
//!
//! The request goes into the lock-free ring the mirror keeps after the map in its region
//! (`neigh_core::ring`); the mirror drains it, deduplicates, rate-limits and asks the
//! kernel. Posting writes to the ring, so the handle must be joined read-write.

use std::ffi::c_int;

use neigh_core::entry::NeighKey;
use neigh_core::ring::{PostError, ResolveRequest};

use super::error::{
    NEIGH_EAGAIN, NEIGH_EFAULT, NEIGH_EINVAL, NEIGH_ENOTSUP, NEIGH_EROFS, NEIGH_OK,
};
use super::guard;
use super::handle::{handle, neigh_map};
use super::key::{key4, key6, read_ipv6};

/// Asks the mirror to resolve the IPv4 neighbor `ipv4_be` (network byte order) on
/// `ifindex`, typically after `neigh_map_lookup4` returned `NEIGH_ABSENT` or an entry with
/// `resolved == 0`. The answer arrives later as a map entry; poll with lookups (do not
/// busy-post: the mirror rate-limits per neighbor, and repeated posts only fill the ring).
///
/// Returns `NEIGH_OK` (queued), or: `NEIGH_EAGAIN` (the ring is full or the mirror gave up
/// on this claim; dropped and counted, retry later), `NEIGH_ENOTSUP` (the region has no
/// request ring: a map formatted by `neigh_map_format`, or by a mirror that takes no
/// requests), `NEIGH_EROFS` (handle joined `NEIGH_READ_ONLY`: posting writes to the
/// region), `NEIGH_EFAULT` (NULL `map`), `NEIGH_EINVAL` (misaligned `map`, `ifindex` 0).
///
/// Any number of threads and processes may post at once. Lock-free, never blocks, no
/// allocation, no system call. Cost: O(1) expected: a few atomic operations.
///
/// # Safety
/// `map` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_request_resolve4(
    map: *const neigh_map,
    ifindex: u32,
    ipv4_be: u32,
) -> c_int {
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { post(map, key4(ifindex, ipv4_be)) })
}

/// Asks the mirror to resolve the IPv6 neighbor whose 16 bytes are at `ipv6` on
/// `ifindex`; as `neigh_map_request_resolve4` (`NEIGH_EFAULT` also for a NULL `ipv6`).
///
/// # Safety
/// `map` is NULL or a live handle; `ipv6` NULL or valid for reading 16 bytes.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_request_resolve6(
    map: *const neigh_map,
    ifindex: u32,
    ipv6: *const u8,
) -> c_int {
    guard(|| {
        // SAFETY: `ipv6` is NULL or valid for 16 bytes (this function's contract).
        let Some(addr) = (unsafe { read_ipv6(ipv6) }) else {
            return NEIGH_EFAULT;
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { post(map, key6(ifindex, addr)) }
    })
}

/// # Safety
/// `map` is NULL or a live handle.
unsafe fn post(map: *const neigh_map, key: NeighKey) -> c_int {
    // SAFETY: forwarded from this function's contract.
    let map = match unsafe { handle(map) } {
        Ok(m) => m,
        Err(rc) => return rc,
    };
    if key.ifindex == 0 {
        return NEIGH_EINVAL;
    }
    if !map.region.has_ring() {
        return NEIGH_ENOTSUP;
    }
    let Some(ring) = map.region.ring() else {
        return NEIGH_EROFS;
    };
    let req = ResolveRequest {
        ifindex: key.ifindex,
        addr: key.addr,
    };
    match ring.post(&req) {
        Ok(()) => NEIGH_OK,
        Err(PostError::Full | PostError::Abandoned) => NEIGH_EAGAIN,
    }
}
