//! [`Mirror`]: keeps a map equal to the kernel's neighbor tables.
//!
//! # Algorithm (DESIGN.md, "Mirror")
//!
//! 1. Subscribe the event socket to `RTNLGRP_NEIGH` and `RTNLGRP_LINK` *before* dumping,
//!    so no change falls between the dump and the first event.
//! 2. Resync: bump the generation, dump the neighbor tables on a second socket (the
//!    event socket keeps its subscription and queues events meanwhile), upsert every
//!    entry with the new generation, then `sweep` the entries the dump did not refresh
//!    (skipped when the dump refreshed as many entries as the map holds: then there are
//!    none). Entries present before and after never leave the map (upserts overwrite in
//!    place). Receiving and applying the dump overlap on two threads.
//! 3. Apply events in order: the queued ones first (replay), then live ones. Replaying
//!    events older than the dump is harmless: every later change of the same entry is
//!    queued after them, so the map converges to the kernel's state.
//! 4. On `ENOBUFS` (the kernel dropped events) or an unreadable datagram: discard what is
//!    still queued (it is older than the lost events, so replaying it after the new dump
//!    could resurrect stale states), then resync as in 2, keeping the subscription.
//!
//! A deleted link drops its interface's entries (the kernel also sends RTM_DELNEIGH for
//! them on recent kernels; both are idempotent). A map that is full refuses the insert:
//! the mirror counts it ([`StatWord::Full`]), logs once per burst, and goes on.

use std::collections::HashSet;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use neigh_core::map::{Applied, MapParams, MapReader, NeighMap};
use neigh_core::ring::RequestRing;
use neigh_core::wire::consts::{RTM_DELLINK, RTM_NEWLINK};
use neigh_core::wire::{
    ingest, neigh_dump, neigh_get, request::REQUEST_BUF_LEN, DumpFilter, LinkMessage, Message,
    MessageIter, NeighMessage, Parsed,
};
use neigh_core::{Ingest, NeighEntry};

use super::config::MirrorConfig;
use super::resolver::{Outcome, Resolver, STUCK_CLAIM};
use super::stats::{monotonic_ms, unix_ms, MirrorState, MirrorStats, StatWord};
use crate::netlink::{RouteSocket, SocketOptions};
use crate::region::{Region, RegionError};
use crate::workspace::ShmOptions;

/// `RTNLGRP_LINK` (linux/rtnetlink.h).
const RTNLGRP_LINK: u32 = 1;
/// `RTNLGRP_NEIGH` (linux/rtnetlink.h).
const RTNLGRP_NEIGH: u32 = 3;
/// Datagrams read per [`Mirror::poll_once`] before the ring and heartbeat get a turn.
const MAX_DATAGRAMS_PER_POLL: usize = 1024;
/// Bytes of dump messages handed to the applying thread at a time.
const DUMP_BATCH_BYTES: usize = 256 << 10;
/// How many entries ahead of the one it writes the dump applier prefetches
/// ([`mark_batch`]).
const PREFETCH_AHEAD: usize = 8;
/// Receive buffer of the dump socket (the kernel doubles it to 128 KiB and goes on
/// with a dump while at most half of that is queued: about two 32 KiB datagrams).
///
/// Small on purpose. The kernel builds the next dump datagram inside each `recvmsg` on
/// the socket while there is room, and a checked receive makes two calls per datagram
/// (`MSG_PEEK | MSG_TRUNC` to size it, then the read). With a big buffer the kernel
/// thus builds two datagrams per datagram read: it front-loads its work, half the dump
/// piles up in the queue, and that half then arrives faster than the applying thread
/// can apply it, which leaves the thread behind at the end (a 100k-entry resync took
/// 1.49x a bare dump with the 8 MiB default, 1.16x with this buffer; the bare dump costs
/// the same with either). With two datagrams of room the kernel builds one per datagram
/// read, at the pace of the reads. A dump cannot overrun (the kernel builds the next
/// datagram only when there is room), and the dump socket carries one request at a
/// time (resyncs, resolution requests, read-backs), so nothing is lost; the event
/// socket keeps its big buffer.
pub const DUMP_RCVBUF: usize = 64 << 10;
/// Requests drained from the ring per [`Mirror::poll_once`].
const MAX_REQUESTS_PER_POLL: usize = 256;

