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
//! slots (32 B each) | writer locks (8 B each, padded to 64 B)`, all offsets relative to
//! the region start, which must be
//! [`REGION_ALIGN`]-aligned. The header (see `header.rs` for the word map) holds the magic,
//! [`LAYOUT_VERSION`], the shape, the writer counters, owner id and heartbeat, and
//! [`STAT_WORDS`] statistics words for the owner. A slot is four `AtomicU64` words: the
//! 16-byte address (IPv4 v4-mapped); ifindex, family, generation and the entry's probe
//! distance; and the value, whole in one word: 6-byte MAC, NUD state, NTF flags and a
//! resolved bit (see `slot.rs`).
//!
//! Lock `i` covers `capacity / lock_count` (at least 16) contiguous slots, and its group
//! is everything a reader needs to decide a probe from those slots: the version word,
//! then one tag byte per slot (a control byte in the manner of hashbrown's: 0 when empty,
//! else the entry's probe distance plus one, saturated at 30 + 1, in the top 5 bits and 3
//! fingerprint bits of the key's hash below), then a copy of the next lock's first 16
//! tags, 8 tags per `AtomicU64` word. At 32 slots per lock that is one 64-byte line.
//!
//! # Footprint
//!
//! [`MapParams::for_entries`]`(n)` picks the default sparsity: capacity = the smallest
//! power of two >= 2n (the map is at most half full), one lock per 32 slots. That is
//! 34.25 bytes per slot (32 slot, 2 lock group, 0.25 writer lock), so **68.5 bytes per
//! entry** when `n` is a power of two and up to 137 bytes per entry just above one; 65,536
//! entries take 4.28 MiB. [`footprint`] gives the exact size for any parameters.
//!
//! # Algorithm
//!
//! Linear probing in Robin Hood order: each slot stores its entry's distance from its
//! home slot, entries of a probe run are ordered by home slot, so a probe stops at the
//! first empty slot or the first entry closer to its home than the probe. A lookup reads
//! windows of 16 tags from its home slot on: a window starting in lock `i`'s range lies
//! in lock `i`'s group (its own tags and the copy of the next 16), so the first window,
//! which decides nearly every lookup up to 90% load, costs one group (one cache line) and
//! one version. Within a window it picks out, 16 bytes at a time, the slots whose tag is
//! the key's at that distance (same home, same fingerprint: about 1 in 8 of the entries of
//! the same home) and the stop position (from the stored distances), and reads only the
//! candidate slots, so a miss usually reads no slot at all. Insert shifts the rest of the run one slot on;
//! remove shifts it one slot back (no tombstones). No entry is more than
//! `probe_max - 1` slots from home: an insert that would break that returns [`Full`] and
//! bumps the header's `full` counter.
//!
//! # Concurrency
//!
//! Each lock has two words (`seqlock.rs`): its version, the first word of its group
//! (even = stable, odd = keys are moving in its range), and a writer lock in a section of
//! its own that readers never touch. Writers take, in increasing (cyclic) index order,
//! the locks from that of the key's home to that of the last slot they change
//! (`lock_set.rs`). A writer that changes the tag of one of a lock's first 16 slots (an
//! insert or a remove shifting a run there) also holds the previous lock, whose group
//! copies those tags, so every lock covers all of its group and every slot its group
//! tags; it takes that lock, below the ones it holds, only if it is free, and otherwise
//! releases and retakes them all in order. Any number of writers is safe.
//!
//! Two kinds of writes. A *value update* of a present key (MAC, NUD state, flags: one
//! word; the generation: another) stores each word whole under the writer locks alone and
//! leaves the key words, the distance, the tags and the versions alone: readers never
//! retry on it, so a writer preempted, stopped or killed in the middle of one never makes
//! a reader wait or fail. A *move* (an insert that shifts a run, a removal's back-shift,
//! `clear`) makes its locks' versions odd, stores, then makes them even again. Readers
//! follow the seqlock recipe of DESIGN.md against moves only: take the version (Acquire)
//! of each lock whose group they read (odd: retry), Relaxed-load the group's tags and the
//! candidate slots, then `fence(Acquire)` and check every such version again (as a sum:
//! versions only grow, so the sum is unchanged exactly when each version is); a probe
//! crosses at most [`MAX_PROBE_LOCKS`] locks. Writers change a slot's tag (and its copy)
//! in the same move as the slot, so a validated read sees tags and slots of the same
//! moves. A changed version means retry; after [`READ_RETRIES`] tries the read returns
//! [`Busy`]: possible only while keys move (or after a writer died in a move). A writer
//! that unwinds in a move leaves its locks held and their versions odd, and marks the
//! region poisoned ([`MapReader::is_poisoned`]; joins refuse it). A writer that takes a
//! region over from writers gone for good (killed, or unwound) first runs
//! [`NeighMap::repair`] (`repair.rs`): it releases their locks and rebuilds the run a move
//! left half done under its still-odd versions, then publishes it. Every group and slot
//! word is an atomic, and the only index derived from speculative data is the position of
//! a matching tag within its window, masked to the capacity (always in bounds), so a
//! racing read is never UB. Under `cfg(loom)` the same code runs over loom's atomics
//! (`crate::sync`), model-checked in `loom-tests/`.
//!
//! Bursts ([`MapReader::get_burst`], `burst.rs`) stage up to [`BURST`] lookups so their
//! cache misses overlap: hash all and prefetch their groups and home slots, read all
//! windows and prefetch candidates, then read, validate and decide each.
//!
//! # Entry points
//!
//! - [`footprint`], [`MapParams`]: size a region.
//! - [`NeighMap::format`] / [`NeighMap::join`] over `&mut [u8]`, `format_words` /
//!   `join_words` over `&[AtomicU64]`, `format_raw` / `join_raw` over shared memory.
//! - [`MapReader::join`] (words) / [`MapReader::join_raw`] (read-only shared memory), or
//!   [`NeighMap::reader`].
//! - Reads: [`MapReader::get`], [`MapReader::get_burst`], [`MapReader::iter`], `len`,
//!   `stats`, [`MapReader::is_poisoned`].
//! - Writes: [`NeighMap::upsert`] (and [`NeighMap::mark`], its mark-phase form),
//!   [`NeighMap::remove`], [`NeighMap::sweep`],
//!   [`NeighMap::clear`], [`NeighMap::apply`]; [`NeighMap::home_slot_addr`] for a
//!   writer that prefetches ahead of a batch of writes.
//! - Ownership: [`NeighMap::claim`] / [`NeighMap::release_claim`] (the claim word, by
//!   compare-and-swap), [`NeighMap::supersede`], [`NeighMap::join_to_repair`] and
//!   [`NeighMap::repair`] for a writer taking a region over;
//!   [`MapReader::claim_word`], [`MapReader::is_superseded`].

