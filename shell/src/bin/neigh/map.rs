//! `neigh map show NAME` and `neigh map stat NAME`: the map a `neigh mirror --map NAME`
//! keeps, read as a data plane reads it (read-only mapping, lock-free reads). The entries
//! come from the shared region, not from the kernel; interface names come from this
//! namespace's link table (`ifN` when unknown here).
//!
//! Exit status: 0; 1 when the map cannot be joined; 3 when the writer's heartbeat is stale
//! (the map no longer follows the kernel; the output is still printed), except with
//! `--prometheus`, whose output says so (`neigh_mirror_stale 1`); 4 when `show` could not
//! read some slots (a writer kept moving entries there, or died in the middle of a move):
//! the entries it could read are printed, and stderr says how many slots it could not.

use std::io::Write as _;

use neigh::mirror::{unix_ms, MirrorStats, Region, StatWord};
use neigh::netlink::{RouteSocket, SocketOptions};
use neigh::workspace::Access;
use neigh_core::map::{MapEntry, MapReader};

use crate::cli::{Globals, MapArgs, MapVerb};
use crate::error::CliError;
use crate::json::JsonWriter;
use crate::links::LinkTable;
use crate::render::Renderer;

/// Exit status when the map's writer is gone (stale heartbeat).
const EXIT_STALE: i32 = 3;
/// Exit status when `show` could not read every slot (`Busy`).
const EXIT_INCOMPLETE: i32 = 4;
/// Passes over the map `show` makes before it reports slots it could not read: a live
/// writer moves keys for microseconds at a time, so a second pass normally reads them.
const SHOW_PASSES: usize = 3;

