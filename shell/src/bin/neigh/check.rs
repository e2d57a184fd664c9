//! `neigh map check NAME [--max-age MS]`: is the map kept by a live, synced mirror with
//! a fresh heartbeat? For `ExecStartPost=`, Kubernetes probes and Nagios.
//!
//! Prints one line on stdout and exits 0 (`NAME: ok ...`) or 1 (`NAME: REASON`). The
//! checks, in order; the first that fails is the one reported:
//! 1. the map exists and can be joined (`no such map`, or why it cannot be joined);
//! 2. the writer did not stop (`writer stopped`: the mirror exited cleanly);
//! 3. the writer's process exists (`writer gone`: it crashed or was killed), when the
//!    writer recorded that its pid namespace is this one; a writer in another pid
//!    namespace, or one that recorded none, is judged by its heartbeat alone (check 4);
//! 4. its heartbeat is at most `--max-age` ms old, by default three heartbeat periods and
//!    at least 3 s, the rule `map stat` uses for `stale` (`heartbeat stale`);
//! 5. the first full dump is in the map (`not yet synced`); a later resync in progress
//!    is fine, the entries stay readable meanwhile;
//! 6. the map never refused an insert for lack of room (`map full`).
//!
//! The writer's pid is the one its own pid namespace gave it: run in another one (a probe
//! in a sidecar container), the check cannot tell a crash from a hang until the
//! heartbeat goes stale, and prints the pid as that namespace numbers it.

use neigh::mirror::{pid_liveness, MirrorState, MirrorStats, PidLiveness, Region, StatWord};
use neigh::workspace::Access;

use crate::error::CliError;

/// Runs the check; `Err` carries exit status 1 (the line is already printed).
pub fn check(name: &str, max_age_ms: Option<u64>) -> Result<(), CliError> {
    match verdict(name, max_age_ms) {
        Ok(line) => {
            println!("{name}: ok: {line}");
            Ok(())
        }
        Err(line) => {
            println!("{name}: {line}");
            Err(CliError::new(1, String::new()))
        }
    }
}

/// The failure of the first check that fails, or what the healthy map looks like.
fn verdict(name: &str, max_age_ms: Option<u64>) -> Result<String, String> {
    let region = Region::open(name, Access::ReadOnly).map_err(|e| e.to_string())?;
    let reader = region
        .reader()
        .map_err(|e| format!("cannot read the map: {e}"))?;
    let s = MirrorStats::read(&reader);
    let pid = s.map.owner;
    if s.state == MirrorState::Stopped {
        return Err(format!(
            "writer stopped: the mirror (pid {pid}) exited; the map is frozen"
        ));
    }
    if pid_liveness(&reader, reader.claim_word()) == PidLiveness::Gone {
        return Err(format!(
            "writer gone: the mirror (pid {pid}) no longer runs; the map is frozen"
        ));
    }
    let max_age = max_age_ms.unwrap_or_else(|| {
        s.get(StatWord::HeartbeatPeriodMs)
            .max(1000)
            .saturating_mul(3)
    });
    if s.heartbeat_age_ms > max_age {
        return Err(format!(
            "heartbeat stale: {} ms old (max {max_age} ms); the mirror (pid {pid}) is hung",
            s.heartbeat_age_ms
        ));
    }
    if !matches!(s.state, MirrorState::Synced | MirrorState::Resyncing) {
        return Err(format!(
            "not yet synced: state {}, the first dump is not in the map",
            s.state.name()
        ));
    }
    let refused = s.get(StatWord::Full);
    if refused > 0 {
        return Err(format!(
            "map full: {refused} inserts refused since the mirror started (capacity {}); \
             raise --capacity",
            s.map.capacity
        ));
    }
    Ok(format!(
        "{} {} entries, heartbeat {} ms old, pid {pid}",
        s.state.name(),
        s.map.len,
        s.heartbeat_age_ms
    ))
}
