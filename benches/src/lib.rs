//! What neigh's criterion benches (in `benches/`, numbers in README.md) share: a kernel
//! neighbor table of a given size in a throwaway network namespace, the bare dump loop
//! that is the kernel's limit, and the `neigh` binary the tool benches run.

mod kernel_table;

pub use kernel_table::{entry_addr, median, raw_dump, KernelTable, DEV};

use std::path::PathBuf;
use std::process::Command;

/// `$NEIGH_BIN`, or target/release/neigh next to the running bench (built if missing).
pub fn neigh_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NEIGH_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("neigh");
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--release", "-q", "-p", "neigh", "--bin", "neigh"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok && bin.exists(), "cannot build {}", bin.display());
    bin
}
