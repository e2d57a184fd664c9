//! Loom models of the neigh-core map live in `tests/map_models.rs`; they compile only with
//! `RUSTFLAGS="--cfg loom"` (see README.md for the command, the preemption bound and the
//! time each model takes). Without `--cfg loom` this crate is empty.
