//! Resync: discard the queued events, dump the kernel's tables into the map under a new
//! generation, and sweep what the dump did not refresh (DESIGN.md, "Mirror").
//!
//! Receiving and applying the dump overlap: this thread receives (the kernel builds each
//! dump datagram inside our `recvmsg`), a scoped helper thread parses and applies the
//! previous batch, prefetching the home slots of the entries it is about to write.

use std::io;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

use log::{log, Level};
use neigh_core::map::{Applied, NeighMap};
use neigh_core::wire::{
    ingest, neigh_dump, request::REQUEST_BUF_LEN, DumpFilter, MessageIter, Parsed,
};
use neigh_core::Ingest;

use super::apply::{count_full, flush_counts, BatchCounts, Scope};
use super::config::Families;
use super::event_loop::Engine;
use super::stats::{MirrorState, StatWord};
use crate::netlink::RouteSocket;
use crate::sys::prefetch;

/// Most datagrams a resync discards from the event socket before it dumps.
const MAX_DISCARDED_DATAGRAMS: usize = 1 << 16;
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
/// piles up in the queue and then arrives faster than the applying thread can apply it,
/// which leaves that thread behind at the end. With two datagrams of room the kernel
/// builds one per datagram read, at the pace of the reads. A dump cannot overrun (the
/// kernel builds the next datagram only when there is room), and the dump socket carries
/// one request at a time (resyncs, resolution requests, read-backs), so nothing is lost;
/// the event socket keeps its big buffer.
pub const DUMP_RCVBUF: usize = 64 << 10;

impl Engine {
    /// Discards queued events, re-dumps with a new generation, sweeps the rest (unless the
    /// dump marked every entry the map holds).
    pub(super) fn resync(&mut self, map: &NeighMap<'_>) -> io::Result<()> {
        self.need_resync = true;
        map.stat_store(StatWord::State.index(), MirrorState::Resyncing.as_u64());
        let discarded = self.discard_queued()?;
        let generation = self.generation.wrapping_add(1);
        self.generation = generation;
        map.set_generation(generation);
        let started = Instant::now();
        let inserts_before = map.reader().stats().inserts;
        let watched = self.watched.as_ref().map(|w| w.ifindexes.clone());
        let scope = Scope {
            families: self.cfg.families,
            ifindexes: watched.as_ref(),
        };
        let counts = dump_into(&mut self.dumps, map, generation, scope)?;
        let dumped = started.elapsed();
        // The entries the dump marked are distinct and all still present (it removed
        // none, and nothing else writes the map meanwhile: events wait in the event
        // socket, and this mirror owns the map). So when they are as many as the map
        // holds, no entry of an older generation is left and the sweep, a pass over
        // every slot, would remove nothing.
        let sweep_needed = counts.removed != 0 || counts.marked != map.len() as u64;
        let swept = sweep_needed.then(|| map.sweep(generation));
        let sweep_time = started.elapsed() - dumped;
        map.stat_add(StatWord::Resyncs.index(), 1);
        map.stat_store(StatWord::DumpEntries.index(), counts.entries);
        flush_counts(
            map,
            &counts,
            &mut self.refused,
            self.cfg.map_name.as_deref(),
        );
        map.stat_store(StatWord::State.index(), MirrorState::Synced.as_u64());
        self.need_resync = false;
        self.last_resync = Instant::now();
        let inserted = map.reader().stats().inserts.wrapping_sub(inserts_before);
        log_resync(
            generation,
            &counts,
            inserted,
            (dumped, sweep_time),
            swept,
            discarded,
        );
        self.beat(map, Instant::now());
        Ok(())
    }

    /// Drops what the event socket has queued: it predates the events the kernel dropped.
    /// Returns how many messages went. Reads at most [`MAX_DISCARDED_DATAGRAMS`], so a
    /// flood that never lets the queue empty cannot hold the resync.
    fn discard_queued(&mut self) -> io::Result<usize> {
        let mut discarded = 0usize;
        for _ in 0..MAX_DISCARDED_DATAGRAMS {
            match self.events.recv_events(|_| {}) {
                Ok(n) => discarded += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(discarded),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {}
                Err(e) => return Err(e),
            }
        }
        Ok(discarded)
    }
}

/// Logs a resync: at info when it changed the map or dropped queued events, at debug when
/// it only confirmed what the map held (the periodic resync of a quiet table, every 30 s
/// by default, would otherwise fill the log).
fn log_resync(
    generation: u8,
    counts: &BatchCounts,
    inserted: u64,
    (dumped, sweep_time): (Duration, Duration),
    swept: Option<usize>,
    discarded: usize,
) {
    let entries = counts.entries;
    let removed = counts.removed + swept.unwrap_or(0) as u64;
    let level = if changed_anything(inserted, removed, discarded) {
        Level::Info
    } else {
        Level::Debug
    };
    match swept {
        Some(swept) => log!(
            level,
            "resync (generation {generation}): {entries} entries dumped in {dumped:?}, \
             {inserted} new, {swept} stale swept in {sweep_time:?}, {discarded} queued \
             events discarded"
        ),
        None => log!(
            level,
            "resync (generation {generation}): {entries} entries dumped in {dumped:?}, \
             {inserted} new, all marked (no sweep), {discarded} queued events discarded"
        ),
    }
}

