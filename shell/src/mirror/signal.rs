//! Clean shutdown on SIGINT/SIGTERM: the handlers only set a flag, which
//! [`super::Mirror::run`] checks between polls (each poll waits at most one tick).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the SIGINT/SIGTERM handler installed by [`install_stop_handlers`].
pub static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs handlers for SIGINT and SIGTERM that set [`STOP`] (without `SA_RESTART`, so a
/// blocking `poll` returns `EINTR` at once). Returns the flag to pass to
/// [`super::Mirror::run`]. Errors: `sigaction(2)` failure. Call once, from the binary.
pub fn install_stop_handlers() -> io::Result<&'static AtomicBool> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        crate::sys::set_signal_handler(sig, on_signal)?;
    }
    Ok(&STOP)
}
