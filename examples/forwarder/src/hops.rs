//! [`HopSource`]: where the forwarder takes next-hop MACs from for its whole run, and how
//! it follows the mirror to a new region.
//!
//! A mirror that restarts with another map shape (capacity, ring, directory), or that
//! finds the previous one hung, formats a new region under the same name and first marks
//! the old one superseded. The old region stays mapped and readable, but it is frozen for
//! good: MAC changes and new neighbors go to the new one, and nobody serves requests
//! posted to the old ring. So the forwarding loop ([`crate::forward`]) checks, once per
//! poll turn, the flag of the region it reads ([`NextHops::is_superseded`], one atomic
//! load); once it is set and a try is due ([`HopSource::rejoin_due`]), it joins the name
//! again as at start-up ([`HopSource::rejoin`]).
//!
//! A try fails while the name leads to no region the forwarder should move to: none (the
//! new mirror has not created it yet), one not formatted yet, the superseded one itself
//! (not removed yet), or one whose mirror is still in its first dump (fresh heartbeat):
//! its map would miss next hops the frozen one still knows. The forwarder then goes on
//! with the old region and tries again 50 ms later, the wait doubling up to 1 s. It logs
//! the first failure and the join, each once, to stderr.
//!
//! The views ([`NextHops`]) borrow the [`Region`] held here. The pipeline takes them with
//! each batch and keeps none, and the loop drops its own before calling
//! [`HopSource::rejoin`], which takes `&mut self`: the borrow checker proves that nothing
//! refers to the old mapping when a join replaces, and so unmaps, it.

use std::fmt;

use neigh::mirror::{MirrorState, MirrorStats};
use neigh::region::{Region, RegionError};
use neigh::workspace::Access;
use neigh_core::Mac;

use crate::pipeline::NextHops;

/// The wait after the first failed try to join again, in ms.
const RETRY_FIRST_MS: u64 = 50;
/// The longest wait between two tries, in ms.
const RETRY_MAX_MS: u64 = 1000;

/// Where next-hop MACs come from for the forwarder's run.
pub enum HopSource {
    /// One MAC for every next hop (`--fixed-mac`): nothing to join.
    Fixed(Mac),
    /// The mirror's map, joined by name, and joined again when it is replaced.
    Map(JoinedMap),
}

/// A named region joined read-write (read-write: posting to its ring writes to it), with
/// the pace of the tries to join the name again once it is superseded.
pub struct JoinedMap {
    name: String,
    region: Region,
    /// No try before this time (ms, on the caller's clock).
    next_try_ms: u64,
    /// The wait after the next failed try, in ms.
    wait_ms: u64,
    /// Whether a failed try was logged since the last join.
    failure_logged: bool,
}

/// Why the name could not be joined again (yet).
#[derive(Debug)]
pub enum JoinError {
    /// No usable region under the name: missing, not formatted yet, not ours...
    Region(RegionError),
    /// The name still leads to the superseded region.
    Superseded,
    /// The region's mirror has not finished its first dump.
    Starting,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(e) => e.fmt(f),
            Self::Superseded => f.write_str("the name still leads to the superseded region"),
            Self::Starting => f.write_str("its mirror is still in its first dump"),
        }
    }
}

impl std::error::Error for JoinError {}

impl HopSource {
    /// Joins the map `name` read-write ([`Region::open`], which picks the live mirror's
    /// region among those of that name), as the forwarder does at start-up.
    ///
    /// Errors: those of [`Region::open`] (missing, not formatted, not ours...).
    pub fn join(name: &str) -> Result<Self, RegionError> {
        let region = Region::open(name, Access::ReadWrite)?;
        Ok(HopSource::Map(JoinedMap {
            name: name.to_owned(),
            region,
            next_try_ms: 0,
            wait_ms: RETRY_FIRST_MS,
            failure_logged: false,
        }))
    }

