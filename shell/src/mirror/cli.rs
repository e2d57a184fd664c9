//! The mirror's commands, as library functions the `neigh` binary dispatches to:
//!
//! - `neigh mirror --map NAME [--capacity N] [--rcvbuf BYTES] [--ring CELLS]
//!   [--rate PER_SEC] [--hold-down MS] [--resolve-udp] [--resync-interval SECS]
//!   [--hugetlb DIR] [dev IF ...] [-4|-6]`
//! - `neigh map show NAME [-j]`: the entries, read from the shared region as a data plane
//!   would (read-only mapping, lock-free reads, no netlink). Interface names are resolved
//!   in the reader's network namespace (`ifN` when unknown there); `-j` also gives
//!   `ifindex`.
//! - `neigh map stat NAME [-j]`: header, counters and writer liveness.
//!
//! Exit codes: 0 success; 1 runtime error (missing map, socket failure); 2 usage error;
//! 3 from `map stat`/`map show` when the writer's heartbeat is stale (the map no longer
//! follows the kernel; the output is still printed).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use neigh_core::map::MapEntry;
use neigh_core::NudState;

use super::config::{Families, MirrorConfig};
use super::engine::Mirror;
use super::stats::{unix_ms, MirrorStats, StatWord};
use crate::region::Region;
use crate::workspace::{shm_path, Access};

/// Help for `neigh mirror`.
pub const MIRROR_HELP: &str = "\
Usage: neigh mirror --map NAME [--capacity N] [--rcvbuf BYTES] [--ring CELLS]
                    [--rate PER_SEC] [--hold-down MS] [--resolve-udp] [--resync-interval SECS]
                    [--hugetlb DIR] [dev IF ...] [-4 | -6]

Keeps the shared-memory map /dev/shm/NAME equal to the kernel's neighbor tables
(subscribe, dump, apply events; re-dump on overruns) until SIGINT or SIGTERM.
Readers join it with `neigh map show NAME` or the C API.

  --map NAME        region name in /dev/shm (re-created, mode 0600)
  --capacity N      entries to size the map for (default 65536)
  --rcvbuf BYTES    event socket receive buffer (default 8388608, SO_RCVBUFFORCE)
  --ring CELLS      resolution request ring cells, a power of two; 0 disables (default 1024)
  --rate PER_SEC    resolutions asked of the kernel per second (default 200)
  --hold-down MS    ask for the same neighbor at most once per MS (default 1000)
  --resolve-udp     resolve by sending a TTL-1 UDP datagram instead of NTF_USE
                    (the automatic fallback without CAP_NET_ADMIN)
  --resync-interval SECS
                    re-dump this often even without a lost sync, to pick up what the
                    kernel does not announce (entries created unresolved, multicast
                    NOARP entries); 0 disables (default 30)
  --hugetlb DIR     back the region with a hugetlbfs file (falls back to /dev/shm)
  dev IF            mirror only these interfaces (repeatable)
  -4, -6            mirror only IPv4 (ARP) or IPv6 (NDP) neighbors
";

/// Help for `neigh map`.
pub const MAP_HELP: &str = "\
Usage: neigh map show NAME [-j]
       neigh map stat NAME [-j]

Reads the map a `neigh mirror --map NAME` maintains, read-only and without netlink,
as a data plane does. Exit status 3 when the mirror's heartbeat is stale (crashed).
";

fn usage(msg: &str, help: &str) -> i32 {
    eprintln!("{msg}");
    eprint!("{help}");
    2
}

/// `neigh mirror ARGS`: parses `args` (the words after `mirror`), installs the
/// SIGINT/SIGTERM handlers, and runs the mirror until a signal. Returns the exit code.
pub fn run_mirror_command(args: &[String]) -> i32 {
    let cfg = match parse_mirror_args(args) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            print!("{MIRROR_HELP}");
            return 0;
        }
        Err(msg) => return usage(&msg, MIRROR_HELP),
    };
    let stop = match super::signal::install_stop_handlers() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("neigh mirror: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let name = cfg.map_name.clone().unwrap_or_default();
    let mut mirror = match Mirror::new(cfg) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("neigh mirror: {e}");
            return 1;
        }
    };
    log::info!(
        "mirroring into {} ({} entries, {} bytes)",
        shm_path(&name).display(),
        mirror.reader().map_or(0, |r| r.len()),
        mirror.region().workspace().len()
    );
    match mirror.run(stop) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("neigh mirror: {e}");
            1
        }
    }
}

