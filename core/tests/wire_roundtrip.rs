//! Round trips and robustness on real kernel bytes (fixtures from `fixtures/capture.py`):
//! re-emitting a parsed kernel neighbor message reproduces it byte for byte, builder output
//! parses back to what was asked, and every truncation or corruption of real bytes is a
//! typed error, never a panic.

use std::net::IpAddr;

use neigh_core::wire::consts::*;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::*;

mod fixtures;
use fixtures::ALL as FIXTURES;

/// Iterates and parses everything in `bytes`, as a receiver would.
fn walk(bytes: &[u8]) -> Vec<Result<Parsed<'_>, WireError>> {
    MessageIter::new(bytes)
        .map(|m| m.and_then(|m| m.parse()))
        .collect()
}

#[test]
fn kernel_neighbor_messages_re_emit_byte_for_byte() {
    let mut n = 0;
    for (name, bytes) in FIXTURES {
        for m in MessageIter::new(bytes) {
            let m = m.unwrap();
            let Ok(Parsed::Neigh(neigh)) = m.parse() else {
                continue;
            };
            let mut buf = [0u8; 512];
            let len = neigh.emit(&mut buf, m.seq(), m.flags()).unwrap();
            let orig = m.bytes();
            assert_eq!(len, orig.len(), "{name}: {neigh:?}");
            // Identical except nlmsg_pid (bytes 12..16), which emit leaves 0.
            assert_eq!(&buf[..12], &orig[..12], "{name}");
            assert_eq!(&buf[16..len], &orig[16..], "{name}: {neigh:?}");
            n += 1;
        }
    }
    assert!(n >= 20, "only {n} neighbor messages in the fixtures");
}

#[test]
fn builders_parse_back_identically() {
    let macs: [&[u8]; 3] = [&[2, 0, 0, 0, 0, 1], &[], &[0xaa; 20]];
    let addrs: [IpAddr; 3] = [
        "10.9.8.7".parse().unwrap(),
        "fe80::1".parse().unwrap(),
        "::".parse().unwrap(),
    ];
    let mut buf = [0u8; REQUEST_BUF_LEN];
    for (i, addr) in addrs.into_iter().enumerate() {
        for lladdr in macs.iter().map(|m| Some(*m)).chain([None]) {
            for mode in [NewMode::Add, NewMode::Replace, NewMode::Change] {
                let req = NeighRequest {
                    ifindex: 1 + i as u32 * 1000,
                    addr,
                    lladdr,
                    state: NudState::NAMES[i * 2].0,
                    flags: NtfFlags(1 << i),
                    flags_ext: (i == 1).then_some(NtfExtFlags::MANAGED),
                    protocol: (i == 2).then_some(RTPROT_BOOT),
                };
                let len = neigh_new(&mut buf, 77, &req, mode).unwrap();
                let msgs = walk(&buf[..len]);
                let [Ok(Parsed::Neigh(m))] = msgs[..] else {
                    panic!("{msgs:?}")
                };
                let got = NeighRequest {
                    ifindex: m.ifindex,
                    addr: m.dst.unwrap(),
                    lladdr: m.lladdr,
                    state: m.state,
                    flags: m.flags,
                    flags_ext: m.flags_ext,
                    protocol: m.protocol,
                };
                assert_eq!(got, req);
                assert_eq!(m.family, if addr.is_ipv4() { AF_INET } else { AF_INET6 });

                let len = neigh_del(&mut buf, 78, &req).unwrap();
                let msgs = walk(&buf[..len]);
                let [Ok(Parsed::Neigh(m))] = msgs[..] else {
                    panic!("{msgs:?}")
                };
                assert_eq!(
                    (m.kind, m.ifindex, m.dst, m.flags),
                    (RTM_DELNEIGH, req.ifindex, Some(addr), req.flags)
                );
            }
        }
    }
}

#[test]
fn every_truncation_of_real_bytes_is_handled() {
    for (name, bytes) in FIXTURES {
        let whole = walk(bytes);
        assert!(whole.iter().all(Result::is_ok), "{name}: {whole:?}");
        for cut in 0..bytes.len() {
            let part = walk(&bytes[..cut]);
            // Messages wholly inside the prefix parse exactly as before; at most the one
            // cut through is an error, and it is the last item.
            let ok = part.iter().take_while(|r| r.is_ok()).count();
            assert!(part.len() - ok <= 1, "{name} cut at {cut}: {part:?}");
            assert_eq!(&part[..ok], &whole[..ok], "{name} cut at {cut}");
        }
    }
}

#[test]
fn every_byte_corruption_of_real_bytes_is_handled() {
    for (name, bytes) in FIXTURES {
        let mut copy = bytes.to_vec();
        for i in 0..copy.len() {
            for v in [0x00, 0x01, 0x03, 0x05, 0x7f, 0x80, 0xff] {
                let orig = copy[i];
                copy[i] = v;
                // Bounded: each message consumes >= 16 bytes.
                let n = walk(&copy).len();
                assert!(n <= copy.len() / 16 + 1, "{name} byte {i}");
                copy[i] = orig;
            }
        }
    }
}