/// Why a mirror could not start or had to stop.
#[derive(Debug)]
pub enum MirrorError {
    /// Creating or formatting the shared region failed.
    Region(RegionError),
    /// A `dev` named in the configuration does not exist.
    NoSuchDevice(String),
    /// A socket operation failed (what, and the error).
    Io(&'static str, io::Error),
}

impl fmt::Display for MirrorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(e) => e.fmt(f),
            Self::NoSuchDevice(d) => write!(f, "Cannot find device \"{d}\""),
            Self::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for MirrorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Region(e) => Some(e),
            Self::Io(_, e) => Some(e),
            Self::NoSuchDevice(_) => None,
        }
    }
}

impl From<RegionError> for MirrorError {
    fn from(e: RegionError) -> Self {
        Self::Region(e)
    }
}

/// What one [`Mirror::poll_once`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Event messages handled (neighbor and link).
    pub events: usize,
    /// Resyncs done (0 or more: a resync may be followed by another overrun).
    pub resyncs: usize,
    /// Resolution requests drained from the ring.
    pub requests: usize,
}

/// Interfaces the mirror is limited to (`dev IF ...`): names, and their current indexes.
#[derive(Debug)]
struct Watched {
    names: Vec<String>,
    ifindexes: HashSet<u32>,
}

/// Per-batch counters, flushed into the header's statistics words in one go.
#[derive(Debug, Default)]
struct Tally {
    applied: u64,
    ignored: u64,
    full: u64,
    links: u64,
    entries: u64,
    /// Resync only: entries the dump moved to the new generation
    /// ([`neigh_core::map::Marked::newly_marked`]).
    marked: u64,
    /// Resync only: entries the dump removed (an `RTM_NEWNEIGH` dump removes none).
    removed: u64,
}

/// "Map full" is logged once per burst: a burst ends at the first poll without refusals.
#[derive(Debug, Default)]
struct FullBurst {
    active: bool,
    refused: u64,
}

/// The mirror: owns the shared region, the two netlink sockets and the resolver.
///
/// Single-threaded: [`run`](Self::run) (or a caller's loop of
/// [`poll_once`](Self::poll_once)) drives everything. Readers use the region from any
/// thread ([`reader`](Self::reader)) or process (`Region::open`).
pub struct Mirror {
    region: Region,
    engine: Engine,
}

/// Everything of the mirror but its region: each step borrows the map (and ring) views
/// from the region for its own duration, so no view outlives the mapping.
struct Engine {
    cfg: MirrorConfig,
    events: RouteSocket,
    dumps: RouteSocket,
    generation: u8,
    watched: Option<Watched>,
    resolver: Resolver,
    need_resync: bool,
    full: FullBurst,
    last_beat: Instant,
    blocked: Option<(u64, Instant)>,
    last_resync: Instant,
}

impl fmt::Debug for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror")
            .field("map_name", &self.engine.cfg.map_name)
            .field("generation", &self.engine.generation)
            .field("region", &self.region)
            .finish()
    }
}

/// The map (for writing) and the ring of the mirror's own region, for one step.
/// Errors: the region's header was overwritten (corruption), as `InvalidData`.
fn views(region: &Region) -> io::Result<(NeighMap<'_>, Option<RequestRing<'_>>)> {
    let view = region
        .view()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let map = view
        .writer()
        .ok_or_else(|| io::Error::other("the mirror's region is mapped read-only"))?;
    Ok((map, view.ring()))
}

