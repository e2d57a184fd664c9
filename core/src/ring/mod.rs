//! The resolution request ring: a bounded, lock-free, multi-producer / single-consumer
//! queue of "resolve ADDR on IF" requests that lives in shared memory next to the map.
//!
//! A data plane that misses in the map posts a [`ResolveRequest`] with
//! [`RequestRing::post`]: O(1), never blocks, never allocates; a full ring drops the
//! request and counts it ([`RingStats::dropped_full`]). The mirror (the single consumer)
//! drains it with [`RequestRing::drain`], deduplicates and rate-limits, and asks the kernel
//! to resolve.
//!
//! # Place in the region
//!
//! A ring lives right after a map, at the map's total size (recorded in the map header);
//! [`crate::region`] formats and joins the two together. The ring header records that
//! offset (`base`), and [`RequestRing::join`] refuses a ring whose `base` differs from
//! where it was found. A ring is a 256-byte header (4 cache lines, below) followed by
//! `cells` 32-byte cells, `cells` a power of two.
//!
//! Ring header words (each `u64`, native-endian):
//!
//! | word | field | written by |
//! |------|-------|------------|
//! | 0    | magic `"NEIGHRNG"` (stored last, Release) | format |
//! | 1    | ring layout version ([`RING_VERSION`]) | format |
//! | 2-4  | cell count, header bytes (256), total ring bytes | format |
//! | 5    | `base`: byte offset of the ring in the region | format |
//! | 8    | enqueue position (own cache line) | producers |
//! | 16   | dequeue position (own cache line) | the consumer |
//! | 24-27| counters: posted, dropped (full), abandoned (stuck claims skipped), drained | both |
//!
//! A cell is four words: `seq`, address bytes 0..8, 8..16 (IPv4 stored v4-mapped), and
//! `ifindex | family << 32` (family 4 or 6).
//!
//! # Algorithm
//!
//! Vyukov's bounded queue: cell `i` of lap `L` is free for position `p = L * cells + i`
//! when its `seq == p`, and published when `seq == p + 1`. A producer claims `p` by
//! CAS on the enqueue position, writes the payload (Relaxed atomics), then publishes with
//! a CAS `seq: p -> p + 1` (Release). The consumer reads a published cell (Acquire), then
//! frees it for the next lap (`seq = p + cells`, Release).
//!
//! A producer that crashes between claim and publish would block the consumer forever; so
//! the consumer may [`abandon`](RequestRing::abandon) a claim that stayed unpublished
//! for long (CAS `seq: p -> p + cells`), and a late publish then fails harmlessly (the
//! producer sees [`PostError::Abandoned`]). Every word is an atomic, so even a late
//! producer racing the next lap is no data race: at worst one garbled request, which the
//! consumer validates like any other.

use core::fmt;
use core::net::{IpAddr, Ipv6Addr};

use crate::sync::{AtomicU64, Ordering};

/// First word of a ring header: `"NEIGHRNG"` in big-endian ASCII.
pub const RING_MAGIC: u64 = u64::from_be_bytes(*b"NEIGHRNG");
/// The ring layout this build formats and joins.
pub const RING_VERSION: u64 = 1;
/// Bytes of the ring header.
pub const RING_HEADER_BYTES: usize = 256;
/// Bytes per cell.
pub const CELL_BYTES: usize = 32;
/// Largest cell count.
pub const MAX_CELLS: usize = 1 << 24;

const HEADER_WORDS: usize = RING_HEADER_BYTES / 8;
const R_MAGIC: usize = 0;
const R_VERSION: usize = 1;
const R_CELLS: usize = 2;
const R_HEADER_BYTES: usize = 3;
const R_TOTAL_BYTES: usize = 4;
const R_BASE: usize = 5;
const R_ENQUEUE: usize = 8;
const R_DEQUEUE: usize = 16;
const R_POSTED: usize = 24;
const R_DROPPED: usize = 25;
const R_ABANDONED: usize = 26;
const R_DRAINED: usize = 27;

/// "Resolve `addr` on interface `ifindex`": what a reader that missed posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolveRequest {
    /// Interface index (not 0).
    pub ifindex: u32,
    /// The neighbor's protocol address.
    pub addr: IpAddr,
}

