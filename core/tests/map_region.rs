//! The map through its public API over plain byte regions: a region holds no pointers, so
//! a copy of it at another address (as another process would map it) is the same map.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neigh_core::map::{footprint, MapError, MapParams, NeighMap, Upserted, REGION_ALIGN};
use neigh_core::{NeighEntry, NeighKey, NtfFlags, NudState};

fn aligned(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    buf.resize(len + REGION_ALIGN, 0);
    let off = buf.as_ptr().align_offset(REGION_ALIGN);
    &mut buf[off..off + len]
}

fn entry(i: u16) -> NeighEntry {
    NeighEntry {
        key: NeighKey {
            ifindex: 2,
            addr: if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::new(192, 168, (i >> 8) as u8, i as u8))
            } else {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i))
            },
        },
        mac: (i % 3 != 0).then_some([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
        state: NudState::STALE,
        flags: NtfFlags::ROUTER,
    }
}

#[test]
fn a_copy_at_another_address_is_the_same_map() {
    let p = MapParams::for_entries(500);
    let len = footprint(&p).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let first = aligned(&mut a, len);
    {
        let map = NeighMap::format(first, &p).unwrap();
        for i in 0..500 {
            assert_eq!(map.upsert(&entry(i), 7), Ok(Upserted::Inserted));
        }
        map.set_owner(99);
    }
    let second = aligned(&mut b, len);
    second.copy_from_slice(first);
    assert_ne!(first.as_ptr(), second.as_ptr());
    let map = NeighMap::join(second).unwrap();
    assert_eq!(map.len(), 500);
    assert_eq!(map.stats().owner, 99);
    for i in 0..500 {
        let got = map.get(&entry(i).key).unwrap().unwrap();
        assert_eq!((got.entry(), got.generation()), (entry(i), 7));
    }
    assert_eq!(map.iter().filter(|e| e.is_ok()).count(), 500);
    // Mark and sweep: re-tag half, sweep the rest.
    for i in (0..500).step_by(2) {
        assert_eq!(map.upsert(&entry(i), 8), Ok(Upserted::Updated));
    }
    assert_eq!(map.sweep(8), 250);
    assert_eq!(map.len(), 250);
    assert!(map.get(&entry(1).key).unwrap().is_none());
}

#[test]
fn errors_display_what_is_wrong() {
    let p = MapParams::for_entries(8);
    let len = footprint(&p).unwrap();
    let mut a = Vec::new();
    let region = aligned(&mut a, len);
    let e = NeighMap::join(region).unwrap_err();
    assert_eq!(e, MapError::BadMagic { found: 0 });
    assert!(e.to_string().contains("not a neigh map"), "{e}");
    let e = NeighMap::format(&mut region[..64], &p).unwrap_err();
    assert!(
        e.to_string().contains(&format!("the layout needs {len}")),
        "{e}"
    );
}
