//! `RTM_NEWLINK` / `RTM_DELLINK`: `struct ifinfomsg` and the few `IFLA_*` attributes neigh
//! needs (the name and the link-layer address), parsed into [`LinkMessage`].

use zerocopy::byteorder::native_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::attr::AttrIter;
use super::consts::{
    IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, RTM_DELLINK,
    RTM_GETLINK, RTM_NEWLINK,
};
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
    /// `IFLA_MASTER`: the index of the device this one is enslaved to (a bridge, a VRF).
    pub master: Option<u32>,
    /// `IFLA_LINKINFO` / `IFLA_INFO_KIND` without its NUL ("vrf", "veth", ...). A
    /// malformed `IFLA_LINKINFO` reads as no kind.
    pub info_kind: Option<&'a [u8]>,
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
            master: None,
            info_kind: None,
        };
        for attr in AttrIter::new(attrs) {
            let attr = attr?;
            match attr.kind() {
                IFLA_IFNAME => m.name = Some(attr.c_str()),
                IFLA_ADDRESS => m.address = Some(attr.payload()),
                IFLA_MASTER => m.master = Some(attr.u32()?),
                IFLA_LINKINFO => {
                    m.info_kind = AttrIter::new(attr.payload())
                        .map_while(Result::ok)
                        .find(|a| a.kind() == IFLA_INFO_KIND)
                        .map(|a| a.c_str());
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MessageIter;
    use zerocopy::IntoBytes;

    /// An RTM_NEWLINK as the kernel sends one: name, master, linkinfo with a kind.
    fn newlink(linkinfo: &[u8]) -> [u8; 128] {
        let mut buf = [0u8; 128];
        let mut attrs: heapless::Vec<u8, 96> = heapless::Vec::new();
        let mut put = |kind: u16, value: &[u8]| {
            let len = 4 + value.len() as u16;
            attrs.extend_from_slice(&len.to_ne_bytes()).unwrap();
            attrs.extend_from_slice(&kind.to_ne_bytes()).unwrap();
            attrs.extend_from_slice(value).unwrap();
            while attrs.len() % 4 != 0 {
                attrs.push(0).unwrap();
            }
        };
        put(IFLA_IFNAME, b"vrf0\0");
        put(IFLA_MASTER, &7u32.to_ne_bytes());
        put(IFLA_LINKINFO, linkinfo);
        let ifi = IfInfoMsg::default();
        let total = 16 + IFINFOMSG_LEN + attrs.len();
        let hdr = crate::wire::NlMsgHdr::new(total as u32, RTM_NEWLINK, 0, 1, 0);
        buf[..16].copy_from_slice(hdr.as_bytes());
        buf[16..16 + IFINFOMSG_LEN].copy_from_slice(ifi.as_bytes());
        buf[16 + IFINFOMSG_LEN..total].copy_from_slice(&attrs);
        buf
    }

    #[test]
    fn master_and_kind() {
        // IFLA_INFO_KIND "vrf" nested in IFLA_LINKINFO.
        let buf = newlink(&[8, 0, 1, 0, b'v', b'r', b'f', 0]);
        let msg = MessageIter::new(&buf).next().unwrap().unwrap();
        let l = LinkMessage::parse(&msg).unwrap();
        assert_eq!(l.name, Some(&b"vrf0"[..]));
        assert_eq!(l.master, Some(7));
        assert_eq!(l.info_kind, Some(&b"vrf"[..]));
        // A malformed nested attribute: no kind, the rest still parsed.
        let buf = newlink(&[200, 0, 1, 0]);
        let msg = MessageIter::new(&buf).next().unwrap().unwrap();
        let l = LinkMessage::parse(&msg).unwrap();
        assert_eq!((l.master, l.info_kind), (Some(7), None));
    }
}
