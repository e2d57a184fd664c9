//! Neighbor Unreachability Detection state (`ndm_state`), a bitmask.

/// The kernel's NUD state bits, as `ndm_state` carries them. Usually exactly one bit is
/// set; 0 is `NONE`. Names are the ones `ip neigh` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct NudState(pub u16);

impl NudState {
    /// No state (`NUD_NONE`): a new or proxy entry.
    pub const NONE: Self = Self(0x00);
    /// Resolution in progress, no link-layer address yet.
    pub const INCOMPLETE: Self = Self(0x01);
    /// Confirmed reachable recently.
    pub const REACHABLE: Self = Self(0x02);
    /// Valid but unconfirmed; used as is, re-verified on use.
    pub const STALE: Self = Self(0x04);
    /// Used while STALE; waiting before probing.
    pub const DELAY: Self = Self(0x08);
    /// Unicast probes in progress.
    pub const PROBE: Self = Self(0x10);
    /// Resolution failed; no link-layer address.
    pub const FAILED: Self = Self(0x20);
    /// Valid without resolution (NOARP devices, multicast).
    pub const NOARP: Self = Self(0x40);
    /// Static, set by an administrator; never expires.
    pub const PERMANENT: Self = Self(0x80);
    /// The states in which the kernel has, and reports, a usable link-layer address (its
    /// `NUD_VALID`).
    pub const VALID: Self = Self(
        Self::PERMANENT.0
            | Self::NOARP.0
            | Self::REACHABLE.0
            | Self::PROBE.0
            | Self::STALE.0
            | Self::DELAY.0,
    );

    /// Every named bit with the name `ip neigh` prints, in the order it prints them.
    pub const NAMES: [(Self, &'static str); 8] = [
        (Self::INCOMPLETE, "INCOMPLETE"),
        (Self::REACHABLE, "REACHABLE"),
        (Self::STALE, "STALE"),
        (Self::DELAY, "DELAY"),
        (Self::PROBE, "PROBE"),
        (Self::FAILED, "FAILED"),
        (Self::NOARP, "NOARP"),
        (Self::PERMANENT, "PERMANENT"),
    ];

    /// The bits of `self` that are also in `other`, non-empty.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two state sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Looks a state up by the name `ip neigh` accepts (case-insensitive), including
    /// `none`; `all` is a filter word, not a state, and is left to the caller.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("none") {
            return Some(Self::NONE);
        }
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|&(s, _)| s)
    }
}

impl core::ops::BitOr for NudState {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}
