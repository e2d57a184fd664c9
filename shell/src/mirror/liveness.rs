//! Whether a map's writer still runs, judged so that it holds across pid namespaces.
//!
//! A writer's pid means something only in the pid namespace that gave it: seen from
//! another one (a mirror in a container sharing /dev/shm with the host), the number is
//! unused (`kill` fails with `ESRCH`) or belongs to an unrelated process. So a mirror
//! records its pid namespace in the map's header when it claims the map ([`record`]):
//! the device and inode of `/proc/self/ns/pid`, then the claim word it holds, which ties
//! the record to that claim. [`pid_liveness`] trusts `kill(pid, 0)` only when the record
//! belongs to the current claim and names this process's own pid namespace; otherwise
//! (another namespace, a region written by a build that records none, the record of an
//! earlier owner, no `/proc`) the pid says nothing, and only the heartbeat tells whether
//! the writer runs.

use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{fence, Ordering};
use std::sync::OnceLock;

use neigh_core::map::{MapReader, NeighMap};
use rustix::io::Errno;
use rustix::process::{test_kill_process, Pid};

use super::stats::StatWord;

/// A pid namespace, as `stat(2)` of `/proc/PID/ns/pid` identifies it (namespaces(7)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidNs {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`: the `N` of `pid:[N]`.
    pub ino: u64,
}

impl PidNs {
    /// This process's pid namespace, `None` when `/proc` cannot tell (not mounted). A
    /// process never changes its own pid namespace (`setns` and `unshare` change its
    /// children's), so it is read once.
    pub fn current() -> Option<PidNs> {
        static CURRENT: OnceLock<Option<PidNs>> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let m = std::fs::metadata("/proc/self/ns/pid").ok()?;
            (m.ino() != 0).then(|| PidNs {
                dev: m.dev(),
                ino: m.ino(),
            })
        })
    }
}

/// What a writer's pid says about it, seen from this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidLiveness {
    /// The writer is in this pid namespace and its process exists.
    Running,
    /// The writer is in this pid namespace and its process does not exist: it is gone
    /// for good and writes nothing more.
    Gone,
    /// The pid says nothing here: the writer is in another pid namespace, or no record
    /// says which (see the module docs). Only its heartbeat can tell.
    Unknown,
}

/// Records this process's pid namespace for the claim `token` ([`NeighMap::claim`]) in
/// `map`'s header: device and inode first, then `token` with Release, so that a reader
/// that finds `token` there ([`pid_liveness`]) reads this record. Records zeros (unknown)
/// when `/proc` cannot tell. Called by the owner once it holds the claim. O(1).
pub(super) fn record(map: &NeighMap<'_>, token: u64) {
    let ns = PidNs::current().unwrap_or(PidNs { dev: 0, ino: 0 });
    map.stat_store(StatWord::PidNsDevice.index(), ns.dev);
    map.stat_store(StatWord::PidNsInode.index(), ns.ino);
    fence(Ordering::Release);
    map.stat_store(StatWord::PidNsClaim.index(), token);
}

/// The pid namespace the holder of claim word `word` recorded in `reader`'s map, `None`
/// when it recorded none (or zeros) under that word. O(1): four loads.
fn recorded(reader: &MapReader<'_>, word: u64) -> Option<PidNs> {
    let tag = reader.stat(StatWord::PidNsClaim.index())?;
    // Pairs with the Release fence of `record`: a matching tag brings its record.
    fence(Ordering::Acquire);
    let ns = PidNs {
        dev: reader.stat(StatWord::PidNsDevice.index())?,
        ino: reader.stat(StatWord::PidNsInode.index())?,
    };
    (tag == word && ns.ino != 0).then_some(ns)
}

/// Judges the writer holding claim word `word` of `reader`'s map (its pid is the word's
/// low 32 bits; see [`NeighMap::claim`]) by its pid, when the pid means something here:
/// [`PidLiveness::Running`] or [`PidLiveness::Gone`] when the writer recorded, under this
/// very claim word, the pid namespace this process is in; [`PidLiveness::Unknown`]
/// otherwise, and when `word` holds no pid (released, never claimed).
///
/// The caller reads `word` with [`MapReader::claim_word`] before calling. Cost: O(1), one
/// `kill(pid, 0)` when the namespaces match (the first call also stats
/// `/proc/self/ns/pid`).
pub fn pid_liveness(reader: &MapReader<'_>, word: u64) -> PidLiveness {
    let pid = word as u32;
    if pid == 0 {
        return PidLiveness::Unknown;
    }
    match (recorded(reader, word), PidNs::current()) {
        (Some(theirs), Some(ours)) if theirs == ours => {
            if process_exists(u64::from(pid)) {
                PidLiveness::Running
            } else {
                PidLiveness::Gone
            }
        }
        _ => PidLiveness::Unknown,
    }
}

/// Whether process `pid` exists in this pid namespace (`kill(pid, 0)` succeeds, or fails
/// only for lack of permission). Says nothing of a process in another pid namespace:
/// judge a map's writer with [`pid_liveness`].
pub fn process_exists(pid: u64) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    matches!(test_kill_process(pid), Ok(()) | Err(Errno::PERM))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neigh_core::map::MapParams;

    use crate::region::Region;
    use crate::workspace::ShmOptions;

    fn with_map(f: impl FnOnce(&NeighMap<'_>)) {
        let params = MapParams::for_entries(16);
        let region = Region::create(None, &params, 0, &ShmOptions::default()).expect("anon");
        let map = region.writer().expect("writable").expect("map");
        f(&map);
    }

    #[test]
    fn a_record_of_this_namespace_makes_the_pid_authoritative() {
        let Some(_) = PidNs::current() else {
            eprintln!("SKIPPED: /proc/self/ns/pid cannot be read");
            return;
        };
        with_map(|map| {
            let me = std::process::id();
            let token = map.claim(0, me).expect("claim");
            record(map, token);
            let r = map.reader();
            assert_eq!(pid_liveness(&r, token), PidLiveness::Running);
            // A pid no process has (beyond pid_max) under the same record: gone.
            let dead = (token & !0xffff_ffff) | 0x7fff_fff0;
            map.claim(token, dead as u32).expect("claim again");
            record(map, dead);
            assert_eq!(pid_liveness(&r, dead), PidLiveness::Gone);
        });
    }

    #[test]
    fn without_a_record_of_the_current_claim_the_pid_says_nothing() {
        with_map(|map| {
            let dead = 0x7fff_fff0;
            let token = map.claim(0, dead).expect("claim");
            let r = map.reader();
            // Nothing recorded (a build that records no namespace).
            assert_eq!(pid_liveness(&r, token), PidLiveness::Unknown);
            // Recorded by an earlier claim, then claimed again without a record.
            record(map, token);
            let next = map.claim(token, dead).expect("claim again");
            assert_eq!(pid_liveness(&r, next), PidLiveness::Unknown);
            // Recorded under this claim, but for another pid namespace.
            map.stat_store(StatWord::PidNsInode.index(), 1);
            map.stat_store(StatWord::PidNsClaim.index(), next);
            assert_eq!(pid_liveness(&r, next), PidLiveness::Unknown);
            // Released: no pid at all.
            assert_eq!(pid_liveness(&r, next & !0xffff_ffff), PidLiveness::Unknown);
        });
    }
}