mod burst;
mod error;
mod geometry;
mod header;
mod iter;
mod lock_set;
mod map_entry;
mod params;
mod reader;
mod repair;
mod seqlock;
mod slot;
mod tags;
mod writer;

#[cfg(all(test, not(loom)))]
mod tests;

pub use burst::BURST;
pub use error::{Busy, Full, MapError};
pub use header::{MapStats, LAYOUT_VERSION, MAGIC, STAT_WORDS};
pub use iter::Iter;
pub use map_entry::MapEntry;
pub use params::{
    footprint, MapParams, DEFAULT_PROBE_MAX, DEFAULT_SEED, DEFAULT_SLOTS_PER_LOCK,
    MIN_SLOTS_PER_LOCK,
};
pub use reader::MapReader;
pub use repair::Repaired;
pub use writer::{Applied, Marked, NeighMap, Upserted};

#[cfg(doc)]
use crate::entry::NeighEntry;

/// Smallest region a map can be joined over: its header.
pub const MIN_REGION_BYTES: usize = header::HEADER_BYTES;
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
/// Tries a read makes before returning [`Busy`], backing off between them (up to 8 spin
/// hints each): about 2,000 spin hints in all, some tens of microseconds, which only a
/// writer stalled (descheduled, stopped or dead) in the middle of a move can use up.
#[cfg(not(loom))]
pub const READ_RETRIES: usize = 256;
/// Tries a read makes before returning [`Busy`] (small under loom to bound the models).
#[cfg(loom)]
pub const READ_RETRIES: usize = 3;
