//! The mirror for C programs: [`neigh_mirror_create`] starts mirroring the kernel's
//! neighbor tables into a (named or private) region, [`neigh_mirror_poll`] steps it,
//! [`neigh_mirror_run`] drives it in the calling thread until a stop flag is set, and
//! [`neigh_mirror_destroy`] stops it. So a C program need not run the `neigh mirror` CLI.

use std::ffi::{c_char, c_int, CStr};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crate::mirror::{Mirror, MirrorConfig, MirrorError};

use super::error::{
    fail, io_code, region_error_code, Origin, NEIGH_EBUSY, NEIGH_EINVAL, NEIGH_ENODEV, NEIGH_OK,
};
use super::guard;
use super::handle::{check_ptr, join_region, neigh_map, out_slot};

/// An opaque mirror: the shared region it writes, its two netlink sockets (in the network
/// namespace of the thread that created it) and its resolver. Created by
/// `neigh_mirror_create`, destroyed by `neigh_mirror_destroy`. Not thread-safe: one
/// thread at a time may call functions on a mirror.
pub struct neigh_mirror {
    inner: Mirror,
}

/// Starts a mirror of the kernel's neighbor tables (IPv4 and IPv6, all interfaces) in the
/// calling thread's network namespace in the region `/dev/shm/MAP_NAME` (or private memory
/// when `map_name` is NULL) with a map sized for `capacity` entries (0: 65536) and a
/// 1024-cell resolution request ring: the region of a mirror of that name that is gone
/// (destroyed, or its process dead) is taken over in place when its shape is the same
/// (readers keep their handles), else created (mode 0600), marking an old one superseded,
/// subscribes to neighbor and link events, and does the first full dump. Readers in other
/// processes join it with `neigh_map_join_shm(MAP_NAME, ...)`; in this process use
/// `neigh_mirror_map`. The map then follows the kernel only while the mirror is driven by
/// `neigh_mirror_poll` or `neigh_mirror_run`.
///
/// Returns `NEIGH_OK` and the mirror in `*out`, or: `NEIGH_EFAULT` (NULL `out`),
/// `NEIGH_EBUSY` (a live mirror keeps the map), `NEIGH_EINVAL` (bad name: empty, not UTF-8, with '/' or a control character, starting
/// with '-'; the name taken by a FIFO or socket; `capacity` above 2^29), `NEIGH_EISDIR` /
/// `NEIGH_ELOOP` (the name taken by a directory / a symbolic link), `NEIGH_EACCES` (a
/// region of that name owned by another user), `NEIGH_ENOSPC` (no room for the region on
/// its filesystem: nothing is left behind), a negative errno of the failing system call
/// (socket, bind, mmap, the dump: e.g. `NEIGH_EPERM`, `NEIGH_ENOMEM`). On error `*out` is
/// NULL and `neigh_last_error()` has details.
///
/// Cost: O(map size) to format, plus one dump of the kernel's table; allocates.
///
/// # Safety
/// `map_name` is NULL or a NUL-terminated string; `out` is NULL or valid for a pointer
/// write.
#[no_mangle]
pub unsafe extern "C" fn neigh_mirror_create(
    map_name: *const c_char,
    capacity: usize,
    out: *mut *mut neigh_mirror,
) -> c_int {
    guard(|| {
        // SAFETY: `out` is NULL or valid for a pointer write (this function's contract).
        let out = match unsafe { out_slot(out) } {
            Ok(out) => out,
            Err(rc) => return rc,
        };
        let name = if map_name.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated (this function's contract).
            match unsafe { CStr::from_ptr(map_name) }.to_str() {
                Ok(n) => Some(n.to_owned()),
                Err(_) => return fail(NEIGH_EINVAL, "map name is not UTF-8"),
            }
        };
        let defaults = MirrorConfig::default();
        let cfg = MirrorConfig {
            map_name: name,
            capacity: if capacity == 0 {
                defaults.capacity
            } else {
                capacity
            },
            ..defaults
        };
        match Mirror::new(cfg) {
            Ok(m) => {
                *out = Box::into_raw(Box::new(neigh_mirror { inner: m }));
                NEIGH_OK
            }
            Err(e) => fail(mirror_error_code(&e), e),
        }
    })
}

