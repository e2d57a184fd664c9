//! The forwarder's counters, in shared memory so they can be read while it runs
//! (`forwarder stats NAME`, or any program mapping `/dev/shm/NAME`).
//!
//! Layout: one page of `u64` words, native-endian: word 0 the magic `"NFWDCNT1"`, word 1
//! the number of counters, then one word per [`Counter`] in declaration order. Only the
//! forwarder's thread stores (Relaxed adds, once per batch); readers load each word on its
//! own, so a read is exact per counter, not one snapshot across them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use neigh::workspace::{Access, ShmOptions, Workspace, WorkspaceError};

const MAGIC: u64 = u64::from_be_bytes(*b"NFWDCNT1");
const HEADER_WORDS: usize = 2;
const PAGE: usize = 4096;

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident = $text:literal,)*) => {
        /// What the forwarder counts.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter {
            $($(#[doc = $doc])* $name,)*
        }

        impl Counter {
            /// Every counter, in layout order.
            pub const ALL: &'static [Counter] = &[$(Counter::$name,)*];

            /// The counter's name in `forwarder stats` output.
            pub fn name(self) -> &'static str {
                match self {
                    $(Counter::$name => $text,)*
                }
            }
        }
    };
}

counters! {
    /// Frames received on any port.
    Rx = "rx",
    /// Frames the kernel dropped before the forwarder got them (receive ring full, no
    /// free buffer): the forwarder fell behind. Refreshed a few times a second.
    RxDropped = "rx_dropped",
    /// Frames handed to an output port's transmit path.
    Tx = "tx",
    /// Frames dropped because the output's transmit ring (or socket) was full.
    TxFull = "tx_full",
    /// Next hops absent from the map (packet dropped, resolution requested).
    Miss = "miss",
    /// Next hops in the map but unresolved: INCOMPLETE or FAILED (dropped, requested).
    Unresolved = "unresolved",
    /// Lookups that gave up because keys kept moving (`Busy`; dropped).
    Busy = "busy",
    /// Resolution requests posted to the mirror's ring.
    RequestsPosted = "requests_posted",
    /// Requests not posted: the same next hop was asked for moments ago.
    RequestsHeld = "requests_held",
    /// Requests dropped because the ring was full (or the mirror abandoned the claim).
    RingFull = "ring_full",
    /// IP packets whose TTL / hop limit expired here (dropped).
    TtlExpired = "ttl_expired",
    /// Frames neither IPv4 nor IPv6 (ARP, VLAN...): dropped in user space; ARP never
    /// reaches it under AF_XDP (the XDP program passes it to the kernel).
    NonIp = "non_ip",
    /// Frames not addressed to the port's MAC, and NDP: left to the kernel.
    NotForUs = "not_for_us",
    /// IP packets with no route (dropped).
    NoRoute = "no_route",
    /// Frames too short for their headers or with bad IP headers (dropped).
    Malformed = "malformed",
    /// Receive batches that held at least one frame.
    Batches = "batches",
    /// Burst lookups made on the map (one per batch with a next hop to resolve).
    BurstLookups = "burst_lookups",
    /// Times the map was joined again because the mirror had replaced its region.
    Rejoins = "rejoins",
}

/// Bytes of the counters region.
pub const COUNTERS_BYTES: usize = PAGE;
const _: () = assert!((HEADER_WORDS + Counter::ALL.len()) * 8 <= PAGE);

/// Counters living in a shared-memory page (or private memory).
pub struct Counters {
    ws: Workspace,
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.read().iter().map(|(c, v)| (c.name(), v)))
            .finish()
    }
}

impl Counters {
    /// Creates `/dev/shm/NAME` (replacing an old one of this user), or private memory when
    /// `name` is `None`, all counters 0.
    pub fn create(name: Option<&str>) -> Result<Self, WorkspaceError> {
        let ws = match name {
            Some(n) => Workspace::create_shm(n, COUNTERS_BYTES, &ShmOptions::default())?,
            None => Workspace::anonymous(COUNTERS_BYTES)?,
        };
        let c = Counters { ws };
        c.words()[1].store(Counter::ALL.len() as u64, Ordering::Relaxed);
        c.words()[0].store(MAGIC, Ordering::Release);
        Ok(c)
    }