/// Parses the words after `mirror`. `Ok(None)`: help was asked for.
pub fn parse_mirror_args(args: &[String]) -> Result<Option<MirrorConfig>, String> {
    let mut cfg = MirrorConfig::default();
    let mut it = args.iter().map(String::as_str);
    fn num<T: std::str::FromStr>(opt: &str, v: Option<&str>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{opt} needs a value"))?;
        v.parse()
            .map_err(|_| format!("invalid value \"{v}\" for {opt}"))
    }
    while let Some(w) = it.next() {
        match w {
            "help" | "-h" | "--help" => return Ok(None),
            "--map" => cfg.map_name = Some(it.next().ok_or("--map needs a name")?.to_owned()),
            "--capacity" => cfg.capacity = num(w, it.next())?,
            "--rcvbuf" => cfg.rcvbuf = num(w, it.next())?,
            "--ring" => cfg.resolve.ring_cells = num(w, it.next())?,
            "--rate" => cfg.resolve.rate_per_sec = num(w, it.next())?,
            "--hold-down" => cfg.resolve.hold_down = Duration::from_millis(num(w, it.next())?),
            "--resync-interval" => {
                let secs: f64 = num(w, it.next())?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(format!("invalid value \"{secs}\" for {w}"));
                }
                cfg.periodic_resync = (secs > 0.0).then(|| Duration::from_secs_f64(secs));
            }
            "--resolve-udp" => cfg.resolve.udp_only = true,
            "--hugetlb" => {
                cfg.hugetlb = Some(it.next().ok_or("--hugetlb needs a directory")?.into())
            }
            "dev" => cfg
                .devs
                .push(it.next().ok_or("dev needs an interface name")?.to_owned()),
            "-4" => cfg.families = Families::V4,
            "-6" => cfg.families = Families::V6,
            other => return Err(format!("unknown argument \"{other}\"")),
        }
    }
    if cfg.map_name.is_none() {
        return Err("--map NAME is required".into());
    }
    if cfg.capacity == 0 {
        return Err("--capacity must be at least 1".into());
    }
    let cells = cfg.resolve.ring_cells;
    if cells != 0 && !cells.is_power_of_two() {
        return Err(format!("--ring {cells}: not a power of two"));
    }
    if cfg.resolve.rate_per_sec.is_nan() || cfg.resolve.rate_per_sec < 0.0 {
        return Err("--rate must be a non-negative number".into());
    }
    cfg.resolve.burst = cfg.resolve.rate_per_sec.clamp(1.0, 1000.0);
    Ok(Some(cfg))
}

/// `neigh map show|stat NAME [-j]`. Returns the exit code.
pub fn run_map_command(args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let json = words
        .iter()
        .any(|w| matches!(*w, "-j" | "-json" | "--json"));
    let rest: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "-j" | "-json" | "--json"))
        .collect();
    let (verb, name) = match rest.as_slice() {
        [] | ["help"] | ["-h"] | ["--help"] => {
            print!("{MAP_HELP}");
            return 0;
        }
        [verb, name] => (*verb, *name),
        _ => return usage("expected: map show|stat NAME [-j]", MAP_HELP),
    };
    let region = match Region::open(name, Access::ReadOnly) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("neigh map: {e}");
            return 1;
        }
    };
    let reader = match region.reader() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("neigh map: {name}: {e}");
            return 1;
        }
    };
    let stats = MirrorStats::read(&reader);
    let out = match verb {
        "show" | "list" | "ls" => {
            let mut entries: Vec<MapEntry> = reader.iter().filter_map(Result::ok).collect();
            entries.sort_by_key(|e| (e.key().ifindex, e.key().addr));
            if json {
                show_json(&entries)
            } else {
                show_text(&entries)
            }
        }
        "stat" | "stats" => stat_text(name, &region, &stats, json),
        other => return usage(&format!("unknown map command \"{other}\""), MAP_HELP),
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if stats.stale {
        eprintln!(
            "neigh map: {name}: writer heartbeat is {} ms old: the mirror (pid {}) is not \
             running; the map no longer follows the kernel",
            stats.heartbeat_age_ms, stats.map.owner
        );
        return 3;
    }
    0
}

/// The interface's name (`if_indextoname`), or `if%d` when unknown here.
fn ifname(ifindex: u32) -> String {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return format!("if{ifindex}");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn state_names(s: NudState) -> Vec<&'static str> {
    if s.0 == 0 {
        return vec!["NONE"];
    }
    NudState::NAMES
        .iter()
        .filter(|(bit, _)| s.contains(*bit))
        .map(|&(_, n)| n)
        .collect()
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `ip neigh`-style lines: `ADDR dev IF lladdr MAC [router] STATE`.
fn show_text(entries: &[MapEntry]) -> String {
    let mut o = String::new();
    for e in entries {
        let n = e.entry();
        let _ = write!(o, "{} dev {}", n.key.addr, ifname(n.key.ifindex));
        if let Some(m) = &n.mac {
            let _ = write!(o, " lladdr {}", mac_str(m));
        }
        if n.flags.contains(neigh_core::NtfFlags::ROUTER) {
            o.push_str(" router");
        }
        let _ = writeln!(o, " {}", state_names(n.state).join(" "));
    }
    o
}

/// JSON array with `ip -j neigh` keys (`dst`, `dev`, `lladdr`, `router`, `state`) plus
/// `ifindex` and `generation`.
fn show_json(entries: &[MapEntry]) -> String {
    let mut o = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        let n = e.entry();
        if i > 0 {
            o.push(',');
        }
        let dst = match n.key.addr {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => a.to_string(),
        };
        let _ = write!(
            o,
            "{{\"dst\":{},\"dev\":{},\"ifindex\":{}",
            json_str(&dst),
            json_str(&ifname(n.key.ifindex)),
            n.key.ifindex
        );
        if let Some(m) = &n.mac {
            let _ = write!(o, ",\"lladdr\":\"{}\"", mac_str(m));
        }
        if n.flags.contains(neigh_core::NtfFlags::ROUTER) {
            o.push_str(",\"router\":null");
        }
        let states: Vec<String> = state_names(n.state).iter().map(|s| json_str(s)).collect();
        let _ = write!(
            o,
            ",\"state\":[{}],\"generation\":{}}}",
            states.join(","),
            e.generation()
        );
    }
    o.push_str("]\n");
    o
}

