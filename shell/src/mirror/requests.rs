//! Serving the resolution requests readers post in the ring: drain, skip claims a crashed
//! producer left, hand each request to the [`Resolver`](super::resolver::Resolver), and
//! read a served entry back from the kernel (which does not announce an entry it creates
//! unresolved).

use std::io;
use std::net::IpAddr;
use std::time::Instant;

use log::{debug, warn};
use neigh_core::map::NeighMap;
use neigh_core::ring::RequestRing;
use neigh_core::wire::{neigh_get, request::REQUEST_BUF_LEN, Parsed};
use neigh_core::NeighKey;

use super::apply::{apply_neigh, flush_counts, BatchCounts, Scope};
use super::event_loop::Engine;
use super::resolver::{Outcome, STUCK_CLAIM};
use super::stats::StatWord;

/// Requests drained from the ring per [`Mirror::poll_once`](super::Mirror::poll_once).
const MAX_REQUESTS_PER_POLL: usize = 256;

/// The consumer's clock for unpublished claims: every position below `claimed_below` was
/// claimed by `since` (the enqueue position read then), so any of them still unpublished
/// [`STUCK_CLAIM`] after `since` belongs to a producer that stalled or died.
#[derive(Clone, Copy, Debug)]
pub(super) struct ClaimWatch {
    pub claimed_below: u64,
    pub since: Instant,
}

impl Engine {
    /// The mirror's scope (families, watched interfaces) as it stands.
    pub(super) fn scope(&self) -> Scope<'_> {
        Scope {
            families: self.cfg.families,
            ifindexes: self.watched.as_ref().map(|w| &w.ifindexes),
        }
    }

    /// Drains the request ring and serves what survives dedup and rate limits. Returns how
    /// many requests it took.
    pub(super) fn serve_requests(
        &mut self,
        map: &NeighMap<'_>,
        ring: Option<&RequestRing<'_>>,
    ) -> usize {
        let Some(ring) = ring else {
            return 0;
        };
        let mut reqs = Vec::new();
        let mut d = ring.drain(MAX_REQUESTS_PER_POLL, |r| reqs.push(r));
        while let Some(pos) = d.blocked_at {
            let now = Instant::now();
            match self.blocked {
                // Claimed before `since`: once that is STUCK_CLAIM ago, skip it and drain
                // on. Claims crashed producers left one after another are all older than
                // `since`, so they go together instead of one STUCK_CLAIM each.
                Some(w) if (pos.wrapping_sub(w.claimed_below) as i64) < 0 => {
                    if now.duration_since(w.since) < STUCK_CLAIM || !ring.abandon(pos) {
                        break;
                    }
                    warn!("request ring: skipped a claim never published (crashed producer?)");
                    let room = MAX_REQUESTS_PER_POLL.saturating_sub(reqs.len());
                    d = ring.drain(room, |r| reqs.push(r));
                }
                _ => {
                    self.blocked = Some(ClaimWatch {
                        claimed_below: ring.enqueue_position(),
                        since: now,
                    });
                    break;
                }
            }
        }
        if d.blocked_at.is_none() {
            self.blocked = None;
        }
        let now = Instant::now();
        for req in &reqs {
            let family = match req.addr {
                IpAddr::V4(_) => libc::AF_INET as u8,
                IpAddr::V6(_) => libc::AF_INET6 as u8,
            };
            let allowed = self.scope().accepts(family, req.ifindex);
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

    /// Reads one entry back from the kernel (`RTM_GETNEIGH`) and applies it; absent
    /// (`ENOENT`) removes it. One netlink round trip on the dump socket.
    fn refresh(&mut self, map: &NeighMap<'_>, ifindex: u32, addr: IpAddr) -> io::Result<()> {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let seq = self.dumps.next_seq();
        let n = neigh_get(&mut buf, seq, ifindex, addr, false)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let generation = self.generation;
        let scope = Scope {
            families: self.cfg.families,
            ifindexes: self.watched.as_ref().map(|w| &w.ifindexes),
        };
        let mut counts = BatchCounts::default();
        let r = self.dumps.request(&buf[..n], |msg| {
            if let Ok(Parsed::Neigh(nm)) = Parsed::parse(msg) {
                apply_neigh(&nm, map, generation, scope, &mut counts);
            }
            Ok(())
        });
        match r {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                map.remove(&NeighKey { ifindex, addr });
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        flush_counts(
            map,
            &counts,
            &mut self.refused,
            self.cfg.map_name.as_deref(),
        );
        Ok(())
    }
}
