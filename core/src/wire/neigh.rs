//! `RTM_NEWNEIGH` / `RTM_DELNEIGH` / `RTM_GETNEIGH`: `struct ndmsg` and the `NDA_*`
//! attributes, parsed into [`NeighMessage`] and emitted back from it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use zerocopy::byteorder::native_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::attr::AttrIter;
use super::consts::*;
use super::nlmsg::Message;
use super::writer::MessageWriter;
use super::{BuildError, NtfExtFlags, NtfFlags, NudState, WireError};
use crate::entry::{Mac, NeighKey};

/// `struct ndmsg`, as it lies in the buffer (12 bytes).
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
pub struct NdMsg {
    /// Address family (`ndm_family`): AF_INET, AF_INET6, AF_BRIDGE, ...
    pub family: u8,
    /// Padding.
    pub pad1: u8,
    /// Padding.
    pub pad2: U16,
    /// Interface index (`ndm_ifindex`, an `int` in C).
    pub ifindex: U32,
    /// NUD state bits (`ndm_state`).
    pub state: U16,
    /// NTF flags (`ndm_flags`).
    pub flags: u8,
    /// Route type (`ndm_type`), RTN_UNICAST for ordinary neighbors.
    pub ntype: u8,
}

/// Size of [`NdMsg`].
pub const NDMSG_LEN: usize = 12;
static_assertions::const_assert_eq!(core::mem::size_of::<NdMsg>(), NDMSG_LEN);

/// `struct nda_cacheinfo` on the wire.
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
struct NdaCacheInfo {
    confirmed: U32,
    used: U32,
    updated: U32,
    refcnt: U32,
}

/// `NDA_CACHEINFO`: ages of the entry and its reference count, as the kernel sends them
/// (ages in clock ticks converted to milliseconds by the kernel, i.e. ms since the event).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CacheInfo {
    /// Time since the neighbor was last confirmed reachable.
    pub confirmed: u32,
    /// Time since the entry was last used.
    pub used: u32,
    /// Time since the entry was last updated.
    pub updated: u32,
    /// Reference count minus one.
    pub refcnt: u32,
}

/// One neighbor message, every field the kernel sends decoded; attributes it does not
/// know (e.g. `NDA_FDB_EXT_ATTRS`) are skipped. When an attribute repeats, the last one
/// wins (as in the kernel's `nla_parse`). Borrowed: `lladdr` points into the buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NeighMessage<'a> {
    /// `RTM_NEWNEIGH`, `RTM_DELNEIGH` or `RTM_GETNEIGH`.
    pub kind: u16,
    /// `ndm_family`.
    pub family: u8,
    /// `ndm_ifindex`.
    pub ifindex: u32,
    /// `ndm_state`.
    pub state: NudState,
    /// `ndm_flags`.
    pub flags: NtfFlags,
    /// `ndm_type`.
    pub ntype: u8,
    /// `NDA_DST`: IPv4 when 4 bytes, IPv6 when 16 (any other size is an error).
    pub dst: Option<IpAddr>,
    /// `NDA_LLADDR`, any length (empty on NOARP devices).
    pub lladdr: Option<&'a [u8]>,
    /// `NDA_CACHEINFO`.
    pub cacheinfo: Option<CacheInfo>,
    /// `NDA_PROBES`.
    pub probes: Option<u32>,
    /// `NDA_VLAN`.
    pub vlan: Option<u16>,
    /// `NDA_PORT`, converted from network byte order.
    pub port: Option<u16>,
    /// `NDA_VNI`.
    pub vni: Option<u32>,
    /// `NDA_IFINDEX`.
    pub ifindex_attr: Option<u32>,
    /// `NDA_MASTER`.
    pub master: Option<u32>,
    /// `NDA_LINK_NETNSID`.
    pub link_netnsid: Option<i32>,
    /// `NDA_SRC_VNI`.
    pub src_vni: Option<u32>,
    /// `NDA_PROTOCOL`.
    pub protocol: Option<u8>,
    /// `NDA_NH_ID`.
    pub nh_id: Option<u32>,
    /// `NDA_FLAGS_EXT`.
    pub flags_ext: Option<NtfExtFlags>,
}

