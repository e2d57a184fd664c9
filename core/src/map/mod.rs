//! The atomic-versioned neighbor map over a raw byte region.
//!
//! A fixed-capacity, open-addressing hash map of [`NeighEntry`] (plus a generation tag),
//! laid out over one caller-provided region: anonymous memory, a `MAP_SHARED` mapping
//! joined by several processes at different addresses (there are no pointers inside), or
//! a plain `Vec<AtomicU64>`. Readers are lock-free; writers take per-range version locks.
//!
//! # Layout
//!
//! `header (512 B) | locks (8 B each, padded to 64 B) | tags (1 B per slot, padded to 64 B) |
//! slots (32 B each)`, all offsets
//! relative to the region start, which must be [`REGION_ALIGN`]-aligned. The header
//! (see `header.rs` for the word map) holds the magic, [`LAYOUT_VERSION`], the shape, the
//! writer counters, owner id and heartbeat, and [`STAT_WORDS`] statistics words for the
//! owner. A slot is four `AtomicU64` words: the 16-byte address (IPv4 v4-mapped), ifindex,
//! family, NUD state, NTF flags, 6-byte MAC with a resolved bit, the generation, and the
//! entry's probe distance (see `slot.rs`). A slot's tag byte (hashbrown-style control
//! byte, layout version 2) is 0 when it is empty, else bit 7 and 7 fingerprint bits of the
//! key's hash; it lives in `AtomicU64` words of 8 tags and is covered by the slot's lock.
//!
//! # Footprint
//!
//! [`MapParams::for_entries`]`(n)` picks the default sparsity: capacity = the smallest
//! power of two >= 2n (the map is at most half full), one lock per 16 slots. That is
//! 33.5 bytes per slot (32 slot, 1 tag, 0.5 lock), so **67 bytes per entry** when `n` is a
//! power of two and up to 134 bytes per entry just above one; 65,536 entries take
//! 4.19 MiB. [`footprint`] gives the exact size for any parameters.
//!
//! # Algorithm
//!
//! Linear probing in Robin Hood order: each slot stores its entry's distance from its
//! home slot, entries of a probe run are ordered by home slot, so a slot-by-slot lookup
//! stops at the first empty slot or the first entry closer to its home than the probe.
//! With at least 8 slots per lock (the default has 16) a lookup instead scans the tag
//! array 8 tags per word up to the first empty slot and reads only the slots whose tag
//! matches the key's fingerprint (1 in 128 of the others), so a miss usually reads no slot
//! at all. Insert shifts the rest of the run one slot on; remove shifts it
//! one slot back (no tombstones). No entry is more than `probe_max - 1` slots from home:
//! an insert that would break that returns [`Full`] and bumps the header's `full` counter.
//!
//! # Concurrency
//!
//! Lock `i` covers `capacity / lock_count` contiguous slots. Writers take, in increasing
//! index order, the locks covering the slots from the key's home to the last slot they
//! change (see `version_lock.rs`); any number of writers is safe. Readers follow the
//! seqlock recipe of DESIGN.md: Acquire-load each crossed lock's version (odd: retry),
//! Relaxed-load the slot words, then `fence(Acquire)` and re-check every crossed version
//! (as a sum: versions only grow, so the sum is unchanged exactly when each version is);
//! a probe crosses at most [`MAX_PROBE_LOCKS`] locks. The tags are read under the same
//! recipe as the slots: a tag word is read only after the (one) lock covering it, writers
//! change a tag in the same lock window as its slot, so a validated read sees tags and
//! slots of the same writes. With fewer than 8 slots per lock a tag word spans several
//! locks; readers then probe slot by slot (home slot on a straight-line fast path) and do
//! not use the tags, which writers still keep (one atomic XOR per changed tag byte, so
//! writers under different locks never lose each other's bytes). A changed version means
//! retry; after [`READ_RETRIES`] tries the read returns [`Busy`] (a crashed writer cannot
//! hang a reader). Every slot and tag word is an atomic, and the only index derived from
//! speculative data is the position of a matching tag within its word, masked to the
//! capacity (always in bounds), so a racing read is never UB. Under `cfg(loom)` the same
//! code runs over loom's atomics (`crate::sync`), model-checked in `loom-tests/`.
//!
//! # Entry points
//!
//! - [`footprint`], [`MapParams`]: size a region.
//! - [`NeighMap::format`] / [`NeighMap::join`] over `&mut [u8]`, `format_words` /
//!   `join_words` over `&[AtomicU64]`, `format_raw` / `join_raw` over shared memory.
//! - [`MapReader::join`] (words) / [`MapReader::join_raw`] (read-only shared memory), or
//!   [`NeighMap::reader`].
//! - Reads: [`MapReader::get`], [`MapReader::iter`], `len`, `stats`.
//! - Writes: [`NeighMap::upsert`] (and [`NeighMap::mark`], its mark-phase form),
//!   [`NeighMap::remove`], [`NeighMap::sweep`],
//!   [`NeighMap::clear`], [`NeighMap::apply`]; [`NeighMap::home_slot_addr`] for a
//!   writer that prefetches ahead of a batch of writes.

mod error;
mod header;
mod iter;
mod map_entry;
mod params;
mod reader;
#[cfg(not(loom))]
mod region;
mod slot;
mod version_lock;
mod writer;

#[cfg(all(test, not(loom)))]
mod tests;

pub use error::{Busy, Full, MapError};
pub use header::{MapStats, LAYOUT_VERSION, MAGIC, STAT_WORDS};
pub use iter::Iter;
pub use map_entry::MapEntry;
pub use params::{footprint, MapParams, DEFAULT_PROBE_MAX, DEFAULT_SEED, DEFAULT_SLOTS_PER_LOCK};
pub use reader::MapReader;
pub use writer::{Applied, Marked, NeighMap, Upserted};

#[cfg(doc)]
use crate::entry::NeighEntry;

/// Required alignment of a region's start (one cache line, so slots never straddle two).
pub const REGION_ALIGN: usize = 64;
/// Bytes per slot.
pub const SLOT_BYTES: usize = 32;
/// Largest slot count.
pub const MAX_CAPACITY: usize = 1 << 30;
/// Largest `probe_max` (probe distances are stored in one byte).
pub const MAX_PROBE: usize = 255;
/// Most locks one probe may cross (each is revalidated at the end of a read);
/// [`MapParams`] with a longer `probe_max` for their lock span are refused.
pub const MAX_PROBE_LOCKS: usize = 16;
/// Tries a read makes before returning [`Busy`].
#[cfg(not(loom))]
pub const READ_RETRIES: usize = 256;
/// Tries a read makes before returning [`Busy`] (small under loom to bound the models).
#[cfg(loom)]
pub const READ_RETRIES: usize = 3;
