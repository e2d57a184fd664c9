//! Request builders: each writes one complete netlink request (`nlmsg_pid` 0,
//! `NLM_F_REQUEST` set) at the start of a caller's buffer and returns its length.
//!
//! None of them panics or allocates: a buffer that is too short is
//! [`BuildError::BufferTooSmall`] (256 bytes always suffice). The field layouts follow what
//! strict-checking kernels (`NETLINK_GET_STRICT_CHK`) accept.

use core::net::IpAddr;

use super::consts::*;
use super::link::IfInfoMsg;
use super::neigh::{NdMsg, NeighMessage};
use super::writer::MessageWriter;
use super::{BuildError, NtfExtFlags, NtfFlags, NudState};

/// A buffer size every builder here fits in.
pub const REQUEST_BUF_LEN: usize = 256;

/// What a neighbor dump should be limited to. Filters are `NDA_IFINDEX` / `NDA_MASTER`
/// attributes, which a strict-checking kernel applies (and marks the reply
/// `NLM_F_DUMP_FILTERED`); an older kernel ignores them and dumps everything, so callers
/// filter again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpFilter {
    /// Only neighbors on this interface (`NDA_IFINDEX`).
    pub ifindex: Option<u32>,
    /// Only neighbors on ports of this master device (`NDA_MASTER`).
    pub master: Option<u32>,
    /// Dump the proxy table (`ndm_flags = NTF_PROXY`) instead of the neighbor table.
    pub proxy: bool,
}

/// How [`neigh_new`] treats an existing entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewMode {
    /// `ip neigh add`: create, fail with EEXIST if present (`NLM_F_CREATE | NLM_F_EXCL`).
    Add,
    /// `ip neigh replace`: create or overwrite (`NLM_F_CREATE | NLM_F_REPLACE`).
    Replace,
    /// `ip neigh change`: overwrite, fail with ENOENT if absent (`NLM_F_REPLACE`).
    Change,
}

impl NewMode {
    /// The `nlmsg_flags` modifier bits of this mode.
    pub const fn flags(self) -> u16 {
        match self {
            NewMode::Add => NLM_F_CREATE | NLM_F_EXCL,
            NewMode::Replace => NLM_F_CREATE | NLM_F_REPLACE,
            NewMode::Change => NLM_F_REPLACE,
        }
    }
}

/// One neighbor to add, change or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighRequest<'l> {
    /// `ndm_ifindex` (the `dev`).
    pub ifindex: u32,
    /// `NDA_DST`; its kind sets `ndm_family`.
    pub addr: IpAddr,
    /// `NDA_LLADDR`, at most 32 bytes (`MAX_ADDR_LEN`).
    pub lladdr: Option<&'l [u8]>,
    /// `ndm_state` (`nud permanent` etc.).
    pub state: NudState,
    /// `ndm_flags` (router, proxy, extern_learn, use).
    pub flags: NtfFlags,
    /// `NDA_FLAGS_EXT` (managed).
    pub flags_ext: Option<NtfExtFlags>,
    /// `NDA_PROTOCOL` (`proto`).
    pub protocol: Option<u8>,
}

