//! Parses the replies a real kernel sent (captured by `fixtures/capture.py`, which documents
//! the setup) and checks every field against what the script set up.

use std::net::IpAddr;

use neigh_core::wire::consts::*;
use neigh_core::wire::*;
use neigh_core::{IgnoreReason, Ingest, NeighEntry, NeighKey};

const NEIGH_DUMP_V4: &[u8] = include_bytes!("fixtures/neigh_dump_v4.bin");
const NEIGH_DUMP_V6: &[u8] = include_bytes!("fixtures/neigh_dump_v6.bin");
const NEIGH_DUMP_PROXY: &[u8] = include_bytes!("fixtures/neigh_dump_proxy.bin");
const NEIGH_GET: &[u8] = include_bytes!("fixtures/neigh_get.bin");
const NEIGH_EVENTS: &[u8] = include_bytes!("fixtures/neigh_events.bin");
const LINK_DUMP: &[u8] = include_bytes!("fixtures/link_dump.bin");
const ACK: &[u8] = include_bytes!("fixtures/ack.bin");
const ERROR_DUMP_HEADER: &[u8] = include_bytes!("fixtures/error_dump_header.bin");
const ERROR_DUMP_ATTR: &[u8] = include_bytes!("fixtures/error_dump_attr.bin");
const ERROR_NODEV: &[u8] = include_bytes!("fixtures/error_nodev.bin");
const ERROR_NEW_ATTR: &[u8] = include_bytes!("fixtures/error_new_attr.bin");

/// nv0's ifindex: the first device created in a fresh namespace after lo. Cross-checked
/// against the link dump in `link_dump_names_lo_and_nv0`.
const NV0: u32 = 2;
const EINVAL: i32 = 22;
const ENODEV: i32 = 19;
const ERANGE: i32 = 34;

fn mac(last: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, last]
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Every message of a fixture, all of which must have a sound header.
fn messages(bytes: &[u8]) -> Vec<Message<'_>> {
    MessageIter::new(bytes)
        .map(|m| m.expect("kernel bytes frame cleanly"))
        .collect()
}

/// The neighbor messages of a dump, after checking the dump framing: every message is
/// NLM_F_MULTI with our seq, and exactly the last one is a clean NLMSG_DONE.
fn dump(bytes: &[u8], seq: u32) -> Vec<NeighMessage<'_>> {
    let msgs = messages(bytes);
    let (last, body) = msgs.split_last().unwrap();
    for m in &msgs {
        assert_eq!((m.seq(), m.flags() & NLM_F_MULTI), (seq, NLM_F_MULTI));
        assert_ne!(m.port(), 0, "replies carry our port id");
    }
    assert_eq!(
        last.parse(),
        Ok(Parsed::Done(DoneMessage {
            error: 0,
            ext_ack_msg: None,
            ext_ack_offset: None
        }))
    );
    body.iter()
        .map(|m| match m.parse() {
            Ok(Parsed::Neigh(n)) => n,
            other => panic!("not a neighbor: {other:?}"),
        })
        .collect()
}

fn find<'a>(msgs: &[NeighMessage<'a>], dst: &str) -> NeighMessage<'a> {
    let dst = ip(dst);
    let mut it = msgs.iter().filter(|m| m.dst == Some(dst));
    let m = *it.next().unwrap_or_else(|| panic!("{dst} missing"));
    assert!(it.next().is_none(), "{dst} twice");
    m
}

/// Checks the fields every unicast neighbor on nv0 has, then the setup's state/MAC/flags.
fn check(
    m: &NeighMessage<'_>,
    family: u8,
    state: NudState,
    lladdr: Option<[u8; 6]>,
    flags: NtfFlags,
) {
    assert_eq!(
        (m.kind, m.family, m.ifindex, m.ntype),
        (RTM_NEWNEIGH, family, NV0, RTN_UNICAST),
        "{m:?}"
    );
    assert_eq!((m.state, m.flags), (state, flags), "{m:?}");
    assert_eq!(m.lladdr, lladdr.as_ref().map(|l| &l[..]), "{m:?}");
    assert_eq!(m.mac(), lladdr);
    assert_eq!(
        m.key(),
        Some(NeighKey {
            ifindex: NV0,
            addr: m.dst.unwrap()
        })
    );
    // The kernel sends these for every neighbor (not for proxies), and nothing VXLAN/FDB.
    assert!(m.cacheinfo.is_some() && m.probes.is_some(), "{m:?}");
    assert_eq!(
        (m.vlan, m.port, m.vni, m.ifindex_attr, m.master),
        (None, None, None, None, None)
    );
    assert_eq!(
        (m.link_netnsid, m.src_vni, m.nh_id, m.flags_ext),
        (None, None, None, None)
    );
}

