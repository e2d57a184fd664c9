//! The map's figures in the Prometheus text exposition format (version 0.0.4), for
//! `neigh map stat NAME --prometheus` (node_exporter's textfile collector) and the
//! mirror's `--metrics` endpoint.
//!
//! One rule names every metric after its `neigh map stat -j` field `K`, so the two match
//! field for field:
//! - a counter is `neigh_mirror_K_total`;
//! - a field in milliseconds `K_ms` is the gauge `neigh_mirror_K_seconds`, in seconds;
//! - any other field is the gauge `neigh_mirror_K`, but for `lock_count`, which is
//!   `neigh_mirror_locks` (the format reserves `_count` for summaries and histograms);
//! - `state` is `neigh_mirror_state{state="S"}`, 1 for the current state and 0 for the
//!   others; `stale`, `superseded` and `poisoned` are `neigh_mirror_stale`,
//!   `neigh_mirror_superseded` and `neigh_mirror_poisoned` (0 or 1); `path` is the label of
//!   `neigh_mirror_info{path="P"} 1`.
//!
//! Every sample carries the label `map="NAME"`; every metric has its `# HELP` and
//! `# TYPE` lines.

use std::io::Write as _;

use neigh::mirror::{MirrorState, MirrorStats};

/// Content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `map stat -j` fields that only grow while one mirror runs.
const COUNTERS: &[&str] = &[
    "inserts",
    "updates",
    "removes",
    "full",
    "events_applied",
    "events_ignored",
    "link_events",
    "resyncs",
    "enobufs",
    "resync_failures",
    "receive_failures",
    "inserts_refused_full",
    "spoofed",
    "requests_posted",
    "requests_ring_full",
    "requests_abandoned",
    "requests_served",
    "requests_deduped",
    "requests_rate_limited",
    "requests_failed",
];

/// What each field means (`# HELP`); a field missing here still gets a generic line.
const HELP: &[(&str, &str)] = &[
    (
        "bytes",
        "Size of the shared region (map and request ring) in bytes.",
    ),
    ("capacity", "Slots of the map."),
    ("lock_count", "Version locks of the map."),
    ("probe_max", "Longest probe run an insert may use."),
    ("entries", "Entries in the map."),
    ("inserts", "Entries inserted into the map."),
    ("updates", "Values of present entries updated."),
    ("removes", "Entries removed from the map."),
    ("full", "Inserts the map refused because it was full."),
    (
        "generation",
        "Generation of the last resync (mark and sweep).",
    ),
    (
        "owner_pid",
        "Process id of the mirror that writes the map, in its pid namespace.",
    ),
    (
        "owner_pid_namespace",
        "Inode of the writer's pid namespace, the N of pid:[N] (0: not recorded).",
    ),
    (
        "claims",
        "How many mirrors have owned the map (one more at each restart).",
    ),
    ("heartbeat_age_ms", "Age of the writer's last heartbeat."),
    (
        "events_applied",
        "Neighbor messages (events and dump replies) applied.",
    ),
    (
        "events_ignored",
        "Neighbor messages ignored (filtered out, proxy, other family).",
    ),
    ("link_events", "Link events seen."),
    ("resyncs", "Full resyncs done, the first sync included."),
    (
        "enobufs",
        "Event socket overruns (ENOBUFS), each followed by a resync.",
    ),
    (
        "resync_failures",
        "Resyncs that failed (each retried after a backoff).",
    ),
    (
        "receive_failures",
        "Failures to receive events other than overruns (each followed by a resync).",
    ),
    (
        "inserts_refused_full",
        "Inserts refused because the map was full.",
    ),
    (
        "spoofed",
        "Datagrams dropped because their sender was not the kernel.",
    ),
    ("last_dump_entries", "Entries the last dump delivered."),
    (
        "last_event_ms",
        "Unix time of the last neighbor event applied (0: never).",
    ),
    ("started_ms", "Unix time when the mirror formatted the map."),
    ("heartbeat_period_ms", "Heartbeat period of the writer."),
    (
        "requests_posted",
        "Resolution requests readers posted in the ring.",
    ),
    (
        "requests_ring_full",
        "Resolution requests dropped because the ring was full.",
    ),
    (
        "requests_abandoned",
        "Ring cells a reader claimed and never published.",
    ),
    (
        "requests_served",
        "Resolution requests handed to the kernel.",
    ),
    (
        "requests_deduped",
        "Resolution requests dropped as duplicates or held down.",
    ),
    (
        "requests_rate_limited",
        "Resolution requests dropped by the rate limit.",
    ),
    (
        "requests_failed",
        "Resolution requests invalid or refused by the kernel.",
    ),
    ("ring_cells", "Cells of the resolution request ring."),
];