fn stat_text(name: &str, region: &Region, s: &MirrorStats, json: bool) -> String {
    let ring = region.ring_stats().unwrap_or_default();
    let now = unix_ms();
    let last_event_age = match s.get(StatWord::LastEventMs) {
        0 => None,
        t => Some(now.saturating_sub(t)),
    };
    let fields: Vec<(&str, u64)> = vec![
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
        ("heartbeat_age_ms", s.heartbeat_age_ms),
        ("events_applied", s.get(StatWord::Applied)),
        ("events_ignored", s.get(StatWord::Ignored)),
        ("link_events", s.get(StatWord::LinkEvents)),
        ("resyncs", s.get(StatWord::Resyncs)),
        ("enobufs", s.get(StatWord::Enobufs)),
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
    ];
    let mut o = String::new();
    if json {
        let _ = write!(
            o,
            "{{\"map\":{},\"path\":{},\"state\":{},\"stale\":{}",
            json_str(name),
            json_str(&region.workspace_path()),
            json_str(s.state.name()),
            s.stale
        );
        for (k, v) in &fields {
            let _ = write!(o, ",\"{k}\":{v}");
        }
        o.push_str("}\n");
        return o;
    }
    let _ = writeln!(
        o,
        "map {name}: {} ({} bytes)",
        region.workspace_path(),
        region.workspace().len()
    );
    let _ = writeln!(
        o,
        "  writer: pid {} state {} heartbeat {} ms ago{}",
        s.map.owner,
        s.state.name(),
        s.heartbeat_age_ms,
        if s.stale { " STALE" } else { "" }
    );
    let _ = writeln!(
        o,
        "  entries {} capacity {} locks {} probe_max {} generation {}",
        s.map.len, s.map.capacity, s.map.lock_count, s.map.probe_max, s.map.generation
    );
    let _ = writeln!(
        o,
        "  map: inserts {} updates {} removes {} full {}",
        s.map.inserts, s.map.updates, s.map.removes, s.map.full
    );
    let _ = writeln!(
        o,
        "  events: applied {} ignored {} links {} last {}",
        s.get(StatWord::Applied),
        s.get(StatWord::Ignored),
        s.get(StatWord::LinkEvents),
        last_event_age.map_or("never".to_owned(), |a| format!("{a} ms ago"))
    );
    let _ = writeln!(
        o,
        "  sync: resyncs {} enobufs {} last dump {} entries, spoofed datagrams {}",
        s.get(StatWord::Resyncs),
        s.get(StatWord::Enobufs),
        s.get(StatWord::DumpEntries),
        s.get(StatWord::Spoofed)
    );
    let _ = writeln!(
        o,
        "  requests: ring {} cells, posted {} ring-full {} served {} deduped {} rate-limited {} failed {}",
        ring.cells,
        ring.posted,
        ring.dropped_full,
        s.get(StatWord::RequestsServed),
        s.get(StatWord::RequestsDeduped),
        s.get(StatWord::RequestsRateLimited),
        s.get(StatWord::RequestsFailed)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn mirror_args() {
        let c = parse_mirror_args(&args(
            "--map m --capacity 100 dev eth0 dev eth1 -6 --ring 64",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.map_name.as_deref(), Some("m"));
        assert_eq!(c.capacity, 100);
        assert_eq!(c.devs, vec!["eth0", "eth1"]);
        assert_eq!(c.families, Families::V6);
        assert_eq!(c.resolve.ring_cells, 64);
        let c = parse_mirror_args(&args("--map m --resync-interval 0 --resolve-udp"))
            .unwrap()
            .unwrap();
        assert_eq!(c.periodic_resync, None);
        assert!(c.resolve.udp_only);
        assert!(parse_mirror_args(&args("help")).unwrap().is_none());
        for bad in [
            "",
            "--capacity 5",
            "--map m --ring 3",
            "--map m --capacity x",
            "--map m bogus",
            "--map m dev",
        ] {
            assert!(parse_mirror_args(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_output_escapes_and_lists_states() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(state_names(NudState(0)), vec!["NONE"]);
        assert_eq!(
            state_names(NudState::REACHABLE | NudState::NOARP),
            vec!["REACHABLE", "NOARP"]
        );
    }
}
