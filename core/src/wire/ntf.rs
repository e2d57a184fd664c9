//! Neighbor flags: `ndm_flags` (NTF_*) and `NDA_FLAGS_EXT` (NTF_EXT_*).

/// The kernel's `ndm_flags` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct NtfFlags(pub u8);

impl NtfFlags {
    /// No flags.
    pub const NONE: Self = Self(0);
    /// `NTF_USE`: request: mark the entry used / trigger resolution.
    pub const USE: Self = Self(0x01);
    /// `NTF_SELF`: bridge FDB: the entry is on the device itself.
    pub const SELF: Self = Self(0x02);
    /// `NTF_MASTER`: bridge FDB: the entry is on the master device.
    pub const MASTER: Self = Self(0x04);
    /// `NTF_PROXY`: a proxy-ARP/NDP entry (`ip neigh ... proxy`).
    pub const PROXY: Self = Self(0x08);
    /// `NTF_EXT_LEARNED`: learned by an external control plane (`extern_learn`).
    pub const EXT_LEARNED: Self = Self(0x10);
    /// `NTF_OFFLOADED`: offloaded to hardware (`offload`).
    pub const OFFLOADED: Self = Self(0x20);
    /// `NTF_STICKY`: bridge FDB: the entry does not move between ports.
    pub const STICKY: Self = Self(0x40);
    /// `NTF_ROUTER`: the IPv6 neighbor is a router (`router`).
    pub const ROUTER: Self = Self(0x80);

    /// The flags `ip neigh` prints, with the word it prints, in its order.
    pub const NAMES: [(Self, &'static str); 4] = [
        (Self::ROUTER, "router"),
        (Self::PROXY, "proxy"),
        (Self::EXT_LEARNED, "extern_learn"),
        (Self::OFFLOADED, "offload"),
    ];

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two flag sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for NtfFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// The kernel's `NDA_FLAGS_EXT` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct NtfExtFlags(pub u32);

impl NtfExtFlags {
    /// No flags.
    pub const NONE: Self = Self(0);
    /// `NTF_EXT_MANAGED`: the kernel keeps the entry resolved (`managed`).
    pub const MANAGED: Self = Self(0x01);
    /// `NTF_EXT_LOCKED`: bridge FDB: locked port entry.
    pub const LOCKED: Self = Self(0x02);

    /// The extended flags `ip neigh` prints, with the word it prints.
    pub const NAMES: [(Self, &'static str); 1] = [(Self::MANAGED, "managed")];

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two flag sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for NtfExtFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}