fn ifindex_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The pid of a live mirror keeping the named map: the region is formatted, not marked
/// stopped, its heartbeat is fresh and its owner process exists. A crashed mirror's map
/// (dead pid, or stale heartbeat) may be replaced.
fn live_owner(name: &str) -> Option<u64> {
    let region = Region::open(name, crate::workspace::Access::ReadOnly).ok()?;
    let stats = MirrorStats::read(&region.reader().ok()?);
    let pid = stats.map.owner;
    if stats.state == MirrorState::Stopped || stats.stale || pid == 0 {
        return None;
    }
    if pid == u64::from(std::process::id()) {
        // Our own earlier mirror (e.g. a test or an FFI user re-creating it): allowed.
        return None;
    }
    let pid_t = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid_t, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(pid)
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: `b` is writable for 8 bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        // No entropy syscall: the time is a poor but non-constant seed.
        unix_ms() ^ u64::from(std::process::id()).rotate_left(32)
    }
}

impl Mirror {
    /// Creates (re-creating if it exists) and formats the region, opens the event socket
    /// (nonblocking, `cfg.rcvbuf` forced with `SO_RCVBUFFORCE` when permitted, subscribed
    /// to neighbor and link events) and the dump socket, then does the first full sync.
    /// Sockets belong to the calling thread's network namespace.
    ///
    /// Errors: [`MirrorError::Region`] (bad name, someone else's region, no memory),
    /// [`MirrorError::NoSuchDevice`], [`MirrorError::Io`] (socket, membership, first dump;
    /// `ResourceBusy` when a live mirror in another process keeps the named map).
    /// Cost: O(map size) to format plus one dump.
    pub fn new(cfg: MirrorConfig) -> Result<Self, MirrorError> {
        let watched = if cfg.devs.is_empty() {
            None
        } else {
            let mut ifindexes = HashSet::new();
            for d in &cfg.devs {
                ifindexes
                    .insert(ifindex_of(d).ok_or_else(|| MirrorError::NoSuchDevice(d.clone()))?);
            }
            Some(Watched {
                names: cfg.devs.clone(),
                ifindexes,
            })
        };
        if let Some(name) = &cfg.map_name {
            if let Some(pid) = live_owner(name) {
                return Err(MirrorError::Io(
                    "map in use",
                    io::Error::new(
                        io::ErrorKind::ResourceBusy,
                        format!(
                            "map {name} is kept by a running mirror (pid {pid}); stop it first"
                        ),
                    ),
                ));
            }
        }
        let params = MapParams {
            seed: random_seed(),
            ..MapParams::for_entries(cfg.capacity)
        };
        let shm = ShmOptions {
            hugetlb: cfg.hugetlb.clone(),
        };
        let region = Region::create(
            cfg.map_name.as_deref(),
            &params,
            cfg.resolve.ring_cells,
            &shm,
        )?;
        let (map, _) = views(&region).map_err(|e| MirrorError::Io("join the new region", e))?;
        map.set_owner(u64::from(std::process::id()));
        map.stat_store(StatWord::StartedMs.index(), unix_ms());
        map.stat_store(
            StatWord::HeartbeatPeriodMs.index(),
            cfg.heartbeat.as_millis() as u64,
        );
        map.stat_store(StatWord::State.index(), MirrorState::Starting.as_u64());
        map.heartbeat(monotonic_ms());

        let events = RouteSocket::open(&SocketOptions {
            rcvbuf: cfg.rcvbuf,
            nonblocking: true,
            strict: true,
        })
        .map_err(|e| MirrorError::Io("open event socket", e))?;
        events
            .add_membership(RTNLGRP_NEIGH)
            .map_err(|e| MirrorError::Io("join RTNLGRP_NEIGH", e))?;
        events
            .add_membership(RTNLGRP_LINK)
            .map_err(|e| MirrorError::Io("join RTNLGRP_LINK", e))?;
        let dumps = RouteSocket::open(&SocketOptions {
            rcvbuf: DUMP_RCVBUF,
            ..SocketOptions::default()
        })
        .map_err(|e| MirrorError::Io("open dump socket", e))?;
        let now = Instant::now();
        let mut engine = Engine {
            resolver: Resolver::new(cfg.resolve, now),
            cfg,
            events,
            dumps,
            generation: 0,
            watched,
            need_resync: true,
            full: FullBurst::default(),
            last_beat: now,
            blocked: None,
            last_resync: now,
        };
        engine
            .resync(&map)
            .map_err(|e| MirrorError::Io("initial dump", e))?;
        Ok(Mirror { region, engine })
    }