/// One step of the mirror: waits up to `timeout_ms` milliseconds (0: do not wait) for
/// kernel events, applies all queued ones (re-dumping on an overrun), serves posted
/// resolution requests, and stores the heartbeat when due. Call it from the program's
/// own loop at least every few hundred milliseconds, or readers see a stale heartbeat.
///
/// Returns the number of events applied plus requests served plus resyncs done (>= 0), or:
/// `NEIGH_EFAULT`/`NEIGH_EINVAL` (NULL or misaligned `mirror`, negative `timeout_ms`),
/// `NEIGH_EBUSY` (the mirror no longer owns its map: another mirror took it over or
/// replaced it, or `neigh_mirror_run` stopped it; nothing was written: destroy it),
/// `NEIGH_EUCLEAN` (the region's header was overwritten). A failing socket call is not an
/// error: the mirror logs and counts it and resyncs (a failed resync is retried after a
/// backoff), so the map keeps following the kernel once the socket works again.
///
/// One thread at a time per mirror. Cost: one `poll` plus O(events + requests); no
/// allocation in the steady state.
///
/// # Safety
/// `mirror` is NULL or a live mirror not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn neigh_mirror_poll(mirror: *mut neigh_mirror, timeout_ms: c_int) -> c_int {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let m = match unsafe { mirror_mut(mirror) } {
            Ok(m) => m,
            Err(rc) => return rc,
        };
        let Ok(ms) = u64::try_from(timeout_ms) else {
            return NEIGH_EINVAL;
        };
        match m.inner.poll_once(Duration::from_millis(ms)) {
            Ok(r) => {
                let n = r
                    .events
                    .saturating_add(r.requests)
                    .saturating_add(r.resyncs);
                c_int::try_from(n).unwrap_or(c_int::MAX)
            }
            Err(e) => mirror_error_code(&e),
        }
    })
}

/// Drives the mirror in the calling thread until `*stop` becomes non-zero (checked every
/// 10 ms), then marks the map stopped (readers see a frozen map, not a crashed writer) and
/// returns `NEIGH_OK`. Set the flag from another thread with an atomic store (declare it
/// `atomic_int` and pass `(const int *)&flag`) or from a signal handler (`volatile
/// sig_atomic_t`, an `int` on Linux). A NULL `stop` runs until an error.
///
/// Returns `NEIGH_OK`, or `NEIGH_EFAULT`/`NEIGH_EINVAL` (NULL or misaligned `mirror`,
/// misaligned `stop`), `NEIGH_EBUSY` (another mirror took the map over or replaced it:
/// this one wrote nothing more), or `NEIGH_EUCLEAN` (the region's header was overwritten;
/// the map is marked stopped too). Socket failures do not end it (see
/// `neigh_mirror_poll`). Once it returns, the mirror has released the map (the next
/// mirror started on the name takes it over in place) and polling it returns
/// `NEIGH_EBUSY`.
///
/// Blocks the calling thread; one thread at a time per mirror. No allocation in the steady
/// state.
///
/// # Safety
/// `mirror` is NULL or a live mirror not used by another thread meanwhile; `stop` is NULL
/// or points to an `int` that stays valid during the call and is written only atomically.
#[no_mangle]
pub unsafe extern "C" fn neigh_mirror_run(mirror: *mut neigh_mirror, stop: *const c_int) -> c_int {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let m = match unsafe { mirror_mut(mirror) } {
            Ok(m) => m,
            Err(rc) => return rc,
        };
        let stop = if stop.is_null() {
            None
        } else if !stop.cast::<AtomicI32>().is_aligned() {
            return NEIGH_EINVAL;
        } else {
            // SAFETY: non-NULL and aligned for AtomicI32 (checked); valid for the call and
            // only written atomically by others (this function's contract); c_int is i32.
            Some(unsafe { AtomicI32::from_ptr(stop.cast_mut()) })
        };
        let tick = MirrorConfig::default().tick;
        let result = loop {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed) != 0) {
                break NEIGH_OK;
            }
            if let Err(e) = m.inner.poll_once(tick) {
                break mirror_error_code(&e);
            }
        };
        m.inner.stop();
        result
    })
}