    /// Joins the counters of a running forwarder, read-only.
    ///
    /// Errors: no such region, or not a forwarder's counters (the message says which).
    pub fn open(name: &str) -> Result<Self, String> {
        let ws = Workspace::open_shm(name, Access::ReadOnly).map_err(|e| e.to_string())?;
        if ws.len() < COUNTERS_BYTES {
            return Err(format!("{name}: too small for forwarder counters"));
        }
        let c = Counters { ws };
        if c.words()[0].load(Ordering::Acquire) != MAGIC {
            return Err(format!("{name}: not forwarder counters"));
        }
        if c.words()[1].load(Ordering::Relaxed) != Counter::ALL.len() as u64 {
            return Err(format!("{name}: counters of another forwarder build"));
        }
        Ok(c)
    }

    fn words(&self) -> &[AtomicU64] {
        let n = COUNTERS_BYTES / 8;
        // SAFETY: the workspace maps at least COUNTERS_BYTES bytes (checked in `open`,
        // chosen in `create`), page-aligned (so 8-aligned), for as long as `self.ws`
        // lives, which the returned borrow of `self` cannot outlast. Every access to these
        // bytes, in this and other processes, is through these atomics; a read-only
        // mapping is only ever loaded from (`add` is only called on counters `create`d
        // read-write).
        unsafe { std::slice::from_raw_parts(self.ws.as_mut_ptr().cast::<AtomicU64>(), n) }
    }

    /// Adds `n` to `c`. Only the forwarder (the one writer) calls it. O(1).
    #[inline]
    pub fn add(&self, c: Counter, n: u64) {
        if n != 0 {
            self.words()[HEADER_WORDS + c as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sets `c` to `v` (for totals kept by the kernel). Only the forwarder calls it. O(1).
    pub fn set(&self, c: Counter, v: u64) {
        self.words()[HEADER_WORDS + c as usize].store(v, Ordering::Relaxed);
    }

    /// The value of `c`. O(1).
    pub fn get(&self, c: Counter) -> u64 {
        self.words()[HEADER_WORDS + c as usize].load(Ordering::Relaxed)
    }

    /// Every counter with its value.
    pub fn read(&self) -> Vec<(Counter, u64)> {
        Counter::ALL.iter().map(|&c| (c, self.get(c))).collect()
    }
}

/// Per-batch tallies, added to [`Counters`] once per batch so the hot loop touches the
/// shared page once, not once per packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    n: [u64; Counter::ALL.len()],
}

impl Tally {
    /// Counts one `c`.
    #[inline]
    pub fn bump(&mut self, c: Counter) {
        self.n[c as usize] += 1;
    }

    /// Counts `k` of `c`.
    #[inline]
    pub fn bump_by(&mut self, c: Counter, k: u64) {
        self.n[c as usize] += k;
    }

    /// The tally of `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.n[c as usize]
    }

    /// Adds the tallies to `counters` and zeroes them.
    pub fn flush(&mut self, counters: &Counters) {
        for &c in Counter::ALL {
            counters.add(c, self.n[c as usize]);
        }
        self.n = [0; Counter::ALL.len()];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_counters_are_read_by_another_mapping() {
        let name = format!("neigh-fwd-test-counters-{}", std::process::id());
        let c = Counters::create(Some(&name)).expect("create");
        let mut t = Tally::default();
        t.bump(Counter::Rx);
        t.bump_by(Counter::Tx, 5);
        t.flush(&c);
        assert_eq!(t.get(Counter::Tx), 0, "flush zeroes the tally");
        let r = Counters::open(&name).expect("open");
        assert_eq!(r.get(Counter::Rx), 1);
        assert_eq!(r.get(Counter::Tx), 5);
        assert_eq!(r.get(Counter::Miss), 0);
        drop((c, r));
        Workspace::unlink_shm(&name).expect("unlink");
        assert!(Counters::open(&name).is_err());
    }
}