    /// A lock-free reader of the mirrored map, for threads of this process.
    /// Errors: the region's header was overwritten (corruption). O(1).
    pub fn reader(&self) -> Result<MapReader<'_>, RegionError> {
        self.region.reader()
    }

    /// The region (map + ring) the mirror writes.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The header's statistics, decoded. Errors: as [`reader`](Self::reader). O(1).
    pub fn stats(&self) -> Result<MirrorStats, RegionError> {
        Ok(MirrorStats::read(&self.region.reader()?))
    }

    /// Asks for a full resync at the next [`poll_once`](Self::poll_once) (e.g. on SIGHUP).
    pub fn request_resync(&mut self) {
        self.engine.need_resync = true;
    }

    /// Runs until `stop` is set (see [`super::signal::install_stop_handlers`]), then
    /// marks the map [`MirrorState::Stopped`] and returns. Each iteration is one
    /// [`poll_once`](Self::poll_once) with the configured tick, so `stop` is seen within
    /// one tick. Errors: those of `poll_once` (the map stays as it was).
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let tick = self.engine.cfg.tick;
        let result = loop {
            if stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            if let Err(e) = self.poll_once(tick) {
                break Err(e);
            }
        };
        self.stop();
        result
    }

    /// Marks the map stopped (readers then know it is frozen, not crashed). Idempotent.
    pub fn stop(&mut self) {
        if let Ok((map, _)) = views(&self.region) {
            map.stat_store(StatWord::State.index(), MirrorState::Stopped.as_u64());
            map.heartbeat(monotonic_ms());
        }
        info!("mirror stopped");
    }

    /// One step: a pending resync if any; waits up to `timeout` for events and applies
    /// every queued event (up to 1024 datagrams), resyncing on `ENOBUFS`; drains the
    /// request ring (up to 256 requests); stores the heartbeat when due.
    ///
    /// Errors: socket failures other than overruns (those are handled by resyncing); a
    /// failed resync dump is retried at the next call and reported here; a region whose
    /// header was overwritten (`InvalidData`).
    pub fn poll_once(&mut self, timeout: Duration) -> io::Result<PollReport> {
        let (map, ring) = views(&self.region)?;
        self.engine.poll_once(&map, ring.as_ref(), timeout)
    }
}

