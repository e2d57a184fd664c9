//! [`neigh_entry`]: the plain C struct a lookup fills and an upsert reads.

use neigh_core::entry::{NeighEntry, NeighKey};
use neigh_core::map::MapEntry;
use neigh_core::wire::{NtfFlags, NudState};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// One neighbor as C sees it (12 bytes, no padding holes, no pointers).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable)]
pub struct neigh_entry {
    /// The link-layer (Ethernet) address; all zero when `resolved` is 0.
    pub mac: [u8; 6],
    /// The kernel's NUD state bits (`ndm_state`: NUD_REACHABLE 0x02, NUD_STALE 0x04,
    /// NUD_PERMANENT 0x80, NUD_INCOMPLETE 0x01, NUD_FAILED 0x20, ...).
    pub state: u16,
    /// The kernel's NTF flags (`ndm_flags`: NTF_ROUTER 0x80, NTF_EXT_LEARNED 0x10, ...).
    pub flags: u8,
    /// 1 when `mac` is valid and a frame may be sent to it; 0 for an entry whose resolution
    /// is pending or failed (INCOMPLETE, FAILED): the kernel knows the neighbor is wanted.
    pub resolved: u8,
    /// The mirror's generation tag (mark and sweep); a C writer may put any value.
    pub generation: u8,
    /// Always 0 on output; ignored on input.
    pub reserved: u8,
}

impl neigh_entry {
    /// The C view of a stored entry. Built as two words and stored as such: assigned
    /// field by field, the six MAC bytes (selected on `resolved`) were stored one at a
    /// time on every hit.
    #[inline(always)]
    pub(crate) fn from_map(e: &MapEntry) -> Self {
        let mac = e.mac().map_or(0, |[m0, m1, m2, m3, m4, m5]| {
            u64::from_le_bytes([m0, m1, m2, m3, m4, m5, 0, 0])
        });
        let [s0, s1] = e.state().0.to_ne_bytes();
        let lo = mac | u64::from_le_bytes([0, 0, 0, 0, 0, 0, s0, s1]);
        let hi = u32::from_le_bytes([e.flags().0, u8::from(e.is_resolved()), e.generation(), 0]);
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&lo.to_le_bytes());
        bytes[8..].copy_from_slice(&hi.to_le_bytes());
        zerocopy::transmute!(bytes)
    }

    /// The Rust entry for `key` (the MAC is ignored unless `resolved` is non-zero).
    pub(crate) fn to_entry(self, key: NeighKey) -> NeighEntry {
        NeighEntry {
            key,
            mac: (self.resolved != 0).then_some(self.mac),
            state: NudState(self.state),
            flags: NtfFlags(self.flags),
        }
    }
}

const _: () = assert!(core::mem::size_of::<neigh_entry>() == 12);
const _: () = assert!(core::mem::align_of::<neigh_entry>() == 2);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    /// `from_map`'s two words against the fields assigned one by one: every field lands
    /// in its own bytes, and an unresolved entry's MAC is zero.
    #[test]
    fn from_map_fills_each_field() {
        let key = NeighKey {
            ifindex: 3,
            addr: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        };
        for (mac, state, flags, generation) in [
            (Some([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]), 0x02, 0x80, 7),
            (Some([0xff; 6]), 0x80, 0x10 | 0x08, 255),
            (None, 0x01, 0, 0),
            (None, 0x20, 0x80, 1),
        ] {
            let e = MapEntry::new(
                &NeighEntry {
                    key,
                    mac,
                    state: NudState(state),
                    flags: NtfFlags(flags),
                },
                generation,
            );
            let want = neigh_entry {
                mac: mac.unwrap_or([0; 6]),
                state,
                flags,
                resolved: u8::from(mac.is_some()),
                generation,
                reserved: 0,
            };
            assert_eq!(neigh_entry::from_map(&e), want);
        }
    }
}
