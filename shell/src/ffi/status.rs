//! [`neigh_map_status`]: what a data plane's housekeeping loop reads about the map it
//! looks up in: is the mirror keeping it, since when, and must the handle be replaced.

use std::ffi::c_int;

use crate::mirror::{MirrorState, MirrorStats, StatWord};

use super::error::NEIGH_OK;
use super::guard;
use super::handle::{check_ptr, handle, neigh_map};

/// `state` of `neigh_map_status`: the mirror formatted or took over the map and its first
/// dump is not done yet (entries may be missing or out of date).
pub const NEIGH_MIRROR_STARTING: u32 = 0;
/// `state`: in sync with the kernel, applying its events.
pub const NEIGH_MIRROR_SYNCED: u32 = 1;
/// `state`: re-dumping after a lost sync; entries stay readable meanwhile.
pub const NEIGH_MIRROR_RESYNCING: u32 = 2;
/// `state`: the mirror stopped cleanly (SIGTERM, `neigh_mirror_destroy`); the map is frozen
/// until a mirror starts on its name again, which takes it over in place.
pub const NEIGH_MIRROR_STOPPED: u32 = 3;
/// `state`: a value this library does not know (a newer writer, or a map written by
/// something else than a mirror).
pub const NEIGH_MIRROR_UNKNOWN: u32 = 255;

/// The status of a map, as `neigh_map_status` reads it from the map's header. Each field
/// is read once, on its own: exact, but not one snapshot of one instant.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct neigh_status {
    /// `NEIGH_MIRROR_STARTING`, `_SYNCED`, `_RESYNCING`, `_STOPPED` or `_UNKNOWN`.
    pub state: u32,
    /// 1 when the writer has not stopped cleanly and its heartbeat is older than three
    /// periods (at least 3 s): it was killed or hangs, and the map no longer follows the
    /// kernel. A mirror started on the name takes it over, in place.
    pub stale: u8,
    /// 1 when the region was replaced by another one (a mirror started with another
    /// capacity, or replaced a mirror that hung): no writer will update it again. Join
    /// the name again (`neigh_map_join_shm`) and move to the new handle.
    pub superseded: u8,
    /// 1 when a writer unwound in the middle of moving entries: lookups of the keys
    /// there return `NEIGH_EBUSY` until a mirror takes the map over and repairs it.
    pub poisoned: u8,
    /// Always 0.
    pub reserved: u8,
    /// The pid of the mirror that owns (or last owned) the map, as its own pid namespace
    /// numbers it (a mirror in a container has another pid seen from the host). Judge
    /// whether it runs by `stale`, not by this pid.
    pub writer_pid: u64,
    /// Milliseconds since the writer's last heartbeat (`CLOCK_MONOTONIC`, this host).
    pub heartbeat_age_ms: u64,
    /// The writer's heartbeat period in milliseconds.
    pub heartbeat_period_ms: u64,
    /// The generation of the writer's last resync (mark and sweep), modulo 256.
    pub generation: u64,
    /// How many mirrors have owned the map: it grows by one at each restart, which a
    /// reader otherwise does not notice.
    pub claims: u64,
    /// When the current writer started, in ms since the Unix epoch.
    pub started_ms: u64,
    /// Entries in the map.
    pub entries: u64,
    /// Slots of the map.
    pub capacity: u64,
    /// Inserts the map refused because it was full, since the writer started (non-zero:
    /// the map is too small for the kernel's tables; restart the mirror with a larger
    /// capacity, which supersedes this region).
    pub inserts_refused_full: u64,
    /// Full dumps the writer has done since it started (1 after its start).
    pub resyncs: u64,
}

/// Fills `*out` with the status of the map behind `map` (see `neigh_status` for each
/// field), for a data plane's housekeeping loop, not its packet path:
///
/// ```c
/// // every second or so, beside the packet threads
/// neigh_status st;
/// if (neigh_map_status(map, &st) == NEIGH_OK) {
///     if (st.superseded) {
///         // The region was replaced: join the name again, hand the new handle to the
///         // packet threads, and leave the old one once none of them uses it.
///     } else if (st.stale) {
///         // The mirror is not running: entries no longer follow the kernel. Alert;
///         // keep using the map (a restarted mirror takes it over in place).
///     }
/// }
/// ```
///
/// A mirror that restarts on the same name (after SIGKILL, a crash or a clean stop) takes
/// the same region over in place: the handle stays valid and converges to the kernel's
/// table within the new mirror's first dump; only `writer_pid`, `claims`, `started_ms`
/// and `state` tell it happened.
///
/// Returns `NEIGH_OK`, or `NEIGH_EFAULT` (NULL `map` or `out`), `NEIGH_EINVAL`
/// (misaligned `map` or `out`). Any thread, any handle (read-only too). Cost: O(1), about
/// 40 loads of the map's header and one `clock_gettime`; no allocation, no lock.
///
/// # Safety
/// `map` is NULL or a live handle; `out` is NULL or valid for writing a `neigh_status`.
#[no_mangle]
pub unsafe extern "C" fn neigh_map_status(map: *const neigh_map, out: *mut neigh_status) -> c_int {
    guard(|| {
        // SAFETY: `map` is NULL or a live handle (contract), checked by `handle`.
        let m = match unsafe { handle(map) } {
            Ok(m) => m,
            Err(rc) => return rc,
        };
        if let Err(rc) = check_ptr(out) {
            return rc;
        }
        let st = status_of(&MirrorStats::read(&m.reader));
        // SAFETY: non-NULL, aligned (checked) and writable (the caller's contract).
        unsafe { out.write(st) };
        NEIGH_OK
    })
}

/// The C view of a map's decoded header.
fn status_of(s: &MirrorStats) -> neigh_status {
    neigh_status {
        state: match s.state {
            MirrorState::Starting => NEIGH_MIRROR_STARTING,
            MirrorState::Synced => NEIGH_MIRROR_SYNCED,
            MirrorState::Resyncing => NEIGH_MIRROR_RESYNCING,
            MirrorState::Stopped => NEIGH_MIRROR_STOPPED,
            MirrorState::Unknown(_) => NEIGH_MIRROR_UNKNOWN,
        },
        stale: u8::from(s.stale),
        superseded: u8::from(s.map.superseded),
        poisoned: u8::from(s.map.poisoned),
        reserved: 0,
        writer_pid: s.map.owner,
        heartbeat_age_ms: s.heartbeat_age_ms,
        heartbeat_period_ms: s.get(StatWord::HeartbeatPeriodMs),
        generation: s.map.generation,
        claims: s.map.claims,
        started_ms: s.get(StatWord::StartedMs),
        entries: s.map.len,
        capacity: s.map.capacity,
        inserts_refused_full: s.get(StatWord::Full),
        resyncs: s.get(StatWord::Resyncs),
    }
}
