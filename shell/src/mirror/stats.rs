//! The mirror's statistics: what each of the map header's general-purpose statistics
//! words means, the clocks they are stamped with, and a decoded snapshot for readers.

use neigh_core::map::{MapReader, MapStats, STAT_WORDS};
use rustix::time::{clock_gettime, ClockId};

use super::liveness::PidNs;

/// Index of one statistics word of the map header (`0..STAT_WORDS`), as the mirror uses
/// them. Readers (the CLI, the C FFI, a data plane) decode them with [`MirrorStats::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum StatWord {
    /// Neighbor messages (events and dump replies) applied to the map (not ignored).
    Applied = 0,
    /// Neighbor messages ignored (other family, proxy, filtered out by dev/family, ...).
    Ignored = 1,
    /// Link events seen (RTM_NEWLINK/RTM_DELLINK).
    LinkEvents = 2,
    /// Full resyncs done (the first sync counts as one).
    Resyncs = 3,
    /// Event-socket overruns (`ENOBUFS`): each one causes a resync.
    Enobufs = 4,
    /// Inserts the map refused because it was full (the mirror keeps running).
    Full = 5,
    /// Datagrams dropped because their sender was not the kernel (spoofing attempts).
    Spoofed = 6,
    /// Entries the last dump delivered.
    DumpEntries = 7,
    /// Resolution requests handed to the kernel.
    RequestsServed = 8,
    /// Resolution requests dropped as duplicates or within the per-address hold-down.
    RequestsDeduped = 9,
    /// Resolution requests dropped by the global rate limit.
    RequestsRateLimited = 10,
    /// Resolution requests that were invalid or that the kernel refused.
    RequestsFailed = 11,
    /// Wall-clock time (ms since the Unix epoch) of the last neighbor event applied.
    LastEventMs = 12,
    /// Wall-clock time (ms since the Unix epoch) when this mirror formatted the map.
    StartedMs = 13,
    /// [`MirrorState`] as a number.
    State = 14,
    /// Heartbeat period in ms: readers call a heartbeat older than 3 periods stale.
    HeartbeatPeriodMs = 15,
    /// Resyncs that failed (each retried after a backoff; the state stays "resyncing").
    ResyncFailures = 16,
    /// Failures to wait for or receive events other than overruns (each followed by a
    /// resync).
    ReceiveFailures = 17,
    /// Device number of the owner's pid namespace (`st_dev` of `/proc/self/ns/pid`), 0
    /// when not recorded; see [`PidNsClaim`](Self::PidNsClaim).
    PidNsDevice = 18,
    /// Inode number of the owner's pid namespace (the `N` of `pid:[N]` that
    /// `readlink /proc/PID/ns/pid` shows), 0 when not recorded.
    PidNsInode = 19,
    /// The claim word the owner held when it recorded [`PidNsDevice`](Self::PidNsDevice)
    /// and [`PidNsInode`](Self::PidNsInode), stored after them: they describe the claim's
    /// holder only while its claim word is this one (a later owner, or a build that
    /// records no namespace, leaves them describing someone else).
    PidNsClaim = 20,
}

impl StatWord {
    /// The word index.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What the mirror is doing, as published in [`StatWord::State`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorState {
    /// Formatted, first dump not finished.
    Starting,
    /// In sync with the kernel (applying events).
    Synced,
    /// Re-dumping after a lost sync; entries stay readable meanwhile.
    Resyncing,
    /// Stopped cleanly (SIGINT/SIGTERM): the map is frozen, no longer updated.
    Stopped,
    /// An unknown value (a newer writer, or garbage).
    Unknown(u64),
}

impl MirrorState {
    /// The number stored in the header.
    pub fn as_u64(self) -> u64 {
        match self {
            Self::Starting => 0,
            Self::Synced => 1,
            Self::Resyncing => 2,
            Self::Stopped => 3,
            Self::Unknown(v) => v,
        }
    }

    /// Decodes a stored number.
    pub fn from_u64(v: u64) -> Self {
        match v {
            0 => Self::Starting,
            1 => Self::Synced,
            2 => Self::Resyncing,
            3 => Self::Stopped,
            v => Self::Unknown(v),
        }
    }

