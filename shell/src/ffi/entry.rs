//! [`neigh_entry`]: the plain C struct a lookup fills and an upsert reads.

use neigh_core::entry::{NeighEntry, NeighKey};
use neigh_core::map::MapEntry;
use neigh_core::wire::{NtfFlags, NudState};

/// One neighbor as C sees it (12 bytes, no padding holes, no pointers).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    /// The C view of a stored entry.
    #[inline(always)]
    pub(crate) fn from_map(e: &MapEntry) -> Self {
        neigh_entry {
            mac: e.mac().unwrap_or([0; 6]),
            state: e.state().0,
            flags: e.flags().0,
            resolved: u8::from(e.is_resolved()),
            generation: e.generation(),
            reserved: 0,
        }
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