#[test]
fn neigh_dump_v4_matches_setup() {
    let msgs = dump(NEIGH_DUMP_V4, 1);
    // Our 8 entries plus the kernel's own 0.0.0.0 broadcast entry on lo.
    assert_eq!(msgs.len(), 9);
    let (none, ext) = (NtfFlags::NONE, NtfFlags::EXT_LEARNED);
    check(
        &find(&msgs, "10.0.0.2"),
        AF_INET,
        NudState::REACHABLE,
        Some(mac(2)),
        none,
    );
    check(
        &find(&msgs, "10.0.0.3"),
        AF_INET,
        NudState::STALE,
        Some(mac(3)),
        none,
    );
    check(
        &find(&msgs, "10.0.0.4"),
        AF_INET,
        NudState::NOARP,
        Some(mac(4)),
        none,
    );
    check(
        &find(&msgs, "10.0.0.5"),
        AF_INET,
        NudState::PERMANENT,
        Some(mac(5)),
        none,
    );
    check(
        &find(&msgs, "10.0.0.6"),
        AF_INET,
        NudState::STALE,
        Some(mac(6)),
        ext,
    );
    check(
        &find(&msgs, "10.0.0.8"),
        AF_INET,
        NudState::PERMANENT,
        Some(mac(8)),
        none,
    );
    check(
        &find(&msgs, "10.0.0.98"),
        AF_INET,
        NudState::FAILED,
        None,
        none,
    );
    check(
        &find(&msgs, "10.0.0.99"),
        AF_INET,
        NudState::INCOMPLETE,
        None,
        none,
    );
    assert_eq!(find(&msgs, "10.0.0.8").protocol, Some(RTPROT_STATIC));
    for m in msgs.iter().filter(|m| m.dst != Some(ip("10.0.0.8"))) {
        assert_eq!(m.protocol, None);
    }
    // Probes: none for entries added with a MAC, some for the ones ARP resolved or failed.
    assert_eq!(find(&msgs, "10.0.0.5").probes, Some(0));
    assert!(find(&msgs, "10.0.0.98").probes.unwrap() >= 3);
    assert!(find(&msgs, "10.0.0.2").probes.unwrap() >= 1);
    // A REACHABLE entry was confirmed recently: within the 1.5 s the script waited, in ms.
    assert!(find(&msgs, "10.0.0.2").cacheinfo.unwrap().confirmed < 5_000);
    let lo = find(&msgs, "0.0.0.0");
    assert_eq!(
        (lo.ifindex, lo.state, lo.lladdr),
        (1, NudState::NOARP, Some(&[0u8; 6][..]))
    );
}

#[test]
fn neigh_dump_v6_matches_setup() {
    let msgs = dump(NEIGH_DUMP_V6, 2);
    check(
        &find(&msgs, "fd00::2"),
        AF_INET6,
        NudState::REACHABLE,
        Some(mac(2)),
        NtfFlags::ROUTER,
    );
    check(
        &find(&msgs, "fd00::5"),
        AF_INET6,
        NudState::PERMANENT,
        Some(mac(5)),
        NtfFlags::ROUTER,
    );
    check(
        &find(&msgs, "fd00::6"),
        AF_INET6,
        NudState::STALE,
        Some(mac(6)),
        NtfFlags::NONE,
    );
    // The rest are the kernel's multicast entries: NOARP, RTN_MULTICAST, and the MAC is
    // 33:33 followed by the address's low 32 bits (RFC 2464) -- a check on DST and LLADDR.
    let multicast: Vec<_> = msgs.iter().filter(|m| m.ntype != RTN_UNICAST).collect();
    assert_eq!(multicast.len() + 3, msgs.len());
    for m in multicast {
        let Some(IpAddr::V6(a)) = m.dst else {
            panic!("{m:?}")
        };
        assert!(a.is_multicast());
        let o = a.octets();
        assert_eq!(
            m.lladdr,
            Some(&[0x33, 0x33, o[12], o[13], o[14], o[15]][..])
        );
        assert_eq!((m.state, m.ntype, m.ifindex), (NudState::NOARP, 5, NV0));
    }
}

