//! The mirror: keeps a named shared-memory neighbor map equal to the kernel's neighbor
//! tables, and serves the resolution requests readers post.
//!
//! - [`Mirror`] (`engine.rs`): subscribe, dump, apply events, resync on overruns with
//!   generations and a sweep, heartbeat, stats. Library API: [`Mirror::new`],
//!   [`Mirror::run`], [`Mirror::poll_once`].
//! - [`MirrorConfig`] (`config.rs`): map name, capacity, dev and family filters, buffer.
//! - [`Region`] (`region.rs`): the map + request ring region, created or joined.
//! - [`StatWord`], [`MirrorStats`] (`stats.rs`): what the header's statistics words mean.
//! - `resolver.rs`: dedup, rate limits and the kernel request for posted misses.
//! - [`signal`]: SIGINT/SIGTERM to a stop flag.
//! - [`cli`]: `neigh mirror`, `neigh map show`, `neigh map stat`.

pub mod cli;
mod config;
mod engine;
mod region;
mod resolver;
pub mod signal;
mod stats;

pub use config::{Families, MirrorConfig, ResolveConfig};
pub use engine::{Mirror, MirrorError, PollReport};
pub use region::{region_bytes, Region, RegionError};
pub use stats::{monotonic_ms, unix_ms, MirrorState, MirrorStats, StatWord};
