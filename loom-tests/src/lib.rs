//! Loom models of neigh-core's concurrent parts: the map in `tests/map_models.rs`, the
//! resolution request ring in `tests/ring_models.rs`. They compile only with
//! `RUSTFLAGS="--cfg loom"` (see README.md for the command, the preemption bound and the
//! time each model takes). Without `--cfg loom` this crate is empty.
