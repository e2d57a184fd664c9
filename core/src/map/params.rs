//! The shape of a map (slot count, lock count, probe limit, hash seed) and the byte layout
//! it implies.

use super::error::MapError;
use super::header::{MapStats, HEADER_BYTES};
use super::slot::SlotKey;
use super::tags::WIDTH;
use super::{MAX_CAPACITY, MAX_PROBE, MAX_PROBE_LOCKS, SLOT_BYTES};
use crate::entry::NeighKey;

/// How to format a map region. Build one with [`MapParams::for_entries`] and adjust fields
/// if needed; [`footprint`] and the `format` constructors validate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapParams {
    /// Number of 32-byte slots: a power of two, at most [`MAX_CAPACITY`]. The map holds at
    /// most this many entries, in practice fewer (see `probe_max`).
    pub capacity: usize,
    /// Number of version locks: a power of two, at most `capacity / 16` (each lock covers
    /// at least [`MIN_SLOTS_PER_LOCK`] slots). Lock `i` covers the `capacity / lock_count`
    /// contiguous slots starting at `i * capacity / lock_count` (and, for writers, the
    /// first 16 slots of the next range too; see the module docs). More locks: less
    /// reader/writer contention; each lock takes a 64-byte group at 16 or 32 slots per lock
    /// and an 8-byte writer lock.
    pub lock_count: usize,
    /// Longest probe in slots (an entry lives at most `probe_max - 1` slots after its home
    /// slot). At most [`MAX_PROBE`], at most `capacity`, and short enough that a probe
    /// crosses at most [`MAX_PROBE_LOCKS`] locks. Bounds every read to O(probe_max).
    pub probe_max: usize,
    /// Hash seed. Neighbor addresses are partly chosen by the network (any host on a link
    /// can make the kernel create entries for addresses of its choice), so a process that
    /// formats a long-lived map should pass a random seed.
    pub seed: u64,
}

/// Slots per lock chosen by [`MapParams::for_entries`]: 32 slots, whose group (version,
/// 32 tags, a copy of the next 16) fills one 64-byte cache line.
pub const DEFAULT_SLOTS_PER_LOCK: usize = 32;
/// Fewest slots per lock: a reader's first window of 16 tags from its home slot must lie
/// in one lock's group.
pub const MIN_SLOTS_PER_LOCK: usize = WIDTH;
/// `probe_max` chosen by [`MapParams::for_entries`] (capped at the capacity).
pub const DEFAULT_PROBE_MAX: usize = 64;
/// Seed chosen by [`MapParams::for_entries`]; replace it with a random one (see
/// [`MapParams::seed`]).
pub const DEFAULT_SEED: u64 = 0x6e65_6967_685f_7631;

impl MapParams {
    /// Parameters for a map meant to hold `entries` neighbors at the default sparsity:
    /// `capacity` is the smallest power of two >= `2 * entries` (at least 64), so the map
    /// is at most half full at `entries` entries; one lock per
    /// [`DEFAULT_SLOTS_PER_LOCK`] slots; `probe_max` = [`DEFAULT_PROBE_MAX`].
    ///
    /// Footprint: 32 bytes per slot plus, per 32 slots, one 64-byte lock group (version
    /// and tags) and one 8-byte writer lock, and a 512-byte header: 68.5 to 137 bytes per
    /// entry when the map holds `entries` entries (68.5 when `entries` is a power of two).
    /// Saturates at
    /// [`MAX_CAPACITY`]. O(1).
    pub fn for_entries(entries: usize) -> Self {
        let want = entries.saturating_mul(2).clamp(64, MAX_CAPACITY);
        let capacity = want.checked_next_power_of_two().unwrap_or(MAX_CAPACITY);
        let capacity = capacity.min(MAX_CAPACITY);
        MapParams {
            capacity,
            lock_count: (capacity / DEFAULT_SLOTS_PER_LOCK).max(1),
            probe_max: DEFAULT_PROBE_MAX.min(capacity),
            seed: DEFAULT_SEED,
        }
    }

