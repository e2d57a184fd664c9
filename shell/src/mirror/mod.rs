//! The mirror: keeps a named shared-memory neighbor map equal to the kernel's neighbor
//! tables, and serves the resolution requests readers post.
//!
//! - [`Mirror`] (`event_loop.rs`): start (region, sockets, first dump) and the loop:
//!   [`Mirror::new`], [`Mirror::run`], [`Mirror::poll_once`].
//! - `resync.rs`: discard queued events, dump under a new generation, sweep.
//! - `apply.rs`: neighbor and link messages to the map, the filters, the counters.
//! - `requests.rs` and `resolver.rs`: the request ring drained, deduplicated,
//!   rate-limited and asked of the kernel.
//! - `owner.rs`: who owns a map: the claim, taking a gone mirror's region over in place
//!   (repair, then resync), superseding one that cannot be, refusing a live mirror's.
//! - `liveness.rs`: whether a writer's pid says it runs: only in the pid namespace it
//!   recorded with its claim ([`pid_liveness`]); elsewhere its heartbeat does.
//! - [`MirrorError`] (`error.rs`): every failure of this API.
//! - [`MirrorConfig`] (`config.rs`): map name, capacity, dev and family filters, buffer.
//! - [`Region`] (`crate::region`): the map + request ring region, created or joined.
//! - [`StatWord`], [`MirrorStats`] (`stats.rs`): what the header's statistics words mean.
//! - [`signal`]: SIGINT/SIGTERM to a stop flag.
//!
//! # Library use (and what the C FFI wraps)
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use neigh::mirror::{Mirror, MirrorConfig};
//!
//! let cfg = MirrorConfig { map_name: Some("neigh0".into()), ..Default::default() };
//! let mut mirror = Mirror::new(cfg)?;        // take over or create /dev/shm/neigh0, first dump
//! let stop = AtomicBool::new(false);         // or signal::install_stop_handlers()?
//! mirror.run(&stop)?;                        // or: loop { mirror.poll_once(tick)?; }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Readers in other processes: `Region::open(name, Access::ReadOnly)` then
//! `region.reader()?.get(&key)`; to post misses, `Region::open(name, Access::ReadWrite)`
//! and `region.ring()`. [`MirrorStats::read`] decodes the header (state, counters,
//! heartbeat age, `stale`, and in `map` the owner's pid, `claims`, `superseded`,
//! `poisoned`): the Rust twin of the C `neigh_map_status`, for a data plane's
//! housekeeping loop. A restarted mirror takes the region over in place, so a reader
//! keeps its mapping; only `superseded` asks it to join the name again.
//!
//! # What the kernel does not announce
//!
//! Creating an entry in a state without a MAC (INCOMPLETE, FAILED, NONE from nothing:
//! `ip neigh add ... nud incomplete`, traffic, `NTF_USE`) sends no event, nor does the
//! creation of the NOARP entries of multicast addresses. The mirror reads an entry back
//! after every resolution request it serves, and re-dumps every
//! [`MirrorConfig::periodic_resync`] (30 s by default) to pick up the rest.

mod apply;
mod config;
mod error;
mod event_loop;
mod liveness;
mod owner;
mod requests;
mod resolver;
mod resync;
pub mod signal;
mod stats;

pub use crate::region::{Region, RegionError};
pub use config::{Families, MirrorConfig, ResolveConfig};
pub use error::MirrorError;
pub use event_loop::{Mirror, PollReport};
pub use liveness::{pid_liveness, process_exists, PidLiveness, PidNs};
pub use resync::DUMP_RCVBUF;
pub use stats::{monotonic_ms, unix_ms, MirrorState, MirrorStats, StatWord};
