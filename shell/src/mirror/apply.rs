//! Applying neighbor and link messages to the map: the `dev` and family filters, the
//! per-datagram [`EventBatch`], and the counters a batch flushes into the header.

use std::collections::HashSet;

use log::{debug, warn};
use neigh_core::map::{Applied, NeighMap};
use neigh_core::wire::consts::{RTM_DELLINK, RTM_NEWLINK};
use neigh_core::wire::{ingest, LinkMessage, Message, NeighMessage, Parsed};
use neigh_core::{Ingest, NeighEntry};

use super::config::Families;
use super::stats::StatWord;

/// Interfaces the mirror is limited to (`dev IF ...`): names, and their current indexes.
#[derive(Debug)]
pub(super) struct Watched {
    pub names: Vec<String>,
    pub ifindexes: HashSet<u32>,
}

/// What the mirror mirrors: the family filter and, with `dev IF ...`, the interfaces.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scope<'w> {
    pub families: Families,
    /// `None`: every interface.
    pub ifindexes: Option<&'w HashSet<u32>>,
}

impl Scope<'_> {
    /// Whether a neighbor of `family` on `ifindex` is mirrored.
    pub fn accepts(&self, family: u8, ifindex: u32) -> bool {
        self.families.accepts(family) && self.ifindexes.is_none_or(|w| w.contains(&ifindex))
    }
}

/// Counts of one batch of messages, flushed into the header's statistics words in one go
/// ([`flush_counts`]).
#[derive(Debug, Default)]
pub(super) struct BatchCounts {
    pub applied: u64,
    pub ignored: u64,
    pub full: u64,
    pub links: u64,
    pub entries: u64,
    /// Resync only: entries the dump moved to the new generation
    /// ([`neigh_core::map::Marked::newly_marked`]).
    pub marked: u64,
    /// Resync only: entries the dump removed (an `RTM_NEWNEIGH` dump removes none).
    pub removed: u64,
}

/// Inserts the full map refused, logged once per burst: a burst ends at the first poll
/// without refusals.
#[derive(Debug, Default)]
pub(super) struct RefusedInserts {
    /// A burst is going on (its start was logged).
    pub in_burst: bool,
    /// Inserts refused since the burst began.
    pub count: u64,
}

/// One datagram of events being applied: what it needs (the map, the generation, the
/// scope) and what it gathers (counts, deleted links, whether a resync is due).
pub(super) struct EventBatch<'a, 'm> {
    pub map: &'a NeighMap<'m>,
    pub generation: u8,
    pub families: Families,
    /// Updated as watched interfaces disappear and reappear.
    pub watched: &'a mut Option<Watched>,
    pub counts: BatchCounts,
    /// Interfaces deleted in this datagram: their entries go after it.
    pub deleted_links: Vec<u32>,
    /// A message was unreadable or a watched interface reappeared: dump again.
    pub need_resync: bool,
}

impl EventBatch<'_, '_> {
    /// Applies one event message: a neighbor change to the map, a link change to the
    /// watched set; an unreadable message asks for a resync (its change is lost).
    pub fn handle(&mut self, msg: &Message<'_>) {
        match Parsed::parse(msg) {
            Ok(Parsed::Neigh(nm)) => {
                let scope = Scope {
                    families: self.families,
                    ifindexes: self.watched.as_ref().map(|w| &w.ifindexes),
                };
                apply_neigh(&nm, self.map, self.generation, scope, &mut self.counts);
            }
            Ok(Parsed::Link(lm)) => {
                self.counts.links += 1;
                self.link_event(&lm);
            }
            Ok(_) => {}
            Err(e) => {
                // One bad message in an otherwise fine datagram: the change it carried is
                // lost, so the map may be behind; a resync restores it.
                warn!("malformed event message ({e}): resyncing");
                self.need_resync = true;
            }
        }
    }

    fn link_event(&mut self, lm: &LinkMessage<'_>) {
        match lm.kind {
            RTM_DELLINK => {
                self.deleted_links.push(lm.ifindex);
                if let Some(w) = self.watched {
                    w.ifindexes.remove(&lm.ifindex);
                }
            }
            RTM_NEWLINK => {
                if let (Some(w), Some(name)) = (self.watched.as_mut(), lm.name_str()) {
                    if w.names.iter().any(|n| n == name) && w.ifindexes.insert(lm.ifindex) {
                        // A watched interface (re)appeared under a new index: dump it.
                        self.need_resync = true;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Applies one neighbor message (dump reply or event) if `scope` accepts it.
pub(super) fn apply_neigh(
    nm: &NeighMessage<'_>,
    map: &NeighMap<'_>,
    generation: u8,
    scope: Scope<'_>,
    counts: &mut BatchCounts,
) {
    if !scope.accepts(nm.family, nm.ifindex) {
        counts.ignored += 1;
        return;
    }
    let decision = ingest(nm);
    match map.apply(&decision, generation) {
        Ok(Applied::Ignored(_)) => counts.ignored += 1,
        Ok(_) => counts.applied += 1,
        // Only an upsert can find the map full.
        Err(_full) => {
            if let Ingest::Upsert(e) = &decision {
                count_full(e, counts);
            }
        }
    }
}

/// Counts an upsert refused because the map is full. The kernel has this entry but the
/// map cannot hold it; an older copy cannot be there (an update never fails), so nothing
/// stale remains.
pub(super) fn count_full(e: &NeighEntry, counts: &mut BatchCounts) {
    counts.full += 1;
    debug!(
        "map full: {} on ifindex {} not mirrored",
        e.key.addr, e.key.ifindex
    );
}

/// Removes every entry of interface `ifindex`. O(capacity).
pub(super) fn remove_interface(map: &NeighMap<'_>, ifindex: u32) -> usize {
    let keys: Vec<_> = map
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.key())
        .filter(|k| k.ifindex == ifindex)
        .collect();
    keys.iter().filter(|k| map.remove(k)).count()
}

/// Adds a batch's counts to the header's statistics words; logs the start of a "map
/// full" burst (once per burst, see [`RefusedInserts`]).
pub(super) fn flush_counts(
    map: &NeighMap<'_>,
    c: &BatchCounts,
    refused: &mut RefusedInserts,
    map_name: Option<&str>,
) {
    for (word, n) in [
        (StatWord::Applied, c.applied),
        (StatWord::Ignored, c.ignored),
        (StatWord::LinkEvents, c.links),
    ] {
        if n > 0 {
            map.stat_add(word.index(), n);
        }
    }
    if c.full > 0 {
        map.stat_add(StatWord::Full.index(), c.full);
        if !refused.in_burst {
            warn!(
                "map {} is full: refusing inserts (capacity {} slots); raise --capacity. \
                 Logged once per burst; counted in stats",
                map_name.unwrap_or("<anonymous>"),
                map.reader().capacity()
            );
            refused.in_burst = true;
        }
        refused.count += c.full;
    }
}