    /// The views to forward with: the fixed MAC, or the map and ring of the region joined
    /// last. They borrow `self`, so [`rejoin`](Self::rejoin) cannot run while they live.
    /// O(1): the region's header is validated again (a few loads).
    ///
    /// Errors: the region's header was overwritten since it was joined (corruption).
    pub fn hops(&self) -> Result<NextHops<'_>, RegionError> {
        match self {
            HopSource::Fixed(mac) => Ok(NextHops::Fixed(*mac)),
            HopSource::Map(m) => {
                let view = m.region.view()?;
                Ok(NextHops::Map {
                    reader: view.reader(),
                    ring: view.ring(),
                })
            }
        }
    }

    /// Whether a try to join again may be made at `now_ms` (a monotonic clock in ms): the
    /// pace after failed tries. Meaningful once the current region is superseded, which
    /// the caller checks first. O(1).
    pub fn rejoin_due(&self, now_ms: u64) -> bool {
        match self {
            HopSource::Fixed(_) => false,
            HopSource::Map(m) => now_ms >= m.next_try_ms,
        }
    }

    /// Joins the name again (see the module docs) at `now_ms`. True when the region was
    /// replaced by the one joined (the old one is unmapped; its views are gone, as the
    /// borrow of `&mut self` proves) and that was logged; false when the try failed (the
    /// first failure since the last join is logged), the old region is kept and the next
    /// try is due after the wait, or for a fixed MAC. Cost: a [`Region::open`].
    pub fn rejoin(&mut self, now_ms: u64) -> bool {
        match self {
            HopSource::Fixed(_) => false,
            HopSource::Map(m) => m.rejoin(now_ms),
        }
    }
}

impl JoinedMap {
    fn rejoin(&mut self, now_ms: u64) -> bool {
        match join_again(&self.name) {
            Ok(region) => {
                eprintln!(
                    "forwarder: map {} was replaced: joined its new region ({}; was {})",
                    self.name,
                    describe(&region),
                    describe(&self.region)
                );
                self.region = region;
                self.next_try_ms = 0;
                self.wait_ms = RETRY_FIRST_MS;
                self.failure_logged = false;
                true
            }
            Err(e) => {
                if !self.failure_logged {
                    eprintln!(
                        "forwarder: map {} was replaced, and its new region cannot be joined \
                         yet ({e}): forwarding from the old one, trying again",
                        self.name
                    );
                    self.failure_logged = true;
                }
                self.next_try_ms = now_ms.saturating_add(self.wait_ms);
                self.wait_ms = (self.wait_ms * 2).min(RETRY_MAX_MS);
                false
            }
        }
    }
}

/// Joins `name` as at start-up, and keeps the region only if it is one to move to (see
/// the module docs).
fn join_again(name: &str) -> Result<Region, JoinError> {
    let region = Region::open(name, Access::ReadWrite).map_err(JoinError::Region)?;
    let reader = region.reader().map_err(JoinError::Region)?;
    if reader.is_superseded() {
        return Err(JoinError::Superseded);
    }
    let stats = MirrorStats::read(&reader);
    if stats.state == MirrorState::Starting && !stats.stale {
        return Err(JoinError::Starting);
    }
    Ok(region)
}