/// Why a ring could not be sized, formatted or joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The cell count is 0, not a power of two, or above [`MAX_CELLS`].
    BadCells {
        /// The cell count asked for or found.
        cells: u64,
    },
    /// The words given are fewer than the ring needs.
    TooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        len: usize,
    },
    /// No ring magic where a ring was expected (a map-only region, or garbage).
    BadMagic {
        /// The word found.
        found: u64,
    },
    /// A ring of another layout version.
    UnsupportedVersion {
        /// Version in the header.
        found: u64,
    },
    /// A header field disagrees with the layout (corrupted or foreign header).
    LayoutMismatch {
        /// Which field.
        field: &'static str,
        /// Value found.
        found: u64,
        /// Value expected.
        expected: u64,
    },
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::BadCells { cells } => {
                write!(
                    f,
                    "request ring cell count {cells} is not a power of two in 1..={MAX_CELLS}"
                )
            }
            RingError::TooSmall { needed, len } => {
                write!(f, "request ring needs {needed} bytes, region has {len}")
            }
            RingError::BadMagic { found } => {
                write!(f, "no request ring in the region (found {found:#018x})")
            }
            RingError::UnsupportedVersion { found } => write!(
                f,
                "request ring layout version {found}, this build reads {RING_VERSION}"
            ),
            RingError::LayoutMismatch {
                field,
                found,
                expected,
            } => write!(
                f,
                "corrupted request ring header: {field} is {found}, expected {expected}"
            ),
        }
    }
}

impl core::error::Error for RingError {}

/// Why [`RequestRing::post`] did not queue a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostError {
    /// Every cell holds an undrained request: dropped and counted.
    Full,
    /// The consumer gave up on this claim before it was published (the producer was
    /// stalled for longer than the consumer's patience): dropped.
    Abandoned,
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PostError::Full => "request ring full: request dropped",
            PostError::Abandoned => "request ring claim abandoned by the consumer",
        })
    }
}

impl core::error::Error for PostError {}

/// Counters of a ring, read one by one (each exact, not one snapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Cells.
    pub cells: u64,
    /// Requests queued by producers.
    pub posted: u64,
    /// Requests dropped because the ring was full.
    pub dropped_full: u64,
    /// Claims the consumer skipped because their producer never published them.
    pub abandoned: u64,
    /// Requests taken by the consumer.
    pub drained: u64,
    /// Claimed but not yet drained: the enqueue minus the dequeue position, read one
    /// after the other (dequeue first), so while producers post it may include posts
    /// made after the dequeue position was read (even exceed `cells`); it never wraps.
    pub pending: u64,
}

/// What one [`RequestRing::drain`] call saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Requests handed to the callback.
    pub taken: usize,
    /// The drain stopped at this position: claimed by a producer but not yet published.
    /// Normally a producer is between two instructions; if the same position stays
    /// blocked for long, the consumer may [`RequestRing::abandon`] it.
    pub blocked_at: Option<u64>,
}

/// Bytes a ring of `cells` cells takes (header + cells). Errors: [`RingError::BadCells`].
/// O(1).
pub fn ring_footprint(cells: usize) -> Result<usize, RingError> {
    if cells == 0 || !cells.is_power_of_two() || cells > MAX_CELLS {
        return Err(RingError::BadCells {
            cells: cells as u64,
        });
    }
    Ok(RING_HEADER_BYTES + cells * CELL_BYTES)
}

/// A request ring over shared words. `Copy`: hand one to every producer thread. Producers
/// may be any number of threads or processes; the consumer must be one at a time (the
/// mirror).
#[derive(Clone, Copy)]
pub struct RequestRing<'a> {
    header: &'a [AtomicU64],
    cells: &'a [AtomicU64],
    mask: u64,
}

impl fmt::Debug for RequestRing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestRing")
            .field("cells", &(self.mask + 1))
            .finish()
    }
}

impl<'a> RequestRing<'a> {
    /// Formats `words` (at least [`ring_footprint`]`(cells) / 8` of them; the rest is left
    /// alone) as an empty ring located at byte offset `base` of its region. The magic is
    /// stored last (Release), so a concurrent [`join`](Self::join) sees a complete header
    /// or `BadMagic`. Errors: bad `cells`, too few words. O(cells).
    pub fn format(words: &'a [AtomicU64], cells: usize, base: u64) -> Result<Self, RingError> {
        let bytes = ring_footprint(cells)?;
        let n = bytes / 8;
        if words.len() < n {
            return Err(RingError::TooSmall {
                needed: bytes,
                len: words.len().saturating_mul(8),
            });
        }
        words[R_MAGIC].store(0, Ordering::Relaxed);
        for w in &words[1..HEADER_WORDS] {
            w.store(0, Ordering::Relaxed);
        }
        words[R_VERSION].store(RING_VERSION, Ordering::Relaxed);
        words[R_CELLS].store(cells as u64, Ordering::Relaxed);
        words[R_HEADER_BYTES].store(RING_HEADER_BYTES as u64, Ordering::Relaxed);
        words[R_TOTAL_BYTES].store(bytes as u64, Ordering::Relaxed);
        words[R_BASE].store(base, Ordering::Relaxed);
        for (i, cell) in words[HEADER_WORDS..n].chunks_exact(4).enumerate() {
            cell[0].store(i as u64, Ordering::Relaxed);
            for w in &cell[1..] {
                w.store(0, Ordering::Relaxed);
            }
        }
        words[R_MAGIC].store(RING_MAGIC, Ordering::Release);
        Ok(Self::view(words, cells))
    }

