//! `neigh-core`: the parts of neigh that need no operating system.
//!
//! Two things live here, both `#![no_std]` and allocation-free so they can run inside a
//! kernel-bypass data plane:
//!
//! - [`wire`]: a zero-copy rtnetlink codec for the kernel's neighbor tables. Borrowed
//!   views over `&[u8]` parse `RTM_NEWNEIGH`/`RTM_DELNEIGH`, `RTM_NEWLINK`, `NLMSG_ERROR`
//!   and `NLMSG_DONE`; builders write requests into a caller's buffer; [`wire::ingest`]
//!   turns a neighbor message into an [`Ingest`] decision for the map.
//! - [`map`]: a fixed-capacity, linear-probing hash map of [`NeighEntry`] laid out over one
//!   raw byte region (anonymous or shared memory, no pointers inside), read lock-free and
//!   written under per-range version locks (a seqlock). Readers never see a torn entry.
//!
//! - [`ring`]: a bounded, lock-free multi-producer request ring placed after the map in
//!   the same region, through which readers that miss ask the mirror to resolve.
//!
//! The types both halves share, the key and the entry, are in this file's neighbors
//! [`entry`]. Everything that needs a socket, a file or a thread lives in the `neigh` crate.
#![cfg_attr(not(any(test, loom)), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod entry;
pub mod map;
#[cfg(not(loom))]
pub mod region;
pub mod ring;
pub(crate) mod sync;
pub mod wire;

pub use entry::{IgnoreReason, Ingest, Mac, NeighEntry, NeighKey};
pub use map::{MapEntry, MapParams, MapReader, NeighMap};
pub use wire::{NtfExtFlags, NtfFlags, NudState};