/// True when a resync inserted or removed entries, or discarded queued events.
fn changed_anything(inserted: u64, removed: u64, discarded: usize) -> bool {
    inserted != 0 || removed != 0 || discarded != 0
}

/// Dumps the neighbor tables `scope` covers (one dump per watched interface, else one
/// for all) on `dumps` and marks every entry with `generation`; returns the counts.
fn dump_into(
    dumps: &mut RouteSocket,
    map: &NeighMap<'_>,
    generation: u8,
    scope: Scope<'_>,
) -> io::Result<BatchCounts> {
    let filters: Vec<DumpFilter> = match scope.ifindexes {
        None => vec![DumpFilter::default()],
        Some(set) => set
            .iter()
            .map(|&i| DumpFilter {
                ifindex: Some(i),
                ..Default::default()
            })
            .collect(),
    };
    std::thread::scope(|threads| {
        let (to_apply, batches) = sync_channel::<Vec<u8>>(4);
        let (give_back, spares) = channel::<Vec<u8>>();
        let applier =
            threads.spawn(move || apply_batches(&batches, &give_back, map, generation, scope));
        let sent = receive_dumps(dumps, &filters, scope.families, &to_apply, &spares);
        drop(to_apply);
        let counts = applier
            .join()
            .map_err(|_| io::Error::other("dump applier thread panicked"))?;
        sent.map(|()| counts)
    })
}

/// The receiving half of [`dump_into`]: sends the dump's messages to the applier in
/// batches of about [`DUMP_BATCH_BYTES`], reusing the buffers it gives back.
fn receive_dumps(
    dumps: &mut RouteSocket,
    filters: &[DumpFilter],
    families: Families,
    to_apply: &SyncSender<Vec<u8>>,
    spares: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let exited = || io::Error::other("dump applier thread exited");
    let mut req = [0u8; REQUEST_BUF_LEN];
    let mut cur = Vec::with_capacity(DUMP_BATCH_BYTES + 4096);
    let mut sent = Ok(());
    for &filter in filters {
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
                    sent = Err(exited());
                }
            }
            Ok(())
        })?;
    }
    if !cur.is_empty() && to_apply.send(cur).is_err() {
        sent = Err(exited());
    }
    sent
}

/// The applying half of [`dump_into`], on its own thread: parses each batch, hands the
/// buffer back, then applies the batch's decisions.
fn apply_batches(
    batches: &Receiver<Vec<u8>>,
    give_back: &Sender<Vec<u8>>,
    map: &NeighMap<'_>,
    generation: u8,
    scope: Scope<'_>,
) -> BatchCounts {
    let mut counts = BatchCounts::default();
    // Decisions own their data: the batch goes back before they are applied.
    let mut decisions = Vec::with_capacity(DUMP_BATCH_BYTES / 64);
    for mut batch in batches {
        decisions.clear();
        for msg in MessageIter::new(&batch).flatten() {
            if let Ok(Parsed::Neigh(nm)) = Parsed::parse(&msg) {
                counts.entries += 1;
                if scope.accepts(nm.family, nm.ifindex) {
                    decisions.push(ingest(&nm));
                } else {
                    counts.ignored += 1;
                }
            }
        }
        batch.clear();
        let _ = give_back.send(batch);
        mark_batch(&decisions, map, generation, &mut counts);
    }
    counts
}

/// Applies the ingest decisions of one batch of a resync's dump in order, as
/// [`apply_neigh`](super::apply::apply_neigh) would, with upserts done by
/// [`NeighMap::mark`]: counts in `counts.marked` the entries moved to `generation`, in
/// `counts.removed` the entries removed.
///
/// Before each decision it prefetches the home slot of the decision [`PREFETCH_AHEAD`]
/// places on. An upsert's time goes mostly to the cache miss on its slot (the kernel's
/// dump evicts the map from the caches), and the misses of consecutive upserts cannot
/// overlap by themselves: each upsert's lock acquisition (a locked read-modify-write)
/// waits for all earlier loads. Prefetches are not loads, so several misses are in flight
/// at once.
fn mark_batch(decisions: &[Ingest], map: &NeighMap<'_>, generation: u8, counts: &mut BatchCounts) {
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
            match map.apply(decision, generation) {
                Ok(Applied::Ignored(_)) => counts.ignored += 1,
                Ok(Applied::Removed) => {
                    counts.applied += 1;
                    counts.removed += 1;
                }
                _ => counts.applied += 1,
            }
            continue;
        };
        match map.mark(e, generation) {
            Ok(m) => {
                counts.applied += 1;
                counts.marked += u64::from(m.newly_marked(generation));
            }
            Err(_full) => count_full(e, counts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::changed_anything;

    #[test]
    fn only_a_resync_that_changed_nothing_is_quiet() {
        assert!(!changed_anything(0, 0, 0));
        assert!(
            changed_anything(1, 0, 0),
            "an entry that came without an event"
        );
        assert!(changed_anything(0, 1, 0), "an entry the dump no longer had");
        assert!(changed_anything(0, 0, 1), "events dropped after an overrun");
    }
}
