//! [`MirrorConfig`]: what to mirror, where, and how hard to try.

use std::path::PathBuf;
use std::time::Duration;

use neigh_core::map::MAX_CAPACITY;
use neigh_core::ring::MAX_CELLS;

use crate::netlink::DEFAULT_RCVBUF;
use crate::workspace::check_map_name;

/// Which address families to mirror.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Families {
    /// IPv4 (ARP) and IPv6 (NDP).
    #[default]
    Both,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Families {
    /// The `ndm_family` of a dump request.
    pub fn dump_family(self) -> u8 {
        match self {
            Families::Both => libc::AF_UNSPEC as u8,
            Families::V4 => libc::AF_INET as u8,
            Families::V6 => libc::AF_INET6 as u8,
        }
    }

    /// True when a message of `family` is mirrored.
    pub fn accepts(self, family: u8) -> bool {
        match self {
            Families::Both => true,
            Families::V4 => family == libc::AF_INET as u8,
            Families::V6 => family == libc::AF_INET6 as u8,
        }
    }
}

/// How the mirror resolves the misses readers post in the request ring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResolveConfig {
    /// Cells of the request ring (a power of two; 0: no ring, no resolution).
    pub ring_cells: usize,
    /// Global rate: resolutions per second handed to the kernel (token bucket refill).
    pub rate_per_sec: f64,
    /// Global burst: tokens the bucket holds.
    pub burst: f64,
    /// Per-address hold-down: the same (interface, address) is asked at most once per
    /// this period; later posts within it are counted as deduplicated.
    pub hold_down: Duration,
    /// Never use netlink `NTF_USE`; always send the TTL-1 UDP datagram (what happens
    /// anyway without `CAP_NET_ADMIN`). For tests and for hosts where the mirror must not
    /// create neighbor entries itself.
    pub udp_only: bool,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        Self {
            ring_cells: 1024,
            rate_per_sec: 200.0,
            burst: 100.0,
            hold_down: Duration::from_secs(1),
            udp_only: false,
        }
    }
}

/// Everything [`super::Mirror::new`] needs.
#[derive(Clone, Debug, PartialEq)]
pub struct MirrorConfig {
    /// Name of the shared region in `/dev/shm` (`--map NAME`); `None`: anonymous memory
    /// for an in-process mirror.
    pub map_name: Option<String>,
    /// Entries the map is sized for (`--capacity N`); see `MapParams::for_entries`.
    pub capacity: usize,
    /// Mirror only these interfaces (`dev IF ...`); empty: all.
    pub devs: Vec<String>,
    /// Address families (`-4`, `-6`).
    pub families: Families,
    /// Receive buffer of the event socket, forced with `SO_RCVBUFFORCE` when permitted.
    pub rcvbuf: usize,
    /// Back the region with this hugetlbfs directory (falls back to `/dev/shm`).
    pub hugetlb: Option<PathBuf>,
    /// How often the heartbeat is stored (readers call it stale after 3 periods).
    pub heartbeat: Duration,
    /// Longest wait in one `poll` (bounds the latency of ring draining and heartbeats).
    pub tick: Duration,
    /// Re-dump this often even without a lost sync (`None`: never). The kernel does not
    /// announce every change: an entry created unresolved (INCOMPLETE/FAILED/NONE from
    /// nothing, e.g. by `ip neigh add ... nud incomplete` or by traffic) and the NOARP
    /// entries of multicast addresses appear without an event, and only show up in a
    /// dump. Costs one dump of the tables per period.
    pub periodic_resync: Option<Duration>,
    /// Resolution requests.
    pub resolve: ResolveConfig,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            map_name: None,
            capacity: 65_536,
            devs: Vec::new(),
            families: Families::Both,
            rcvbuf: DEFAULT_RCVBUF,
            hugetlb: None,
            heartbeat: Duration::from_millis(500),
            tick: Duration::from_millis(10),
            periodic_resync: Some(Duration::from_secs(30)),
            resolve: ResolveConfig::default(),
        }
    }
}

impl MirrorConfig {
    /// Most entries a map can be sized for (`capacity`): the map takes twice as many
    /// slots, at most `neigh_core::map::MAX_CAPACITY`.
    pub const MAX_ENTRIES: usize = MAX_CAPACITY / 2;
    /// Highest resolution rate (`resolve.rate_per_sec`, `resolve.burst`).
    pub const MAX_RATE: f64 = 1e6;

    /// Checks every field against its range, so that no value makes the mirror fail
    /// later or silently means another (a capacity past [`Self::MAX_ENTRIES`] is refused,
    /// not capped). [`super::Mirror::new`] calls it; the CLI calls it to report a usage
    /// error. Errors: the first field out of range, as a sentence naming it. O(1).
    pub fn check(&self) -> Result<(), String> {
        if let Some(name) = &self.map_name {
            check_map_name(name).map_err(|e| e.to_string())?;
        }
        if self.capacity == 0 || self.capacity > Self::MAX_ENTRIES {
            return Err(format!(
                "capacity {} is out of range: 1 to {} entries",
                self.capacity,
                Self::MAX_ENTRIES
            ));
        }
        let cells = self.resolve.ring_cells;
        if cells != 0 && (!cells.is_power_of_two() || cells > MAX_CELLS) {
            return Err(format!(
                "ring {cells}: not 0 or a power of two up to {MAX_CELLS}"
            ));
        }
        if self.rcvbuf > i32::MAX as usize {
            return Err(format!(
                "receive buffer {} is out of range: at most {} bytes",
                self.rcvbuf,
                i32::MAX
            ));
        }
        for (what, v) in [
            ("rate", self.resolve.rate_per_sec),
            ("burst", self.resolve.burst),
        ] {
            if !(0.0..=Self::MAX_RATE).contains(&v) {
                return Err(format!(
                    "{what} {v} is out of range: 0 to {} per second",
                    Self::MAX_RATE
                ));
            }
        }
        if self.heartbeat.is_zero() {
            return Err("heartbeat period must not be 0".into());
        }
        Ok(())
    }
}