#[test]
fn proxy_dump_has_both_families() {
    let msgs = dump(NEIGH_DUMP_PROXY, 3);
    assert_eq!(msgs.len(), 2);
    for (dst, family) in [("10.0.0.77", AF_INET), ("fd00::77", AF_INET6)] {
        let m = find(&msgs, dst);
        let expect = NeighMessage {
            kind: RTM_NEWNEIGH,
            family,
            ifindex: NV0,
            flags: NtfFlags::PROXY,
            ntype: RTN_UNICAST,
            dst: Some(ip(dst)),
            ..Default::default()
        };
        assert_eq!(m, expect);
        assert_eq!(ingest(&m), Ingest::Ignore(IgnoreReason::Proxy));
    }
}

#[test]
fn neigh_get_is_a_single_reply() {
    let msgs = messages(NEIGH_GET);
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].seq(), msgs[0].flags()), (4, 0));
    let Ok(Parsed::Neigh(m)) = msgs[0].parse() else {
        panic!()
    };
    check(
        &m,
        AF_INET,
        NudState::PERMANENT,
        Some(mac(5)),
        NtfFlags::NONE,
    );
    assert_eq!(m.dst, Some(ip("10.0.0.5")));
}

#[test]
fn link_dump_names_lo_and_nv0() {
    const IFF_UP: u32 = 0x1;
    const IFF_LOOPBACK: u32 = 0x8;
    const IFF_MULTICAST: u32 = 0x1000;
    let msgs = messages(LINK_DUMP);
    let links: Vec<LinkMessage> = msgs
        .iter()
        .filter_map(|m| match m.parse().unwrap() {
            Parsed::Link(l) => Some(l),
            Parsed::Done(d) => {
                assert_eq!(d.error, 0);
                None
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(links.len(), 2);
    let (lo, nv0) = (links[0], links[1]);
    assert_eq!(
        (lo.kind, lo.ifindex, lo.ifi_type, lo.name_str()),
        (RTM_NEWLINK, 1, ARPHRD_LOOPBACK, Some("lo"))
    );
    assert_eq!(lo.address, Some(&[0u8; 6][..]));
    assert_eq!(
        lo.ifi_flags & (IFF_UP | IFF_LOOPBACK),
        IFF_UP | IFF_LOOPBACK
    );
    assert_eq!(
        (nv0.ifindex, nv0.ifi_type, nv0.name),
        (NV0, ARPHRD_ETHER, Some(&b"nv0"[..]))
    );
    assert_eq!(nv0.address, Some(&mac(1)[..]));
    assert_eq!(
        nv0.ifi_flags & (IFF_UP | IFF_LOOPBACK | IFF_MULTICAST),
        IFF_UP | IFF_MULTICAST
    );
}

fn only_error(bytes: &[u8]) -> (u16, Parsed<'_>) {
    let msgs = messages(bytes);
    assert_eq!(msgs.len(), 1);
    (msgs[0].flags(), msgs[0].parse().unwrap())
}

#[test]
fn ack_is_capped_error_zero() {
    let (flags, p) = only_error(ACK);
    assert_eq!(flags, NLM_F_CAPPED);
    let Parsed::Error(e) = p else { panic!("{p:?}") };
    assert!(e.is_ack());
    assert_eq!(
        (e.errno(), e.ext_ack_msg, e.ext_ack_offset),
        (0, None, None)
    );
    let o = e.original;
    let add = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    // The request: nlmsghdr + ndmsg + NDA_DST (8) + NDA_LLADDR (12).
    assert_eq!(
        (o.len(), o.kind(), o.flags(), o.seq(), o.port()),
        (48, RTM_NEWNEIGH, add, 9, 0)
    );
}

#[test]
fn error_echoes_request_without_text() {
    let (flags, p) = only_error(ERROR_NODEV);
    assert_eq!(flags, 0, "neither capped nor with TLVs");
    let Parsed::Error(e) = p else { panic!("{p:?}") };
    assert_eq!((e.error, e.errno(), e.ext_ack_msg), (-ENODEV, ENODEV, None));
    assert_eq!(
        (e.original.len(), e.original.seq(), e.original.kind()),
        (36, 8, RTM_NEWNEIGH)
    );
    // The echoed request follows the error: 4 + 36 bytes of payload.
    assert_eq!(ERROR_NODEV.len(), 16 + 4 + 36);
}

#[test]
fn error_with_echoed_request_and_ext_ack() {
    let (flags, p) = only_error(ERROR_NEW_ATTR);
    assert_eq!(
        flags, NLM_F_ACK_TLVS,
        "not capped: the TLVs come after the echoed request"
    );
    let Parsed::Error(e) = p else { panic!("{p:?}") };
    assert_eq!(e.errno(), ERANGE);
    assert_eq!(e.ext_ack_str(), Some("Attribute failed policy validation"));
    // The 2-byte NDA_PROBES was at 16 (nlmsghdr) + 12 (ndmsg) + 8 (NDA_DST).
    assert_eq!(e.ext_ack_offset, Some(36));
    assert_eq!((e.original.len(), e.original.seq()), (44, 10));
}

#[test]
fn dump_request_errors_end_the_dump_with_text() {
    let (flags, p) = only_error(ERROR_DUMP_HEADER);
    assert_eq!(flags, NLM_F_MULTI | NLM_F_ACK_TLVS);
    let Parsed::Done(d) = p else { panic!("{p:?}") };
    assert_eq!(d.errno(), EINVAL);
    assert_eq!(
        d.ext_ack_str(),
        Some("Invalid values in header for neighbor dump request")
    );
    assert_eq!(d.ext_ack_offset, None);

    let (_, p) = only_error(ERROR_DUMP_ATTR);
    let Parsed::Done(d) = p else { panic!("{p:?}") };
    assert_eq!(d.errno(), ERANGE);
    assert_eq!(d.ext_ack_str(), Some("Attribute failed policy validation"));
    // The 2-byte NDA_IFINDEX right after nlmsghdr + ndmsg.
    assert_eq!(d.ext_ack_offset, Some(28));
}

#[test]
fn events_add_then_delete() {
    let msgs = messages(NEIGH_EVENTS);
    let events: Vec<NeighMessage> = msgs
        .iter()
        .map(|m| {
            assert_eq!((m.seq(), m.flags()), (0, 0), "events are unsolicited");
            match m.parse() {
                Ok(Parsed::Neigh(n)) => n,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let key50 = NeighKey {
        ifindex: NV0,
        addr: ip("10.0.0.50"),
    };
    let key6 = NeighKey {
        ifindex: NV0,
        addr: ip("fd00::6"),
    };
    // The add, in order before its delete; each delete is a DELNEIGH without a MAC.
    let add = events
        .iter()
        .position(|e| e.kind == RTM_NEWNEIGH && e.state == NudState::PERMANENT)
        .unwrap();
    check(
        &events[add],
        AF_INET,
        NudState::PERMANENT,
        Some(mac(0x50)),
        NtfFlags::NONE,
    );
    assert_eq!(
        ingest(&events[add]),
        Ingest::Upsert(NeighEntry {
            key: key50,
            mac: Some(mac(0x50)),
            state: NudState::PERMANENT,
            flags: NtfFlags::NONE
        })
    );
    let dels: Vec<_> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == RTM_DELNEIGH)
        .collect();
    assert_eq!(dels.len(), 2);
    assert!(dels[0].0 > add);
    for ((_, d), key) in dels.iter().zip([key50, key6]) {
        assert_eq!((d.key(), d.lladdr), (Some(key), None));
        assert_eq!(ingest(d), Ingest::Remove(key));
    }
}

#[test]
fn ingest_keeps_unresolved_entries_visible() {
    let msgs = dump(NEIGH_DUMP_V4, 1);
    for (dst, state) in [
        ("10.0.0.98", NudState::FAILED),
        ("10.0.0.99", NudState::INCOMPLETE),
    ] {
        let key = NeighKey {
            ifindex: NV0,
            addr: ip(dst),
        };
        let expect = NeighEntry {
            key,
            mac: None,
            state,
            flags: NtfFlags::NONE,
        };
        assert_eq!(ingest(&find(&msgs, dst)), Ingest::Upsert(expect));
    }
    let upserts = msgs
        .iter()
        .filter(|m| matches!(ingest(m), Ingest::Upsert(e) if e.mac.is_some()))
        .count();
    assert_eq!(upserts, 7, "6 with a MAC on nv0 + lo's broadcast entry");
}
