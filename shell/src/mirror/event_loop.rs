//! [`Mirror`]: keeps a map equal to the kernel's neighbor tables; its start and its loop.
//!
//! # Algorithm (DESIGN.md, "Mirror")
//!
//! 1. Subscribe the event socket to `RTNLGRP_NEIGH` and `RTNLGRP_LINK` *before* dumping,
//!    so no change falls between the dump and the first event.
//! 2. Resync (`resync.rs`): bump the generation, dump the neighbor tables on a second
//!    socket (the event socket keeps its subscription and queues events meanwhile),
//!    upsert every entry with the new generation, then `sweep` the entries the dump did
//!    not refresh (skipped when the dump refreshed as many entries as the map holds: then
//!    there are none). Entries present before and after never leave the map (upserts
//!    overwrite in place).
//! 3. Apply events in order (`apply.rs`): the queued ones first (replay), then live ones.
//!    Replaying events older than the dump is harmless: every later change of the same
//!    entry is queued after them, so the map converges to the kernel's state.
//! 4. On `ENOBUFS` (the kernel dropped events) or an unreadable datagram: discard what is
//!    still queued (it is older than the lost events, so replaying it after the new dump
//!    could resurrect stale states), then resync as in 2, keeping the subscription.
//!
//! A deleted link drops its interface's entries (the kernel also sends RTM_DELNEIGH for
//! them on recent kernels; both are idempotent). A map that is full refuses the insert:
//! the mirror counts it ([`StatWord::Full`]), logs once per burst, and goes on.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use neigh_core::map::{MapParams, MapReader, NeighMap};
use neigh_core::ring::RequestRing;
use neigh_core::wire::consts::{RTNLGRP_LINK, RTNLGRP_NEIGH};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use super::apply::{
    flush_counts, remove_interface, BatchCounts, EventBatch, RefusedInserts, Watched,
};
use super::config::MirrorConfig;
use super::error::MirrorError;
use super::owner;
use super::requests::ClaimWatch;
use super::resolver::Resolver;
use super::resync::DUMP_RCVBUF;
use super::stats::{monotonic_ms, unix_ms, MirrorStats, StatWord};
use crate::netlink::{RouteSocket, SocketOptions};
use crate::region::{Region, RegionError};
use crate::sys::interface_index;

/// Datagrams read per [`Mirror::poll_once`] before the ring gets a turn (forged ones
/// count too, so a flood of them cannot hold the loop).
const MAX_DATAGRAMS_PER_POLL: usize = 1024;
/// Wait before retrying a failed resync; it doubles with each consecutive failure...
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// ...up to this.
const RETRY_MAX: Duration = Duration::from_secs(30);

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

/// The mirror: owns the shared region, the two netlink sockets and the resolver.
///
/// Single-threaded: [`run`](Self::run) (or a caller's loop of
/// [`poll_once`](Self::poll_once)) drives everything. Readers use the region from any
/// thread ([`reader`](Self::reader)) or process (`Region::open`).
pub struct Mirror {
    region: Region,
    engine: Engine,
    /// The region's claim word as this mirror stored it (see `owner.rs`).
    token: u64,
    /// Set by [`stop`](Mirror::stop): the claim is released, nothing is written any more.
    stopped: bool,
}

/// Everything of the mirror but its region: each step borrows the map (and ring) views
/// from the region for its own duration, so no view outlives the mapping.
pub(super) struct Engine {
    pub cfg: MirrorConfig,
    pub events: RouteSocket,
    pub dumps: RouteSocket,
    pub generation: u8,
    pub watched: Option<Watched>,
    pub resolver: Resolver,
    pub need_resync: bool,
    pub refused: RefusedInserts,
    pub last_beat: Instant,
    /// Since when the drain has been blocked by claims not yet published, and below which
    /// position they were made by then.
    pub blocked: Option<ClaimWatch>,
    pub last_resync: Instant,
    pub failures: Failures,
}

/// What failed while the mirror ran. None of it stops the mirror: a failed resync is
/// retried with backoff, a failed receive leads to a resync.
#[derive(Debug, Default)]
pub(super) struct Failures {
    /// Resyncs that failed.
    pub resyncs: u64,
    /// Failures to wait for or receive events (other than overruns).
    pub receives: u64,
    /// Resyncs failed in a row (0 after a success): sets the backoff.
    streak: u32,
    /// No resync is tried before this.
    retry_at: Option<Instant>,
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
/// Errors: the region's header was overwritten (corruption).
fn views(region: &Region) -> Result<(NeighMap<'_>, Option<RequestRing<'_>>), MirrorError> {
    let view = region.view()?;
    let map = view.writer().ok_or_else(|| {
        MirrorError::Io(
            "write the map",
            io::Error::other("the mirror's region is mapped read-only"),
        )
    })?;
    Ok((map, view.ring()))
}

/// A random hash seed (`getrandom(2)`), or, without entropy, the time and pid: a poor
/// but non-constant seed.
fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()) {
        Ok(8) => u64::from_ne_bytes(b),
        _ => unix_ms() ^ u64::from(std::process::id()).rotate_left(32),
    }
}