    /// Joins a ring formatted by any process, found at byte offset `base` of its region.
    /// Checks magic (Acquire), version, cell count, sizes and `base`. Errors: a
    /// [`RingError`] naming the first failed check. O(1).
    pub fn join(words: &'a [AtomicU64], base: u64) -> Result<Self, RingError> {
        if words.len() < HEADER_WORDS {
            return Err(RingError::TooSmall {
                needed: RING_HEADER_BYTES,
                len: words.len().saturating_mul(8),
            });
        }
        let magic = words[R_MAGIC].load(Ordering::Acquire);
        if magic != RING_MAGIC {
            return Err(RingError::BadMagic { found: magic });
        }
        let h = |i: usize| words[i].load(Ordering::Relaxed);
        if h(R_VERSION) != RING_VERSION {
            return Err(RingError::UnsupportedVersion {
                found: h(R_VERSION),
            });
        }
        let cells64 = h(R_CELLS);
        let cells = usize::try_from(cells64).map_err(|_| RingError::BadCells { cells: cells64 })?;
        let bytes = ring_footprint(cells)?;
        for (field, word, expected) in [
            ("header size", R_HEADER_BYTES, RING_HEADER_BYTES as u64),
            ("total size", R_TOTAL_BYTES, bytes as u64),
            ("base offset", R_BASE, base),
        ] {
            if h(word) != expected {
                return Err(RingError::LayoutMismatch {
                    field,
                    found: h(word),
                    expected,
                });
            }
        }
        if words.len().saturating_mul(8) < bytes {
            return Err(RingError::TooSmall {
                needed: bytes,
                len: words.len().saturating_mul(8),
            });
        }
        Ok(Self::view(words, cells))
    }

    fn view(words: &'a [AtomicU64], cells: usize) -> Self {
        RequestRing {
            header: &words[..HEADER_WORDS],
            cells: &words[HEADER_WORDS..HEADER_WORDS + 4 * cells],
            mask: cells as u64 - 1,
        }
    }

    /// Number of cells.
    pub fn capacity(&self) -> usize {
        (self.mask + 1) as usize
    }

