//! Who keeps a map, and how a starting mirror gets one: takes the region of a mirror that
//! is gone over in place, or replaces it, or refuses to touch the map of a live one.
//!
//! # The claim
//!
//! A region's claim word (map header word 20, see [`NeighMap::claim`]) holds how many
//! mirrors have owned it and the pid of the one that holds it now, 0 once that mirror has
//! stopped cleanly ([`release`]). It only changes by compare-and-swap: of two mirrors
//! starting on one name, exactly one wins, and the other refuses to start. A running
//! mirror keeps the word it stored (its token) and checks, at the start of every loop
//! turn, that the word is still its token and the region not superseded
//! ([`check_owner`]); if not, it stops with [`MirrorError::Replaced`] and writes nothing
//! more, not even its stopped state.
//!
//! # A mirror starting on a name
//!
//! It joins the region found under the name and decides from its header:
//!
//! | the region | what the new mirror does |
//! | --- | --- |
//! | none, or not a map of this layout version | creates one |
//! | its holder is alive (another process) with a fresh heartbeat | refuses to start |
//! | its holder is gone: released (stopped cleanly), or its pid no longer exists; same map shape and ring, in the directory asked for (`--hugetlb DIR`, else /dev/shm) | **takes it over in place**: claims it, repairs what a killed writer left ([`NeighMap::repair`]), resyncs into it (mark and sweep) |
//! | its holder is gone, another map shape, ring or directory | claims it, marks it superseded, creates a new one |
//! | its holder is alive but its heartbeat is stale (stopped with SIGSTOP, hung), or it is an earlier mirror of this very process, or no mirror ever claimed it | claims it, marks it superseded, creates a new one |
//!
//! A region is taken over in place only when its writer has provably stopped for good:
//! a mirror releases its claim only after its last write, and a dead process writes
//! nothing. A live process with a stale heartbeat may resume in the middle of a move, so
//! its region is never written by anyone else: it is superseded and left to it, and once
//! it resumes, its next loop turn finds the claim taken and it exits. Readers of a taken-
//! over region notice nothing but `Busy` for the keys of a move its writer died in (until
//! the repair) and the entries the kernel changed meanwhile (until the resync); readers
//! of a superseded region see [`MapStats::superseded`] and join the name again.
//!
//! Liveness is judged by pid (`kill(pid, 0)`), so mirrors sharing a name must share a pid
//! namespace; a dead mirror's pid reused by another process makes its region look alive
//! with a stale heartbeat, and it is superseded rather than taken over.

use std::io;
use std::path::{Path, PathBuf};

use log::{info, warn};
use neigh_core::map::{MapParams, MapStats, NeighMap, STAT_WORDS};
use neigh_core::region::RegionView;

use super::config::MirrorConfig;
use super::error::MirrorError;
use super::liveness::{self, process_exists};
use super::stats::{monotonic_ms, unix_ms, MirrorState, MirrorStats, StatWord};
use crate::region::Region;
use crate::workspace::{region_paths, ShmOptions, SHM_DIR};

/// A region this mirror owns, and how it got it.
pub(super) struct Owned {
    pub region: Region,
    /// The claim word this mirror stored ([`NeighMap::claim`]).
    pub token: u64,
    /// Set when an existing region was taken over in place.
    pub took_over: Option<TookOver>,
}

/// What taking a region over found.
pub(super) struct TookOver {
    /// The generation the previous owner last set: the resync goes on from it.
    pub generation: u8,
}

/// What to do with the region found under the name.
enum Decision {
    /// Take it over in place, claiming from this claim word.
    TakeOver(u64),
    /// Supersede it and create another; claim it first from this word (`None`: it is
    /// superseded already).
    Replace(Option<u64>),
    /// A live mirror (this pid) keeps it.
    Refuse(u32),
}

