//! Who keeps a map: the mirror records its pid, start time and heartbeat in the header,
//! and refuses to replace the map of another live mirror. Readers tell a crashed mirror
//! (stale heartbeat) from a stopped one ([`MirrorState::Stopped`]) by these words.

use neigh_core::map::NeighMap;
use rustix::io::Errno;
use rustix::process::{test_kill_process, Pid};

use super::config::MirrorConfig;
use super::stats::{monotonic_ms, unix_ms, MirrorState, MirrorStats, StatWord};
use crate::region::Region;
use crate::workspace::Access;

/// The pid of a live mirror keeping the named map: the region is formatted, not marked
/// stopped, its heartbeat is fresh and its owner process exists. A crashed mirror's map
/// (dead pid, or stale heartbeat) may be replaced.
pub(super) fn live_owner(name: &str) -> Option<u64> {
    let region = Region::open(name, Access::ReadOnly).ok()?;
    let stats = MirrorStats::read(&region.reader().ok()?);
    let pid = stats.map.owner;
    if stats.state == MirrorState::Stopped || stats.stale || pid == 0 {
        return None;
    }
    if pid == u64::from(std::process::id()) {
        // Our own earlier mirror (e.g. a test or an FFI user re-creating it): allowed.
        return None;
    }
    process_exists(pid).then_some(pid)
}

/// Whether process `pid` exists (`kill(pid, 0)` succeeds, or fails only for lack of
/// permission).
fn process_exists(pid: u64) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    matches!(test_kill_process(pid), Ok(()) | Err(Errno::PERM))
}

/// Records this process as the map's owner: pid, start time, heartbeat period, state
/// [`MirrorState::Starting`] and a first heartbeat.
pub(super) fn claim(map: &NeighMap<'_>, cfg: &MirrorConfig) {
    map.set_owner(u64::from(std::process::id()));
    map.stat_store(StatWord::StartedMs.index(), unix_ms());
    map.stat_store(
        StatWord::HeartbeatPeriodMs.index(),
        cfg.heartbeat.as_millis() as u64,
    );
    map.stat_store(StatWord::State.index(), MirrorState::Starting.as_u64());
    map.heartbeat(monotonic_ms());
}

/// Marks the map stopped, with a last heartbeat: readers then know it is frozen, not
/// crashed.
pub(super) fn release(map: &NeighMap<'_>) {
    map.stat_store(StatWord::State.index(), MirrorState::Stopped.as_u64());
    map.heartbeat(monotonic_ms());
}