impl<'a> NeighMessage<'a> {
    /// Parses a neighbor message.
    ///
    /// Errors: [`WireError::WrongType`] unless the type is NEWNEIGH/DELNEIGH/GETNEIGH;
    /// [`WireError::Truncated`] when the payload is shorter than `ndmsg`;
    /// [`WireError::BadAttrLength`]/[`WireError::Truncated`] for a malformed attribute
    /// header; [`WireError::AttrSize`] when a known attribute has the wrong size.
    /// Cost: O(attributes), no allocation. Always inlined: called out of line, the
    /// 144-byte result is assembled on the stack and copied field by field; inlined, the
    /// caller's unused fields cost nothing beyond their validation.
    #[inline(always)]
    pub fn parse(msg: &Message<'a>) -> Result<Self, WireError> {
        let kind = msg.kind();
        if !matches!(kind, RTM_NEWNEIGH | RTM_DELNEIGH | RTM_GETNEIGH) {
            return Err(WireError::WrongType { kind });
        }
        let Ok((nd, attrs)) = NdMsg::ref_from_prefix(msg.payload()) else {
            return Err(WireError::Truncated);
        };
        let mut m = NeighMessage {
            kind,
            family: nd.family,
            ifindex: nd.ifindex.get(),
            state: NudState(nd.state.get()),
            flags: NtfFlags(nd.flags),
            ntype: nd.ntype,
            ..Default::default()
        };
        for attr in AttrIter::new(attrs) {
            let attr = attr?;
            match attr.kind() {
                NDA_DST => {
                    m.dst = Some(match attr.payload().len() {
                        4 => IpAddr::V4(Ipv4Addr::from(attr.array::<4>()?)),
                        _ => IpAddr::V6(Ipv6Addr::from(attr.array::<16>()?)),
                    })
                }
                NDA_LLADDR => m.lladdr = Some(attr.payload()),
                NDA_CACHEINFO => {
                    let c = NdaCacheInfo::read_from_bytes(attr.payload()).map_err(|_| {
                        WireError::AttrSize {
                            kind: NDA_CACHEINFO,
                        }
                    })?;
                    m.cacheinfo = Some(CacheInfo {
                        confirmed: c.confirmed.get(),
                        used: c.used.get(),
                        updated: c.updated.get(),
                        refcnt: c.refcnt.get(),
                    });
                }
                NDA_PROBES => m.probes = Some(attr.u32()?),
                NDA_VLAN => m.vlan = Some(attr.u16()?),
                NDA_PORT => m.port = Some(attr.be16()?),
                NDA_VNI => m.vni = Some(attr.u32()?),
                NDA_IFINDEX => m.ifindex_attr = Some(attr.u32()?),
                NDA_MASTER => m.master = Some(attr.u32()?),
                NDA_LINK_NETNSID => m.link_netnsid = Some(attr.i32()?),
                NDA_SRC_VNI => m.src_vni = Some(attr.u32()?),
                NDA_PROTOCOL => m.protocol = Some(attr.u8()?),
                NDA_NH_ID => m.nh_id = Some(attr.u32()?),
                NDA_FLAGS_EXT => m.flags_ext = Some(NtfExtFlags(attr.u32()?)),
                _ => {}
            }
        }
        Ok(m)
    }

    /// The link-layer address as an Ethernet MAC, when `NDA_LLADDR` is exactly 6 bytes.
    #[inline]
    pub fn mac(&self) -> Option<Mac> {
        self.lladdr.and_then(|l| Mac::try_from(l).ok())
    }

    /// The map key `(ifindex, dst)`, when the message has a destination.
    #[inline]
    pub fn key(&self) -> Option<NeighKey> {
        self.dst.map(|addr| NeighKey {
            ifindex: self.ifindex,
            addr,
        })
    }

    /// The `ndmsg` this message's header fields make.
    pub fn ndmsg(&self) -> NdMsg {
        NdMsg {
            family: self.family,
            ifindex: self.ifindex.into(),
            state: self.state.0.into(),
            flags: self.flags.0,
            ntype: self.ntype,
            ..Default::default()
        }
    }

