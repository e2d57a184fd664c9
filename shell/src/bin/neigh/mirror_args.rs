//! The grammar of the mirror's commands: `neigh mirror --map NAME [OPTIONS] [dev IF ...]
//! [-4 | -6]` (long options, as daemons take them) and `neigh map { show | stat | check } NAME`
//! (the global `-j`/`-p` options apply).
//!
//! A usage error prints the message and the command's help and exits with 2, as these
//! commands always have (the `ip` grammar's commands exit with 255).

use std::str::FromStr;
use std::time::Duration;

use neigh::mirror::{Families, MirrorConfig};
use neigh::workspace::check_map_name;
use neigh_core::wire::consts::{AF_INET, AF_INET6};

use crate::cli::{Command, Globals, Topic};
use crate::error::CliError;
use crate::help;
use crate::service::ServiceOptions;

/// Exit status of a usage error of `mirror` or `map`.
const EXIT_USAGE: i32 = 2;

/// `map` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapArgs {
    pub verb: MapVerb,
    /// The region's name in /dev/shm.
    pub name: String,
    /// `stat --prometheus`: the Prometheus text format.
    pub prometheus: bool,
    /// `check --max-age MS`: the oldest heartbeat that passes.
    pub max_age_ms: Option<u64>,
}

/// What `map` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapVerb {
    /// `show` (`list`, `ls`): the entries.
    Show,
    /// `stat` (`stats`): header, counters and writer liveness.
    Stat,
    /// `check`: exit 0 only when a live writer is synced (see `check.rs`).
    Check,
}

fn usage(msg: &str, topic: Topic) -> CliError {
    CliError::new(
        EXIT_USAGE,
        format!("{msg}\n{}", help::text(topic).trim_end()),
    )
}

/// Parses the words after `mirror`. A leading `-4`/`-6` (in `g`) selects the family too.
pub fn mirror(args: &[String], g: &Globals) -> Result<Command, CliError> {
    let mut cfg = MirrorConfig::default();
    match g.family {
        AF_INET => cfg.families = Families::V4,
        AF_INET6 => cfg.families = Families::V6,
        _ => {}
    }
    let bad = |msg: String| usage(&msg, Topic::Mirror);
    let mut svc = ServiceOptions::default();
    let mut it = args.iter().map(String::as_str);
    fn num<T: FromStr>(opt: &str, v: Option<&str>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{opt} needs a value"))?;
        v.parse()
            .map_err(|_| format!("invalid value \"{v}\" for {opt}"))
    }
    while let Some(w) = it.next() {
        match w {
            "help" | "-h" | "--help" => return Ok(Command::Help(Topic::Mirror)),
            "--map" => {
                cfg.map_name = Some(
                    it.next()
                        .ok_or_else(|| bad("--map needs a name".into()))?
                        .to_owned(),
                )
            }
            "--capacity" => cfg.capacity = num(w, it.next()).map_err(bad)?,
            "--rcvbuf" => cfg.rcvbuf = num(w, it.next()).map_err(bad)?,
            "--ring" => cfg.resolve.ring_cells = num(w, it.next()).map_err(bad)?,
            "--rate" => cfg.resolve.rate_per_sec = num(w, it.next()).map_err(bad)?,
            "--hold-down" => {
                cfg.resolve.hold_down = Duration::from_millis(num(w, it.next()).map_err(bad)?)
            }
            "--resync-interval" => {
                let secs: f64 = num(w, it.next()).map_err(bad)?;
                let every = Duration::try_from_secs_f64(secs).map_err(|_| {
                    bad(format!(
                        "invalid value \"{secs}\" for {w}: 0 (never) or a number of seconds up to {}",
                        u64::MAX
                    ))
                })?;
                cfg.periodic_resync = (!every.is_zero()).then_some(every);
            }
            "--resolve-udp" => cfg.resolve.udp_only = true,
            "--metrics" => svc.metrics = Some(ServiceOptions::listen_addr(it.next()).map_err(bad)?),
            "--hugetlb" => {
                let dir = it
                    .next()
                    .ok_or_else(|| bad("--hugetlb needs a directory".into()))?;
                cfg.hugetlb = Some(dir.into());
            }
            "dev" => cfg.devs.push(
                it.next()
                    .ok_or_else(|| bad("dev needs an interface name".into()))?
                    .to_owned(),
            ),
            "-4" => cfg.families = Families::V4,
            "-6" => cfg.families = Families::V6,
            other => return Err(bad(format!("unknown argument \"{other}\""))),
        }
    }
    check_mirror(&mut cfg).map_err(bad)?;
    Ok(Command::Mirror(cfg, svc))
}

/// The checks that need the whole `mirror` command line; fills in the derived burst, then
/// checks every value's range as the mirror will ([`MirrorConfig::check`]).
fn check_mirror(cfg: &mut MirrorConfig) -> Result<(), String> {
    if cfg.map_name.is_none() {
        return Err("--map NAME is required".into());
    }
    let rate = cfg.resolve.rate_per_sec;
    if !(0.0..=MirrorConfig::MAX_RATE).contains(&rate) {
        return Err(format!(
            "--rate {rate}: not a number of requests per second from 0 to {}",
            MirrorConfig::MAX_RATE
        ));
    }
    cfg.resolve.burst = rate.clamp(1.0, 1000.0);
    cfg.check()
}

