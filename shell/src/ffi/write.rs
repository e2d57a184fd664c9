//! Writes for C programs that own their map: upsert and remove, v4 and v6.
//!
//! Only through a handle from `neigh_map_format` or a `NEIGH_READ_WRITE` join; a
//! read-only handle gets `NEIGH_EROFS`. No allocation, no system call; writers serialize
//! on the map's version locks (spinning while another writer holds one).

use std::ffi::c_int;

use neigh_core::entry::NeighKey;
use neigh_core::map::{NeighMap, Upserted};

use super::entry::neigh_entry;
use super::error::{
    NEIGH_ABSENT, NEIGH_EFAULT, NEIGH_EINVAL, NEIGH_ENOSPC, NEIGH_EROFS, NEIGH_INSERTED,
    NEIGH_REMOVED, NEIGH_UPDATED,
};
use super::guard;
use super::handle::{check_ptr, handle, neigh_map};
use super::key::{key4, key6, read_ipv6};

/// Inserts or overwrites the IPv4 neighbor `ipv4_be` (network byte order) on `ifindex`
/// with `*entry` (its MAC is stored only if `entry->resolved` is non-zero; `state`,
/// `flags` and `generation` as given).
///
/// Returns `NEIGH_INSERTED` (1), `NEIGH_UPDATED` (0), or: `NEIGH_ENOSPC` (map full within
/// its probe limit; nothing changed; the map's `full` counter counts it), `NEIGH_EROFS`
/// (read-only handle), `NEIGH_EFAULT` (NULL `map`/`entry`), `NEIGH_EINVAL` (misaligned
/// pointer, or `ifindex` 0).
///
/// Any thread, concurrently with readers and other writers. Never blocks readers (they
/// retry); spins while another writer holds a lock it needs. Cost: O(probe run), no
/// allocation, no system call.
///
/// # Safety
/// `map` is NULL or a live handle; `entry` is NULL or valid for reading a `neigh_entry`.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_upsert4(
    map: *const neigh_map,
    ifindex: u32,
    ipv4_be: u32,
    entry: *const neigh_entry,
) -> c_int {
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { upsert(map, key4(ifindex, ipv4_be), entry) })
}

/// Inserts or overwrites the IPv6 neighbor whose 16 bytes are at `ipv6`; as
/// `neigh_map_upsert4` (`NEIGH_EFAULT` also for a NULL `ipv6`).
///
/// # Safety
/// As `neigh_map_upsert4`; `ipv6` NULL or valid for reading 16 bytes.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_upsert6(
    map: *const neigh_map,
    ifindex: u32,
    ipv6: *const u8,
    entry: *const neigh_entry,
) -> c_int {
    guard(|| {
        // SAFETY: `ipv6` is NULL or valid for 16 bytes (this function's contract).
        let Some(addr) = (unsafe { read_ipv6(ipv6) }) else {
            return NEIGH_EFAULT;
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { upsert(map, key6(ifindex, addr), entry) }
    })
}

/// Removes the IPv4 neighbor `ipv4_be` on `ifindex` (backward shift, no tombstone).
///
/// Returns `NEIGH_REMOVED` (1), `NEIGH_ABSENT` (0), or `NEIGH_EROFS`, `NEIGH_EFAULT`,
/// `NEIGH_EINVAL` as for `neigh_map_upsert4`. Same concurrency and cost.
///
/// # Safety
/// `map` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_remove4(
    map: *const neigh_map,
    ifindex: u32,
    ipv4_be: u32,
) -> c_int {
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { remove(map, key4(ifindex, ipv4_be)) })
}

/// Removes the IPv6 neighbor whose 16 bytes are at `ipv6`; as `neigh_map_remove4`
/// (`NEIGH_EFAULT` also for a NULL `ipv6`).
///
/// # Safety
/// `map` is NULL or a live handle; `ipv6` NULL or valid for reading 16 bytes.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_remove6(
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
        unsafe { remove(map, key6(ifindex, addr)) }
    })
}

/// The writer of a live handle, after the pointer, access and key checks.
///
/// # Safety
/// `map` is NULL or a live handle.
unsafe fn writer<'h>(map: *const neigh_map, key: &NeighKey) -> Result<&'h NeighMap<'h>, c_int> {
    // SAFETY: forwarded from this function's contract.
    let map = unsafe { handle(map)? };
    if key.ifindex == 0 {
        return Err(NEIGH_EINVAL);
    }
    map.writer.as_ref().ok_or(NEIGH_EROFS)
}

/// # Safety
/// `map` is NULL or a live handle; `entry` is NULL or valid for reading a `neigh_entry`.
unsafe fn upsert(map: *const neigh_map, key: NeighKey, entry: *const neigh_entry) -> c_int {
    // SAFETY: forwarded from this function's contract.
    let w = match unsafe { writer(map, &key) } {
        Ok(w) => w,
        Err(rc) => return rc,
    };
    if let Err(rc) = check_ptr(entry) {
        return rc;
    }
    // SAFETY: non-NULL, aligned (checked) and readable (contract); neigh_entry is plain
    // old data, every bit pattern valid.
    let e = unsafe { entry.read() };
    match w.upsert(&e.to_entry(key), e.generation) {
        Ok(Upserted::Inserted) => NEIGH_INSERTED,
        Ok(Upserted::Updated) => NEIGH_UPDATED,
        Err(_full) => NEIGH_ENOSPC,
    }
}

/// # Safety
/// `map` is NULL or a live handle.
unsafe fn remove(map: *const neigh_map, key: NeighKey) -> c_int {
    // SAFETY: forwarded from this function's contract.
    match unsafe { writer(map, &key) } {
        Ok(w) if w.remove(&key) => NEIGH_REMOVED,
        Ok(_) => NEIGH_ABSENT,
        Err(rc) => rc,
    }
}