const fn family_of(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// `RTM_GETNEIGH` dump of `family` (AF_INET, AF_INET6 or AF_UNSPEC for both), with
/// `NLM_F_DUMP`. Errors: [`BuildError::BufferTooSmall`]. Cost: O(1).
pub fn neigh_dump(
    buf: &mut [u8],
    seq: u32,
    family: u8,
    filter: DumpFilter,
) -> Result<usize, BuildError> {
    let mut w = MessageWriter::new(buf, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    let flags = if filter.proxy { NtfFlags::PROXY.0 } else { 0 };
    w.family_header(&NdMsg {
        family,
        flags,
        ..Default::default()
    })?;
    if let Some(i) = filter.ifindex {
        w.attr(NDA_IFINDEX, &i.to_ne_bytes())?;
    }
    if let Some(m) = filter.master {
        w.attr(NDA_MASTER, &m.to_ne_bytes())?;
    }
    w.finish()
}

/// `RTM_GETLINK` dump of every link (`ifinfomsg` all zero, `NLM_F_DUMP`).
/// Errors: [`BuildError::BufferTooSmall`]. Cost: O(1).
pub fn link_dump(buf: &mut [u8], seq: u32) -> Result<usize, BuildError> {
    let mut w = MessageWriter::new(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    w.family_header(&IfInfoMsg::default())?;
    w.finish()
}

/// `RTM_GETNEIGH` for the one neighbor `addr` on `ifindex` (`ip neigh get`); the kernel
/// answers with one RTM_NEWNEIGH or an error (ENOENT). `proxy` looks in the proxy table.
/// Errors: [`BuildError::BufferTooSmall`]. Cost: O(1).
pub fn neigh_get(
    buf: &mut [u8],
    seq: u32,
    ifindex: u32,
    addr: IpAddr,
    proxy: bool,
) -> Result<usize, BuildError> {
    let req = NeighMessage {
        kind: RTM_GETNEIGH,
        family: family_of(&addr),
        ifindex,
        flags: if proxy {
            NtfFlags::PROXY
        } else {
            NtfFlags::NONE
        },
        dst: Some(addr),
        ..Default::default()
    };
    req.emit(buf, seq, NLM_F_REQUEST)
}

/// `RTM_NEWNEIGH` that adds, replaces or changes `req` according to `mode`, with
/// `NLM_F_ACK` (the kernel answers with an ACK or an error).
/// Errors: [`BuildError::BufferTooSmall`]; [`BuildError::LladdrTooLong`] over 32 bytes.
/// Cost: O(1).
pub fn neigh_new(
    buf: &mut [u8],
    seq: u32,
    req: &NeighRequest<'_>,
    mode: NewMode,
) -> Result<usize, BuildError> {
    if req.lladdr.is_some_and(|l| l.len() > MAX_ADDR_LEN) {
        return Err(BuildError::LladdrTooLong);
    }
    let msg = NeighMessage {
        kind: RTM_NEWNEIGH,
        family: family_of(&req.addr),
        ifindex: req.ifindex,
        state: req.state,
        flags: req.flags,
        dst: Some(req.addr),
        lladdr: req.lladdr,
        protocol: req.protocol,
        flags_ext: req.flags_ext,
        ..Default::default()
    };
    msg.emit(buf, seq, NLM_F_REQUEST | NLM_F_ACK | mode.flags())
}

/// `RTM_DELNEIGH` for `req.addr` on `req.ifindex`, with `req.flags` (e.g. NTF_PROXY to
/// delete a proxy entry) and `NLM_F_ACK`; lladdr, state and the rest are not sent.
/// Errors: [`BuildError::BufferTooSmall`]. Cost: O(1).
pub fn neigh_del(buf: &mut [u8], seq: u32, req: &NeighRequest<'_>) -> Result<usize, BuildError> {
    let msg = NeighMessage {
        kind: RTM_DELNEIGH,
        family: family_of(&req.addr),
        ifindex: req.ifindex,
        flags: req.flags,
        dst: Some(req.addr),
        ..Default::default()
    };
    msg.emit(buf, seq, NLM_F_REQUEST | NLM_F_ACK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MessageIter, Parsed};

    fn parse_one(bytes: &[u8]) -> (u16, u32, Parsed<'_>) {
        let mut it = MessageIter::new(bytes);
        let m = it.next().unwrap().unwrap();
        assert!(it.next().is_none());
        assert_eq!(m.port(), 0);
        assert_eq!(m.bytes().len(), bytes.len());
        (m.flags(), m.seq(), m.parse().unwrap())
    }

    #[test]
    fn neigh_dump_with_filters() {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let filter = DumpFilter {
            ifindex: Some(3),
            master: Some(9),
            proxy: true,
        };
        let n = neigh_dump(&mut buf, 42, AF_INET6, filter).unwrap();
        assert_eq!(n, 16 + 12 + 8 + 8);
        let (flags, seq, p) = parse_one(&buf[..n]);
        assert_eq!((flags, seq), (NLM_F_REQUEST | NLM_F_DUMP, 42));
        let Parsed::Neigh(m) = p else { panic!("{p:?}") };
        assert_eq!(
            (m.kind, m.family, m.ifindex, m.flags),
            (RTM_GETNEIGH, AF_INET6, 0, NtfFlags::PROXY)
        );
        assert_eq!((m.ifindex_attr, m.master), (Some(3), Some(9)));
        let n = neigh_dump(&mut buf, 1, AF_INET, DumpFilter::default()).unwrap();
        assert_eq!(n, 28);
    }

    #[test]
    fn link_dump_is_bare_ifinfomsg() {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let n = link_dump(&mut buf, 5).unwrap();
        assert_eq!(n, 32);
        let (flags, _, p) = parse_one(&buf[..n]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_DUMP);
        assert!(
            matches!(p, Parsed::Link(l) if l.kind == RTM_GETLINK && l.ifindex == 0 && l.name.is_none())
        );
    }

    #[test]
    fn neigh_new_modes_and_fields() {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let req = NeighRequest {
            ifindex: 4,
            addr: "10.1.2.3".parse().unwrap(),
            lladdr: Some(&[2, 1, 2, 3, 4, 5]),
            state: NudState::PERMANENT,
            flags: NtfFlags::ROUTER,
            flags_ext: Some(NtfExtFlags::MANAGED),
            protocol: Some(RTPROT_STATIC),
        };
        for (mode, bits) in [
            (NewMode::Add, NLM_F_CREATE | NLM_F_EXCL),
            (NewMode::Replace, NLM_F_CREATE | NLM_F_REPLACE),
            (NewMode::Change, NLM_F_REPLACE),
        ] {
            let n = neigh_new(&mut buf, 9, &req, mode).unwrap();
            let (flags, seq, p) = parse_one(&buf[..n]);
            assert_eq!((flags, seq), (NLM_F_REQUEST | NLM_F_ACK | bits, 9));
            let Parsed::Neigh(m) = p else { panic!("{p:?}") };
            assert_eq!(
                (m.kind, m.family, m.ifindex, m.state, m.flags),
                (RTM_NEWNEIGH, AF_INET, 4, req.state, req.flags)
            );
            assert_eq!(
                (m.dst, m.lladdr, m.flags_ext, m.protocol),
                (Some(req.addr), req.lladdr, req.flags_ext, req.protocol)
            );
            assert_eq!((m.cacheinfo, m.probes, m.master), (None, None, None));
        }
        let long = [0u8; 33];
        let bad = NeighRequest {
            lladdr: Some(&long),
            ..req
        };
        assert_eq!(
            neigh_new(&mut buf, 1, &bad, NewMode::Add),
            Err(BuildError::LladdrTooLong)
        );
    }

    #[test]
    fn neigh_get_and_del() {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let addr: IpAddr = "2001:db8::7".parse().unwrap();
        let n = neigh_get(&mut buf, 3, 2, addr, false).unwrap();
        let (flags, _, p) = parse_one(&buf[..n]);
        assert_eq!(flags, NLM_F_REQUEST);
        assert!(
            matches!(p, Parsed::Neigh(m) if m.kind == RTM_GETNEIGH && m.family == AF_INET6 && m.dst == Some(addr) && m.ifindex == 2)
        );
        let req = NeighRequest {
            ifindex: 2,
            addr,
            lladdr: Some(&[1; 6]),
            state: NudState::REACHABLE,
            flags: NtfFlags::PROXY,
            flags_ext: None,
            protocol: None,
        };
        let n = neigh_del(&mut buf, 4, &req).unwrap();
        let (flags, _, p) = parse_one(&buf[..n]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK);
        let Parsed::Neigh(m) = p else { panic!("{p:?}") };
        assert_eq!(
            (m.kind, m.flags, m.dst, m.lladdr, m.state),
            (
                RTM_DELNEIGH,
                NtfFlags::PROXY,
                Some(addr),
                None,
                NudState::NONE
            )
        );
    }

    #[test]
    fn short_buffers_are_errors() {
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let n = neigh_dump(
            &mut buf,
            1,
            AF_INET,
            DumpFilter {
                ifindex: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        for short in 0..n {
            assert_eq!(
                neigh_dump(
                    &mut buf[..short],
                    1,
                    AF_INET,
                    DumpFilter {
                        ifindex: Some(1),
                        ..Default::default()
                    }
                ),
                Err(BuildError::BufferTooSmall)
            );
        }
        assert_eq!(
            link_dump(&mut buf[..31], 1),
            Err(BuildError::BufferTooSmall)
        );
    }
}
