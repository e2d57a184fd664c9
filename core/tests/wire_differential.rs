//! Differential test: every field neigh-core decodes from the real kernel fixtures is
//! compared with what netlink-packet-route / netlink-packet-core decode from the same bytes.

use std::net::IpAddr;

use neigh_core::wire::consts::{NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS};
use neigh_core::wire::*;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NlasIterator};
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::RouteNetlinkMessage;

mod fixtures;
use fixtures::ALL as FIXTURES;

/// Our decoding of one neighbor message, rebuilt from netlink-packet-route's.
fn peer_neigh(kind: u16, p: &NeighbourMessage) -> NeighMessage<'_> {
    let h = &p.header;
    let mut m = NeighMessage {
        kind,
        family: u8::from(h.family),
        ifindex: h.ifindex,
        state: NudState(u16::from(h.state)),
        flags: NtfFlags(h.flags.bits()),
        ntype: u8::from(h.kind),
        ..Default::default()
    };
    for a in &p.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                m.dst = Some(IpAddr::V4(*a))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                m.dst = Some(IpAddr::V6(*a))
            }
            NeighbourAttribute::LinkLayerAddress(l) => m.lladdr = Some(l),
            NeighbourAttribute::CacheInfo(c) => {
                m.cacheinfo = Some(CacheInfo {
                    confirmed: c.confirmed,
                    used: c.used,
                    updated: c.updated,
                    refcnt: c.refcnt,
                })
            }
            NeighbourAttribute::Probes(v) => m.probes = Some(*v),
            NeighbourAttribute::Vlan(v) => m.vlan = Some(*v),
            NeighbourAttribute::Port(v) => m.port = Some(*v),
            NeighbourAttribute::Vni(v) => m.vni = Some(*v),
            NeighbourAttribute::IfIndex(v) => m.ifindex_attr = Some(*v),
            NeighbourAttribute::Controller(v) => m.master = Some(*v),
            NeighbourAttribute::LinkNetNsId(v) => m.link_netnsid = Some(*v as i32),
            NeighbourAttribute::SourceVni(v) => m.src_vni = Some(*v),
            NeighbourAttribute::Protocol(v) => m.protocol = Some(u8::from(*v)),
            NeighbourAttribute::ExtFlags(v) => m.flags_ext = Some(NtfExtFlags(v.bits())),
            other => panic!("attribute the fixtures do not contain: {other:?}"),
        }
    }
    m
}

/// (message text, offset) from raw extended-ack TLVs, decoded by netlink-packet-core.
fn peer_ext_ack(tlvs: &[u8]) -> (Option<Vec<u8>>, Option<u32>) {
    let (mut msg, mut offs) = (None, None);
    for nla in NlasIterator::new(tlvs) {
        let nla = nla.unwrap();
        match nla.kind() {
            NLMSGERR_ATTR_MSG => {
                msg = Some(nla.value().split(|&b| b == 0).next().unwrap().to_vec())
            }
            NLMSGERR_ATTR_OFFS => offs = Some(u32::from_ne_bytes(nla.value().try_into().unwrap())),
            _ => {}
        }
    }
    (msg, offs)
}

#[test]
fn neigh_core_and_netlink_packet_route_agree_on_every_field() {
    let mut compared = [0usize; 4]; // neigh, link, error, done
    for (name, bytes) in FIXTURES {
        let mut off = 0;
        for ours in MessageIter::new(bytes) {
            let ours = ours.unwrap();
            let theirs = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[off..])
                .unwrap_or_else(|e| panic!("{name}@{off}: netlink-packet-route: {e}"));
            off += ours.bytes().len().next_multiple_of(4);
            let h = &theirs.header;
            assert_eq!(
                (
                    h.length as usize,
                    h.message_type,
                    h.flags,
                    h.sequence_number,
                    h.port_number
                ),
                (
                    ours.bytes().len(),
                    ours.kind(),
                    ours.flags(),
                    ours.seq(),
                    ours.port()
                ),
                "{name}"
            );
            match (ours.parse().unwrap(), &theirs.payload) {
                (
                    Parsed::Neigh(n),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(p)),
                )
                | (
                    Parsed::Neigh(n),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelNeighbour(p)),
                ) => {
                    assert_eq!(n, peer_neigh(ours.kind(), p), "{name}");
                    compared[0] += 1;
                }
                (
                    Parsed::Link(l),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(p)),
                ) => {
                    let mut name_attr = None;
                    let mut address = None;
                    for a in &p.attributes {
                        match a {
                            LinkAttribute::IfName(s) => name_attr = Some(s.as_bytes()),
                            LinkAttribute::Address(v) => address = Some(&v[..]),
                            _ => {}
                        }
                    }
                    let hh = &p.header;
                    assert_eq!(
                        (l.ifindex, l.ifi_type, l.ifi_flags, l.name, l.address),
                        (
                            hh.index,
                            u16::from(hh.link_layer_type),
                            hh.flags.bits(),
                            name_attr,
                            address
                        ),
                        "{name}"
                    );
                    compared[1] += 1;
                }
                (Parsed::Error(e), NetlinkPayload::Error(p)) => {
                    assert_eq!(e.error, p.raw_code(), "{name}");
                    // netlink-packet-core keeps everything after the code raw: the original
                    // header, the echoed request unless capped, then the TLVs.
                    assert_eq!(
                        zerocopy::IntoBytes::as_bytes(&e.original),
                        &p.header[..16],
                        "{name}"
                    );
                    let echoed = if ours.flags() & consts::NLM_F_CAPPED != 0 {
                        16
                    } else {
                        e.original.len() as usize
                    };
                    let (msg, offs) = peer_ext_ack(&p.header[echoed.next_multiple_of(4)..]);
                    assert_eq!(
                        (e.ext_ack_msg, e.ext_ack_offset),
                        (msg.as_deref(), offs),
                        "{name}"
                    );
                    compared[2] += 1;
                }
                (Parsed::Done(d), NetlinkPayload::Done(p)) => {
                    let (msg, offs) = peer_ext_ack(&p.extended_ack);
                    assert_eq!(
                        (d.error, d.ext_ack_msg, d.ext_ack_offset),
                        (p.code, msg.as_deref(), offs),
                        "{name}"
                    );
                    compared[3] += 1;
                }
                (o, t) => panic!("{name}: we parsed {o:?}, netlink-packet-route {t:?}"),
            }
        }
        assert_eq!(
            off.min(bytes.len()),
            bytes.len(),
            "{name}: both walked the whole fixture"
        );
    }
    // Everything in the fixtures was compared: 2 links; errors: ack, nodev, new_attr; every
    // dump's DONE plus the two dump-request errors.
    assert!(compared[0] >= 20, "{compared:?}");
    assert_eq!(compared[1..], [2, 3, 6], "{compared:?}");
}
