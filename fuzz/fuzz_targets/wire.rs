//! Arbitrary bytes through the whole wire codec: iterate, parse every message, walk every
//! attribute, run the ingest policy. Must never panic or hang. Where a neighbor message
//! parses, re-emit it (and build a request from it) and check it parses back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neigh_core::wire::consts::NLMSG_HDRLEN;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::*;

fn round_trip(n: &NeighMessage<'_>, seq: u32, flags: u16) {
    // Re-emit everything that was parsed: it must come back identical.
    let mut buf = [0u8; 65536 + 256];
    let len = n
        .emit(&mut buf, seq, flags)
        .expect("a parsed message fits 64 KiB + headers");
    let mut it = MessageIter::new(&buf[..len]);
    let m = it.next().expect("one message").expect("sound header");
    assert!(it.next().is_none());
    assert_eq!((m.seq(), m.flags(), m.kind()), (seq, flags, n.kind));
    assert_eq!(NeighMessage::parse(&m), Ok(*n));

    // The request builders, fed with what was parsed.
    let Some(addr) = n.dst else { return };
    let req = NeighRequest {
        ifindex: n.ifindex,
        addr,
        lladdr: n.lladdr,
        state: n.state,
        flags: n.flags,
        flags_ext: n.flags_ext,
        protocol: n.protocol,
    };
    let mut rbuf = [0u8; REQUEST_BUF_LEN];
    match neigh_new(&mut rbuf, seq, &req, NewMode::Replace) {
        Ok(len) => {
            let m = MessageIter::new(&rbuf[..len]).next().unwrap().unwrap();
            let back = NeighMessage::parse(&m).unwrap();
            assert_eq!(
                (back.ifindex, back.dst, back.lladdr),
                (n.ifindex, Some(addr), n.lladdr)
            );
            assert_eq!(
                (back.state, back.flags, back.flags_ext, back.protocol),
                (n.state, n.flags, n.flags_ext, n.protocol)
            );
        }
        Err(BuildError::LladdrTooLong) => assert!(n.lladdr.is_some_and(|l| l.len() > 32)),
        Err(e) => panic!("{e}"),
    }
    let len = neigh_del(&mut rbuf, seq, &req).unwrap();
    let m = MessageIter::new(&rbuf[..len]).next().unwrap().unwrap();
    assert_eq!(NeighMessage::parse(&m).unwrap().key(), n.key());
}

/// A neighbor table message that parses: its parameters, re-sent as a change request,
/// must parse back (the settable ones).
fn ntable_round_trip(t: &NtableMessage<'_>, seq: u32) {
    let Some(name) = t.name.filter(|n| n.len() <= 64) else {
        return;
    };
    let change = NtableChange {
        family: t.family,
        name,
        thresh1: t.thresh1,
        thresh2: t.thresh2,
        thresh3: t.thresh3,
        gc_interval: t.gc_interval,
        parms: t.parms.unwrap_or_default(),
    };
    let mut buf = [0u8; 512];
    let len = ntable::ntable_set(&mut buf, seq, &change).expect("a change fits 512 bytes");
    buf[4..6].copy_from_slice(&consts::RTM_NEWNEIGHTBL.to_ne_bytes());
    let m = MessageIter::new(&buf[..len]).next().unwrap().unwrap();
    let back = NtableMessage::parse(&m).unwrap();
    assert_eq!((back.name, back.thresh3, back.gc_interval), (Some(name), t.thresh3, t.gc_interval));
    let p = t.parms.unwrap_or_default();
    let q = back.parms.unwrap_or_default();
    assert_eq!((q.ifindex, q.queue, q.locktime), (p.ifindex, p.queue, p.locktime));
}

fuzz_target!(|data: &[u8]| {
    let mut count = 0usize;
    for m in MessageIter::new(data) {
        count += 1;
        let Ok(m) = m else { continue };
        assert!(
            m.bytes().len() >= NLMSG_HDRLEN && m.payload().len() == m.bytes().len() - NLMSG_HDRLEN
        );
        // Attributes after any family header size the codec knows: no panic, bounded.
        for skip in [0, 4, 12, 16, 20] {
            if let Some(rest) = m.payload().get(skip..) {
                assert!(AttrIter::new(rest).count() <= rest.len() / 4 + 1);
            }
        }
        if let Ok(t) = NtableMessage::parse(&m) {
            ntable_round_trip(&t, m.seq());
        }
        match m.parse() {
            Ok(Parsed::Neigh(n)) => {
                let _ = ingest(&n);
                let _ = (n.mac(), n.key());
                round_trip(&n, m.seq(), m.flags());
            }
            Ok(Parsed::Error(e)) => {
                let _ = (e.errno(), e.ext_ack_str());
            }
            Ok(Parsed::Done(d)) => {
                let _ = (d.errno(), d.ext_ack_str());
            }
            Ok(Parsed::Link(l)) => {
                let _ = (l.name_str(), l.master, l.info_kind);
            }
            Ok(_) | Err(_) => {}
        }
    }
    assert!(count <= data.len() / NLMSG_HDRLEN + 1);
});
