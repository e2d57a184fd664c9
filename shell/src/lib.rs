//! `neigh`: the std half of neigh. It keeps a shared-memory copy of the Linux kernel's
//! neighbor tables (ARP and NDP) that data planes read without a system call, and is the
//! `neigh` command-line tool that shows and changes those tables the way `ip neigh` does.
//!
//! What needs no operating system (the rtnetlink codec, the lock-free map, the request
//! ring and the layout of the region holding them) is in `neigh_core`; this crate adds:
//!
//! - [`netlink`]: the `NETLINK_ROUTE` socket: every datagram checked to come from the
//!   kernel, requests matched to their replies, the kernel's errors with their extended
//!   ack text.
//! - [`workspace`]: memory for a region: anonymous, or a named file in `/dev/shm` (or a
//!   hugetlbfs) with mode 0600, joined read-only or read-write.
//! - [`region`]: a workspace holding a map and its request ring, formatted or joined;
//!   the views it hands out borrow it.
//! - [`mirror`]: keeps a region's map equal to the kernel's tables (subscribe, dump,
//!   apply events, resync on overruns) and serves the resolution requests readers post.
//! - [`ffi`]: the C API (`shell/include/neigh.h`, built into `libneigh.a`): join a map,
//!   look up, write, post requests, run a mirror.
//! - [`sys`]: the few system calls `rustix` does not wrap, behind safe functions.
//!
//! The `neigh` binary (`src/bin/neigh/`) is the CLI: the `ip neigh` grammar and output,
//! plus `mirror` and `map show|stat`.
//!
//! `unsafe` code lives only in `sys`, at the FFI boundary, and where a region is mapped
//! and viewed as atomics (`workspace`, `region`).
pub mod ffi;
pub mod mirror;
pub mod netlink;
pub mod region;
pub mod sys;
pub mod workspace;
