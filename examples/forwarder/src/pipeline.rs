//! The forwarding path of one receive batch, independent of how frames arrive and leave.
//!
//! [`Pipeline::process`] takes the frames of one batch from one port, in three passes:
//!
//! 1. classify each frame ([`frame::classify`]) and route each IP packet
//!    ([`RouteTable::lookup`]): the output port and the next hop, the map key
//!    `(output ifindex, next hop)`;
//! 2. look up every key of the batch with **one burst** on the mirror's map
//!    ([`MapReader::get_burst_with`], whose stages overlap the keys' cache misses);
//! 3. for each hit with a MAC, rewrite the frame ([`frame::rewrite`]) and mark it for
//!    sending; for a miss or an unresolved entry, post "resolve NEXTHOP on IF" to the
//!    request ring (once per hold-down, [`RequestHold`]) and drop the frame.
//!
//! Nothing here makes a system call or allocates after [`Pipeline::new`]; the
//! transmission and the counters' flush are the caller's ([`crate::forward`]). The map
//! and ring ([`NextHops`]) come with each batch and the pipeline keeps no reference to
//! them: they borrow the mapping, which the caller replaces when the mirror replaces
//! the region ([`crate::hops`]).

use neigh_core::map::Busy;
use neigh_core::ring::{PostError, RequestRing, ResolveRequest};
use neigh_core::{Mac, MapEntry, MapReader, NeighKey};

use crate::counters::{Counter, Tally};
use crate::frame::{self, Class};
use crate::requests::RequestHold;
use crate::route::RouteTable;

/// The frames of one receive batch, as the pipeline sees them.
pub trait Frames {
    /// Number of frames in the batch.
    fn count(&self) -> usize;
    /// Frame `i` (`i < count()`), to read and rewrite in place.
    fn frame(&mut self, i: usize) -> &mut [u8];
}

/// What becomes of a frame of the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Rewritten: send it out of this port.
    Send(usize),
    /// Not forwarded (counted): give the buffer back.
    Drop,
}

/// An interface the forwarder receives on and sends out of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// Interface name.
    pub name: String,
    /// Interface index (the map's key part).
    pub ifindex: u32,
    /// The interface's MAC: the source of frames sent out of it, and the destination
    /// of frames it should forward.
    pub mac: Mac,
}

/// Where next-hop MACs come from, for one batch.
#[derive(Clone, Copy, Debug)]
pub enum NextHops<'a> {
    /// The mirror's map, and its request ring to ask for misses (none: misses are only
    /// counted).
    Map {
        /// The map, read lock-free.
        reader: MapReader<'a>,
        /// The ring after it, joined read-write.
        ring: Option<RequestRing<'a>>,
    },
    /// One MAC for every next hop, no lookup: the baseline that measures the lookup's
    /// share of the per-packet cost.
    Fixed(Mac),
}

impl NextHops<'_> {
    /// True when the map was replaced by another region (its mirror restarted with
    /// another shape, or was found hung): it is frozen for good and its ring served by
    /// nobody, so the name should be joined again. Always false for a fixed MAC. O(1),
    /// one atomic load.
    pub fn is_superseded(&self) -> bool {
        match self {
            NextHops::Map { reader, .. } => reader.is_superseded(),
            NextHops::Fixed(_) => false,
        }
    }
}

/// A frame of the batch waiting for its next hop's MAC.
#[derive(Clone, Copy, Debug)]
struct Pending {
    frame: usize,
    port: usize,
    key: NeighKey,
}

/// The forwarding state: ports, routes, the requests recently made, and scratch space
/// for one batch.
pub struct Pipeline {
    ports: Vec<PortInfo>,
    routes: RouteTable,
    hold: RequestHold,
    pending: Vec<Pending>,
    found: Vec<Result<Option<MapEntry>, Busy>>,
    /// Counts of the batches processed since the caller last flushed it.
    pub tally: Tally,
}

impl Pipeline {
    /// A pipeline over `ports` (indexes as in `routes`), for batches of up to `batch`
    /// frames; a next hop is requested at most once per `hold_ms`.
    pub fn new(ports: Vec<PortInfo>, routes: RouteTable, batch: usize, hold_ms: u64) -> Self {
        Pipeline {
            ports,
            routes,
            hold: RequestHold::new(hold_ms),
            pending: Vec::with_capacity(batch),
            found: Vec::with_capacity(batch),
            tally: Tally::default(),
        }
    }

    /// The ports.
    pub fn ports(&self) -> &[PortInfo] {
        &self.ports
    }

    /// Forgets which next hops were requested: the next miss of each is asked for at
    /// once. For a new request ring (the old one's requests are lost with it). O(table
    /// slots).
    pub fn forget_requests(&mut self) {
        self.hold.clear();
    }