/// The states `neigh_mirror_state` lists.
const STATES: [MirrorState; 4] = [
    MirrorState::Starting,
    MirrorState::Synced,
    MirrorState::Resyncing,
    MirrorState::Stopped,
];

/// Writes the exposition of map `name` (at `path`): its state, staleness and `fields`
/// (the `map stat -j` fields, in order).
pub fn render(
    out: &mut Vec<u8>,
    name: &str,
    path: &str,
    stats: &MirrorStats,
    fields: &[(&str, u64)],
) {
    let label = format!("map=\"{}\"", escape_label(name));
    family(
        out,
        "neigh_mirror_info",
        "gauge",
        "Always 1: the map's name and file.",
    );
    let _ = writeln!(
        out,
        "neigh_mirror_info{{{label},path=\"{}\"}} 1",
        escape_label(path)
    );
    family(
        out,
        "neigh_mirror_state",
        "gauge",
        "What the mirror is doing: 1 for the current state.",
    );
    for s in STATES {
        let v = u8::from(stats.state == s);
        let _ = writeln!(
            out,
            "neigh_mirror_state{{{label},state=\"{}\"}} {v}",
            s.name()
        );
    }
    family(
        out,
        "neigh_mirror_stale",
        "gauge",
        "1 when the writer's heartbeat is stale: the map no longer follows the kernel.",
    );
    let _ = writeln!(
        out,
        "neigh_mirror_stale{{{label}}} {}",
        u8::from(stats.stale)
    );
    for (metric, help, v) in [
        (
            "neigh_mirror_superseded",
            "1 when the region was replaced by another one: readers join the name again.",
            stats.map.superseded,
        ),
        (
            "neigh_mirror_poisoned",
            "1 when a writer unwound while moving entries; the next mirror repairs it.",
            stats.map.poisoned,
        ),
    ] {
        family(out, metric, "gauge", help);
        let _ = writeln!(out, "{metric}{{{label}}} {}", u8::from(v));
    }
    for &(key, value) in fields {
        let help = HELP.iter().find(|(k, _)| *k == key).map_or_else(
            || format!("The map stat field {key}."),
            |(_, h)| (*h).to_owned(),
        );
        if COUNTERS.contains(&key) {
            let metric = format!("neigh_mirror_{key}_total");
            family(out, &metric, "counter", &help);
            let _ = writeln!(out, "{metric}{{{label}}} {value}");
        } else if let Some(stem) = key.strip_suffix("_ms") {
            let metric = format!("neigh_mirror_{stem}_seconds");
            family(out, &metric, "gauge", &format!("{help} In seconds."));
            let _ = writeln!(
                out,
                "{metric}{{{label}}} {}.{:03}",
                value / 1000,
                value % 1000
            );
        } else {
            let metric = match key {
                "lock_count" => "neigh_mirror_locks".to_owned(),
                key => format!("neigh_mirror_{key}"),
            };
            family(out, &metric, "gauge", &help);
            let _ = writeln!(out, "{metric}{{{label}}} {value}");
        }
    }
}

fn family(out: &mut Vec<u8>, metric: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {metric} {help}");
    let _ = writeln!(out, "# TYPE {metric} {kind}");
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
    }

    #[test]
    fn every_counter_has_help() {
        for c in COUNTERS {
            assert!(HELP.iter().any(|(k, _)| k == c), "{c}");
        }
    }
}