    fn cell(&self, pos: u64) -> &'a [AtomicU64] {
        let i = (pos & self.mask) as usize;
        &self.cells[4 * i..4 * i + 4]
    }

    /// Queues `req`. Any thread or process may call it concurrently. Never blocks: a
    /// full ring returns [`PostError::Full`] at once and bumps the `dropped_full`
    /// counter. Lock-free: a CAS loop that only retries when another producer won the
    /// same position. Cost: O(1) expected, a few atomics.
    pub fn post(&self, req: &ResolveRequest) -> Result<(), PostError> {
        let enq = &self.header[R_ENQUEUE];
        let mut pos = enq.load(Ordering::Relaxed);
        let cell = loop {
            let cell = self.cell(pos);
            let seq = cell[0].load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as i64;
            if diff == 0 {
                match enq.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break cell,
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                self.header[R_DROPPED].fetch_add(1, Ordering::Relaxed);
                return Err(PostError::Full);
            } else {
                pos = enq.load(Ordering::Relaxed);
            }
        };
        let (w1, w2, w3) = encode(req);
        cell[1].store(w1, Ordering::Relaxed);
        cell[2].store(w2, Ordering::Relaxed);
        cell[3].store(w3, Ordering::Relaxed);
        match cell[0].compare_exchange(
            pos,
            pos.wrapping_add(1),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                self.header[R_POSTED].fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => Err(PostError::Abandoned),
        }
    }

    /// Takes up to `max` published requests in order and hands each to `f` (requests
    /// that do not decode, e.g. a family word other than 4 or 6, are skipped but still
    /// consumed). Stops early at a claimed-but-unpublished cell (see [`Drained`]).
    ///
    /// Single consumer: at most one thread (or process) may drain a ring at a time;
    /// the mirror is that consumer. Cost: O(taken).
    pub fn drain(&self, max: usize, mut f: impl FnMut(ResolveRequest)) -> Drained {
        let deq = &self.header[R_DEQUEUE];
        let mut pos = deq.load(Ordering::Relaxed);
        let mut out = Drained::default();
        while out.taken < max {
            let cell = self.cell(pos);
            let seq = cell[0].load(Ordering::Acquire);
            if seq == pos.wrapping_add(self.mask + 1) {
                // Taken and freed for the next lap, but the position not advanced: a
                // consumer died between the two stores. No producer can claim the next
                // lap's position while this one is the consumer's, so nothing else
                // leaves this value here.
                pos = pos.wrapping_add(1);
                deq.store(pos, Ordering::Release);
                continue;
            }
            if seq != pos.wrapping_add(1) {
                let enq = self.header[R_ENQUEUE].load(Ordering::Relaxed);
                if enq != pos {
                    out.blocked_at = Some(pos);
                }
                break;
            }
            let words = [
                cell[1].load(Ordering::Relaxed),
                cell[2].load(Ordering::Relaxed),
                cell[3].load(Ordering::Relaxed),
            ];
            cell[0].store(pos.wrapping_add(self.mask + 1), Ordering::Release);
            pos = pos.wrapping_add(1);
            deq.store(pos, Ordering::Release);
            out.taken += 1;
            self.header[R_DRAINED].fetch_add(1, Ordering::Relaxed);
            if let Some(req) = decode(words) {
                f(req);
            }
        }
        out
    }

    /// Skips the claim at `pos` (reported by [`drain`](Self::drain) as `blocked_at`)
    /// whose producer never published it, e.g. because it crashed. Does nothing and
    /// returns false unless `pos` is still the consumer's position and its cell is
    /// still claimed-unpublished. Consumer only. O(1).
    pub fn abandon(&self, pos: u64) -> bool {
        let deq = &self.header[R_DEQUEUE];
        if deq.load(Ordering::Relaxed) != pos {
            return false;
        }
        // A free cell and a claimed one both hold `seq == pos`; only the enqueue position
        // tells them apart. Skipping a position no producer claimed would leave the cell a
        // lap ahead of the enqueue position, and every later post would spin on it forever.
        let enq = self.header[R_ENQUEUE].load(Ordering::Relaxed);
        if (enq.wrapping_sub(pos) as i64) <= 0 {
            return false;
        }
        let cell = self.cell(pos);
        let freed = cell[0]
            .compare_exchange(
                pos,
                pos.wrapping_add(self.mask + 1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        if freed {
            deq.store(pos.wrapping_add(1), Ordering::Release);
            self.header[R_ABANDONED].fetch_add(1, Ordering::Relaxed);
        }
        freed
    }

    /// The enqueue position: every position below it has been claimed by a producer
    /// (published or not). The consumer reads it to age claims: a claim below the value
    /// read at time `t` was made before `t`. Relaxed: a value at most as far on as the
    /// latest claim. O(1).
    pub fn enqueue_position(&self) -> u64 {
        self.header[R_ENQUEUE].load(Ordering::Relaxed)
    }

    /// The ring's counters. O(1).
    pub fn stats(&self) -> RingStats {
        let h = |i: usize| self.header[i].load(Ordering::Relaxed);
        // The dequeue position first, Acquire: the consumer stores it (Release) only past
        // positions it saw claimed (a published cell, or the enqueue position in
        // `abandon`), so the enqueue position read after it is at least as far on. Read
        // the other way round, a drain in between made `pending` wrap to ~2^64.
        let deq = self.header[R_DEQUEUE].load(Ordering::Acquire);
        let enq = h(R_ENQUEUE);
        RingStats {
            cells: self.mask + 1,
            posted: h(R_POSTED),
            dropped_full: h(R_DROPPED),
            abandoned: h(R_ABANDONED),
            drained: h(R_DRAINED),
            pending: enq.wrapping_sub(deq),
        }
    }
}

fn encode(req: &ResolveRequest) -> (u64, u64, u64) {
    let (octets, family) = match req.addr {
        IpAddr::V4(a) => (a.to_ipv6_mapped().octets(), 4u64),
        IpAddr::V6(a) => (a.octets(), 6u64),
    };
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&octets[..8]);
    hi.copy_from_slice(&octets[8..]);
    (
        u64::from_ne_bytes(lo),
        u64::from_ne_bytes(hi),
        u64::from(req.ifindex) | family << 32,
    )
}

fn decode(w: [u64; 3]) -> Option<ResolveRequest> {
    let mut octets = [0u8; 16];
    octets[..8].copy_from_slice(&w[0].to_ne_bytes());
    octets[8..].copy_from_slice(&w[1].to_ne_bytes());
    let v6 = Ipv6Addr::from(octets);
    let addr = match w[2] >> 32 {
        4 => IpAddr::V4(v6.to_ipv4_mapped()?),
        6 => IpAddr::V6(v6),
        _ => return None,
    };
    let ifindex = (w[2] & 0xffff_ffff) as u32;
    if ifindex == 0 {
        return None;
    }
    Some(ResolveRequest { ifindex, addr })
}

#[cfg(all(test, not(loom)))]
mod tests;