    /// Forwards one batch received on port `rx` with the MACs of `hops`: rewrites the
    /// frames to send in place and sets `verdicts[i]` for each frame `i` (`verdicts` is
    /// cleared first). `now_ms`: a monotonic clock for the request hold-down. Cost:
    /// O(frames) plus one burst lookup; no system call, no allocation (the scratch
    /// vectors keep their capacity).
    pub fn process(
        &mut self,
        hops: NextHops<'_>,
        rx: usize,
        frames: &mut impl Frames,
        verdicts: &mut Vec<Verdict>,
        now_ms: u64,
    ) {
        let n = frames.count();
        verdicts.clear();
        verdicts.resize(n, Verdict::Drop);
        self.tally.bump_by(Counter::Rx, n as u64);
        if n > 0 {
            self.tally.bump(Counter::Batches);
        }
        self.route_batch(rx, frames);
        self.resolve_batch(hops);
        self.finish_batch(hops, frames, verdicts, now_ms);
    }

    /// Pass 1: classify and route; the frames to forward go to `pending`.
    fn route_batch(&mut self, rx: usize, frames: &mut impl Frames) {
        self.pending.clear();
        let own = self.ports[rx].mac;
        for i in 0..frames.count() {
            let dst = match frame::classify(frames.frame(i), &own) {
                Class::Route { dst } => dst,
                Class::NotOurMac | Class::Ndp => {
                    self.tally.bump(Counter::NotForUs);
                    continue;
                }
                Class::NonIp => {
                    self.tally.bump(Counter::NonIp);
                    continue;
                }
                Class::TtlExpired => {
                    self.tally.bump(Counter::TtlExpired);
                    continue;
                }
                Class::Malformed => {
                    self.tally.bump(Counter::Malformed);
                    continue;
                }
            };
            let Some(hop) = self.routes.lookup(dst) else {
                self.tally.bump(Counter::NoRoute);
                continue;
            };
            self.pending.push(Pending {
                frame: i,
                port: hop.port,
                key: NeighKey {
                    ifindex: self.ports[hop.port].ifindex,
                    addr: hop.nexthop,
                },
            });
        }
    }

    /// Pass 2: one burst lookup for every pending frame's next hop.
    fn resolve_batch(&mut self, hops: NextHops<'_>) {
        self.found.clear();
        let NextHops::Map { reader, .. } = hops else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        self.tally.bump(Counter::BurstLookups);
        let pending = &self.pending;
        let found = &mut self.found;
        found.resize(pending.len(), Ok(None));
        reader.get_burst_with(pending.len(), |i| pending[i].key, |i, r| found[i] = r);
    }

    /// Pass 3: rewrite and send what resolved; request and drop what did not.
    fn finish_batch(
        &mut self,
        hops: NextHops<'_>,
        frames: &mut impl Frames,
        verdicts: &mut [Verdict],
        now_ms: u64,
    ) {
        for (j, p) in self.pending.iter().enumerate() {
            let mac = match hops {
                NextHops::Fixed(mac) => mac,
                NextHops::Map { ring, .. } => match self.found[j] {
                    Ok(Some(e)) => match e.mac() {
                        Some(mac) => mac,
                        None => {
                            self.tally.bump(Counter::Unresolved);
                            ask(ring, &mut self.hold, &mut self.tally, &p.key, now_ms);
                            continue;
                        }
                    },
                    Ok(None) => {
                        self.tally.bump(Counter::Miss);
                        ask(ring, &mut self.hold, &mut self.tally, &p.key, now_ms);
                        continue;
                    }
                    Err(Busy) => {
                        self.tally.bump(Counter::Busy);
                        continue;
                    }
                },
            };
            frame::rewrite(frames.frame(p.frame), &mac, &self.ports[p.port].mac);
            verdicts[p.frame] = Verdict::Send(p.port);
        }
    }
}