/// A map handle on the mirror's own region, for lookups (and, with `NEIGH_READ_WRITE`,
/// resolution requests) in the mirror's process, e.g. for a private (unnamed) mirror.
/// Stores it in `*out`; release it with `neigh_map_leave` BEFORE `neigh_mirror_destroy`.
///
/// Returns `NEIGH_OK`, or `NEIGH_EFAULT`/`NEIGH_EINVAL` (NULL or misaligned pointers, bad
/// `mode`). Any thread. Cost: O(1); allocates the handle.
///
/// # Safety
/// `mirror` is NULL or a live mirror; `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn neigh_mirror_map(
    mirror: *const neigh_mirror,
    mode: c_int,
    out: *mut *mut neigh_map,
) -> c_int {
    guard(|| {
        // SAFETY: `out` is NULL or valid for a pointer write (this function's contract).
        let out = match unsafe { out_slot(out) } {
            Ok(out) => out,
            Err(rc) => return rc,
        };
        if let Err(rc) = check_ptr(mirror) {
            return rc;
        }
        // SAFETY: non-NULL, aligned (checked) and live (contract).
        let ws = unsafe { &*mirror }.inner.region().workspace();
        // SAFETY: the mirror's mapping (ws.len() bytes, read-write) outlives the handle
        // (the caller leaves it before destroying the mirror: this function's contract),
        // and it is only ever accessed through the map and ring atomics.
        unsafe { join_region(ws.as_mut_ptr(), ws.len(), mode, out) }
    })
}

/// Stops the mirror (marks the map stopped, so readers see a frozen map, not a crashed
/// writer), closes its sockets and unmaps its region. A named region stays in /dev/shm
/// for readers still joined; a private one is freed. NULL is ignored.
///
/// Contract: no other call may use `mirror` during or after this one, and every handle
/// from `neigh_mirror_map` must have been left. Cost: O(1) system calls.
///
/// # Safety
/// `mirror` is NULL or a live mirror not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn neigh_mirror_destroy(mirror: *mut neigh_mirror) {
    let _ = guard(|| {
        // SAFETY: forwarded from this function's contract.
        match unsafe { mirror_mut(mirror) } {
            Ok(m) => m.inner.stop(),
            Err(rc) => return rc,
        }
        // SAFETY: `mirror` came from Box::into_raw in `neigh_mirror_create` and is
        // destroyed once (contract).
        drop(unsafe { Box::from_raw(mirror) });
        NEIGH_OK
    });
}

/// # Safety
/// `m` is NULL, misaligned, or a live mirror used by no other thread meanwhile.
unsafe fn mirror_mut<'m>(m: *mut neigh_mirror) -> Result<&'m mut neigh_mirror, c_int> {
    check_ptr(m)?;
    // SAFETY: non-NULL, aligned (checked), live and unshared (the caller's contract).
    Ok(unsafe { &mut *m })
}

fn mirror_error_code(e: &MirrorError) -> c_int {
    match e {
        MirrorError::Region(r) => region_error_code(r, Origin::Params),
        MirrorError::NoSuchDevice(_) => NEIGH_ENODEV,
        MirrorError::Config(_) => NEIGH_EINVAL,
        MirrorError::Io(_, e) => io_code(e),
        MirrorError::Replaced(_) => NEIGH_EBUSY,
    }
}
