//! How one entry is packed into a slot's four words, and the keyed hash of a key.
//!
//! ```text
//! word 0: address bytes 0..8   (native-endian u64; IPv4 stored v4-mapped ::ffff:a.b.c.d)
//! word 1: address bytes 8..16
//! word 2: ifindex (bits 0-31) | generation (32-39) | probe distance (48-55) | meta (56-63)
//! word 3: MAC (bits 0-47, byte 0 lowest) | NUD state (48-55) | NTF flags (56-63)
//! meta:   bit 0 occupied, bit 1 IPv6
//! ```
//!
//! Word 3 is the entry's value, whole in one atomic word, so a value update is one store
//! that readers take as it is (see `seqlock.rs`): the MAC, the NUD state (the kernel keeps
//! it in a `u8`; the map stores the low 8 bits of `ndm_state`) and the NTF flags, whose bit
//! 0, NTF_USE, a request flag the kernel never sets on an entry, says whether the MAC is
//! valid (resolved). The generation, the writer's mark-and-sweep bookkeeping, is in word 2
//! and read on its own: a read that overlaps an update may pair one update's value with the
//! other's generation.
//!
//! An empty slot is four zero words. The key is words 0-1 plus the ifindex and the
//! occupied/IPv6 bits of word 2, so a key compare is three word compares. Decoding accepts
//! any bit pattern (a reader decodes speculative data before validating it), and nothing
//! decoded is ever used as an index.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::MapEntry;
use crate::entry::{NeighEntry, NeighKey};

const META_SHIFT: u32 = 56;
pub(crate) const META_OCCUPIED: u64 = 1 << META_SHIFT;
const META_V6: u64 = 2 << META_SHIFT;
const GENERATION_SHIFT: u32 = 32;
const GENERATION_MASK: u64 = 0xff << GENERATION_SHIFT;
const DIST_SHIFT: u32 = 48;
const STATE_SHIFT: u32 = 48;
const FLAGS_SHIFT: u32 = 56;
/// Word 3's bit for "the MAC is valid": NTF_USE's bit of the flags byte.
const VALUE_RESOLVED: u64 = 1 << FLAGS_SHIFT;
/// Adding this to word 2 adds one to the probe distance.
pub(crate) const DIST_ONE: u64 = 1 << DIST_SHIFT;
/// The bits of word 2 that belong to the key.
pub(crate) const W2_KEY_MASK: u64 = 0xffff_ffff | META_OCCUPIED | META_V6;

/// A key in slot form: what a probe compares against, and its hash input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotKey {
    pub w0: u64,
    pub w1: u64,
    /// Word 2 masked with [`W2_KEY_MASK`] (occupied bit set).
    pub w2: u64,
}

impl SlotKey {
    #[inline]
    pub fn new(key: &NeighKey) -> Self {
        match key.addr {
            // ::ffff:a.b.c.d: bytes 0..8 are zero, bytes 8..16 are 0 0 ff ff a b c d.
            IpAddr::V4(a) => {
                let o = a.octets();
                SlotKey {
                    w0: 0,
                    w1: u64::from_ne_bytes([0, 0, 0xff, 0xff, o[0], o[1], o[2], o[3]]),
                    w2: u64::from(key.ifindex) | META_OCCUPIED,
                }
            }
            IpAddr::V6(a) => {
                let o = a.octets();
                let (lo, hi) = o.split_at(8);
                SlotKey {
                    w0: u64::from_ne_bytes(to8(lo)),
                    w1: u64::from_ne_bytes(to8(hi)),
                    w2: u64::from(key.ifindex) | META_OCCUPIED | META_V6,
                }
            }
        }
    }

    /// Does a slot whose words 0-2 are these hold this key?
    #[inline]
    pub fn matches(&self, w0: u64, w1: u64, w2: u64) -> bool {
        w0 == self.w0 && w1 == self.w1 && (w2 & W2_KEY_MASK) == self.w2
    }

    /// Keyed hash (two folded 64x64->128 multiplies). Deterministic for a given seed, so
    /// every process sharing a region probes the same slots. O(1).
    #[inline]
    pub fn hash(&self, seed: u64) -> u64 {
        const K0: u64 = 0x9e37_79b9_7f4a_7c15;
        const K1: u64 = 0xc2b2_ae3d_27d4_eb4f;
        const K2: u64 = 0x1656_67b1_9e37_79f9;
        let a = fold_mul(self.w0 ^ seed ^ K0, self.w1 ^ K1);
        fold_mul(a ^ self.w2, K2 ^ seed.rotate_left(32))
    }
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline]
fn to8(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(b);
    out
}

