//! Loom models of the neigh-core map live in `tests/`; run with `RUSTFLAGS="--cfg loom"`.
