//! The neighbor key and entry shared by the codec ([`crate::wire`]) and the map
//! ([`crate::map`]), and the ingest decision that connects them.

use core::net::IpAddr;

use crate::wire::{NtfFlags, NudState};

/// A link-layer (Ethernet) address.
pub type Mac = [u8; 6];

/// What identifies a neighbor: the interface and the protocol address. The same IP on two
/// interfaces is two neighbors, as in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NeighKey {
    /// The kernel's interface index (`ndm_ifindex`); never 0 for a real entry.
    pub ifindex: u32,
    /// IPv4 (ARP) or IPv6 (NDP) address.
    pub addr: IpAddr,
}

/// One neighbor as the map stores it and the codec reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NeighEntry {
    pub key: NeighKey,
    /// `None` for an unresolved entry (INCOMPLETE, FAILED, or any state the kernel sent
    /// without `NDA_LLADDR`): resolution pending or failed, as opposed to unknown (absent).
    pub mac: Option<Mac>,
    /// The kernel's NUD state bits (`ndm_state`).
    pub state: NudState,
    /// The kernel's NTF flags (`ndm_flags`): router, proxy, extern_learn, ...
    pub flags: NtfFlags,
}

impl NeighEntry {
    /// True when the entry carries a MAC a data plane can send to.
    pub fn is_resolved(&self) -> bool {
        self.mac.is_some()
    }
}

/// Why the ingest policy chose to ignore a neighbor message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Not an AF_INET/AF_INET6 neighbor (bridge FDB, MPLS, ...).
    Family,
    /// A proxy entry (NTF_PROXY): a published address, not a neighbor to send to.
    Proxy,
    /// No `NDA_DST`, or one whose length does not match the family.
    NoDestination,
    /// `ndm_ifindex` is 0.
    NoInterface,
    /// A message type the policy does not handle (not NEWNEIGH/DELNEIGH).
    MessageType,
    /// The entry's MAC is not 6 bytes (not Ethernet: e.g. IP-over-InfiniBand, tunnels).
    LinkLayer,
}

/// What the map should do with one neighbor message: the ingest policy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingest {
    /// Insert or overwrite this entry (resolved or not).
    Upsert(NeighEntry),
    /// Remove this key if present; a delete needs no MAC.
    Remove(NeighKey),
    /// Leave the map alone, and why.
    Ignore(IgnoreReason),
}
