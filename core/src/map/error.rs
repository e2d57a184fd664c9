//! What can go wrong with a map region or a map operation.

use core::fmt;

/// Why a region could not be formatted or joined, or why [`MapParams`](super::MapParams)
/// were refused. Returned by `footprint`, `format*` and `join*`; never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The region does not start on a [`REGION_ALIGN`](super::REGION_ALIGN)-byte boundary.
    Misaligned {
        /// The address of the region (only its low bits matter).
        addr: usize,
        /// The alignment required.
        align: usize,
    },
    /// The region is shorter than the layout needs.
    RegionTooSmall {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes the region has.
        len: usize,
    },
    /// The region does not start with the map's magic number: not a map, or not formatted.
    BadMagic {
        /// The first word of the region.
        found: u64,
    },
    /// The region was formatted by an incompatible layout version.
    UnsupportedVersion {
        /// The version in the region's header.
        found: u64,
        /// The only version this build reads.
        supported: u64,
    },
    /// The slot count is zero, not a power of two, or above [`MAX_CAPACITY`](super::MAX_CAPACITY).
    BadCapacity {
        /// The slot count asked for or found.
        capacity: u64,
    },
    /// The lock count is zero, not a power of two, or leaves fewer than
    /// [`MIN_SLOTS_PER_LOCK`](super::MIN_SLOTS_PER_LOCK) slots per lock.
    BadLockCount {
        /// The lock count asked for or found.
        lock_count: u64,
        /// The slot count it must divide.
        capacity: u64,
    },
    /// `probe_max` is zero, above the slot count, above [`MAX_PROBE`](super::MAX_PROBE),
    /// or so long that a probe could cross more than
    /// [`MAX_PROBE_LOCKS`](super::MAX_PROBE_LOCKS) locks.
    BadProbeMax {
        /// The probe limit asked for or found.
        probe_max: u64,
        /// The largest probe limit these capacity and lock count allow.
        max: u64,
    },
    /// A derived header field (an offset or the total size) disagrees with the one computed
    /// from capacity and lock count: a corrupted or foreign header.
    LayoutMismatch {
        /// Which header field.
        field: &'static str,
        /// The value in the header.
        found: u64,
        /// The value the layout implies.
        expected: u64,
    },
    /// The layout's size does not fit in `usize` on this target.
    TooLarge,
    /// A writer unwound (panicked) in the middle of moving keys and left that part of the
    /// map held; the region must be formatted anew.
    Poisoned,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Misaligned { addr, align } => {
                write!(f, "map region at {addr:#x} is not aligned to {align} bytes")
            }
            Self::RegionTooSmall { needed, len } => {
                write!(f, "map region is {len} bytes, the layout needs {needed}")
            }
            Self::BadMagic { found } => write!(
                f,
                "region is not a neigh map (magic {found:#018x}); format it first"
            ),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "map layout version {found} is not supported (this build reads version {supported})"
            ),
            Self::BadCapacity { capacity } => write!(
                f,
                "map capacity {capacity} must be a power of two between 1 and {}",
                super::MAX_CAPACITY
            ),
            Self::BadLockCount {
                lock_count,
                capacity,
            } => write!(
                f,
                "lock count {lock_count} must be a power of two no larger than the capacity {capacity} / {}",
                super::MIN_SLOTS_PER_LOCK
            ),
            Self::BadProbeMax { probe_max, max } => {
                write!(f, "probe_max {probe_max} must be between 1 and {max}")
            }
            Self::LayoutMismatch {
                field,
                found,
                expected,
            } => write!(
                f,
                "corrupted map header: {field} is {found}, the layout implies {expected}"
            ),
            Self::TooLarge => write!(f, "map layout does not fit in this address space"),
            Self::Poisoned => write!(
                f,
                "map region is poisoned: a writer failed in the middle of moving entries; format it again"
            ),
        }
    }
}

impl core::error::Error for MapError {}

/// A reader gave up: a writer kept moving keys (inserting, removing) in a range the read
/// needed for longer than the bounded number of retries
/// ([`READ_RETRIES`](super::READ_RETRIES)). Value updates of present keys never cause it.
/// The entry may or may not be present; the caller may retry later. A writer that died in
/// the middle of a move makes reads of that range return `Busy` until the region is
/// repaired or re-formatted (never hang); check the header's heartbeat and
/// [`MapReader::is_poisoned`](super::MapReader::is_poisoned) to tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("map entries are being moved by a writer (retry later)")
    }
}

impl core::error::Error for Busy {}

/// An insert was refused: the map has no free slot, or the new entry (or an entry it would
/// displace) would end up more than `probe_max - 1` slots from its home slot. Nothing was
/// changed except the header's `full` counter, which counts every refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("neighbor map is full (no free slot within probe_max)")
    }
}

impl core::error::Error for Full {}