/// Gets the region for `cfg` with a map of `params` (see the module docs): the named one
/// taken over, or a new one (anonymous when `cfg.map_name` is `None`), claimed by this
/// process.
///
/// Errors: [`MirrorError::Io`] with `ResourceBusy` when a live mirror keeps the map or
/// another mirror claimed it first; [`MirrorError::Region`] when it cannot be created.
pub(super) fn acquire(cfg: &MirrorConfig, params: &MapParams) -> Result<Owned, MirrorError> {
    let ring_cells = cfg.resolve.ring_cells;
    let shm = ShmOptions {
        hugetlb: cfg.hugetlb.clone(),
    };
    let Some(name) = cfg.map_name.as_deref() else {
        return create(None, params, ring_cells, &shm);
    };
    if let Some((path, old)) = found(name) {
        let view = old.view_to_repair()?;
        let stats = MirrorStats::read(&view.reader());
        let wanted_dir = shm.hugetlb.as_deref().unwrap_or(Path::new(SHM_DIR));
        let same_dir = same_dir(path.parent(), wanted_dir);
        match decide(&view, &stats, params, ring_cells, same_dir) {
            Decision::Refuse(pid) => {
                return Err(in_use(format!(
                    "map {name} is kept by a running mirror (pid {pid}); stop it first"
                )))
            }
            Decision::TakeOver(seen) => {
                let map = writer(&view)?;
                let token = claim_from(&map, seen, name)?;
                let took_over = take_over(&map, &stats.map, cfg, token);
                return Ok(Owned {
                    region: old,
                    token,
                    took_over: Some(took_over),
                });
            }
            Decision::Replace(seen) => {
                let map = writer(&view)?;
                if let Some(seen) = seen {
                    claim_from(&map, seen, name)?;
                }
                map.supersede();
                warn!(
                    "map {name}: replacing the region of mirror pid {} (state {}, heartbeat \
                     {} ms old, capacity {}): marked superseded",
                    stats.map.owner,
                    stats.state.name(),
                    stats.heartbeat_age_ms,
                    stats.map.capacity
                );
                drop(old);
                // The new region may go to another directory (/dev/shm or a hugetlbfs):
                // the superseded one must not stay beside it.
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    create(Some(name), params, ring_cells, &shm)
}

/// The region of `name` readers would join ([`Region::open`]'s choice among /dev/shm and
/// the hugetlbfs mounts: a live writer first, then the latest heartbeat), joined to be
/// taken over, with its path; `None` when there is none that holds a map.
fn found(name: &str) -> Option<(PathBuf, Region)> {
    let rank = |r: &Region| {
        let s = MirrorStats::read(&r.view_to_repair().ok()?.reader());
        Some((s.state != MirrorState::Stopped && !s.stale, s.map.heartbeat))
    };
    region_paths(name)
        .ok()?
        .into_iter()
        .filter_map(|p| Some((p.clone(), Region::open_to_take_over(&p).ok()?)))
        .max_by_key(|(_, r)| rank(r))
}

/// The table of the module docs.
fn decide(
    view: &RegionView<'_>,
    stats: &MirrorStats,
    params: &MapParams,
    ring_cells: usize,
    same_dir: bool,
) -> Decision {
    let word = view.reader().claim_word();
    let holder = word as u32;
    let me = std::process::id();
    if stats.map.superseded {
        return Decision::Replace(None);
    }
    if word == 0 {
        return Decision::Replace(Some(word));
    }
    let gone = holder == 0 || (holder != me && !process_exists(u64::from(holder)));
    if gone {
        let m = &stats.map;
        let same_shape = same_dir
            && m.capacity == params.capacity as u64
            && m.lock_count == params.lock_count as u64
            && m.probe_max == params.probe_max as u64
            && view.ring_stats().map_or(0, |r| r.cells) == ring_cells as u64;
        return if same_shape {
            Decision::TakeOver(word)
        } else {
            Decision::Replace(Some(word))
        };
    }
    if holder != me && !stats.stale {
        return Decision::Refuse(holder);
    }
    Decision::Replace(Some(word))
}

/// Whether directory `found` is `wanted` (both resolved, so that a hugetlbfs mount named
/// two ways is one).
fn same_dir(found: Option<&Path>, wanted: &Path) -> bool {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    found.is_some_and(|f| real(f) == real(wanted))
}

fn writer<'a>(view: &RegionView<'a>) -> Result<NeighMap<'a>, MirrorError> {
    view.writer()
        .ok_or_else(|| MirrorError::Io("take the map over", io::Error::other("mapped read-only")))
}

fn in_use(msg: String) -> MirrorError {
    MirrorError::Io(
        "map in use",
        io::Error::new(io::ErrorKind::ResourceBusy, msg),
    )
}

/// Claims `map` from the claim word `seen`; an error when another mirror did first.
fn claim_from(map: &NeighMap<'_>, seen: u64, name: &str) -> Result<u64, MirrorError> {
    map.claim(seen, std::process::id()).map_err(|now| {
        in_use(format!(
            "map {name} was claimed by another mirror (pid {}) meanwhile",
            now as u32
        ))
    })
}

/// Creates (and formats) a region, and claims it.
fn create(
    name: Option<&str>,
    params: &MapParams,
    ring_cells: usize,
    shm: &ShmOptions,
) -> Result<Owned, MirrorError> {
    let region = Region::create(name, params, ring_cells, shm)?;
    let view = region.view()?;
    let map = writer(&view)?;
    let token = claim_from(&map, 0, name.unwrap_or("<anonymous>"))?;
    Ok(Owned {
        region,
        token,
        took_over: None,
    })
}

/// The rest of a takeover once claimed: the header says who owns the map now (with a
/// fresh heartbeat), then the repair.
fn take_over(map: &NeighMap<'_>, before: &MapStats, cfg: &MirrorConfig, token: u64) -> TookOver {
    start(map, cfg, token);
    let repaired = map.repair();
    let name = cfg.map_name.as_deref().unwrap_or_default();
    if repaired.was_clean() {
        info!(
            "map {name}: taken over in place from mirror pid {} ({} entries kept)",
            before.owner, repaired.len
        );
    } else {
        warn!(
            "map {name}: taken over in place from mirror pid {}; writers gone for good had \
             left {} writer lock(s) held and {} move(s) interrupted{}: repaired ({} \
             duplicate(s) and {} slot(s) dropped, {} entries kept)",
            before.owner,
            repaired.held_locks,
            repaired.interrupted_moves,
            if repaired.was_poisoned {
                ", the region poisoned"
            } else {
                ""
            },
            repaired.duplicates,
            repaired.dropped,
            repaired.len
        );
    }
    TookOver {
        generation: before.generation as u8,
    }
}

/// Records this process as the map's owner once it holds the claim `token`: pid, start
/// time, heartbeat period, state [`MirrorState::Starting`], a first heartbeat, the
/// mirror's statistics words zeroed (they count what this mirror does), and last its pid
/// namespace under `token` ([`liveness::record`]).
pub(super) fn start(map: &NeighMap<'_>, cfg: &MirrorConfig, token: u64) {
    map.heartbeat(monotonic_ms());
    map.set_owner(u64::from(std::process::id()));
    for i in 0..STAT_WORDS {
        map.stat_store(i, 0);
    }
    map.stat_store(StatWord::StartedMs.index(), unix_ms());
    map.stat_store(
        StatWord::HeartbeatPeriodMs.index(),
        cfg.heartbeat.as_millis() as u64,
    );
    map.stat_store(StatWord::State.index(), MirrorState::Starting.as_u64());
    liveness::record(map, token);
}

/// Checks, before a loop turn writes anything, that this mirror still owns its region:
/// the claim word is still `token` and the region is not superseded.
///
/// Errors: [`MirrorError::Replaced`] saying who took it.
pub(super) fn check_owner(
    map: &NeighMap<'_>,
    token: u64,
    name: Option<&str>,
) -> Result<(), MirrorError> {
    let r = map.reader();
    let word = r.claim_word();
    if word == token && !r.is_superseded() {
        return Ok(());
    }
    let name = name.unwrap_or("<anonymous>");
    Err(MirrorError::Replaced(if word != token {
        format!(
            "map {name} was taken over by another mirror (pid {}): this mirror no longer \
             owns it and stops",
            word as u32
        )
    } else {
        format!(
            "map {name} was replaced by another mirror's region (it is marked superseded): \
             this mirror no longer owns it and stops"
        )
    }))
}

/// Marks the map stopped with a last heartbeat (readers then know it is frozen, not
/// crashed), then releases the claim, after which the next mirror may take the region
/// over in place. Writes nothing when this mirror no longer owns it.
pub(super) fn release(map: &NeighMap<'_>, token: u64) {
    if check_owner(map, token, None).is_err() {
        return;
    }
    map.heartbeat(monotonic_ms());
    map.stat_store(StatWord::State.index(), MirrorState::Stopped.as_u64());
    map.release_claim(token);
}