    /// Writes this message as one netlink message of type `self.kind` with `nlmsg_flags`,
    /// `seq` and port 0 at the start of `buf`, every field that is `Some` as its attribute.
    /// [`NeighMessage::parse`] of the result gives back `*self`. Attributes go in the order
    /// of the kernel's `neigh_fill_info` (DST, LLADDR, PROBES, CACHEINFO, ..., PROTOCOL,
    /// FLAGS_EXT), so re-emitting a parsed kernel neighbor message reproduces its payload
    /// byte for byte. Used by the request builders and to synthesize kernel-like replies
    /// (tests, benches, fuzzing).
    ///
    /// Errors: [`BuildError::BufferTooSmall`]; [`BuildError::AttrTooLong`] for an
    /// `lladdr` that does not fit an attribute. Cost: O(size), no allocation.
    pub fn emit(&self, buf: &mut [u8], seq: u32, nlmsg_flags: u16) -> Result<usize, BuildError> {
        let mut w = MessageWriter::new(buf, self.kind, nlmsg_flags, seq)?;
        w.family_header(&self.ndmsg())?;
        match self.dst {
            Some(IpAddr::V4(a)) => w.attr(NDA_DST, &a.octets())?,
            Some(IpAddr::V6(a)) => w.attr(NDA_DST, &a.octets())?,
            None => {}
        }
        if let Some(l) = self.lladdr {
            w.attr(NDA_LLADDR, l)?;
        }
        if let Some(p) = self.probes {
            w.attr(NDA_PROBES, &p.to_ne_bytes())?;
        }
        if let Some(c) = self.cacheinfo {
            let c = NdaCacheInfo {
                confirmed: c.confirmed.into(),
                used: c.used.into(),
                updated: c.updated.into(),
                refcnt: c.refcnt.into(),
            };
            w.attr(NDA_CACHEINFO, c.as_bytes())?;
        }
        if let Some(v) = self.vlan {
            w.attr(NDA_VLAN, &v.to_ne_bytes())?;
        }
        if let Some(p) = self.port {
            w.attr(NDA_PORT, &p.to_be_bytes())?;
        }
        let u32s = [
            (NDA_VNI, self.vni),
            (NDA_IFINDEX, self.ifindex_attr),
            (NDA_MASTER, self.master),
            (NDA_LINK_NETNSID, self.link_netnsid.map(|n| n as u32)),
            (NDA_SRC_VNI, self.src_vni),
            (NDA_NH_ID, self.nh_id),
        ];
        for (kind, value) in u32s {
            if let Some(v) = value {
                w.attr(kind, &v.to_ne_bytes())?;
            }
        }
        if let Some(p) = self.protocol {
            w.attr(NDA_PROTOCOL, &[p])?;
        }
        if let Some(f) = self.flags_ext {
            w.attr(NDA_FLAGS_EXT, &f.0.to_ne_bytes())?;
        }
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MessageIter;

    fn full() -> NeighMessage<'static> {
        NeighMessage {
            kind: RTM_NEWNEIGH,
            family: AF_INET6,
            ifindex: 7,
            state: NudState::STALE,
            flags: NtfFlags::ROUTER,
            ntype: RTN_UNICAST,
            dst: Some("fe80::1".parse().unwrap()),
            lladdr: Some(&[2, 0, 0, 0, 0, 1]),
            cacheinfo: Some(CacheInfo {
                confirmed: 1,
                used: 2,
                updated: 3,
                refcnt: 4,
            }),
            probes: Some(5),
            vlan: Some(6),
            port: Some(4789),
            vni: Some(8),
            ifindex_attr: Some(9),
            master: Some(10),
            link_netnsid: Some(-1),
            src_vni: Some(12),
            protocol: Some(RTPROT_STATIC),
            nh_id: Some(13),
            flags_ext: Some(NtfExtFlags::MANAGED),
        }
    }

    fn parse_one(bytes: &[u8]) -> Result<NeighMessage<'_>, WireError> {
        let msg = MessageIter::new(bytes).next().unwrap()?;
        NeighMessage::parse(&msg)
    }

    #[test]
    fn emit_then_parse_every_field() {
        let mut buf = [0u8; 256];
        let m = full();
        let n = m.emit(&mut buf, 1, 0).unwrap();
        assert_eq!(n % 4, 0);
        assert_eq!(parse_one(&buf[..n]), Ok(m));
        assert_eq!(m.mac(), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(m.key().unwrap().ifindex, 7);
        // NDA_PORT is big-endian on the wire.
        let port_at = buf[..n].windows(4).position(|w| w == [6, 0, 6, 0]).unwrap();
        assert_eq!(&buf[port_at + 4..port_at + 6], &4789u16.to_be_bytes());
    }

    #[test]
    fn emit_never_panics_on_short_buffers() {
        let m = full();
        let mut buf = [0u8; 256];
        let n = m.emit(&mut buf, 1, 0).unwrap();
        for short in 0..n {
            assert_eq!(
                m.emit(&mut buf[..short], 1, 0),
                Err(BuildError::BufferTooSmall)
            );
        }
    }

    #[test]
    fn wrong_sizes_and_types_are_errors() {
        let mut buf = [0u8; 256];
        let mut m = full();
        m.lladdr = None;
        let n = m.emit(&mut buf, 1, 0).unwrap();
        // Corrupt NDA_DST's length from 20 (16 + 4) to 9 (5 bytes of value).
        let dst_at = 16 + NDMSG_LEN;
        assert_eq!(&buf[dst_at..dst_at + 4], &[20, 0, 1, 0]);
        buf[dst_at] = 9;
        assert_eq!(
            parse_one(&buf[..n]),
            Err(WireError::AttrSize { kind: NDA_DST })
        );
        buf[dst_at] = 20;
        buf[4] = RTM_NEWLINK as u8;
        assert_eq!(
            parse_one(&buf[..n]),
            Err(WireError::WrongType { kind: RTM_NEWLINK })
        );
        // A payload shorter than ndmsg.
        let mut short = [0u8; 16 + 8];
        short[..4].copy_from_slice(&24u32.to_ne_bytes());
        short[4] = RTM_NEWNEIGH as u8;
        assert_eq!(parse_one(&short), Err(WireError::Truncated));
    }
}