    /// Lower-case name for output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Synced => "synced",
            Self::Resyncing => "resyncing",
            Self::Stopped => "stopped",
            Self::Unknown(_) => "unknown",
        }
    }
}

/// Milliseconds of `CLOCK_MONOTONIC`: the heartbeat's clock. System-wide, so another
/// process on the same host (and time namespace) can compare it with its own reading.
pub fn monotonic_ms() -> u64 {
    clock_ms(ClockId::Monotonic)
}

/// Milliseconds since the Unix epoch (`CLOCK_REALTIME`), for timestamps shown to people.
pub fn unix_ms() -> u64 {
    clock_ms(ClockId::Realtime)
}

fn clock_ms(clock: ClockId) -> u64 {
    let ts = clock_gettime(clock);
    (ts.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add(ts.tv_nsec as u64 / 1_000_000)
}

/// Everything a reader can learn from a mirrored map's header, decoded. Each word is read
/// once (Relaxed): exact individually, not one snapshot.
///
/// The Rust twin of the C `neigh_map_status`, for a data plane's housekeeping loop (not
/// its packet path): `map.superseded` says to join the name again (the region was
/// replaced); `stale`, that no mirror keeps the map (a restarted one takes it over in
/// place, readers keep their mapping); `map.poisoned`, that a writer failed in a move
/// (the next mirror repairs it); `map.owner`, `map.claims` and `state` say who keeps it
/// and whether a restart happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MirrorStats {
    /// The map's own shape and counters.
    pub map: MapStats,
    /// The statistics words, indexed by [`StatWord`] (0 in a region of a build that had
    /// fewer).
    pub words: [u64; STAT_WORDS],
    /// Decoded [`StatWord::State`].
    pub state: MirrorState,
    /// ms since the writer's last heartbeat, by this process's `CLOCK_MONOTONIC`.
    pub heartbeat_age_ms: u64,
    /// True when the writer has not stopped cleanly and its heartbeat is older than three
    /// periods (at least 3 s): it crashed or hangs, and the map no longer follows the
    /// kernel.
    pub stale: bool,
}

impl MirrorStats {
    /// Reads the header of `reader`'s map. O(1), no system call but one `clock_gettime`.
    pub fn read(reader: &MapReader<'_>) -> Self {
        let map = reader.stats();
        let mut words = [0u64; STAT_WORDS];
        for (i, w) in words.iter_mut().enumerate() {
            *w = reader.stat(i).unwrap_or(0);
        }
        let state = MirrorState::from_u64(words[StatWord::State.index()]);
        let heartbeat_age_ms = monotonic_ms().saturating_sub(map.heartbeat);
        let period = words[StatWord::HeartbeatPeriodMs.index()].max(1000);
        let stale = state != MirrorState::Stopped && heartbeat_age_ms > period.saturating_mul(3);
        MirrorStats {
            map,
            words,
            state,
            heartbeat_age_ms,
            stale,
        }
    }

    /// One statistics word.
    pub fn get(&self, w: StatWord) -> u64 {
        self.words[w.index()]
    }

    /// The pid namespace the current owner ([`MapStats::owner`]) recorded when it claimed
    /// the map, also once it released the claim; `None` when it recorded none (a build
    /// that does not, or another kind of writer). For display: whether the owner runs is
    /// judged by [`pid_liveness`](super::pid_liveness), which reads these words in their
    /// order and only for the current claim.
    pub fn owner_pid_ns(&self) -> Option<PidNs> {
        let tag = self.get(StatWord::PidNsClaim);
        let ns = PidNs {
            dev: self.get(StatWord::PidNsDevice),
            ino: self.get(StatWord::PidNsInode),
        };
        let same_claim = tag >> 32 == self.map.claims && u64::from(tag as u32) == self.map.owner;
        (same_claim && tag as u32 != 0 && ns.ino != 0).then_some(ns)
    }
}

const _: () = assert!(STAT_WORDS == StatWord::PidNsClaim as usize + 1);
