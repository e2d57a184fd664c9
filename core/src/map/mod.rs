//! The atomic-versioned neighbor map over a raw byte region.
//!
//! A fixed-capacity, open-addressing hash map of [`NeighEntry`] (plus a generation tag),
//! laid out over one caller-provided region: anonymous memory, a `MAP_SHARED` mapping
//! joined by several processes at different addresses (there are no pointers inside), or
//! a plain `Vec<AtomicU64>`. Readers are lock-free; writers take per-range version locks.
//!
//! # Layout
//!
//! `header (512 B) | lock groups (32 B each at 8 or 16 slots per lock, padded to 64 B) |
//! slots (32 B each)`, all offsets relative to the region start, which must be
//! [`REGION_ALIGN`]-aligned. The header (see `header.rs` for the word map) holds the magic,
//! [`LAYOUT_VERSION`], the shape, the writer counters, owner id and heartbeat, and
//! [`STAT_WORDS`] statistics words for the owner. A slot is four `AtomicU64` words: the
//! 16-byte address (IPv4 v4-mapped), ifindex, family, NUD state, NTF flags, 6-byte MAC
//! with a resolved bit, the generation, and the entry's probe distance (see `slot.rs`).
//!
//! Lock `i` covers `capacity / lock_count` (at least 8) contiguous slots, and its group
//! is everything a reader needs to decide a probe from those slots: the version word,
//! then one tag byte per slot (a control byte in the manner of hashbrown's: 0 when empty,
//! else the entry's probe distance plus one, saturated at 30 + 1, in the top 5 bits and 3
//! fingerprint bits of the key's hash below), then a copy of the next lock's first 8
//! tags, 8 tags per `AtomicU64` word.
//!
//! # Footprint
//!
//! [`MapParams::for_entries`]`(n)` picks the default sparsity: capacity = the smallest
//! power of two >= 2n (the map is at most half full), one lock per 16 slots. That is
//! 34 bytes per slot (32 slot, 2 lock group), so **68 bytes per entry** when `n` is a
//! power of two and up to 136 bytes per entry just above one; 65,536 entries take
//! 4.25 MiB. [`footprint`] gives the exact size for any parameters.
//!
//! # Algorithm
//!
//! Linear probing in Robin Hood order: each slot stores its entry's distance from its
//! home slot, entries of a probe run are ordered by home slot, so a probe stops at the
//! first empty slot or the first entry closer to its home than the probe. A lookup reads
//! windows of 8 tags from its home slot on: a window starting in lock `i`'s range lies in
//! lock `i`'s group (its own tags and the copy of the next 8), so the first window, which
//! decides most lookups, costs one group (half a cache line) and one version. Within a
//! window it picks out, 8 bytes at a time, the slots whose tag is the key's at that
//! distance (same home, same fingerprint: about 1 in 8 of the entries of the same home)
//! and the stop position (from the stored distances), and reads only the candidate slots,
//! so a miss usually reads no slot at all. Insert shifts the rest of the run one slot on;
//! remove shifts it one slot back (no tombstones). No entry is more than
//! `probe_max - 1` slots from home: an insert that would break that returns [`Full`] and
//! bumps the header's `full` counter.
//!
//! # Concurrency
//!
//! Writers take, in increasing (cyclic) index order, the locks from that of the key's
//! home to that of the last slot they change (see `version_lock.rs`). A writer that
//! changes the tag of one of a lock's first 8 slots (an insert or a remove shifting a run
//! there) also holds the previous lock, whose group copies those tags, so every lock
//! covers all of its group and every slot its group tags; it takes that lock, below the
//! ones it holds, only if it is free, and otherwise releases and retakes them all in
//! order. An overwrite leaves the tags and the key words alone and needs no lock before
//! the home's: every reader of the key validates a lock from there on. Any number of
//! writers is safe. Readers follow the seqlock recipe of
//! DESIGN.md: Acquire-load the version of each lock whose group they read (odd: retry),
//! Relaxed-load the group's tags and the candidate slots, then `fence(Acquire)` and
//! re-check every such version (as a sum: versions only grow, so the sum is unchanged
//! exactly when each version is); a probe crosses at most [`MAX_PROBE_LOCKS`] locks.
//! Writers change a slot's tag (and its copy) in the same lock window as the slot, so a
//! validated read sees tags and slots of the same writes. A changed version means retry;
//! after [`READ_RETRIES`] tries the read returns [`Busy`] (a crashed writer cannot hang a
//! reader). Every group and slot word is an atomic, and the only index derived from
//! speculative data is the position of a matching tag within its window, masked to the
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
mod slot;
mod version_lock;
mod writer;

#[cfg(all(test, not(loom)))]
mod tests;

pub use error::{Busy, Full, MapError};
pub use header::{MapStats, LAYOUT_VERSION, MAGIC, STAT_WORDS};
pub use iter::Iter;
pub use map_entry::MapEntry;
pub use params::{
    footprint, MapParams, DEFAULT_PROBE_MAX, DEFAULT_SEED, DEFAULT_SLOTS_PER_LOCK,
    MIN_SLOTS_PER_LOCK,
};
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
