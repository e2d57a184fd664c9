//! [`MapEntry`]: what a read returns, kept in slot form so a lookup returns a few words.

use core::fmt;
use core::hash::{Hash, Hasher};

use crate::entry::{Mac, NeighEntry, NeighKey};
use crate::wire::{NtfFlags, NudState};

use super::slot;

/// An entry as the map stores it: the neighbor and the generation it was written with.
/// The map keeps the low 8 bits of the NUD state (the kernel's `nud_state` is a `u8`) and
/// the NTF flags but NTF_USE (a request flag the kernel never reports on an entry).
///
/// Compact on purpose: it holds the four words of the slot it was read from (validated
/// under the seqlock), and the accessors unpack a field when asked (a shift and a mask
/// each; [`key`](Self::key) rebuilds the address). A lookup thus returns the words it
/// already holds in registers instead of a [`NeighEntry`] assembled field by field; call
/// [`entry`](Self::entry) for the unpacked struct. Equality and hashing are those of
/// `(entry(), generation())`.
#[derive(Clone, Copy)]
pub struct MapEntry {
    /// Slot words 0-3 (see `slot.rs`): address (2 words), ifindex/generation/meta, the
    /// value (MAC/state/flags).
    w: [u64; 4],
}

impl MapEntry {
    /// The entry `entry` tagged with `generation`, as [`NeighMap::upsert`] would store it
    /// (for models and side-by-side comparisons). O(1).
    ///
    /// [`NeighMap::upsert`]: super::NeighMap::upsert
    pub fn new(entry: &NeighEntry, generation: u8) -> Self {
        MapEntry {
            w: slot::encode(entry, generation, 0),
        }
    }

    /// Wraps an occupied slot's words. Total: any bit pattern gives some entry.
    #[inline]
    pub(crate) fn from_words(w: [u64; 4]) -> Self {
        MapEntry { w }
    }

    /// The key (interface index and address). O(1).
    #[inline]
    pub fn key(&self) -> NeighKey {
        slot::decode_key(self.w)
    }

    /// The MAC, or `None` for an unresolved entry. O(1).
    #[inline]
    pub fn mac(&self) -> Option<Mac> {
        self.is_resolved().then(|| slot::mac(self.w[3]))
    }

    /// True when the entry carries a MAC (see [`NeighEntry::is_resolved`]). O(1).
    #[inline]
    pub fn is_resolved(&self) -> bool {
        slot::is_resolved(self.w[3])
    }

    /// The NUD state bits (the low 8 bits of `ndm_state`: all the kernel keeps). O(1).
    #[inline]
    pub fn state(&self) -> NudState {
        NudState(slot::state(self.w[3]))
    }

    /// The NTF flags (NTF_USE, a request flag, is never stored). O(1).
    #[inline]
    pub fn flags(&self) -> NtfFlags {
        NtfFlags(slot::flags(self.w[3]))
    }

    /// The generation tag given to [`NeighMap::upsert`](super::NeighMap::upsert) (mark and
    /// sweep). O(1).
    #[inline]
    pub fn generation(&self) -> u8 {
        slot::generation(self.w[2])
    }

    /// The neighbor, unpacked. O(1).
    #[inline]
    pub fn entry(&self) -> NeighEntry {
        NeighEntry {
            key: self.key(),
            mac: self.mac(),
            state: self.state(),
            flags: self.flags(),
        }
    }
}

impl PartialEq for MapEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.entry(), self.generation()) == (other.entry(), other.generation())
    }
}

impl Eq for MapEntry {}

impl Hash for MapEntry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.entry(), self.generation()).hash(state);
    }
}

impl fmt::Debug for MapEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapEntry")
            .field("entry", &self.entry())
            .field("generation", &self.generation())
            .finish()
    }
}

impl From<MapEntry> for NeighEntry {
    fn from(e: MapEntry) -> Self {
        e.entry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    #[test]
    fn accessors_round_trip_and_equality_ignores_unused_bits() {
        let e = NeighEntry {
            key: NeighKey {
                ifindex: 9,
                addr: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            },
            mac: Some([2, 3, 4, 5, 6, 7]),
            state: NudState::STALE,
            flags: NtfFlags::ROUTER,
        };
        let m = MapEntry::new(&e, 42);
        assert_eq!((m.entry(), m.generation()), (e, 42));
        assert_eq!(m.key(), e.key);
        assert!(m.is_resolved());
        let u = MapEntry::new(&NeighEntry { mac: None, ..e }, 42);
        assert_eq!(u.mac(), None);
        assert_ne!(u, m);
        // A stored probe distance (word 2, bits 48-55) is not part of the entry.
        let mut w = m.w;
        w[2] |= 3 << 48;
        let moved = MapEntry::from_words(w);
        assert_eq!(moved, m);
        assert_ne!(MapEntry::new(&e, 43), m);
    }
}
