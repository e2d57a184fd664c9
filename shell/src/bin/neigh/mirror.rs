//! `neigh mirror --map NAME ...`: keeps the shared-memory map /dev/shm/NAME equal to the
//! kernel's neighbor tables until SIGINT or SIGTERM ([`neigh::mirror::Mirror::run_with`]),
//! as a systemd service when run by one (`service.rs`), serving its metrics with
//! `--metrics` (`metrics_http.rs`).
//!
//! Logs (stderr, info level by default): the start (map, size, filters), the first sync
//! (entries, time taken), each overrun and resync (from the library), the stop.
//!
//! Exit status: 0 after a signal; 1 when the mirror cannot start or its sockets fail.

use std::time::Instant;

use log::info;
use neigh::mirror::{signal, Families, Mirror, MirrorConfig};
use neigh::workspace::shm_path;

use crate::error::CliError;
use crate::metrics_http;
use crate::service::{ServiceNotifier, ServiceOptions};

/// Runs the mirror configured by `cfg` until a signal.
pub fn mirror(cfg: &MirrorConfig, svc: &ServiceOptions) -> Result<(), CliError> {
    let mut notifier = ServiceNotifier::from_env();
    let n = &mut notifier;
    let stop = signal::install_stop_handlers()
        .map_err(|e| fail(n, format!("cannot install signal handlers: {e}")))?;
    let name = cfg.map_name.as_deref().unwrap_or_default();
    let listener = match svc.metrics {
        Some(addr) => {
            Some(metrics_http::bind(addr).map_err(|e| fail(n, format!("--metrics {addr}: {e}")))?)
        }
        None => None,
    };
    info!("{}", start_line(cfg));
    n.starting("dumping the neighbor tables");
    let started = Instant::now();
    let mut mirror = Mirror::new(cfg.clone()).map_err(|e| fail(n, e))?;
    let entries = mirror.reader().map_or(0, |r| r.len());
    info!(
        "in sync: {entries} entries in {} ms, map {} ({} bytes)",
        started.elapsed().as_millis(),
        shm_path(name).display(),
        mirror.region().workspace().len()
    );
    if let Some(listener) = listener {
        metrics_http::serve(listener, name).map_err(|e| fail(n, e))?;
    }
    n.ready(&mirror);
    let result = mirror.run_with(stop, |m, _| n.turn(m, stop));
    match result {
        Ok(()) => {
            n.stopping();
            Ok(())
        }
        Err(e) => Err(fail(n, e)),
    }
}

/// Tells the service manager why the mirror fails; the error for the caller.
fn fail(n: &mut ServiceNotifier, e: impl std::fmt::Display) -> CliError {
    n.failed(&e.to_string());
    CliError::new(1, format!("neigh mirror: {e}"))
}

/// `mirror starting: map NAME, capacity N, dev all, IPv4 and IPv6, ...`.
fn start_line(cfg: &MirrorConfig) -> String {
    let devs = if cfg.devs.is_empty() {
        "all".to_owned()
    } else {
        cfg.devs.join(",")
    };
    let families = match cfg.families {
        Families::Both => "IPv4 and IPv6",
        Families::V4 => "IPv4",
        Families::V6 => "IPv6",
    };
    let resync = cfg.periodic_resync.map_or("never".to_owned(), |d| {
        format!("every {} s", d.as_secs_f64())
    });
    format!(
        "mirror starting: map {}, capacity {} entries, dev {devs}, {families}, \
         request ring {} cells, periodic resync {resync}",
        cfg.map_name.as_deref().unwrap_or("<anonymous>"),
        cfg.capacity,
        cfg.resolve.ring_cells,
    )
}