/// Fingerprint bits in a tag (the low bits); the bits above them hold the probe distance
/// plus one, so an occupied slot's tag is never 0 (an empty slot's).
pub(crate) const TAG_FP_BITS: u32 = 3;
/// Largest probe distance a tag stores exactly; longer ones are stored as this.
pub(crate) const TAG_DIST_MAX: usize = (1 << (8 - TAG_FP_BITS)) - 2;

/// The fingerprint bits of a key whose hash is `hash`, from the top of the hash (the home
/// slot comes from the low bits).
#[inline]
pub(crate) fn fingerprint(hash: u64) -> u8 {
    (hash >> (64 - TAG_FP_BITS)) as u8
}

/// The tag byte of an entry `dist` slots from its home with fingerprint `fp`:
/// `min(dist, TAG_DIST_MAX) + 1`, then the fingerprint bits (only the low `TAG_FP_BITS`
/// bits of `fp` count). An empty slot's tag is 0; an entry's is at least
/// `1 << TAG_FP_BITS`. The distance lets a reader apply the Robin Hood stop rule (stop at
/// the first entry closer to its home than the probe) from the tags alone, so a miss
/// reads no slot; the distance and fingerprint together pick out candidates of the key's
/// own home. Storing distance + 1 instead of an occupied bit leaves 3 fingerprint bits
/// beside 5 distance bits: 1 in 8 of the entries of the key's home is a false candidate.
#[inline]
pub(crate) const fn tag(fp: u8, dist: usize) -> u8 {
    let d = if dist < TAG_DIST_MAX {
        dist
    } else {
        TAG_DIST_MAX
    };
    ((d as u8 + 1) << TAG_FP_BITS) | (fp & ((1 << TAG_FP_BITS) - 1))
}

/// True when value word `w3` marks its MAC valid.
#[inline]
pub(crate) fn is_resolved(w3: u64) -> bool {
    w3 & VALUE_RESOLVED != 0
}

