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
//! It joins the region found under the name and first judges whether the claim's holder
//! runs ([`pid_liveness`]). Its pid is authoritative (`kill(pid, 0)`) only when the
//! holder recorded, with its claim, that its pid namespace is this mirror's; otherwise
//! (a mirror in another container sharing /dev/shm, a region written by a build that
//! records no namespace) the pid says nothing here, and the new mirror watches the
//! holder's heartbeat ([`watch`]): for about one period if it goes on, about three past
//! its last one if it has stopped. Then it decides from the header:
//!
//! | the region | what the new mirror does |
//! | --- | --- |
//! | none, or not a map of this layout version | creates one |
//! | its holder is alive (another process) with a fresh heartbeat; or in another pid namespace, and its heartbeat goes on while watched | refuses to start |
//! | its holder is gone: released (stopped cleanly), or in this pid namespace and its pid no longer exists; same map shape and ring, in the directory asked for (`--hugetlb DIR`, else /dev/shm) | **takes it over in place**: claims it, repairs what a killed writer left ([`NeighMap::repair`]), resyncs into it (mark and sweep) |
//! | its holder is gone, another map shape, ring or directory | claims it, marks it superseded, creates a new one |
//! | its holder is alive but its heartbeat is stale (stopped with SIGSTOP, hung), or it is an earlier mirror of this very process, or no mirror ever claimed it; or in another pid namespace, and its heartbeat stayed put while watched until stale | claims it, marks it superseded, creates a new one |
//!
//! A region is taken over in place only when its writer has provably stopped for good:
//! a mirror releases its claim only after its last write, and a dead process writes
//! nothing. A live process with a stale heartbeat may resume in the middle of a move, so
//! its region is never written by anyone else: it is superseded and left to it, and once
//! it resumes, its next loop turn finds the claim taken and it exits. A holder in another
//! pid namespace whose heartbeat stopped may be dead or hung, which nothing here tells
//! apart: it is superseded, never taken over, so no lock it may still hold is released.
//! Readers of a taken-over region notice nothing but `Busy` for the keys of a move its
//! writer died in (until the repair) and the entries the kernel changed meanwhile (until
//! the resync); readers of a superseded region see [`MapStats::superseded`] and join the
//! name again.
//!
//! A dead mirror's pid reused by another process of its namespace makes its region look
//! alive with a stale heartbeat, and it is superseded rather than taken over. After a
//! crash in another pid namespace the restart waits for the heartbeat to go stale (three
//! periods, at least 3 s) and supersedes: fast takeover in place needs a shared pid
//! namespace.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{info, warn};
use neigh_core::map::{MapParams, MapStats, NeighMap, STAT_WORDS};
use neigh_core::region::RegionView;

use super::config::MirrorConfig;
use super::error::MirrorError;
use super::liveness::{self, pid_liveness, PidLiveness};
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
    /// A mirror that may be running keeps it: refuse to start, with this message.
    Refuse(String),
}

/// What the header alone says ([`Found::decide`]).
enum FromHeader {
    Decided(Decision),
    /// The holder of this claim word may be running, but its pid says nothing here
    /// ([`PidLiveness::Unknown`]): watch its heartbeat before deciding ([`watch`]).
    Watch(u64),
}