/// The interfaces of `dev IF ...` with their current indexes; `None` without `dev`.
fn watch(devs: &[String]) -> Result<Option<Watched>, MirrorError> {
    if devs.is_empty() {
        return Ok(None);
    }
    let mut ifindexes = HashSet::new();
    for d in devs {
        ifindexes.insert(interface_index(d).ok_or_else(|| MirrorError::NoSuchDevice(d.clone()))?);
    }
    Ok(Some(Watched {
        names: devs.to_vec(),
        ifindexes,
    }))
}

/// The event socket (nonblocking, subscribed to neighbor and link events) and the dump
/// socket.
fn open_sockets(cfg: &MirrorConfig) -> Result<(RouteSocket, RouteSocket), MirrorError> {
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
    // Nothing but the kernel may queue datagrams on either socket: a unicast flood from
    // another process would otherwise fill the dump socket's small buffer and make the
    // next dump fail (ENOBUFS).
    for (sock, what) in [
        (&events, "connect event socket"),
        (&dumps, "connect dump socket"),
    ] {
        sock.accept_only_kernel()
            .map_err(|e| MirrorError::Io(what, e))?;
    }
    Ok((events, dumps))
}

impl Mirror {
    /// Gets the region (see `owner.rs`: takes the named region of a mirror that is gone
    /// over in place, repairing it, or creates and formats one, superseding an old one of
    /// another shape or whose mirror hangs), opens the event socket
    /// (nonblocking, `cfg.rcvbuf` forced with `SO_RCVBUFFORCE` when permitted, subscribed
    /// to neighbor and link events) and the dump socket, then does the first full sync.
    /// Sockets belong to the calling thread's network namespace.
    ///
    /// Errors: [`MirrorError::Config`] (a field out of range, see [`MirrorConfig::check`]),
    /// [`MirrorError::Region`] (bad name, someone else's region, no room, no memory),
    /// [`MirrorError::NoSuchDevice`], [`MirrorError::Io`] (socket, membership, first dump;
    /// `ResourceBusy` when a live mirror in another process keeps the named map, or another
    /// mirror starting on the name claimed it first).
    /// Cost: O(map size) to format or repair, plus one dump.
    pub fn new(cfg: MirrorConfig) -> Result<Self, MirrorError> {
        cfg.check().map_err(MirrorError::Config)?;
        let watched = watch(&cfg.devs)?;
        let params = MapParams {
            seed: random_seed(),
            ..MapParams::for_entries(cfg.capacity)
        };
        // Sockets first: once the map is claimed, nothing but the first dump may fail
        // before the mirror exists to release it.
        let (events, dumps) = open_sockets(&cfg)?;
        let owned = owner::acquire(&cfg, &params)?;
        let generation = match &owned.took_over {
            Some(t) => t.generation,
            None => {
                owner::start(&views(&owned.region)?.0, &cfg, owned.token);
                0
            }
        };
        let now = Instant::now();
        let engine = Engine {
            resolver: Resolver::new(cfg.resolve, now),
            cfg,
            events,
            dumps,
            generation,
            watched,
            need_resync: true,
            refused: RefusedInserts::default(),
            last_beat: now,
            blocked: None,
            last_resync: now,
            failures: Failures::default(),
        };
        // Built before the first dump, so that a failed start releases the claim (drop).
        let mut mirror = Mirror {
            region: owned.region,
            engine,
            token: owned.token,
            stopped: false,
        };
        let (map, _) = views(&mirror.region)?;
        mirror
            .engine
            .resync(&map)
            .map_err(|e| MirrorError::Io("initial dump", e))?;
        Ok(mirror)
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

    /// Failures met so far that the mirror survived: resyncs that failed (each retried
    /// with backoff, from 100 ms doubling up to 30 s) and failed receives of events
    /// (each followed by a resync). Both are logged at warn level as they happen, and
    /// counted in the map's header for readers ([`StatWord::ResyncFailures`],
    /// [`StatWord::ReceiveFailures`]).
    pub fn failures(&self) -> (u64, u64) {
        (self.engine.failures.resyncs, self.engine.failures.receives)
    }

    /// Runs until `stop` is set (see [`super::signal::install_stop_handlers`]), then
    /// marks the map [`MirrorState::Stopped`](super::MirrorState::Stopped) and returns.
    /// Each iteration is one [`poll_once`](Self::poll_once) with the configured tick, so
    /// `stop` is seen within one tick. Socket failures do not end it (see `poll_once`).
    /// Errors: those of `poll_once` (the map stays as it was).
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), MirrorError> {
        self.run_with(stop, |_, _| {})
    }

