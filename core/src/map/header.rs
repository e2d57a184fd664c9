//! The region header: 64 words (512 bytes) at offset 0.
//!
//! | word  | field | written by |
//! |-------|-------|------------|
//! | 0     | magic `"NEIGHMAP"` (stored last when formatting, with Release) | format |
//! | 1     | layout version ([`LAYOUT_VERSION`]) | format |
//! | 2     | header size in bytes (512) | format |
//! | 3-6   | capacity, lock count, probe_max, seed | format |
//! | 7-9   | lock groups offset, slots offset, total bytes (checked against 3-4 on join) | format |
//! | 10    | entry count | writers |
//! | 11-14 | counters: inserts, updates, removes, full (refused inserts) | writers |
//! | 15    | current generation (last `sweep` or `set_generation`) | writers |
//! | 16-17 | owner id, heartbeat (opaque to the map; crash detection) | the owner |
//! | 18    | bytes per lock group (checked against 3-4 on join) | format |
//! | 19    | superseded: non-zero once a writer replaced the region by another one (readers re-join by name) | the next owner |
//! | 20    | claim: how many writers have claimed the region (high 32 bits) and the id of the one holding the claim, 0 once released (low 32 bits); changed by compare-and-swap only | each owner |
//! | 21-31 | reserved, zero | - |
//! | 32-47 | general-purpose statistics words 0-15 | the owner |
//! | 48    | poisoned: non-zero once a writer unwound in the middle of a move | writers |
//! | 49-53 | general-purpose statistics words 16-20 | the owner |
//! | 54-63 | reserved, zero | - |
//!
//! The header describes the map only. A request ring, when the region has one, starts at
//! the map's `total bytes` (word 9) and records that offset in its own header; see
//! [`crate::region`].

/// The first word of every formatted region: `"NEIGHMAP"` in big-endian ASCII.
pub const MAGIC: u64 = u64::from_be_bytes(*b"NEIGHMAP");
/// The layout this build formats and joins; any other version is refused on join.
pub const LAYOUT_VERSION: u64 = 6;
/// Number of general-purpose statistics words in the header (indexes `0..STAT_WORDS`):
/// words 32-47 hold the first 16, words 49-53 the rest. In a region written by a build
/// that had fewer, the others are zero: an owner's words read 0 for "not recorded".
pub const STAT_WORDS: usize = 21;

pub(crate) const HEADER_WORDS: usize = 64;
pub(crate) const HEADER_BYTES: usize = HEADER_WORDS * 8;

pub(crate) const H_MAGIC: usize = 0;
pub(crate) const H_VERSION: usize = 1;
pub(crate) const H_HEADER_BYTES: usize = 2;
pub(crate) const H_CAPACITY: usize = 3;
pub(crate) const H_LOCK_COUNT: usize = 4;
pub(crate) const H_PROBE_MAX: usize = 5;
pub(crate) const H_SEED: usize = 6;
pub(crate) const H_GROUPS_OFFSET: usize = 7;
pub(crate) const H_SLOTS_OFFSET: usize = 8;
pub(crate) const H_TOTAL_BYTES: usize = 9;
pub(crate) const H_LEN: usize = 10;
pub(crate) const H_INSERTS: usize = 11;
pub(crate) const H_UPDATES: usize = 12;
pub(crate) const H_REMOVES: usize = 13;
pub(crate) const H_FULL: usize = 14;
pub(crate) const H_GENERATION: usize = 15;
pub(crate) const H_OWNER: usize = 16;
pub(crate) const H_HEARTBEAT: usize = 17;
pub(crate) const H_GROUP_BYTES: usize = 18;
pub(crate) const H_SUPERSEDED: usize = 19;
pub(crate) const H_CLAIM: usize = 20;
pub(crate) const H_STATS: usize = 32;
pub(crate) const H_POISONED: usize = 48;
pub(crate) const H_STATS_HIGH: usize = 49;
/// Statistics words in the first block (words 32-47).
const STATS_LOW: usize = H_POISONED - H_STATS;

const _: () = assert!(H_STATS + STATS_LOW == H_POISONED && H_POISONED < H_STATS_HIGH);
const _: () = assert!(H_STATS_HIGH + (STAT_WORDS - STATS_LOW) <= HEADER_WORDS);

/// The header word of statistics word `i`, `None` past [`STAT_WORDS`]. O(1).
pub(crate) fn stat_word(i: usize) -> Option<usize> {
    match i {
        _ if i < STATS_LOW => Some(H_STATS + i),
        _ if i < STAT_WORDS => Some(H_STATS_HIGH + (i - STATS_LOW)),
        _ => None,
    }
}

/// A copy of the header's shape and counters, as read by
/// [`MapReader::stats`](super::MapReader::stats).
/// Counters are read one by one (Relaxed), so they are each
/// exact but not a snapshot of one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapStats {
    /// Slots.
    pub capacity: u64,
    /// Version locks.
    pub lock_count: u64,
    /// Longest probe.
    pub probe_max: u64,
    /// Hash seed.
    pub seed: u64,
    /// Entries present.
    pub len: u64,
    /// Inserts of a new key.
    pub inserts: u64,
    /// Overwrites of a present key.
    pub updates: u64,
    /// Removals (by `remove`, `sweep`; `clear` counts each entry it drops).
    pub removes: u64,
    /// Inserts refused with [`Full`](super::Full).
    pub full: u64,
    /// Current generation (set by `sweep` or `set_generation`).
    pub generation: u64,
    /// Owner id, opaque to the map (e.g. the mirror's pid).
    pub owner: u64,
    /// Last heartbeat the owner stored (e.g. a monotonic timestamp).
    pub heartbeat: u64,
    /// How many writers have claimed the region ([`NeighMap::claim`](super::NeighMap::claim)):
    /// it grows by one with each new owner.
    pub claims: u64,
    /// The id of the writer holding the claim (e.g. the mirror's pid), 0 when it released
    /// it ([`NeighMap::release_claim`](super::NeighMap::release_claim)) or nobody claimed.
    pub claim_holder: u32,
    /// The region was replaced by another one ([`NeighMap::supersede`](super::NeighMap::supersede)):
    /// its writer is gone for good, and readers should join the name again.
    pub superseded: bool,
    /// A writer unwound in the middle of a move (see
    /// [`MapReader::is_poisoned`](super::MapReader::is_poisoned)).
    pub poisoned: bool,
}