/// The options of `map`'s verbs (the other dash words are global options).
pub const MAP_OPTIONS: &[&str] = &["--prometheus", "--max-age"];

/// Parses the words after `map` (global options already taken out):
/// `{ show | stat [--prometheus] | check [--max-age MS] } NAME`, options before or after
/// the name.
pub fn map(args: &[String]) -> Result<Command, CliError> {
    let bad = |msg: &str| usage(msg, Topic::Map);
    let mut words = args.iter().map(String::as_str);
    let verb = match words.next() {
        None | Some("help") => return Ok(Command::Help(Topic::Map)),
        Some("show" | "list" | "ls") => MapVerb::Show,
        Some("stat" | "stats") => MapVerb::Stat,
        Some("check") => MapVerb::Check,
        Some(other) => return Err(bad(&format!("unknown map command \"{other}\""))),
    };
    let mut a = MapArgs {
        verb,
        name: String::new(),
        prometheus: false,
        max_age_ms: None,
    };
    while let Some(w) = words.next() {
        match (verb, w) {
            (MapVerb::Stat, "--prometheus") => a.prometheus = true,
            (MapVerb::Check, "--max-age") => {
                let v = words.next().ok_or_else(|| bad("--max-age needs a value"))?;
                let ms = v
                    .parse()
                    .map_err(|_| bad(&format!("invalid value \"{v}\" for --max-age")))?;
                a.max_age_ms = Some(ms);
            }
            (_, w) if a.name.is_empty() && !w.starts_with('-') => a.name = w.to_owned(),
            _ => return Err(bad(&format!("unexpected argument \"{w}\""))),
        }
    }
    if a.name.is_empty() {
        return Err(bad("expected: map show|stat|check NAME"));
    }
    check_map_name(&a.name).map_err(|e| bad(&e.to_string()))?;
    Ok(Command::Map(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn parse_mirror_args(a: &[String]) -> Result<Option<MirrorConfig>, CliError> {
        match mirror(a, &Globals::default())? {
            Command::Mirror(c, _) => Ok(Some(c)),
            Command::Help(Topic::Mirror) => Ok(None),
            c => panic!("{c:?}"),
        }
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

    /// Every numeric option at and past its edges: a usage error or a configuration the
    /// mirror accepts, never a panic and never a value silently changed.
    #[test]
    fn numeric_options_out_of_range_are_usage_errors() {
        let huge = "18446744073709551615";
        for bad in [
            "--resync-interval 1e308".to_owned(),
            format!("--resync-interval {huge}"),
            "--resync-interval -1".into(),
            "--resync-interval nan".into(),
            "--rate 1e308".into(),
            "--rate inf".into(),
            "--rate -1".into(),
            format!("--capacity {huge}"),
            "--capacity 536870913".into(),
            "--capacity 0".into(),
            format!("--ring {huge}"),
            "--ring 33554432".into(),
            format!("--rcvbuf {huge}"),
            format!("--hold-down {huge}0"),
        ] {
            let a = args(&format!("--map m {bad}"));
            let err = parse_mirror_args(&a).expect_err(&bad);
            assert_eq!(err.code, EXIT_USAGE, "{bad}: {}", err.message);
        }
        for good in [
            format!("--resync-interval {}", u32::MAX),
            format!("--hold-down {huge}"),
            "--capacity 536870912".into(),
            "--rate 1000000".into(),
            "--rcvbuf 2147483647".into(),
            "--ring 16777216".into(),
        ] {
            let c = parse_mirror_args(&args(&format!("--map m {good}")))
                .unwrap_or_else(|e| panic!("{good}: {}", e.message))
                .expect("config");
            c.check().unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn map_args_and_usage_errors() {
        assert_eq!(
            map(&args("stat m")).unwrap(),
            Command::Map(MapArgs {
                verb: MapVerb::Stat,
                name: "m".into(),
                prometheus: false,
                max_age_ms: None,
            })
        );
        assert_eq!(map(&args("")).unwrap(), Command::Help(Topic::Map));
        assert_eq!(map(&args("frobnicate m")).unwrap_err().code, EXIT_USAGE);
        assert_eq!(map(&args("show")).unwrap_err().code, EXIT_USAGE);
        let Command::Map(a) = map(&args("check m --max-age 250")).unwrap() else {
            panic!()
        };
        assert_eq!((a.verb, a.max_age_ms), (MapVerb::Check, Some(250)));
        let Command::Map(a) = map(&args("stat --prometheus m")).unwrap() else {
            panic!()
        };
        assert!(a.prometheus && a.name == "m");
        for bad in [
            "check m --max-age",
            "check m --max-age x",
            "show m --prometheus",
            "stat m n",
        ] {
            assert_eq!(map(&args(bad)).unwrap_err().code, EXIT_USAGE, "{bad}");
        }
    }
}
