//! The bytes of a frame the forwarder reads and writes: Ethernet II, then IPv4 or IPv6.
//!
//! [`classify`] reads a frame once and says what it is; [`rewrite`] turns a classified
//! IP frame into the frame to send (new Ethernet addresses, TTL or hop limit one lower).
//! Offsets are named constants; every index is checked by [`classify`] before
//! [`rewrite`] relies on it, so neither can panic on a short or odd frame.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neigh_core::Mac;

/// Ethernet header: destination, source, EtherType.
pub const ETH_LEN: usize = 14;
const ETH_DST: core::ops::Range<usize> = 0..6;
const ETH_SRC: core::ops::Range<usize> = 6..12;
const ETH_TYPE: core::ops::Range<usize> = 12..14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

const IPV4_MIN_LEN: usize = 20;
const IPV4_TTL: usize = ETH_LEN + 8;
const IPV4_CHECKSUM: usize = ETH_LEN + 10;
const IPV4_DST: core::ops::Range<usize> = ETH_LEN + 16..ETH_LEN + 20;

const IPV6_LEN: usize = 40;
const IPV6_NEXT_HEADER: usize = ETH_LEN + 6;
const IPV6_HOP_LIMIT: usize = ETH_LEN + 7;
const IPV6_DST: core::ops::Range<usize> = ETH_LEN + 24..ETH_LEN + 40;
const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 types of Neighbor Discovery (router solicitation to redirect, RFC 4861): the
/// kernel's business, never forwarded.
const NDP_TYPES: core::ops::RangeInclusive<u8> = 133..=137;

/// What a received frame is, as far as forwarding goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// An IPv4 or IPv6 packet to forward towards `dst`, addressed to our MAC, with a
    /// TTL / hop limit above 1.
    Route {
        /// The destination address.
        dst: IpAddr,
    },
    /// Not addressed to the receiving interface's MAC (broadcast, multicast, another
    /// host): the kernel's, not ours.
    NotOurMac,
    /// Neither IPv4 nor IPv6 (ARP, VLAN tags, LLDP...).
    NonIp,
    /// Neighbor Discovery (ICMPv6 types 133-137): the kernel resolves neighbors itself.
    Ndp,
    /// TTL or hop limit 0 or 1: expires here.
    TtlExpired,
    /// Too short for its headers, or a bad IP version / header length.
    Malformed,
}

fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[ETH_TYPE.start], frame[ETH_TYPE.start + 1]])
}

/// Reads `frame` (received on an interface whose MAC is `own_mac`). O(1): a few loads
/// from the first 55 bytes.
pub fn classify(frame: &[u8], own_mac: &Mac) -> Class {
    if frame.len() < ETH_LEN {
        return Class::Malformed;
    }
    if frame[ETH_DST] != own_mac[..] {
        return Class::NotOurMac;
    }
    match ethertype(frame) {
        ETHERTYPE_IPV4 => classify_ipv4(frame),
        ETHERTYPE_IPV6 => classify_ipv6(frame),
        _ => Class::NonIp,
    }
}

fn classify_ipv4(frame: &[u8]) -> Class {
    if frame.len() < ETH_LEN + IPV4_MIN_LEN {
        return Class::Malformed;
    }
    let vihl = frame[ETH_LEN];
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < IPV4_MIN_LEN || frame.len() < ETH_LEN + ihl {
        return Class::Malformed;
    }
    if frame[IPV4_TTL] <= 1 {
        return Class::TtlExpired;
    }
    let d = &frame[IPV4_DST];
    Class::Route {
        dst: IpAddr::V4(Ipv4Addr::new(d[0], d[1], d[2], d[3])),
    }
}

fn classify_ipv6(frame: &[u8]) -> Class {
    if frame.len() < ETH_LEN + IPV6_LEN || frame[ETH_LEN] >> 4 != 6 {
        return Class::Malformed;
    }
    if frame[IPV6_NEXT_HEADER] == IPPROTO_ICMPV6
        && frame
            .get(ETH_LEN + IPV6_LEN)
            .is_some_and(|t| NDP_TYPES.contains(t))
    {
        return Class::Ndp;
    }
    if frame[IPV6_HOP_LIMIT] <= 1 {
        return Class::TtlExpired;
    }
    let mut d = [0u8; 16];
    d.copy_from_slice(&frame[IPV6_DST]);
    Class::Route {
        dst: IpAddr::V6(Ipv6Addr::from(d)),
    }
}

