//! [`RequestHold`]: how the forwarder keeps from flooding the request ring.
//!
//! While a next hop resolves, every packet towards it misses; posting a request per
//! packet would fill the ring with copies of one question (the mirror deduplicates, but
//! only after draining them). So the forwarder remembers, in a small direct-mapped table,
//! which next hops it asked for recently and posts again only after a hold-down. Two next
//! hops sharing a table slot evict each other, which at worst posts a request early.

use neigh_core::NeighKey;

const SLOTS: usize = 256;

#[derive(Clone, Copy)]
struct Asked {
    key: NeighKey,
    at_ms: u64,
}

/// Recently requested next hops, with the time they were asked for.
pub struct RequestHold {
    hold_ms: u64,
    slots: Box<[Option<Asked>; SLOTS]>,
}

fn slot_of(key: &NeighKey) -> usize {
    let a = match key.addr {
        core::net::IpAddr::V4(a) => u128::from(u32::from(a)),
        core::net::IpAddr::V6(a) => u128::from(a),
    };
    let x = (a as u64) ^ ((a >> 64) as u64) ^ u64::from(key.ifindex).rotate_left(32);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % SLOTS
}

impl RequestHold {
    /// A table that lets the same next hop be requested once per `hold_ms` milliseconds.
    pub fn new(hold_ms: u64) -> Self {
        RequestHold {
            hold_ms,
            slots: Box::new([None; SLOTS]),
        }
    }

    /// True when `key` should be requested now (and records that it is, at `now_ms`);
    /// false when it was requested less than the hold-down ago. O(1).
    pub fn should_ask(&mut self, key: &NeighKey, now_ms: u64) -> bool {
        let s = &mut self.slots[slot_of(key)];
        if let Some(a) = s {
            if a.key == *key && now_ms.saturating_sub(a.at_ms) < self.hold_ms {
                return false;
            }
        }
        *s = Some(Asked {
            key: *key,
            at_ms: now_ms,
        });
        true
    }

    /// Forgets every request: each next hop may be asked for at once. O(table slots).
    pub fn clear(&mut self) {
        *self.slots = [None; SLOTS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    fn key(i: u8) -> NeighKey {
        NeighKey {
            ifindex: 2,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)),
        }
    }

    #[test]
    fn asks_once_per_hold_down() {
        let mut h = RequestHold::new(100);
        assert!(h.should_ask(&key(1), 1000));
        assert!(!h.should_ask(&key(1), 1050));
        assert!(!h.should_ask(&key(1), 1099));
        assert!(h.should_ask(&key(1), 1100));
        assert!(h.should_ask(&key(2), 1100), "another next hop is its own");
        assert!(!h.should_ask(&key(2), 1150));
        h.clear();
        assert!(h.should_ask(&key(2), 1150), "asked again once cleared");
    }
}