/// Runs `neigh map show|stat|check NAME`.
pub fn map(g: &Globals, a: &MapArgs) -> Result<(), CliError> {
    if a.verb == MapVerb::Check {
        return crate::check::check(&a.name, a.max_age_ms);
    }
    let region = Region::open(&a.name, Access::ReadOnly)
        .map_err(|e| CliError::new(1, format!("neigh map: {e}")))?;
    let reader = region
        .reader()
        .map_err(|e| CliError::new(1, format!("neigh map: {}: {e}", a.name)))?;
    let stats = MirrorStats::read(&reader);
    let mut out = Vec::new();
    let mut unreadable = 0;
    match a.verb {
        MapVerb::Show => {
            let (mut entries, busy) = read_entries(&reader);
            unreadable = busy;
            entries.sort_by_key(|e| (e.key().ifindex, e.key().addr));
            // Names as this namespace knows them; without a netlink socket, `ifN`.
            let links = RouteSocket::open(&SocketOptions::default())
                .and_then(|mut s| LinkTable::load(&mut s))
                .unwrap_or_default();
            let mut r = Renderer::new(&links, g.json, g.pretty, 0, false);
            r.begin_list(&mut out);
            for e in &entries {
                r.map_entry(&mut out, e);
            }
            r.end_list(&mut out);
        }
        MapVerb::Stat if a.prometheus => crate::prometheus::render(
            &mut out,
            &a.name,
            &region.workspace_path(),
            &stats,
            &stat_fields(&region, &stats),
        ),
        MapVerb::Stat if g.json => stat_json(&mut out, &a.name, &region, &stats, g.pretty),
        // `check` returned above.
        MapVerb::Stat | MapVerb::Check => stat_text(&mut out, &a.name, &region, &stats),
    }
    let _ = std::io::stdout().lock().write_all(&out);
    let mut problems = Vec::new();
    // The exposition says it itself (`neigh_mirror_stale 1`), and a textfile collector's
    // `neigh map stat NAME --prometheus > F && mv F ...` must still publish it.
    if stats.stale && !a.prometheus {
        problems.push(format!(
            "neigh map: {}: writer heartbeat is {} ms old: the mirror (pid {}) is not \
             running; the map no longer follows the kernel",
            a.name, stats.heartbeat_age_ms, stats.map.owner
        ));
    }
    if unreadable > 0 {
        problems.push(format!(
            "neigh map: {}: {unreadable} slot(s) could not be read (a writer kept moving \
             entries there, or died in the middle of a move): the listing is incomplete",
            a.name
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let code = if unreadable > 0 {
        EXIT_INCOMPLETE
    } else {
        EXIT_STALE
    };
    Err(CliError::new(code, problems.join("\n")))
}

/// Every entry of the map, and how many slots stayed unreadable (`Busy`): up to
/// [`SHOW_PASSES`] passes, until one reads every slot.
fn read_entries(reader: &MapReader<'_>) -> (Vec<MapEntry>, usize) {
    let mut pass = 0;
    loop {
        pass += 1;
        let mut entries = Vec::with_capacity(reader.len());
        let mut busy = 0;
        for e in reader.iter() {
            match e {
                Ok(e) => entries.push(e),
                Err(_) => busy += 1,
            }
        }
        if busy == 0 || pass == SHOW_PASSES {
            return (entries, busy);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Every counter `map stat -j` prints, in order, by JSON key.
pub fn stat_fields(region: &Region, s: &MirrorStats) -> Vec<(&'static str, u64)> {
    let ring = region.ring_stats().unwrap_or_default();
    vec![
        ("bytes", region.workspace().len() as u64),
        ("capacity", s.map.capacity),
        ("lock_count", s.map.lock_count),
        ("probe_max", s.map.probe_max),
        ("entries", s.map.len),
        ("inserts", s.map.inserts),
        ("updates", s.map.updates),
        ("removes", s.map.removes),
        ("full", s.map.full),
        ("generation", s.map.generation),
        ("owner_pid", s.map.owner),
        (
            "owner_pid_namespace",
            s.owner_pid_ns().map_or(0, |ns| ns.ino),
        ),
        ("claims", s.map.claims),
        ("heartbeat_age_ms", s.heartbeat_age_ms),
        ("events_applied", s.get(StatWord::Applied)),
        ("events_ignored", s.get(StatWord::Ignored)),
        ("link_events", s.get(StatWord::LinkEvents)),
        ("resyncs", s.get(StatWord::Resyncs)),
        ("enobufs", s.get(StatWord::Enobufs)),
        ("resync_failures", s.get(StatWord::ResyncFailures)),
        ("receive_failures", s.get(StatWord::ReceiveFailures)),
        ("inserts_refused_full", s.get(StatWord::Full)),
        ("spoofed", s.get(StatWord::Spoofed)),
        ("last_dump_entries", s.get(StatWord::DumpEntries)),
        ("last_event_ms", s.get(StatWord::LastEventMs)),
        ("started_ms", s.get(StatWord::StartedMs)),
        ("heartbeat_period_ms", s.get(StatWord::HeartbeatPeriodMs)),
        ("requests_posted", ring.posted),
        ("requests_ring_full", ring.dropped_full),
        ("requests_abandoned", ring.abandoned),
        ("requests_served", s.get(StatWord::RequestsServed)),
        ("requests_deduped", s.get(StatWord::RequestsDeduped)),
        (
            "requests_rate_limited",
            s.get(StatWord::RequestsRateLimited),
        ),
        ("requests_failed", s.get(StatWord::RequestsFailed)),
        ("ring_cells", ring.cells),
    ]
}

/// `map stat -j`: one object, the map's name, path, state and staleness, then
/// [`stat_fields`].
fn stat_json(out: &mut Vec<u8>, name: &str, region: &Region, s: &MirrorStats, pretty: bool) {
    let mut j = JsonWriter::new(pretty);
    j.start_object(out);
    j.name(out, "map");
    j.string(out, name.as_bytes());
    j.name(out, "path");
    j.string(out, region.workspace_path().as_bytes());
    j.name(out, "state");
    j.string(out, s.state.name().as_bytes());
    j.name(out, "stale");
    j.boolean(out, s.stale);
    j.name(out, "superseded");
    j.boolean(out, s.map.superseded);
    j.name(out, "poisoned");
    j.boolean(out, s.map.poisoned);
    for (k, v) in stat_fields(region, s) {
        j.name(out, k);
        j.uint(out, v);
    }
    j.end_object(out);
    out.push(b'\n');
}

/// `map stat`: the same numbers, grouped in lines a person reads.
fn stat_text(out: &mut Vec<u8>, name: &str, region: &Region, s: &MirrorStats) {
    let ring = region.ring_stats().unwrap_or_default();
    let last_event = match s.get(StatWord::LastEventMs) {
        0 => "never".to_owned(),
        t => format!("{} ms ago", unix_ms().saturating_sub(t)),
    };
    let m = &s.map;
    let _ = writeln!(
        out,
        "map {name}: {} ({} bytes)",
        region.workspace_path(),
        region.workspace().len()
    );
    let _ = writeln!(
        out,
        "  writer: pid {}{} state {} heartbeat {} ms ago{}{}{}, owners so far {}",
        m.owner,
        s.owner_pid_ns()
            .map_or(String::new(), |ns| format!(" in pid:[{}]", ns.ino)),
        s.state.name(),
        s.heartbeat_age_ms,
        if s.stale { " STALE" } else { "" },
        if m.superseded { " SUPERSEDED" } else { "" },
        if m.poisoned { " POISONED" } else { "" },
        m.claims
    );
    let _ = writeln!(
        out,
        "  entries {} capacity {} locks {} probe_max {} generation {}",
        m.len, m.capacity, m.lock_count, m.probe_max, m.generation
    );
    let _ = writeln!(
        out,
        "  map: inserts {} updates {} removes {} full {}",
        m.inserts, m.updates, m.removes, m.full
    );
    let _ = writeln!(
        out,
        "  events: applied {} ignored {} links {} last {last_event}",
        s.get(StatWord::Applied),
        s.get(StatWord::Ignored),
        s.get(StatWord::LinkEvents),
    );
    let _ = writeln!(
        out,
        "  sync: resyncs {} enobufs {} last dump {} entries, spoofed datagrams {}",
        s.get(StatWord::Resyncs),
        s.get(StatWord::Enobufs),
        s.get(StatWord::DumpEntries),
        s.get(StatWord::Spoofed)
    );
    let _ = writeln!(
        out,
        "  failures survived: resyncs {} receives {}",
        s.get(StatWord::ResyncFailures),
        s.get(StatWord::ReceiveFailures)
    );
    let _ = writeln!(
        out,
        "  requests: ring {} cells, posted {} ring-full {} served {} deduped {} rate-limited {} failed {}",
        ring.cells,
        ring.posted,
        ring.dropped_full,
        s.get(StatWord::RequestsServed),
        s.get(StatWord::RequestsDeduped),
        s.get(StatWord::RequestsRateLimited),
        s.get(StatWord::RequestsFailed)
    );
}