/// A region's shape, for the log: its capacity and its ring.
fn describe(region: &Region) -> String {
    let capacity = region.reader().map(|r| r.capacity()).unwrap_or(0);
    match region.ring_stats() {
        Some(r) => format!("capacity {capacity}, ring of {} cells", r.cells),
        None => format!("capacity {capacity}, no request ring: misses are not asked for"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};
    use neigh::mirror::{monotonic_ms, StatWord};
    use neigh::workspace::{ShmOptions, Workspace};
    use neigh_core::map::MapParams;
    use neigh_core::ring::ResolveRequest;
    use neigh_core::{NeighEntry, NeighKey, NtfFlags, NudState};

    const KEY: NeighKey = NeighKey {
        ifindex: 4,
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    };

    /// A region named `name` for `entries`, as a mirror leaves it once `state`, with a
    /// fresh heartbeat and `mac` for [`KEY`].
    fn mirror_region(name: &str, entries: usize, state: MirrorState, mac: Mac) -> Region {
        let params = MapParams::for_entries(entries);
        let region = Region::create(Some(name), &params, 16, &ShmOptions::default())
            .expect("create the region");
        let map = region.writer().expect("read-write").expect("valid");
        map.heartbeat(monotonic_ms());
        map.stat_store(StatWord::State.index(), state.as_u64());
        let entry = NeighEntry {
            key: KEY,
            mac: Some(mac),
            state: NudState::REACHABLE,
            flags: NtfFlags::default(),
        };
        map.upsert(&entry, 0).expect("upsert");
        region
    }

    fn mac_of(source: &HopSource) -> Option<Mac> {
        let NextHops::Map { reader, .. } = source.hops().expect("views") else {
            panic!("a map");
        };
        reader.get(&KEY).expect("not busy").and_then(|e| e.mac())
    }

    #[test]
    fn follows_a_replaced_region_at_a_bounded_pace() {
        let name = format!("neigh-fwd-test-rejoin-{}", std::process::id());
        let (mac1, mac2) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let first = mirror_region(&name, 64, MirrorState::Synced, mac1);
        let mut source = HopSource::join(&name).expect("join");
        assert_eq!(mac_of(&source), Some(mac1));
        assert!(!source.hops().expect("views").is_superseded());

        // Superseded, but still the region under the name: no join.
        first.writer().expect("rw").expect("valid").supersede();
        assert!(source.hops().expect("views").is_superseded());
        assert!(source.rejoin_due(0));
        assert!(!source.rejoin(0), "the name leads to the superseded region");
        assert_eq!(
            mac_of(&source),
            Some(mac1),
            "the old region goes on answering"
        );

        // Nothing under the name: retried after 50 ms, then 100 ms later.
        drop(first);
        Workspace::unlink_shm(&name).expect("unlink");
        assert!(!source.rejoin_due(49));
        assert!(source.rejoin_due(50));
        assert!(!source.rejoin(50), "no region");
        assert!(!source.rejoin_due(149));
        assert!(source.rejoin_due(150));

        // A new region whose mirror is in its first dump: not yet.
        let second = mirror_region(&name, 512, MirrorState::Starting, mac2);
        assert!(!source.rejoin(150), "first dump under way");
        assert!(!source.rejoin_due(349), "the wait doubles");
        let mut t = 350;
        for _ in 0..10 {
            assert!(!source.rejoin(t));
            t += 1000;
            assert!(source.rejoin_due(t), "the wait is at most 1 s");
        }

        // Synced: joined, with the new region's map and ring.
        let map = second.writer().expect("rw").expect("valid");
        map.stat_store(StatWord::State.index(), MirrorState::Synced.as_u64());
        assert!(source.rejoin(t), "joined");
        let hops = source.hops().expect("views");
        let NextHops::Map { reader, ring } = hops else {
            panic!("a map");
        };
        assert!(!hops.is_superseded());
        assert_eq!(reader.capacity(), second.reader().expect("map").capacity());
        assert_eq!(mac_of(&source), Some(mac2));
        let req = ResolveRequest {
            ifindex: KEY.ifindex,
            addr: KEY.addr,
        };
        ring.expect("a ring").post(&req).expect("post");
        let mut asked = Vec::new();
        second
            .ring()
            .expect("rw")
            .expect("valid")
            .drain(16, |r| asked.push(r));
        assert_eq!(asked, [req], "requests go to the new ring");
        assert!(source.rejoin_due(t), "the pace starts over");

        drop(source);
        drop(second);
        Workspace::unlink_shm(&name).expect("unlink");
    }
}