    /// The slot where `key`'s probe starts in a map with these `capacity` and `seed` (its
    /// entry sits there or up to `probe_max - 1` slots after). For diagnostics and for
    /// tests that need keys with chosen home slots; the map itself never needs it. O(1).
    pub fn home_slot(&self, key: &NeighKey) -> usize {
        (SlotKey::new(key).hash(self.seed) as usize) & self.capacity.wrapping_sub(1)
    }

    /// The shape of a joined map, as its header records it
    /// ([`MapReader::stats`](super::MapReader::stats)). Errors: [`MapError::TooLarge`]
    /// when a count does not fit in `usize`. O(1).
    pub fn from_stats(stats: &MapStats) -> Result<Self, MapError> {
        let size = |v: u64| usize::try_from(v).map_err(|_| MapError::TooLarge);
        Ok(MapParams {
            capacity: size(stats.capacity)?,
            lock_count: size(stats.lock_count)?,
            probe_max: size(stats.probe_max)?,
            seed: stats.seed,
        })
    }

    /// Checks the parameters and computes the byte layout they imply. O(1).
    pub(crate) fn layout(&self) -> Result<Layout, MapError> {
        Layout::new(
            self.capacity as u64,
            self.lock_count as u64,
            self.probe_max as u64,
        )
    }
}

/// Bytes a region formatted with `params` needs (a multiple of 64). The region must also
/// start on a [`REGION_ALIGN`](super::REGION_ALIGN) boundary. Errors when the parameters
/// are invalid or the size overflows `usize`. O(1).
pub fn footprint(params: &MapParams) -> Result<usize, MapError> {
    Ok(params.layout()?.total_bytes)
}

/// Byte offsets of the sections of a region, validated:
/// `header | lock groups | slots | writer locks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub capacity: usize,
    pub lock_count: usize,
    pub probe_max: usize,
    /// Offset of the first lock group (bytes).
    pub groups_offset: usize,
    /// Bytes per lock group: the version word, the tags of the lock's slots and a copy of
    /// the next lock's first 16 tags, rounded up to a power of two (64 for 16 or 32 slots
    /// per lock).
    pub group_bytes: usize,
    /// Offset of the first slot (bytes).
    pub slots_offset: usize,
    /// Offset of the writer locks, one word per lock that only writers touch (bytes).
    pub writer_locks_offset: usize,
    /// Total bytes (end of the writer locks, rounded up to 64).
    pub total_bytes: usize,
}

