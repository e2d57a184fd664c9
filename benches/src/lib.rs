//! Criterion benches of neigh side by side with its peers live in `benches/`; see README.md.
