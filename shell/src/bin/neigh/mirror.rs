//! `neigh mirror --map NAME ...`: keeps the shared-memory map /dev/shm/NAME equal to the
//! kernel's neighbor tables until SIGINT or SIGTERM ([`neigh::mirror::Mirror::run`]).
//!
//! Exit status: 0 after a signal; 1 when the mirror cannot start or its sockets fail.

use neigh::mirror::{signal, Mirror, MirrorConfig};
use neigh::workspace::shm_path;

use crate::error::CliError;

/// Runs the mirror configured by `cfg` until a signal.
pub fn mirror(cfg: &MirrorConfig) -> Result<(), CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::new(1, format!("neigh mirror: {e}"));
    let stop = signal::install_stop_handlers().map_err(|e| {
        CliError::new(
            1,
            format!("neigh mirror: cannot install signal handlers: {e}"),
        )
    })?;
    let path = shm_path(cfg.map_name.as_deref().unwrap_or_default());
    let mut mirror = Mirror::new(cfg.clone()).map_err(|e| fail(&e))?;
    log::info!(
        "mirroring into {} ({} entries, {} bytes)",
        path.display(),
        mirror.reader().map_or(0, |r| r.len()),
        mirror.region().workspace().len()
    );
    mirror.run(stop).map_err(|e| fail(&e))
}