/// Makes a frame that [`classify`] called [`Class::Route`] ready to send: destination MAC
/// `dst`, source MAC `src`, TTL (IPv4, with the header checksum updated incrementally,
/// RFC 1624) or hop limit (IPv6) one lower. O(1).
///
/// Panics if `frame` was not classified `Route` (too short for its IP header).
pub fn rewrite(frame: &mut [u8], dst: &Mac, src: &Mac) {
    frame[ETH_DST].copy_from_slice(dst);
    frame[ETH_SRC].copy_from_slice(src);
    if ethertype(frame) == ETHERTYPE_IPV4 {
        decrement_ttl_v4(frame);
    } else {
        frame[IPV6_HOP_LIMIT] -= 1;
    }
}

/// TTL minus one, and the header checksum with it: the TTL is the high byte of its 16-bit
/// word, so the word drops by 0x0100 and the one's-complement sum rises by as much
/// (`HC' = HC + 0x0100`, end-around carry), as Linux's `ip_decrease_ttl` does.
fn decrement_ttl_v4(frame: &mut [u8]) {
    frame[IPV4_TTL] -= 1;
    let c = &mut frame[IPV4_CHECKSUM..IPV4_CHECKSUM + 2];
    let mut sum = u32::from(u16::from_be_bytes([c[0], c[1]])) + 0x0100;
    sum += u32::from(sum >= 0xffff);
    c.copy_from_slice(&(sum as u16).to_be_bytes());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const OUR: Mac = [0x02, 0, 0, 0, 0, 0x01];
    pub const PEER: Mac = [0x02, 0, 0, 0, 0, 0x02];

    /// The IPv4 header checksum computed from scratch.
    fn checksum(hdr: &[u8]) -> u16 {
        let mut sum: u32 = hdr
            .chunks(2)
            .enumerate()
            .filter(|(i, _)| *i != 5)
            .map(|(_, w)| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// An Ethernet + IPv4 + 8 payload bytes frame to `dst` with `ttl`, valid checksum.
    pub fn v4_frame(dst_mac: Mac, dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN + 28];
        f[ETH_DST].copy_from_slice(&dst_mac);
        f[ETH_SRC].copy_from_slice(&PEER);
        f[ETH_TYPE].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let ip = &mut f[ETH_LEN..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&28u16.to_be_bytes());
        ip[8] = ttl;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&dst.octets());
        let c = checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// An Ethernet + IPv6 frame to `dst` carrying `next` with first payload byte `first`.
    pub fn v6_frame(dst_mac: Mac, dst: Ipv6Addr, hops: u8, next: u8, first: u8) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN + IPV6_LEN + 8];
        f[ETH_DST].copy_from_slice(&dst_mac);
        f[ETH_SRC].copy_from_slice(&PEER);
        f[ETH_TYPE].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[ETH_LEN] = 0x60;
        f[ETH_LEN + 5] = 8;
        f[IPV6_NEXT_HEADER] = next;
        f[IPV6_HOP_LIMIT] = hops;
        f[IPV6_DST].copy_from_slice(&dst.octets());
        f[ETH_LEN + IPV6_LEN] = first;
        f
    }

    #[test]
    fn classifies_v4_v6_and_the_rest() {
        let d4 = Ipv4Addr::new(10, 1, 2, 2);
        assert_eq!(
            classify(&v4_frame(OUR, d4, 64), &OUR),
            Class::Route { dst: d4.into() }
        );
        assert_eq!(classify(&v4_frame(OUR, d4, 1), &OUR), Class::TtlExpired);
        assert_eq!(classify(&v4_frame(OUR, d4, 0), &OUR), Class::TtlExpired);
        assert_eq!(classify(&v4_frame(PEER, d4, 64), &OUR), Class::NotOurMac);
        assert_eq!(
            classify(&v4_frame([0xff; 6], d4, 64), &OUR),
            Class::NotOurMac
        );
        let d6: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
        assert_eq!(
            classify(&v6_frame(OUR, d6, 64, 58, 128), &OUR),
            Class::Route { dst: d6.into() }
        );
        for ndp in 133..=137 {
            assert_eq!(classify(&v6_frame(OUR, d6, 255, 58, ndp), &OUR), Class::Ndp);
        }
        assert_eq!(
            classify(&v6_frame(OUR, d6, 64, 17, 135), &OUR),
            Class::Route { dst: d6.into() },
            "a UDP payload byte is no NDP type"
        );
        assert_eq!(
            classify(&v6_frame(OUR, d6, 1, 58, 128), &OUR),
            Class::TtlExpired
        );
        let mut arp = v4_frame(OUR, d4, 64);
        arp[ETH_TYPE].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(classify(&arp, &OUR), Class::NonIp);
    }

    #[test]
    fn short_and_bad_headers_are_malformed_never_a_panic() {
        let full = v4_frame(OUR, Ipv4Addr::new(10, 0, 0, 1), 64);
        for n in 0..full.len() {
            let c = classify(&full[..n], &OUR);
            let want = if n < ETH_LEN + IPV4_MIN_LEN {
                Class::Malformed
            } else {
                Class::Route {
                    dst: Ipv4Addr::new(10, 0, 0, 1).into(),
                }
            };
            assert_eq!(c, want, "length {n}");
        }
        let mut bad_ihl = full.clone();
        bad_ihl[ETH_LEN] = 0x44;
        assert_eq!(classify(&bad_ihl, &OUR), Class::Malformed);
        let mut long_ihl = full.clone();
        long_ihl[ETH_LEN] = 0x4f; // 60-byte header in a 28-byte packet
        assert_eq!(classify(&long_ihl, &OUR), Class::Malformed);
        let v6 = v6_frame(OUR, Ipv6Addr::LOCALHOST, 64, 58, 128);
        assert_eq!(
            classify(&v6[..ETH_LEN + IPV6_LEN - 1], &OUR),
            Class::Malformed
        );
        let mut v6_bad_version = v6.clone();
        v6_bad_version[ETH_LEN] = 0x40;
        assert_eq!(classify(&v6_bad_version, &OUR), Class::Malformed);
    }

    #[test]
    fn rewrite_sets_macs_and_keeps_the_v4_checksum_right_for_every_ttl_and_checksum() {
        let next: Mac = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        for ttl in 2..=255u8 {
            // Vary the header so the checksum takes many values, 0x0000/0xffff edges too.
            for id in [0u16, 1, 0x00ff, 0xfeff, 0xff00, 0xffff, 0x1234] {
                let mut f = v4_frame(OUR, Ipv4Addr::new(10, 1, 2, 2), ttl);
                f[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&id.to_be_bytes());
                let c = checksum(&f[ETH_LEN..ETH_LEN + 20]);
                f[IPV4_CHECKSUM..IPV4_CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
                rewrite(&mut f, &next, &OUR);
                assert_eq!(&f[ETH_DST], &next);
                assert_eq!(&f[ETH_SRC], &OUR);
                assert_eq!(f[IPV4_TTL], ttl - 1);
                let got = u16::from_be_bytes([f[IPV4_CHECKSUM], f[IPV4_CHECKSUM + 1]]);
                let want = checksum(&f[ETH_LEN..ETH_LEN + 20]);
                // 0x0000 and 0xffff are the same one's-complement number.
                assert!(
                    got == want || (got | want == 0xffff && got & want == 0),
                    "ttl {ttl} id {id:#x}: {got:#06x} vs {want:#06x}"
                );
            }
        }
    }

    #[test]
    fn rewrite_decrements_the_hop_limit() {
        let mut f = v6_frame(OUR, Ipv6Addr::LOCALHOST, 64, 58, 128);
        rewrite(&mut f, &PEER, &OUR);
        assert_eq!(f[IPV6_HOP_LIMIT], 63);
        assert_eq!(&f[ETH_DST], &PEER);
        assert_eq!(&f[ETH_SRC], &OUR);
    }
}
