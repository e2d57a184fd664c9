//! What neigh's criterion benches (in `benches/`, numbers in README.md) share: a kernel
//! neighbor table of a given size in a throwaway network namespace, and the bare dump
//! loop that is the kernel's limit.

mod kernel_table;

pub use kernel_table::{entry_addr, median, raw_dump, KernelTable, DEV};