/// Gets the region for `cfg` with a map of `params` (see the module docs): the named one
/// taken over, or a new one (anonymous when `cfg.map_name` is `None`), claimed by this
/// process.
///
/// Errors: [`MirrorError::Io`] with `ResourceBusy` when a live mirror keeps the map or
/// another mirror claimed it first; [`MirrorError::Region`] when it cannot be created.
/// Cost: O(1) but for the repair of a region taken over, and for a holder whose pid says
/// nothing here, the watch of its heartbeat: at most a few heartbeat periods.
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
        let wanted_dir = shm.hugetlb.as_deref().unwrap_or(Path::new(SHM_DIR));
        let found = Found {
            view: &view,
            name,
            params,
            ring_cells,
            same_dir: same_dir(path.parent(), wanted_dir),
        };
        let (decision, stats) = found.judge();
        match decision {
            Decision::Refuse(msg) => return Err(in_use(msg)),
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
///
/// Judged by state and heartbeat only, not by pid: a writer in another pid namespace
/// counts as live while its heartbeat is fresh.
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

/// A region found under the name, and what a takeover in place would need of it.
struct Found<'v, 'a> {
    view: &'v RegionView<'a>,
    name: &'v str,
    params: &'v MapParams,
    ring_cells: usize,
    /// It is in the directory asked for.
    same_dir: bool,
}

/// Claim words that may change under [`Found::judge`] before it gives up.
const JUDGE_ROUNDS: usize = 3;

impl Found<'_, '_> {
    /// The decision of the module docs' table, with the header it was made on: a holder
    /// whose pid says nothing here is watched ([`watch`]) and refused while its heartbeat
    /// goes on (or neither goes on nor goes stale), replaced once it went stale; a claim
    /// word that changes meanwhile is judged again, up to [`JUDGE_ROUNDS`] times.
    fn judge(&self) -> (Decision, MirrorStats) {
        let reader = self.view.reader();
        let mut word = reader.claim_word();
        for _ in 0..JUDGE_ROUNDS {
            let stats = MirrorStats::read(&reader);
            let w = match self.decide(&stats) {
                FromHeader::Watch(w) => w,
                FromHeader::Decided(decision) => return (decision, stats),
            };
            word = w;
            let pid = w as u32;
            let theirs = match stats.owner_pid_ns() {
                Some(ns) if stats.map.owner == u64::from(pid) => format!(" in pid:[{}]", ns.ino),
                _ => ", pid namespace not recorded".to_owned(),
            };
            info!(
                "map {}: the pid of its mirror (pid {pid}{theirs}) says nothing in this pid \
                 namespace: judging it by its heartbeat",
                self.name
            );
            match watch(self.view, w) {
                Watched::Beating => {
                    let note = format!("{theirs}: its heartbeat goes on");
                    return (self.refuse(pid, &note), stats);
                }
                Watched::Undecided => {
                    let note = format!("{theirs}: its heartbeat neither goes on nor goes stale");
                    return (self.refuse(pid, &note), stats);
                }
                Watched::Stale => {
                    return (Decision::Replace(Some(w)), MirrorStats::read(&reader));
                }
                Watched::ClaimChanged => {}
            }
        }
        let msg = format!(
            "map {} was claimed by another mirror (pid {}) meanwhile",
            self.name, word as u32
        );
        (Decision::Refuse(msg), MirrorStats::read(&reader))
    }

    /// The table of the module docs, from the header `stats` and the claim word read
    /// after it, or [`FromHeader::Watch`] where the holder's pid says nothing here.
    fn decide(&self, stats: &MirrorStats) -> FromHeader {
        let reader = self.view.reader();
        let word = reader.claim_word();
        let holder = word as u32;
        if stats.map.superseded {
            return FromHeader::Decided(Decision::Replace(None));
        }
        if word == 0 {
            return FromHeader::Decided(Decision::Replace(Some(word)));
        }
        let liveness = if holder == 0 {
            PidLiveness::Gone
        } else {
            pid_liveness(&reader, word)
        };
        FromHeader::Decided(match liveness {
            PidLiveness::Gone => {
                let m = &stats.map;
                let same_shape = self.same_dir
                    && m.capacity == self.params.capacity as u64
                    && m.lock_count == self.params.lock_count as u64
                    && m.probe_max == self.params.probe_max as u64
                    && self.view.ring_stats().map_or(0, |r| r.cells) == self.ring_cells as u64;
                if same_shape {
                    Decision::TakeOver(word)
                } else {
                    Decision::Replace(Some(word))
                }
            }
            PidLiveness::Unknown => return FromHeader::Watch(word),
            PidLiveness::Running if holder != std::process::id() && !stats.stale => {
                self.refuse(holder, "")
            }
            PidLiveness::Running => Decision::Replace(Some(word)),
        })
    }

    fn refuse(&self, pid: u32, note: &str) -> Decision {
        Decision::Refuse(format!(
            "map {} is kept by a running mirror (pid {pid}{note}); stop it first",
            self.name
        ))
    }
}

/// What watching a holder's heartbeat showed.
#[derive(Debug, PartialEq, Eq)]
enum Watched {
    /// It changed: the holder runs.
    Beating,
    /// It stayed put for at least two heartbeat periods and is stale by
    /// [`MirrorStats::stale`]'s rule: the holder crashed, or hangs.
    Stale,
    /// The claim word changed: another mirror claimed the region, or the holder released
    /// it.
    ClaimChanged,
    /// Neither, within the longest watch (a heartbeat period out of range, or clocks that
    /// disagree): the holder may run.
    Undecided,
}

/// Heartbeat periods longer than this are watched as if they were this long.
const MAX_WATCHED_PERIOD_MS: u64 = 10_000;
/// How often [`watch`] reads the header.
const WATCH_STEP: Duration = Duration::from_millis(10);

/// Watches the heartbeat of the holder of claim word `word` in `view`'s map, whose pid
/// says nothing here, until it shows whether the holder runs: it goes on (a running
/// mirror stores one every period, see [`StatWord::HeartbeatPeriodMs`]), or it stays put
/// for two periods (a running mirror would have stored two) and is stale by this
/// process's clock, or the claim word changes. Two periods of watching protect a live
/// holder whose heartbeat looks old only because its clock is not this one (another time
/// namespace).
///
/// Cost: a header read every [`WATCH_STEP`], for at most three periods (at least 3 s,
/// the staleness rule) plus two: about one period for a running holder, about three past
/// its last heartbeat for a crashed one.
fn watch(view: &RegionView<'_>, word: u64) -> Watched {
    let reader = view.reader();
    let first = MirrorStats::read(&reader);
    let period = match first.get(StatWord::HeartbeatPeriodMs) {
        0 => 1000,
        p => p.min(MAX_WATCHED_PERIOD_MS),
    };
    let least = Duration::from_millis(2 * period);
    let most = Duration::from_millis(3 * period.max(1000) + 2 * period);
    let start = Instant::now();
    loop {
        if reader.claim_word() != word {
            return Watched::ClaimChanged;
        }
        let now = MirrorStats::read(&reader);
        if now.map.heartbeat != first.map.heartbeat {
            return Watched::Beating;
        }
        let waited = start.elapsed();
        if waited >= least && now.stale {
            return Watched::Stale;
        }
        if waited >= most {
            return Watched::Undecided;
        }
        std::thread::sleep(WATCH_STEP);
    }
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