impl Layout {
    /// Validates the three shape numbers (as read from a header or given by a caller) and
    /// computes offsets with checked arithmetic.
    pub fn new(capacity: u64, lock_count: u64, probe_max: u64) -> Result<Self, MapError> {
        if capacity == 0 || !capacity.is_power_of_two() || capacity > MAX_CAPACITY as u64 {
            return Err(MapError::BadCapacity { capacity });
        }
        if lock_count == 0
            || !lock_count.is_power_of_two()
            || lock_count > capacity / MIN_SLOTS_PER_LOCK as u64
        {
            return Err(MapError::BadLockCount {
                lock_count,
                capacity,
            });
        }
        let span = capacity / lock_count;
        // A probe of length p starting on the last slot of a lock's range crosses
        // 1 + ceil((p - 1) / span) locks, each revalidated at the end of a read: bound
        // that work to MAX_PROBE_LOCKS locks.
        let max_probe = (MAX_PROBE as u64).min(capacity).min(
            (MAX_PROBE_LOCKS as u64 - 1)
                .saturating_mul(span)
                .saturating_add(1),
        );
        if probe_max == 0 || probe_max > max_probe {
            return Err(MapError::BadProbeMax {
                probe_max,
                max: max_probe,
            });
        }
        let capacity = usize::try_from(capacity).map_err(|_| MapError::TooLarge)?;
        let lock_count = usize::try_from(lock_count).map_err(|_| MapError::TooLarge)?;
        // The version word, the lock's tags, the copy of the next lock's first WIDTH tags.
        let group_bytes = (capacity / lock_count)
            .checked_add(8 + WIDTH)
            .and_then(usize::checked_next_power_of_two)
            .ok_or(MapError::TooLarge)?;
        let groups_offset = HEADER_BYTES;
        let slots_offset = lock_count
            .checked_mul(group_bytes)
            .and_then(|b| b.checked_next_multiple_of(64))
            .and_then(|b| b.checked_add(groups_offset))
            .ok_or(MapError::TooLarge)?;
        let writer_locks_offset = capacity
            .checked_mul(SLOT_BYTES)
            .and_then(|b| b.checked_add(slots_offset))
            .ok_or(MapError::TooLarge)?;
        let total_bytes = (lock_count * 8)
            .checked_next_multiple_of(64)
            .and_then(|b| b.checked_add(writer_locks_offset))
            .ok_or(MapError::TooLarge)?;
        Ok(Layout {
            capacity,
            lock_count,
            probe_max: probe_max as usize,
            groups_offset,
            group_bytes,
            slots_offset,
            writer_locks_offset,
            total_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_entries_is_half_full_and_valid() {
        for n in [0, 1, 63, 64, 1000, 65_536, 100_000] {
            let p = MapParams::for_entries(n);
            assert!(p.capacity.is_power_of_two());
            assert!(p.capacity >= 2 * n && p.capacity >= 64, "{n}: {p:?}");
            assert!(p.capacity < 4 * n.max(32), "{n}: {p:?}");
            assert_eq!(p.capacity / p.lock_count, DEFAULT_SLOTS_PER_LOCK);
            footprint(&p).unwrap();
        }
    }

    #[test]
    fn footprint_of_64k_entries() {
        let p = MapParams::for_entries(65_536);
        assert_eq!(p.capacity, 131_072);
        // 512-byte header + 4096 lock groups * 64 bytes + 131072 slots * 32 bytes + 4096
        // writer locks * 8 bytes.
        assert_eq!(footprint(&p).unwrap(), 512 + 262_144 + 4_194_304 + 32_768);
    }

    #[test]
    fn bad_params_are_errors() {
        let ok = MapParams::for_entries(100);
        let mut p = ok;
        p.capacity = 100;
        assert_eq!(footprint(&p), Err(MapError::BadCapacity { capacity: 100 }));
        p.capacity = 0;
        assert!(matches!(footprint(&p), Err(MapError::BadCapacity { .. })));
        let mut p = ok;
        p.lock_count = 3;
        assert!(matches!(footprint(&p), Err(MapError::BadLockCount { .. })));
        p.lock_count = p.capacity * 2;
        assert!(matches!(footprint(&p), Err(MapError::BadLockCount { .. })));
        // Fewer than 16 slots per lock.
        p.lock_count = p.capacity / 8;
        assert!(matches!(footprint(&p), Err(MapError::BadLockCount { .. })));
        let mut p = ok;
        p.probe_max = 0;
        assert!(matches!(footprint(&p), Err(MapError::BadProbeMax { .. })));
        p.probe_max = MAX_PROBE + 1;
        assert!(matches!(footprint(&p), Err(MapError::BadProbeMax { .. })));
        // 16 slots per lock: a probe may cross at most MAX_PROBE_LOCKS locks.
        let p = MapParams {
            capacity: 1024,
            lock_count: 64,
            probe_max: 16 * MAX_PROBE_LOCKS,
            seed: 0,
        };
        let max = 16 * (MAX_PROBE_LOCKS as u64 - 1) + 1;
        assert!(matches!(footprint(&p), Err(MapError::BadProbeMax { max: m, .. }) if m == max));
        let p = MapParams {
            capacity: MAX_CAPACITY * 2,
            ..ok
        };
        assert!(matches!(footprint(&p), Err(MapError::BadCapacity { .. })));
    }
}
