//! `neigh mirror` as a systemd service: readiness, status and the watchdog, per
//! sd_notify(3) (through the `sd-notify` crate).
//!
//! With `NOTIFY_SOCKET` set (a `Type=notify` unit), the mirror sends:
//! - `STATUS=` lines: while the first dump runs, then the map's entries, resyncs and the
//!   last overrun whenever they change (at most once per [`STATUS_EVERY`]);
//! - `READY=1` once [`neigh::mirror::Mirror::new`] has returned, that is once the first
//!   full dump is in the map, never before;
//! - `WATCHDOG=1` every half of `WATCHDOG_USEC` (when `WATCHDOG_PID` is unset or names
//!   this process), from [`ServiceNotifier::turn`], which runs on the thread that applies
//!   the events after each loop turn: a wedged loop stops the pings and systemd restarts
//!   the service;
//! - `STOPPING=1` when it stops, or `STATUS=failed: ...` when it fails.
//!
//! Without `NOTIFY_SOCKET` nothing is sent. A failed send is logged once and otherwise
//! ignored: the mirror's job is the map, not its manager.
//!
//! Test hook: with `NEIGH_TEST_STALL_MS=N` the loop stalls N ms after `READY=1` (it sends
//! `STATUS=stalled (test hook)` and then only waits for the stop signal), so a test can
//! watch the watchdog pings stop while the process lives on.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::warn;
use neigh::mirror::{Mirror, MirrorStats, StatWord};
use sd_notify::NotifyState;

/// What `neigh mirror` does besides mirroring: `--metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Serve `/metrics` over HTTP on this address (`--metrics [ADDR:]PORT`).
    pub metrics: Option<SocketAddr>,
}

impl ServiceOptions {
    /// `--metrics`' value: `PORT` (on 127.0.0.1), `ADDR:PORT` or `[ADDR6]:PORT`.
    pub fn listen_addr(v: Option<&str>) -> Result<SocketAddr, String> {
        let v = v.ok_or("--metrics needs [ADDR:]PORT")?;
        if let Ok(port) = v.parse::<u16>() {
            return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        }
        v.parse()
            .map_err(|_| format!("invalid value \"{v}\" for --metrics: expected [ADDR:]PORT"))
    }
}

/// Shortest interval between two `STATUS=` updates.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The figures a `STATUS=` line shows; a new line is sent when they change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Shown {
    entries: u64,
    resyncs: u64,
    overruns: u64,
    full: u64,
}

/// Talks to the service manager for one `neigh mirror` process.
#[derive(Debug)]
pub struct ServiceNotifier {
    /// Half of `WATCHDOG_USEC`; `None`: no watchdog asked for.
    ping_every: Option<Duration>,
    last_ping: Instant,
    last_status: Instant,
    shown: Shown,
    /// When the overrun counter last moved.
    last_overrun: Option<Instant>,
    ready_at: Option<Instant>,
    stall_after: Option<Duration>,
    send_failed: bool,
}

impl ServiceNotifier {
    /// Reads the environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`, the test
    /// hook).
    pub fn from_env() -> Self {
        let now = Instant::now();
        let stall_after = std::env::var("NEIGH_TEST_STALL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis);
        Self {
            ping_every: sd_notify::watchdog_enabled().map(|d| d / 2),
            last_ping: now,
            last_status: now,
            shown: Shown::default(),
            last_overrun: None,
            ready_at: None,
            stall_after,
            send_failed: false,
        }
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if let Err(e) = sd_notify::notify(states) {
            if !self.send_failed {
                warn!("cannot notify the service manager: {e}");
                self.send_failed = true;
            }
        }
    }

    /// Says what the mirror is doing before it is ready.
    pub fn starting(&mut self, what: &str) {
        self.send(&[NotifyState::Status(what)]);
    }

    /// The first full dump is in the map: `READY=1` with a first status line.
    pub fn ready(&mut self, mirror: &Mirror) {
        let now = Instant::now();
        let status = match mirror.stats() {
            Ok(s) => {
                let line = self.status_line(&s, now);
                self.shown_changed(&s);
                line
            }
            Err(_) => "ready".into(),
        };
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        self.ready_at = Some(now);
        self.last_ping = now;
        self.last_status = now;
    }

    /// After each loop turn: the watchdog ping when due, a status line when the figures
    /// changed. O(1): a clock read, and the header's words when something is due.
    pub fn turn(&mut self, mirror: &Mirror, stop: &AtomicBool) {
        let now = Instant::now();
        if let Some(every) = self.ping_every {
            if now.duration_since(self.last_ping) >= every {
                self.last_ping = now;
                self.send(&[NotifyState::Watchdog]);
            }
        }
        if now.duration_since(self.last_status) >= STATUS_EVERY {
            self.last_status = now;
            if let Ok(stats) = mirror.stats() {
                let status = self.status_line(&stats, now);
                if self.shown_changed(&stats) {
                    self.send(&[NotifyState::Status(&status)]);
                }
            }
        }
        self.stall_if_asked(now, stop);
    }

    /// The mirror stopped after a signal.
    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopped")]);
    }

    /// The mirror failed (it exits non-zero next).
    pub fn failed(&mut self, why: &str) {
        self.send(&[NotifyState::Status(&format!("failed: {why}"))]);
    }

    fn figures(stats: &MirrorStats) -> Shown {
        Shown {
            entries: stats.map.len,
            resyncs: stats.get(StatWord::Resyncs),
            overruns: stats.get(StatWord::Enobufs),
            full: stats.get(StatWord::Full),
        }
    }

    fn shown_changed(&mut self, stats: &MirrorStats) -> bool {
        let now = Self::figures(stats);
        let changed = now != self.shown;
        self.shown = now;
        changed
    }

    /// `N entries, R resyncs, last overrun S s ago` (and refused inserts, if any).
    fn status_line(&mut self, stats: &MirrorStats, now: Instant) -> String {
        let f = Self::figures(stats);
        if f.overruns != self.shown.overruns {
            self.last_overrun = Some(now);
        }
        let overrun = match (f.overruns, self.last_overrun) {
            (0, _) => "no overrun".to_owned(),
            (n, Some(t)) => format!(
                "{n} overruns, last {} s ago",
                now.duration_since(t).as_secs()
            ),
            (n, None) => format!("{n} overruns"),
        };
        let full = match f.full {
            0 => String::new(),
            n => format!(", {n} inserts refused (map full)"),
        };
        format!(
            "{} entries, {} resyncs, {overrun}{full}",
            f.entries, f.resyncs
        )
    }

    fn stall_if_asked(&mut self, now: Instant, stop: &AtomicBool) {
        let (Some(after), Some(ready)) = (self.stall_after, self.ready_at) else {
            return;
        };
        if now.duration_since(ready) < after {
            return;
        }
        self.stall_after = None;
        self.send(&[NotifyState::Status("stalled (test hook)")]);
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_address_defaults_to_loopback() {
        let a = |v| ServiceOptions::listen_addr(Some(v));
        assert_eq!(a("9101").unwrap().to_string(), "127.0.0.1:9101");
        assert_eq!(a("0.0.0.0:9101").unwrap().to_string(), "0.0.0.0:9101");
        assert_eq!(a("[::1]:9101").unwrap().to_string(), "[::1]:9101");
        assert!(a("localhost:x").is_err());
        assert!(ServiceOptions::listen_addr(None).is_err());
    }
}