    /// [`run`](Self::run), calling `each_turn` after every
    /// [`poll_once`](Self::poll_once), on the thread that applies the events: what
    /// proves the loop is alive (a service manager's watchdog ping) belongs there, so
    /// that a wedged loop stops it.
    pub fn run_with(
        &mut self,
        stop: &AtomicBool,
        mut each_turn: impl FnMut(&Mirror, &PollReport),
    ) -> Result<(), MirrorError> {
        let tick = self.engine.cfg.tick;
        let result = loop {
            if stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            match self.poll_once(tick) {
                Ok(report) => each_turn(self, &report),
                Err(e) => break Err(e),
            }
        };
        self.stop();
        result
    }

    /// Marks the map stopped (readers then know it is frozen, not crashed) and releases
    /// its claim, so that the next mirror started on the name takes the region over in
    /// place. The mirror writes nothing afterwards: [`poll_once`](Self::poll_once)
    /// returns [`MirrorError::Replaced`]. Writes nothing when another mirror has taken the
    /// map. Idempotent; dropping the mirror stops it too.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Ok((map, _)) = views(&self.region) {
            owner::release(&map, self.token);
        }
        info!("mirror stopped");
    }

    /// One step: a pending resync if any (a failed one is retried at a later step, after
    /// a backoff); waits up to `timeout` for events and applies every queued event (up to
    /// 1024 datagrams, forged ones included), resyncing on `ENOBUFS`; drains the request
    /// ring (up to 256 requests); stores the heartbeat whenever it is due, also between
    /// datagrams, so it keeps its period whatever arrives.
    ///
    /// Before writing anything it checks that this mirror still owns the region (see
    /// `owner.rs`). Socket failures are not errors: they are counted
    /// ([`failures`](Self::failures)), logged, and answered with a resync. Errors:
    /// [`MirrorError::Replaced`] when another mirror took the map over or replaced it, or
    /// this mirror was stopped (nothing is written); [`MirrorError::Region`] when the
    /// region's header was overwritten.
    pub fn poll_once(&mut self, timeout: Duration) -> Result<PollReport, MirrorError> {
        if self.stopped {
            return Err(MirrorError::Replaced(
                "the mirror was stopped: it no longer writes its map".to_owned(),
            ));
        }
        let (map, ring) = views(&self.region)?;
        owner::check_owner(&map, self.token, self.engine.cfg.map_name.as_deref())?;
        Ok(self.engine.poll_once(&map, ring.as_ref(), timeout))
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Engine {
    /// [`Mirror::poll_once`] on the region's current views.
    fn poll_once(
        &mut self,
        map: &NeighMap<'_>,
        ring: Option<&RequestRing<'_>>,
        timeout: Duration,
    ) -> PollReport {
        let mut report = PollReport::default();
        let mut refused_before = self.refused.count;
        if self
            .cfg
            .periodic_resync
            .is_some_and(|p| self.last_resync.elapsed() >= p)
        {
            self.need_resync = true;
        }
        if self.need_resync {
            self.try_resync(map, &mut report);
        }
        let receives_failed = self.failures.receives;
        let readable = wait_readable(&self.events, timeout).unwrap_or_else(|e| {
            self.receive_failed(map, "poll the event socket", &e);
            false
        });
        for _ in 0..if readable { MAX_DATAGRAMS_PER_POLL } else { 0 } {
            self.beat_if_due(map);
            match self.read_events(map) {
                Ok(Some(n)) => report.events += n,
                Ok(None) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    map.stat_add(StatWord::Enobufs.index(), 1);
                    warn!("event socket overrun (ENOBUFS): events lost; resyncing");
                    self.need_resync = true;
                    self.try_resync(map, &mut report);
                    refused_before = refused_before.min(self.refused.count);
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    warn!("unreadable event datagram ({e}): resyncing");
                    self.need_resync = true;
                    self.try_resync(map, &mut report);
                }
                Err(e) => {
                    self.receive_failed(map, "receive events", &e);
                    break;
                }
            }
        }
        report.requests = self.serve_requests(map, ring);
        if self.refused.in_burst && self.refused.count == refused_before {
            info!(
                "map full burst over: {} insert(s) refused (capacity {})",
                self.refused.count,
                map.reader().capacity()
            );
            self.refused = RefusedInserts::default();
        }
        self.beat_if_due(map);
        if self.failures.receives != receives_failed {
            // A socket that fails at once (and may poll readable all the time) must not
            // turn the loop into a busy spin: the step still takes its tick.
            std::thread::sleep(timeout);
        }
        report
    }

    /// A resync, unless the last one failed less than its backoff ago. A failure is
    /// counted and logged and leaves `need_resync` set (and the map's state
    /// "resyncing"), for a retry after twice the previous wait (100 ms up to 30 s).
    fn try_resync(&mut self, map: &NeighMap<'_>, report: &mut PollReport) {
        let now = Instant::now();
        if self.failures.retry_at.is_some_and(|t| now < t) {
            return;
        }
        match self.resync(map) {
            Ok(()) => {
                report.resyncs += 1;
                if self.failures.streak > 0 {
                    info!(
                        "resync succeeded after {} failed attempt(s)",
                        self.failures.streak
                    );
                }
                self.failures.streak = 0;
                self.failures.retry_at = None;
            }
            Err(e) => {
                map.stat_add(StatWord::ResyncFailures.index(), 1);
                let f = &mut self.failures;
                f.resyncs += 1;
                f.streak = f.streak.saturating_add(1);
                let wait = RETRY_FIRST
                    .saturating_mul(1 << (f.streak - 1).min(16))
                    .min(RETRY_MAX);
                f.retry_at = Some(now + wait);
                warn!(
                    "resync failed: {e} ({} in a row, {} in all); retrying in {wait:?}",
                    f.streak, f.resyncs
                );
                self.need_resync = true;
            }
        }
    }

    /// A failure to wait for or receive events: counted, logged (at 1, 2, 4... so that a
    /// failure that repeats every tick does not flood the log), and answered with a
    /// resync, since events may have been lost.
    fn receive_failed(&mut self, map: &NeighMap<'_>, what: &str, e: &io::Error) {
        self.failures.receives += 1;
        map.stat_add(StatWord::ReceiveFailures.index(), 1);
        if self.failures.receives.is_power_of_two() {
            warn!(
                "{what}: {e} ({} receive failure(s) so far); resyncing",
                self.failures.receives
            );
        }
        self.need_resync = true;
        self.beat_if_due(map);
    }

    /// Stores the heartbeat if a period has passed since the last one. O(1).
    fn beat_if_due(&mut self, map: &NeighMap<'_>) {
        let now = Instant::now();
        if now.duration_since(self.last_beat) >= self.cfg.heartbeat {
            self.beat(map, now);
        }
    }

    /// Stores the heartbeat and the count of spoofed datagrams dropped.
    pub(super) fn beat(&mut self, map: &NeighMap<'_>, now: Instant) {
        self.last_beat = now;
        map.heartbeat(monotonic_ms());
        let spoofed = self.events.drops().foreign + self.dumps.drops().foreign;
        map.stat_store(StatWord::Spoofed.index(), spoofed);
    }

    /// Reads one datagram of events and applies it. `Ok(None)`: nothing queued.
    fn read_events(&mut self, map: &NeighMap<'_>) -> io::Result<Option<usize>> {
        let mut batch = EventBatch {
            map,
            generation: self.generation,
            families: self.cfg.families,
            watched: &mut self.watched,
            counts: BatchCounts::default(),
            deleted_links: Vec::new(),
            need_resync: false,
        };
        let n = match self.events.recv_events(|msg| batch.handle(msg)) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let EventBatch {
            counts,
            deleted_links,
            need_resync,
            ..
        } = batch;
        self.need_resync |= need_resync;
        for ifindex in deleted_links {
            let removed = remove_interface(map, ifindex);
            debug!("link {ifindex} deleted: dropped {removed} entries");
        }
        if counts.applied > 0 {
            map.stat_store(StatWord::LastEventMs.index(), unix_ms());
        }
        flush_counts(
            map,
            &counts,
            &mut self.refused,
            self.cfg.map_name.as_deref(),
        );
        Ok(Some(n))
    }
}

/// Waits up to `timeout` for `sock` to have something to read. `Ok(false)`: the time ran
/// out or a signal interrupted the wait.
fn wait_readable(sock: &RouteSocket, timeout: Duration) -> io::Result<bool> {
    let mut fds = [PollFd::new(sock, PollFlags::IN)];
    let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    });
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