/// The MAC bytes of value word `w3` (meaningful when [`is_resolved`]).
#[inline]
pub(crate) fn mac(w3: u64) -> [u8; 6] {
    let b = w3.to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// The NUD state of value word `w3`.
#[inline]
pub(crate) fn state(w3: u64) -> u16 {
    u16::from((w3 >> STATE_SHIFT) as u8)
}

/// The NTF flags of value word `w3` (NTF_USE, whose bit says "resolved", cleared).
#[inline]
pub(crate) fn flags(w3: u64) -> u8 {
    (w3 >> FLAGS_SHIFT) as u8 & !(VALUE_RESOLVED >> FLAGS_SHIFT) as u8
}

/// The generation stored in word 2.
#[inline]
pub(crate) fn generation(w2: u64) -> u8 {
    (w2 >> GENERATION_SHIFT) as u8
}

/// Word 2 with its generation replaced.
#[inline]
pub(crate) fn with_generation(w2: u64, generation: u8) -> u64 {
    (w2 & !GENERATION_MASK) | (u64::from(generation) << GENERATION_SHIFT)
}

/// True when word 2 marks the slot occupied.
#[inline]
pub(crate) fn is_occupied(w2: u64) -> bool {
    w2 & META_OCCUPIED != 0
}

/// The probe distance (slots from the home slot) stored in word 2.
#[inline]
pub(crate) fn dist(w2: u64) -> usize {
    ((w2 >> DIST_SHIFT) & 0xff) as usize
}

/// The value word of an entry: MAC, NUD state (low 8 bits), NTF flags (NTF_USE
/// replaced by "resolved").
#[inline]
pub(crate) fn value(entry: &NeighEntry) -> u64 {
    let (mac, resolved) = match entry.mac {
        Some(m) => {
            let mut b = [0u8; 8];
            b[..6].copy_from_slice(&m);
            (u64::from_le_bytes(b), VALUE_RESOLVED)
        }
        None => (0, 0),
    };
    let flags = u64::from(entry.flags.0) << FLAGS_SHIFT & !VALUE_RESOLVED;
    mac | (u64::from(entry.state.0 as u8) << STATE_SHIFT) | flags | resolved
}

/// Packs an entry into slot words; `dist` must be below 256 (the caller checks against
/// `probe_max`, which is at most 255).
#[inline]
pub(crate) fn encode(entry: &NeighEntry, generation: u8, dist: usize) -> [u64; 4] {
    let k = SlotKey::new(&entry.key);
    let w2 = with_generation(k.w2, generation) | ((dist as u64 & 0xff) << DIST_SHIFT);
    [k.w0, k.w1, w2, value(entry)]
}

/// Unpacks the words of an occupied slot. Total: any bit pattern gives some entry.
#[inline]
pub(crate) fn decode(w: [u64; 4]) -> MapEntry {
    MapEntry::from_words(w)
}

/// The key of an occupied slot's words. Total: any bit pattern gives some key.
#[inline]
pub(crate) fn decode_key(w: [u64; 4]) -> NeighKey {
    let [w0, w1, w2, _] = w;
    let mut octets = [0u8; 16];
    octets[..8].copy_from_slice(&w0.to_ne_bytes());
    octets[8..].copy_from_slice(&w1.to_ne_bytes());
    let addr = if w2 & META_V6 != 0 {
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        IpAddr::V4(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ))
    };
    NeighKey {
        ifindex: w2 as u32,
        addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{NtfFlags, NudState};

    #[test]
    fn v4_key_words_are_the_v4_mapped_address() {
        for a in [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(255, 1, 128, 0)] {
            let k = SlotKey::new(&NeighKey {
                ifindex: 4,
                addr: IpAddr::V4(a),
            });
            let o = a.to_ipv6_mapped().octets();
            assert_eq!(k.w0, u64::from_ne_bytes(to8(&o[..8])));
            assert_eq!(k.w1, u64::from_ne_bytes(to8(&o[8..])));
            assert_eq!(k.w2, 4 | META_OCCUPIED);
        }
    }

    fn entry(ifindex: u32, addr: IpAddr, mac: Option<[u8; 6]>) -> NeighEntry {
        NeighEntry {
            key: NeighKey { ifindex, addr },
            mac,
            state: NudState::REACHABLE,
            flags: NtfFlags::ROUTER,
        }
    }

    #[test]
    fn round_trips_v4_v6_resolved_unresolved() {
        let cases = [
            entry(
                1,
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
                Some([2, 0, 0, 0, 0, 0xff]),
            ),
            entry(u32::MAX, "fe80::1".parse().unwrap(), Some([0xff; 6])),
            entry(7, "::ffff:1.2.3.4".parse().unwrap(), None),
            entry(0, IpAddr::V4(Ipv4Addr::UNSPECIFIED), None),
        ];
        for (i, e) in cases.iter().enumerate() {
            let w = encode(e, (i * 60) as u8, i * 70);
            assert!(is_occupied(w[2]));
            assert_eq!(dist(w[2]), i * 70);
            assert!(SlotKey::new(&e.key).matches(w[0], w[1], w[2]));
            let d = decode(w);
            assert_eq!(d.entry(), *e);
            assert_eq!(d.generation(), (i * 60) as u8);
        }
    }

    #[test]
    fn v4_and_v4_mapped_v6_are_different_keys() {
        let v4 = NeighKey {
            ifindex: 3,
            addr: IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
        };
        let v6 = NeighKey {
            ifindex: 3,
            addr: "::ffff:1.2.3.4".parse().unwrap(),
        };
        let w = encode(&entry(3, v4.addr, None), 0, 0);
        assert!(!SlotKey::new(&v6).matches(w[0], w[1], w[2]));
        assert_ne!(SlotKey::new(&v4), SlotKey::new(&v6));
    }

    #[test]
    fn state_generation_dist_do_not_change_the_key() {
        let e = entry(9, "2001:db8::9".parse().unwrap(), Some([1; 6]));
        let k = SlotKey::new(&e.key);
        let w = encode(
            &NeighEntry {
                state: NudState(0xffff),
                flags: NtfFlags(0xff),
                mac: None,
                ..e
            },
            255,
            255,
        );
        assert!(k.matches(w[0], w[1], w[2]));
        assert!(!k.matches(w[0], w[1], w[2] + 1));
    }

    #[test]
    fn hash_depends_on_seed_and_key() {
        let a = SlotKey::new(&NeighKey {
            ifindex: 1,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        });
        let b = SlotKey::new(&NeighKey {
            ifindex: 2,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        });
        assert_ne!(a.hash(1), b.hash(1));
        assert_ne!(a.hash(1), a.hash(2));
        assert_eq!(a.hash(5), a.hash(5));
    }
}