/// Posts "resolve `key`" unless it was asked for within the hold-down; counts what
/// happened.
fn ask(
    ring: Option<RequestRing<'_>>,
    hold: &mut RequestHold,
    tally: &mut Tally,
    key: &NeighKey,
    now_ms: u64,
) {
    let Some(ring) = ring else { return };
    if !hold.should_ask(key, now_ms) {
        tally.bump(Counter::RequestsHeld);
        return;
    }
    let req = ResolveRequest {
        ifindex: key.ifindex,
        addr: key.addr,
    };
    match ring.post(&req) {
        Ok(()) => tally.bump(Counter::RequestsPosted),
        Err(PostError::Full | PostError::Abandoned) => tally.bump(Counter::RingFull),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::tests::{v4_frame, v6_frame, OUR};
    use crate::route::RouteSpec;
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use neigh::region::Region;
    use neigh::workspace::ShmOptions;
    use neigh_core::map::MapParams;
    use neigh_core::{NeighEntry, NtfFlags, NudState};

    struct VecFrames(Vec<Vec<u8>>);

    impl Frames for VecFrames {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn frame(&mut self, i: usize) -> &mut [u8] {
            &mut self.0[i]
        }
    }

    const OUT_MAC: Mac = [0x02, 0, 0, 0, 0, 0x0b];
    const H2_MAC: Mac = [0x02, 0, 0, 0, 0, 0x22];

    fn ports() -> Vec<PortInfo> {
        vec![
            PortInfo {
                name: "a".into(),
                ifindex: 7,
                mac: OUR,
            },
            PortInfo {
                name: "b".into(),
                ifindex: 8,
                mac: OUT_MAC,
            },
        ]
    }

    fn routes() -> RouteTable {
        let mut t = RouteTable::default();
        for (r, port) in [
            ("10.1.2.0/24 dev b", 1),
            ("10.9.0.0/16 via 10.1.2.2 dev b", 1),
            ("2001:db8:2::/64 dev b", 1),
        ] {
            let words: Vec<_> = r.split_whitespace().collect();
            t.add(&RouteSpec::parse(&words).unwrap(), port);
        }
        t
    }

    fn entry(addr: IpAddr, mac: Option<Mac>) -> NeighEntry {
        NeighEntry {
            key: NeighKey { ifindex: 8, addr },
            mac,
            state: if mac.is_some() {
                NudState::REACHABLE
            } else {
                NudState::INCOMPLETE
            },
            flags: NtfFlags::default(),
        }
    }

    #[test]
    fn a_batch_takes_macs_from_the_map_and_asks_for_the_misses() {
        let region = Region::create(
            None,
            &MapParams::for_entries(64),
            16,
            &ShmOptions::default(),
        )
        .unwrap();
        let map = region.writer().unwrap().unwrap();
        let h2: IpAddr = Ipv4Addr::new(10, 1, 2, 2).into();
        let h3: IpAddr = Ipv4Addr::new(10, 1, 2, 3).into();
        let h6: IpAddr = "2001:db8:2::2".parse::<Ipv6Addr>().unwrap().into();
        map.upsert(&entry(h2, Some(H2_MAC)), 0).unwrap();
        map.upsert(&entry(h3, None), 0).unwrap();
        map.upsert(&entry(h6, Some(H2_MAC)), 0).unwrap();
        let view = region.view().unwrap();
        let hops = NextHops::Map {
            reader: view.reader(),
            ring: view.ring(),
        };
        let mut p = Pipeline::new(ports(), routes(), 32, 1000);
        let mut frames = VecFrames(vec![
            v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 2), 64),  // hit
            v4_frame(OUR, Ipv4Addr::new(10, 9, 0, 1), 64),  // hit via 10.1.2.2
            v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 3), 64),  // unresolved
            v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 4), 64),  // absent
            v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 4), 64),  // absent, held
            v4_frame(OUR, Ipv4Addr::new(192, 0, 2, 1), 64), // no route
            v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 2), 1),   // ttl
            v6_frame(OUR, "2001:db8:2::2".parse().unwrap(), 64, 58, 128), // hit
            v6_frame(OUR, "2001:db8:2::2".parse().unwrap(), 255, 58, 136), // NDP
        ]);
        let before: Vec<_> = frames.0.clone();
        let mut verdicts = Vec::new();
        p.process(hops, 0, &mut frames, &mut verdicts, 5000);
        use Verdict::*;
        assert_eq!(
            verdicts,
            [
                Send(1),
                Send(1),
                Drop,
                Drop,
                Drop,
                Drop,
                Drop,
                Send(1),
                Drop
            ]
        );
        for i in [0, 1, 7] {
            assert_eq!(&frames.0[i][..6], &H2_MAC);
            assert_eq!(&frames.0[i][6..12], &OUT_MAC);
        }
        for i in [2, 3, 4, 5, 6, 8] {
            assert_eq!(frames.0[i], before[i], "dropped frame {i} left alone");
        }
        let t = p.tally;
        for (c, want) in [
            (Counter::Rx, 9),
            (Counter::Batches, 1),
            (Counter::BurstLookups, 1),
            (Counter::Unresolved, 1),
            (Counter::Miss, 2),
            (Counter::RequestsPosted, 2),
            (Counter::RequestsHeld, 1),
            (Counter::NoRoute, 1),
            (Counter::TtlExpired, 1),
            (Counter::NotForUs, 1),
        ] {
            assert_eq!(t.get(c), want, "{}", c.name());
        }
        let mut asked = Vec::new();
        region
            .ring()
            .unwrap()
            .unwrap()
            .drain(16, |r| asked.push(r.addr));
        assert_eq!(asked, vec![h3, "10.1.2.4".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn fixed_mac_forwards_without_a_map() {
        let mut p = Pipeline::new(ports(), routes(), 32, 1000);
        let mut frames = VecFrames(vec![v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 9), 64)]);
        let mut verdicts = Vec::new();
        p.process(NextHops::Fixed(H2_MAC), 0, &mut frames, &mut verdicts, 0);
        assert_eq!(verdicts, [Verdict::Send(1)]);
        assert_eq!(&frames.0[0][..6], &H2_MAC);
        assert_eq!(p.tally.get(Counter::BurstLookups), 0);
    }
}
