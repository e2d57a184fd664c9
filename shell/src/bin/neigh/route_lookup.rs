//! The interface the kernel would send a packet to an IPv6 address by: one
//! `RTM_GETROUTE` (what `ip -6 route get ADDR` asks), its answer's `RTA_OIF`. This is
//! how illumos ndp(8) places an entry when neither `-i` nor a zone names the interface
//! (there through a `PF_ROUTE` `RTM_GET` with `RTA_IFP`).

use std::io;
use std::net::Ipv6Addr;

use neigh::netlink::RouteSocket;
use neigh_core::wire::AttrIter;

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 0x01;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const AF_INET6: u8 = 10;
/// `nlmsghdr` (16) + `rtmsg` (12) + `RTA_DST` with an IPv6 address (4 + 16).
const REQUEST_LEN: usize = 48;
const RTMSG_LEN: usize = 12;

/// Writes the `RTM_GETROUTE` request for `dst` (a /128 lookup, as strict checking
/// requires) into a fixed buffer.
fn request(seq: u32, dst: Ipv6Addr) -> [u8; REQUEST_LEN] {
    let mut b = [0u8; REQUEST_LEN];
    b[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&RTM_GETROUTE.to_ne_bytes());
    b[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // rtmsg: family, dst_len; the rest (src_len, tos, table, protocol, scope, type,
    // flags) stays zero.
    b[16] = AF_INET6;
    b[17] = 128;
    b[28..30].copy_from_slice(&20u16.to_ne_bytes());
    b[30..32].copy_from_slice(&RTA_DST.to_ne_bytes());
    b[32..48].copy_from_slice(&dst.octets());
    b
}

/// The index of the interface the route to `dst` leaves by. `Ok(None)` when the answer
/// names none. Errors: the kernel's refusal (`ENETUNREACH` when no route matches,
/// `EHOSTUNREACH`, ...) and socket errors. Cost: one request and its one answer.
pub fn output_interface(sock: &mut RouteSocket, dst: Ipv6Addr) -> io::Result<Option<u32>> {
    let req = request(sock.next_seq(), dst);
    let mut oif = None;
    sock.request(&req, |msg| {
        if msg.kind() != RTM_NEWROUTE {
            return Ok(());
        }
        let Some(attrs) = msg.payload().get(RTMSG_LEN..) else {
            return Ok(());
        };
        for attr in AttrIter::new(attrs).flatten() {
            if attr.kind() == RTA_OIF {
                oif = attr.u32().ok();
            }
        }
        Ok(())
    })?;
    Ok(oif)
}

#[cfg(test)]
mod tests {
    use super::*;
    use neigh_core::wire::Message;

    #[test]
    fn request_is_one_well_formed_message() {
        let b = request(7, "2001:db8::1".parse().unwrap());
        let (m, rest) = Message::new_checked(&b).unwrap();
        assert!(rest.is_empty());
        assert_eq!((m.kind(), m.seq()), (RTM_GETROUTE, 7));
        let attr = AttrIter::new(&m.payload()[RTMSG_LEN..])
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(attr.kind(), RTA_DST);
        assert_eq!(attr.payload()[0..2], [0x20, 0x01]);
    }
}
