//! The C API: `libneigh.a` + `shell/include/neigh.h` (generated from this module by
//! cbindgen; `shell/include/check-header.sh` regenerates it and fails when it is stale).
//!
//! A C program sizes and formats a map in its own memory, or joins one (by pointer, or by
//! shared-memory name as the mirror publishes it), looks neighbors up without allocation,
//! lock or system call, and may write to a map it owns:
//!
//! - lifecycle (`handle.rs`): [`neigh_map_footprint`], [`neigh_map_align`],
//!   [`neigh_map_format`], [`neigh_map_join`], [`neigh_map_join_shm`], [`neigh_map_leave`];
//! - lookups (`lookup.rs`): [`neigh_map_lookup4`], [`neigh_map_lookup6`], filling a
//!   [`neigh_entry`] (`entry.rs`), and their bursts [`neigh_map_lookup4_burst`],
//!   [`neigh_map_lookup6_burst`] (many keys per call);
//! - writes (`write.rs`): [`neigh_map_upsert4`]/`6`, [`neigh_map_remove4`]/`6`;
//! - resolution requests to the mirror (`resolve.rs`): [`neigh_map_request_resolve4`]/`6`;
//! - the map's status for a housekeeping loop (`status.rs`): [`neigh_map_status`];
//! - the mirror itself (`mirror.rs`): [`neigh_mirror_create`], [`neigh_mirror_poll`],
//!   [`neigh_mirror_run`], [`neigh_mirror_map`], [`neigh_mirror_destroy`];
//! - errors (`error.rs`): negative errno-style codes, [`neigh_strerror`],
//!   [`neigh_last_error`].
//!
//! # Boundary rules
//!
//! - No Rust panic crosses into C: every entry point runs its body under
//!   [`std::panic::catch_unwind`] and turns a panic into `NEIGH_ENOTRECOVERABLE` (the bench
//!   `ffi` shows the guard costs nothing measurable on the lookup path). The library is
//!   built with `panic = "unwind"` (the default); a build with `panic = "abort"` would
//!   abort the process instead.
//! - Every pointer argument is checked for NULL (`NEIGH_EFAULT`) and for its type's
//!   alignment (`NEIGH_EINVAL`) before use; regions must be `neigh_map_align()`-aligned.
//! - Handles are opaque heap objects, allocated by format/join and freed by leave; lookups
//!   and writes never allocate.
#![allow(non_camel_case_types)]

mod entry;
mod error;
mod handle;
mod key;
mod lookup;
mod mirror;
mod resolve;
mod status;
mod write;

#[cfg(test)]
mod tests;

pub use entry::neigh_entry;
pub use error::*;
pub use handle::{
    neigh_map, neigh_map_align, neigh_map_capacity, neigh_map_footprint, neigh_map_format,
    neigh_map_join, neigh_map_join_shm, neigh_map_leave, neigh_map_len, NEIGH_READ_ONLY,
    NEIGH_READ_WRITE,
};
pub use lookup::{
    neigh_map_lookup4, neigh_map_lookup4_burst, neigh_map_lookup6, neigh_map_lookup6_burst,
};
pub use mirror::{
    neigh_mirror, neigh_mirror_create, neigh_mirror_destroy, neigh_mirror_map, neigh_mirror_poll,
    neigh_mirror_run,
};
pub use resolve::{neigh_map_request_resolve4, neigh_map_request_resolve6};
pub use status::{
    neigh_map_status, neigh_status, NEIGH_MIRROR_RESYNCING, NEIGH_MIRROR_STARTING,
    NEIGH_MIRROR_STOPPED, NEIGH_MIRROR_SYNCED, NEIGH_MIRROR_UNKNOWN,
};
pub use write::{neigh_map_remove4, neigh_map_remove6, neigh_map_upsert4, neigh_map_upsert6};

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an entry point's body, turning a panic into `NEIGH_ENOTRECOVERABLE`. Unwind safety
/// is asserted: after a panic the caller is told to drop the handle, and the map protects
/// its own state: a writer that unwinds in the middle of moving entries leaves the locks of
/// that move held and moving, so readers of that range get `NEIGH_EBUSY` instead of a
/// half-moved run, and marks the region poisoned, so later joins fail; a panic anywhere
/// else releases its locks with nothing half written (a value update is one store).
#[inline(always)]
fn guard(body: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(NEIGH_ENOTRECOVERABLE)
}
