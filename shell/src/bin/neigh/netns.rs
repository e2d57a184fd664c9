//! `-n NS` / `-netns NS`: run in a named network namespace, as `ip -n` does.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::error::CliError;

/// Where `ip netns add` keeps its namespaces.
const NETNS_RUN_DIR: &str = "/run/netns";

/// Moves this thread (the only one: call it before opening any socket or spawning) into
/// the network namespace `/run/netns/NAME`, as iproute2's `netns_switch` does; sockets
/// opened afterwards live there. Unlike ip it leaves the mount namespace alone (ip remounts
/// /sys and binds /etc/netns/NAME over /etc; neigh reads neither for its commands).
///
/// Errors (exit 255, ip's texts): `Cannot open network namespace "NAME": STRERROR`,
/// `setting the network namespace "NAME" failed: STRERROR`.
pub fn enter(name: &str) -> Result<(), CliError> {
    let path = format!("{NETNS_RUN_DIR}/{name}");
    let f = File::open(&path).map_err(|e| {
        CliError::new(
            255,
            format!("Cannot open network namespace \"{name}\": {}", os_text(&e)),
        )
    })?;
    // SAFETY: `f` is an open descriptor for the call's duration; setns changes only the
    // calling thread's namespace and has no memory-safety preconditions.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(CliError::new(
            255,
            format!(
                "setting the network namespace \"{name}\" failed: {}",
                os_text(&e)
            ),
        ));
    }
    Ok(())
}

fn os_text(e: &std::io::Error) -> String {
    e.raw_os_error()
        .map_or_else(|| e.to_string(), neigh::netlink::strerror)
}