impl Engine {
    /// [`Mirror::poll_once`] on the region's current views.
    fn poll_once(
        &mut self,
        map: &NeighMap<'_>,
        ring: Option<&RequestRing<'_>>,
        timeout: Duration,
    ) -> io::Result<PollReport> {
        let mut report = PollReport::default();
        let mut refused_before = self.full.refused;
        if self
            .cfg
            .periodic_resync
            .is_some_and(|p| self.last_resync.elapsed() >= p)
        {
            self.need_resync = true;
        }
        if self.need_resync {
            self.resync(map)?;
            report.resyncs += 1;
        }
        let mut pfd = libc::pollfd {
            fd: self.events.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        } else if rc > 0 {
            for _ in 0..MAX_DATAGRAMS_PER_POLL {
                match self.read_events(map) {
                    Ok(Some(n)) => report.events += n,
                    Ok(None) => break,
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                        map.stat_add(StatWord::Enobufs.index(), 1);
                        debug!("event socket overrun (ENOBUFS): resyncing");
                        self.resync(map)?;
                        report.resyncs += 1;
                        refused_before = refused_before.min(self.full.refused);
                    }
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                        warn!("unreadable event datagram ({e}): resyncing");
                        self.resync(map)?;
                        report.resyncs += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        report.requests = self.serve_requests(map, ring);
        if self.full.active && self.full.refused == refused_before {
            info!(
                "map full burst over: {} insert(s) refused (capacity {})",
                self.full.refused,
                map.reader().capacity()
            );
            self.full = FullBurst::default();
        }
        let now = Instant::now();
        if now.duration_since(self.last_beat) >= self.cfg.heartbeat {
            self.beat(map, now);
        }
        Ok(report)
    }

    fn beat(&mut self, map: &NeighMap<'_>, now: Instant) {
        self.last_beat = now;
        map.heartbeat(monotonic_ms());
        let spoofed = self.events.drops().foreign + self.dumps.drops().foreign;
        map.stat_store(StatWord::Spoofed.index(), spoofed);
    }

    /// Reads one datagram of events and applies it. `Ok(None)`: nothing queued.
    fn read_events(&mut self, map: &NeighMap<'_>) -> io::Result<Option<usize>> {
        let gen = self.generation;
        let families = self.cfg.families;
        let watched = &mut self.watched;
        let full = &mut self.full;
        let need_resync = &mut self.need_resync;
        let mut tally = Tally::default();
        let mut deleted_links = Vec::new();
        let r = self.events.recv_events(|msg| {
            handle_event(
                msg,
                map,
                gen,
                families,
                watched,
                &mut tally,
                &mut deleted_links,
                need_resync,
            )
        });
        let n = match r {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        for ifindex in deleted_links {
            let removed = remove_interface(map, ifindex);
            debug!("link {ifindex} deleted: dropped {removed} entries");
        }
        if tally.applied > 0 {
            map.stat_store(StatWord::LastEventMs.index(), unix_ms());
        }
        flush_tally(map, &tally, full, self.cfg.map_name.as_deref());
        Ok(Some(n))
    }

    /// Discards queued events, re-dumps with a new generation, sweeps the rest (unless the
    /// dump marked every entry the map holds).
    fn resync(&mut self, map: &NeighMap<'_>) -> io::Result<()> {
        self.need_resync = true;
        map.stat_store(StatWord::State.index(), MirrorState::Resyncing.as_u64());
        // Discard what is queued: it predates the events the kernel dropped.
        let mut discarded = 0usize;
        loop {
            match self.events.recv_events(|_| {}) {
                Ok(n) => discarded += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {}
                Err(e) => return Err(e),
            }
        }
        let gen = self.generation.wrapping_add(1);
        self.generation = gen;
        map.set_generation(gen);
        let map = *map;
        let families = self.cfg.families;
        let watched = self.watched.as_ref().map(|w| w.ifindexes.clone());
        let filters: Vec<DumpFilter> = match &watched {
            None => vec![DumpFilter::default()],
            Some(set) => set
                .iter()
                .map(|&i| DumpFilter {
                    ifindex: Some(i),
                    ..Default::default()
                })
                .collect(),
        };
        let started = Instant::now();
        let dumps = &mut self.dumps;
        // Pipelined: this thread receives (the kernel produces each dump datagram inside
        // our recvmsg), a scoped helper thread parses and applies the previous batch, so
        // the two costs overlap on two cores instead of adding up.
        let tally = std::thread::scope(|scope| -> io::Result<Tally> {
            let (to_apply, batches) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
            let (give_back, spares) = std::sync::mpsc::channel::<Vec<u8>>();
            let watched_ref = watched.as_ref();
            let applier = scope.spawn(move || {
                let mut tally = Tally::default();
                // Decisions own their data: the batch goes back before they are applied.
                let mut decisions = Vec::with_capacity(DUMP_BATCH_BYTES / 64);
                for mut batch in batches {
                    decisions.clear();
                    for msg in MessageIter::new(&batch).flatten() {
                        if let Ok(Parsed::Neigh(nm)) = Parsed::parse(&msg) {
                            tally.entries += 1;
                            if filters_accept(&nm, families, watched_ref) {
                                decisions.push(ingest(&nm));
                            } else {
                                tally.ignored += 1;
                            }
                        }
                    }
                    batch.clear();
                    let _ = give_back.send(batch);
                    mark_batch(&decisions, &map, gen, &mut tally);
                }
                tally
            });
            let mut req = [0u8; REQUEST_BUF_LEN];
            let mut cur = Vec::with_capacity(DUMP_BATCH_BYTES + 4096);
            let mut sent = Ok(());
            for filter in filters {
                let seq = dumps.next_seq();
                let n = neigh_dump(&mut req, seq, families.dump_family(), filter)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                dumps.request(&req[..n], |msg| {
                    cur.extend_from_slice(msg.bytes());
                    // Keep the next message 4-byte aligned, as MessageIter expects.
                    cur.resize(cur.len().next_multiple_of(4), 0);
                    if cur.len() >= DUMP_BATCH_BYTES {
                        let next = spares
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(DUMP_BATCH_BYTES + 4096));
                        if to_apply.send(std::mem::replace(&mut cur, next)).is_err() {
                            sent = Err(io::Error::other("dump applier thread exited"));
                        }
                    }
                    Ok(())
                })?;
            }
            if !cur.is_empty() && to_apply.send(cur).is_err() {
                sent = Err(io::Error::other("dump applier thread exited"));
            }
            drop(to_apply);
            let tally = applier
                .join()
                .map_err(|_| io::Error::other("dump applier thread panicked"))?;
            sent.map(|()| tally)
        })?;
        let dumped = started.elapsed();
        // The entries the dump marked are distinct and all still present (it removed
        // none, and nothing else writes the map meanwhile: events wait in the event
        // socket, and this mirror owns the map). So when they are as many as the map
        // holds, no entry of an older generation is left and the sweep, a pass over
        // every slot (4 ms for a 100k-entry map), would remove nothing.
        let sweep_needed = tally.removed != 0 || tally.marked != map.len() as u64;
        let swept = if sweep_needed { map.sweep(gen) } else { 0 };
        let sweep_time = started.elapsed() - dumped;
        map.stat_add(StatWord::Resyncs.index(), 1);
        map.stat_store(StatWord::DumpEntries.index(), tally.entries);
        flush_tally(&map, &tally, &mut self.full, self.cfg.map_name.as_deref());
        map.stat_store(StatWord::State.index(), MirrorState::Synced.as_u64());
        self.need_resync = false;
        self.last_resync = Instant::now();
        if sweep_needed {
            info!(
                "resync (generation {gen}): {} entries dumped in {dumped:?}, {swept} stale swept \
                 in {sweep_time:?}, {discarded} queued events discarded",
                tally.entries
            );
        } else {
            info!(
                "resync (generation {gen}): {} entries dumped in {dumped:?}, all marked (no \
                 sweep), {discarded} queued events discarded",
                tally.entries
            );
        }
        self.beat(&map, Instant::now());
        Ok(())
    }

    /// Drains the request ring and serves what survives dedup and rate limits.
    fn serve_requests(&mut self, map: &NeighMap<'_>, ring: Option<&RequestRing<'_>>) -> usize {
        let Some(ring) = ring else {
            return 0;
        };
        let mut reqs = Vec::new();
        let d = ring.drain(MAX_REQUESTS_PER_POLL, |r| reqs.push(r));
        let now = Instant::now();
        match (d.blocked_at, self.blocked) {
            (Some(pos), Some((was, since))) if pos == was => {
                if now.duration_since(since) >= STUCK_CLAIM && ring.abandon(pos) {
                    warn!("request ring: skipped a claim never published (crashed producer?)");
                    self.blocked = None;
                }
            }
            (Some(pos), _) => self.blocked = Some((pos, now)),
            (None, _) => self.blocked = None,
        }
        for req in &reqs {
            let family = match req.addr {
                std::net::IpAddr::V4(_) => libc::AF_INET as u8,
                std::net::IpAddr::V6(_) => libc::AF_INET6 as u8,
            };
            let allowed = self.cfg.families.accepts(family)
                && self
                    .watched
                    .as_ref()
                    .is_none_or(|w| w.ifindexes.contains(&req.ifindex));
            let word = match self
                .resolver
                .handle(*req, now, map, &mut self.dumps, allowed)
            {
                Outcome::Served => {
                    // The kernel does not announce an entry it creates unresolved (by
                    // NTF_USE or by the UDP datagram's send): read it back so readers
                    // see INCOMPLETE (resolution pending) at once.
                    if let Err(e) = self.refresh(map, req.ifindex, req.addr) {
                        debug!("re-reading {} after a resolve request: {e}", req.addr);
                    }
                    StatWord::RequestsServed
                }
                Outcome::Deduped => StatWord::RequestsDeduped,
                Outcome::RateLimited => StatWord::RequestsRateLimited,
                Outcome::Failed => StatWord::RequestsFailed,
            };
            map.stat_add(word.index(), 1);
        }
        reqs.len()
    }
}

impl Engine {
    /// Reads one entry back from the kernel (`RTM_GETNEIGH`) and applies it; absent
    /// (`ENOENT`) removes it. One netlink round trip on the dump socket.
    fn refresh(
        &mut self,
        map: &NeighMap<'_>,
        ifindex: u32,
        addr: std::net::IpAddr,
    ) -> io::Result<()> {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let seq = self.dumps.next_seq();
        let n = neigh_get(&mut buf, seq, ifindex, addr, false)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let gen = self.generation;
        let families = self.cfg.families;
        let watched = self.watched.as_ref().map(|w| &w.ifindexes);
        let mut tally = Tally::default();
        let r = self.dumps.request(&buf[..n], |msg| {
            if let Ok(Parsed::Neigh(nm)) = Parsed::parse(msg) {
                apply_neigh(&nm, map, gen, families, watched, &mut tally);
            }
            Ok(())
        });
        match r {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                map.remove(&neigh_core::NeighKey { ifindex, addr });
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        flush_tally(map, &tally, &mut self.full, self.cfg.map_name.as_deref());
        Ok(())
    }
}

/// Applies one neighbor message (dump reply or event) if the filters accept it.
fn apply_neigh(
    nm: &NeighMessage<'_>,
    map: &NeighMap<'_>,
    gen: u8,
    families: super::Families,
    watched: Option<&HashSet<u32>>,
    tally: &mut Tally,
) {
    if !filters_accept(nm, families, watched) {
        tally.ignored += 1;
        return;
    }
    let decision = ingest(nm);
    match map.apply(&decision, gen) {
        Ok(Applied::Ignored(_)) => tally.ignored += 1,
        Ok(_) => tally.applied += 1,
        // Only an upsert can find the map full.
        Err(_full) => {
            if let Ingest::Upsert(e) = &decision {
                count_full(e, tally);
            }
        }
    }
}

/// Counts an upsert refused because the map is full. The kernel has this entry but the
/// map cannot hold it; an older copy cannot be there (an update never fails), so nothing
/// stale remains.
fn count_full(e: &NeighEntry, tally: &mut Tally) {
    tally.full += 1;
    debug!(
        "map full: {} on ifindex {} not mirrored",
        e.key.addr, e.key.ifindex
    );
}

/// Whether the `dev` and family filters accept a neighbor message.
fn filters_accept(
    nm: &NeighMessage<'_>,
    families: super::Families,
    watched: Option<&HashSet<u32>>,
) -> bool {
    families.accepts(nm.family) && watched.is_none_or(|w| w.contains(&nm.ifindex))
}

/// Applies the ingest decisions of one batch of a resync's dump in order, as
/// [`apply_neigh`] would, with upserts done by [`NeighMap::mark`]: counts in
/// `tally.marked` the entries moved to `gen`, in `tally.removed` the entries removed.
///
/// Before each decision it prefetches the home slot of the decision [`PREFETCH_AHEAD`]
/// places on. An upsert's time goes mostly to the cache miss on its slot (the kernel's
/// dump evicts the map from the caches), and the misses of consecutive upserts cannot
/// overlap by themselves: each upsert's lock acquisition (a locked read-modify-write)
/// waits for all earlier loads. Prefetches are not loads, so several misses are in flight
/// at once.
fn mark_batch(decisions: &[Ingest], map: &NeighMap<'_>, gen: u8, tally: &mut Tally) {
    let key_of = |d: &Ingest| match d {
        Ingest::Upsert(e) => Some(e.key),
        Ingest::Remove(k) => Some(*k),
        Ingest::Ignore(_) => None,
    };
    for k in decisions.iter().take(PREFETCH_AHEAD).filter_map(key_of) {
        prefetch(map.home_slot_addr(&k));
    }
    for (i, decision) in decisions.iter().enumerate() {
        if let Some(k) = decisions.get(i + PREFETCH_AHEAD).and_then(key_of) {
            prefetch(map.home_slot_addr(&k));
        }
        let Ingest::Upsert(e) = decision else {
            match map.apply(decision, gen) {
                Ok(Applied::Ignored(_)) => tally.ignored += 1,
                Ok(Applied::Removed) => {
                    tally.applied += 1;
                    tally.removed += 1;
                }
                _ => tally.applied += 1,
            }
            continue;
        };
        match map.mark(e, gen) {
            Ok(m) => {
                tally.applied += 1;
                tally.marked += u64::from(m.newly_marked(gen));
            }
            Err(_full) => count_full(e, tally),
        }
    }
}

/// Asks the CPU to bring the cache line at `addr` into its caches. A hint: it never
/// faults and reads nothing into the program. A no-op on targets other than x86-64.
#[inline]
fn prefetch(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 accepts any address (it never faults, and an invalid address is
    // simply not fetched); SSE, which it belongs to, is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

#[allow(clippy::too_many_arguments)]
fn handle_event(
    msg: &Message<'_>,
    map: &NeighMap<'_>,
    gen: u8,
    families: super::Families,
    watched: &mut Option<Watched>,
    tally: &mut Tally,
    deleted_links: &mut Vec<u32>,
    need_resync: &mut bool,
) {
    match Parsed::parse(msg) {
        Ok(Parsed::Neigh(nm)) => {
            apply_neigh(
                &nm,
                map,
                gen,
                families,
                watched.as_ref().map(|w| &w.ifindexes),
                tally,
            );
        }
        Ok(Parsed::Link(lm)) => {
            tally.links += 1;
            link_event(&lm, watched, deleted_links, need_resync);
        }
        Ok(_) => {}
        Err(e) => {
            // One bad message in an otherwise fine datagram: the change it carried is
            // lost, so the map may be behind; a resync restores it.
            warn!("malformed event message ({e}): resyncing");
            *need_resync = true;
        }
    }
}

fn link_event(
    lm: &LinkMessage<'_>,
    watched: &mut Option<Watched>,
    deleted_links: &mut Vec<u32>,
    need_resync: &mut bool,
) {
    match lm.kind {
        RTM_DELLINK => {
            deleted_links.push(lm.ifindex);
            if let Some(w) = watched {
                w.ifindexes.remove(&lm.ifindex);
            }
        }
        RTM_NEWLINK => {
            if let (Some(w), Some(name)) = (watched.as_mut(), lm.name_str()) {
                if w.names.iter().any(|n| n == name) && w.ifindexes.insert(lm.ifindex) {
                    // A watched interface (re)appeared under a new index: dump it.
                    *need_resync = true;
                }
            }
        }
        _ => {}
    }
}

/// Removes every entry of interface `ifindex`. O(capacity).
fn remove_interface(map: &NeighMap<'_>, ifindex: u32) -> usize {
    let keys: Vec<_> = map
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.key())
        .filter(|k| k.ifindex == ifindex)
        .collect();
    keys.iter().filter(|k| map.remove(k)).count()
}

fn flush_tally(map: &NeighMap<'_>, t: &Tally, full: &mut FullBurst, name: Option<&str>) {
    if t.applied > 0 {
        map.stat_add(StatWord::Applied.index(), t.applied);
    }
    if t.ignored > 0 {
        map.stat_add(StatWord::Ignored.index(), t.ignored);
    }
    if t.links > 0 {
        map.stat_add(StatWord::LinkEvents.index(), t.links);
    }
    if t.full > 0 {
        map.stat_add(StatWord::Full.index(), t.full);
        if !full.active {
            warn!(
                "map {} is full: refusing inserts (capacity {} slots); raise --capacity. \
                 Logged once per burst; counted in stats",
                name.unwrap_or("<anonymous>"),
                map.reader().capacity()
            );
            full.active = true;
        }
        full.refused += t.full;
    }
}
