//! `RTM_NEWLINK` / `RTM_DELLINK`: `struct ifinfomsg` and the few `IFLA_*` attributes neigh
//! needs (the name and the link-layer address), parsed into [`LinkMessage`].

use zerocopy::byteorder::native_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::attr::AttrIter;
use super::consts::{IFLA_ADDRESS, IFLA_IFNAME, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK};
use super::nlmsg::Message;
use super::WireError;

/// `struct ifinfomsg`, as it lies in the buffer (16 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct IfInfoMsg {
    /// `ifi_family` (AF_UNSPEC).
    pub family: u8,
    /// Padding.
    pub pad: u8,
    /// `ifi_type`: ARPHRD_*.
    pub ifi_type: U16,
    /// `ifi_index`.
    pub index: U32,
    /// `ifi_flags`: IFF_*.
    pub flags: U32,
    /// `ifi_change`: which flags changed (events only).
    pub change: U32,
}

/// Size of [`IfInfoMsg`].
pub const IFINFOMSG_LEN: usize = 16;
static_assertions::const_assert_eq!(core::mem::size_of::<IfInfoMsg>(), IFINFOMSG_LEN);

/// One link message: the fields neigh uses to name interfaces and tell Ethernet links
/// apart. Other attributes are skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LinkMessage<'a> {
    /// `RTM_NEWLINK`, `RTM_DELLINK` or `RTM_GETLINK`.
    pub kind: u16,
    /// `ifi_index`.
    pub ifindex: u32,
    /// `ifi_type` (ARPHRD_ETHER, ARPHRD_LOOPBACK, ...).
    pub ifi_type: u16,
    /// `ifi_flags` (IFF_UP, IFF_NOARP, ...).
    pub ifi_flags: u32,
    /// `IFLA_IFNAME` without its NUL terminator.
    pub name: Option<&'a [u8]>,
    /// `IFLA_ADDRESS`, any length.
    pub address: Option<&'a [u8]>,
}

impl<'a> LinkMessage<'a> {
    /// Parses a link message.
    ///
    /// Errors: [`WireError::WrongType`] unless NEWLINK/DELLINK/GETLINK;
    /// [`WireError::Truncated`] when shorter than `ifinfomsg`; attribute header errors.
    /// Cost: O(attributes) (a link message carries ~50 of them), no allocation.
    pub fn parse(msg: &Message<'a>) -> Result<Self, WireError> {
        let kind = msg.kind();
        if !matches!(kind, RTM_NEWLINK | RTM_DELLINK | RTM_GETLINK) {
            return Err(WireError::WrongType { kind });
        }
        let Ok((ifi, attrs)) = IfInfoMsg::ref_from_prefix(msg.payload()) else {
            return Err(WireError::Truncated);
        };
        let mut m = LinkMessage {
            kind,
            ifindex: ifi.index.get(),
            ifi_type: ifi.ifi_type.get(),
            ifi_flags: ifi.flags.get(),
            name: None,
            address: None,
        };
        for attr in AttrIter::new(attrs) {
            let attr = attr?;
            match attr.kind() {
                IFLA_IFNAME => m.name = Some(attr.c_str()),
                IFLA_ADDRESS => m.address = Some(attr.payload()),
                _ => {}
            }
        }
        Ok(m)
    }

    /// The interface name as UTF-8, when it is valid UTF-8 (the kernel only allows
    /// printable names, so in practice always).
    pub fn name_str(&self) -> Option<&'a str> {
        self.name.and_then(|n| core::str::from_utf8(n).ok())
    }
}
