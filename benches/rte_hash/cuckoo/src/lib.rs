//! A read-path prototype of a bucketized cuckoo map, for IPv4 keys, behind the shapes of
//! neigh's C lookup API, so that `bench.c` (built with `-DCUCKOO_PROTOTYPE`) measures it
//! against `rte_hash` exactly as it measures neigh's map.
//!
//! What it models, and what it leaves out:
//!
//! - **Buckets** of 8 ways and **two choices** per key, as `rte_hash`: the primary bucket
//!   from the hash's low bits, the alternative from the primary and the key's 16-bit
//!   signature (so a displaced entry finds its other bucket from its signature alone).
//! - **Bucket metadata**, 32 bytes (two buckets per cache line): a version word (even =
//!   stable, odd = keys moving), then the 8 signatures (16 bits each, 0 = empty way).
//! - **Slots** of 16 bytes, the key word (ifindex << 32 | IPv4) and the value word (MAC,
//!   NUD state, flags), read with one 16-byte atomic load (`portable-atomic`: `vmovdqa`
//!   on CPUs with AVX), so a hit needs no validation: a key word that matches comes with
//!   its own value, whole.
//! - **A lookup** reads both buckets' versions and signatures (one SSE compare each),
//!   then the slots whose signature matches; a miss validates both versions, so a key
//!   that moved between the buckets during the read is not reported absent.
//! - **Left out:** concurrent writers (the insert is single-threaded, for the bench's
//!   fill; a real writer would mark both buckets odd around each displacement), IPv6
//!   keys, and a bound on the retries of a miss that did not validate (the bench has
//!   no writer in the timed cases).
//!
//! Only the lookups are meant to be measured.

use core::sync::atomic::{fence, AtomicU64, Ordering::*};
use std::ffi::c_int;
use std::sync::atomic::AtomicPtr;

use portable_atomic::AtomicU128;
use safe_arch::{
    cmp_eq_mask_i16_m128i, m128i, move_mask_i8_m128i, pack_i16_to_i8_m128i, set_splat_i16_m128i,
    zeroed_m128i,
};

/// Ways (slots) per bucket.
const WAYS: usize = 8;
/// Metadata words per bucket: version, two words of signatures, one spare.
const META_WORDS: usize = 4;
/// Displacements an insert tries before it gives up.
const MAX_KICKS: usize = 2000;

/// The bench's `struct neigh_entry`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Entry {
    mac: [u8; 6],
    state: u16,
    flags: u8,
    resolved: u8,
    generation: u8,
    reserved: u8,
}

/// The value word: MAC (bytes 0-5), state (byte 6), flags with "resolved" in bit 0 (byte 7).
fn value(e: &Entry) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&e.mac);
    b[6] = e.state as u8;
    b[7] = (e.flags & !1) | (e.resolved & 1);
    u64::from_le_bytes(b)
}

const _: () = assert!(core::mem::size_of::<Entry>() == 12);

/// The bench's entry from a value word (the MAC zeroed when not resolved), stored as two
/// words (MAC and state, then flags and resolved), as neigh's `neigh_entry::from_map`
/// does.
#[inline(always)]
fn entry(v: u64) -> Entry {
    let f = (v >> 56) as u8;
    let keep = if f & 1 != 0 {
        0x00ff_ffff_ffff_ffff
    } else {
        0x00ff_0000_0000_0000
    };
    let lo = v & keep;
    let hi = u32::from_le_bytes([f & !1, f & 1, 0, 0]);
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&lo.to_le_bytes());
    bytes[8..].copy_from_slice(&hi.to_le_bytes());
    // SAFETY: `Entry` is 12 bytes of integers, any bit pattern valid.
    unsafe { core::mem::transmute::<[u8; 12], Entry>(bytes) }
}

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn prefetch<T>(p: &T) {
    // SAFETY: a prefetch is a hint; it reads nothing into the program.
    unsafe {
        core::arch::x86_64::_mm_prefetch(
            (p as *const T).cast::<i8>(),
            core::arch::x86_64::_MM_HINT_T0,
        )
    }
}

/// A zeroed slice aligned to a cache line, for the life of the process.
fn zeroed<T>(n: usize) -> &'static [T] {
    let layout = std::alloc::Layout::from_size_align(n * core::mem::size_of::<T>(), 64).unwrap();
    // SAFETY: all-zero bytes are a valid AtomicU64 / AtomicU128; the allocation is never
    // freed, so the slice lives as long as the process.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout);
        assert!(!p.is_null());
        std::slice::from_raw_parts(p.cast::<T>(), n)
    }
}

struct Table {
    bucket_mask: usize,
    seed: u64,
    meta: &'static [AtomicU64],
    slots: &'static [AtomicU128],
    rng: AtomicU64,
}

/// One key between a burst's stages.
#[derive(Clone, Copy, Default)]
struct Staged {
    key: u64,
    b1: usize,
    b2: usize,
    sig: u16,
    v1: u64,
    v2: u64,
    m1: u32,
    m2: u32,
}

impl Table {
    fn new(slots: usize) -> Self {
        let buckets = slots / WAYS;
        Table {
            bucket_mask: buckets - 1,
            seed: 0x1234_5678_9abc_def1,
            meta: zeroed(buckets * META_WORDS),
            slots: zeroed(slots),
            rng: AtomicU64::new(0x0139_408d_cbbf_7a44),
        }
    }

    /// The key's primary and alternative buckets and its signature (never 0).
    #[inline(always)]
    fn hash(&self, key: u64) -> (usize, usize, u16) {
        let h = fold_mul(key ^ self.seed, 0x9e37_79b9_7f4a_7c15);
        let sig = ((h >> 48) as u16) | 1;
        let b1 = (h as usize) & self.bucket_mask;
        (b1, self.alt(b1, sig), sig)
    }

    /// The other bucket of an entry with signature `sig` in bucket `b` (an involution).
    #[inline(always)]
    fn alt(&self, b: usize, sig: u16) -> usize {
        (b ^ ((usize::from(sig) >> 1).wrapping_mul(0x9e37) | 1)) & self.bucket_mask
    }

    #[inline(always)]
    fn version(&self, b: usize) -> &AtomicU64 {
        &self.meta[b * META_WORDS]
    }

    #[inline(always)]
    fn sigs(&self, b: usize) -> u128 {
        let w = &self.meta[b * META_WORDS + 1..b * META_WORDS + 3];
        u128::from(w[1].load(Relaxed)) << 64 | u128::from(w[0].load(Relaxed))
    }

    /// The ways of a bucket whose signature is `sig`, one bit each.
    #[inline(always)]
    fn matching(sigs: u128, sig: u16) -> u32 {
        let eq = cmp_eq_mask_i16_m128i(m128i::from(sigs), set_splat_i16_m128i(sig as i16));
        move_mask_i8_m128i(pack_i16_to_i8_m128i(eq, zeroed_m128i())) as u32
    }

    fn sig_at(&self, b: usize, i: usize) -> u16 {
        (self.meta[b * META_WORDS + 1 + i / 4].load(Relaxed) >> (16 * (i % 4))) as u16
    }

    fn put(&self, b: usize, i: usize, key: u64, val: u64, sig: u16) {
        self.slots[b * WAYS + i].store(u128::from(key) | u128::from(val) << 64, Relaxed);
        let w = &self.meta[b * META_WORDS + 1 + i / 4];
        let sh = 16 * (i % 4);
        w.store(
            (w.load(Relaxed) & !(0xffff << sh)) | u64::from(sig) << sh,
            Relaxed,
        );
    }

    fn free_way(&self, b: usize) -> Option<usize> {
        (0..WAYS).find(|&i| self.sig_at(b, i) == 0)
    }

    /// Single-threaded upsert: 1 inserted, 0 updated, -28 (ENOSPC) when the displacement
    /// walk gives up (the last displaced entry is then lost; the bench counts refused
    /// inserts and checks every key it keeps before timing).
    fn upsert(&self, key: u64, val: u64) -> c_int {
        let (b1, b2, sig) = self.hash(key);
        for b in [b1, b2] {
            for i in 0..WAYS {
                if self.sig_at(b, i) == sig && self.slots[b * WAYS + i].load(Relaxed) as u64 == key
                {
                    self.put(b, i, key, val, sig);
                    return 0;
                }
            }
        }
        for b in [b1, b2] {
            if let Some(i) = self.free_way(b) {
                self.put(b, i, key, val, sig);
                return 1;
            }
        }
        // Random-walk displacement: take a random way of the bucket, move its entry to
        // that entry's other bucket, and so on until one has a free way.
        let (mut key, mut val, mut sig, mut b) = (key, val, sig, b1);
        for _ in 0..MAX_KICKS {
            let mut r = self.rng.load(Relaxed);
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            self.rng.store(r, Relaxed);
            let i = r as usize % WAYS;
            let old = self.slots[b * WAYS + i].load(Relaxed);
            let old_sig = self.sig_at(b, i);
            self.put(b, i, key, val, sig);
            (key, val, sig) = (old as u64, (old >> 64) as u64, old_sig);
            b = self.alt(b, sig);
            if let Some(j) = self.free_way(b) {
                self.put(b, j, key, val, sig);
                return 1;
            }
        }
        -28
    }

    /// The value of `key` among the ways `m` of bucket `b`: one 16-byte load per way.
    #[inline(always)]
    fn find(&self, b: usize, mut m: u32, key: u64) -> Option<u64> {
        while m != 0 {
            let v = self.slots[b * WAYS + m.trailing_zeros() as usize].load(Acquire);
            if v as u64 == key {
                return Some((v >> 64) as u64);
            }
            m &= m - 1;
        }
        None
    }

    /// A miss stands if neither bucket was moving keys, nor moved any, during the read.
    #[inline(always)]
    fn absent(&self, b1: usize, v1: u64, b2: usize, v2: u64) -> bool {
        fence(Acquire);
        (v1 | v2) & 1 == 0
            && self.version(b1).load(Relaxed) == v1
            && self.version(b2).load(Relaxed) == v2
    }

    #[inline(always)]
    fn get(&self, key: u64) -> Option<u64> {
        let (b1, b2, sig) = self.hash(key);
        prefetch(self.version(b2));
        loop {
            let v1 = self.version(b1).load(Acquire);
            let v2 = self.version(b2).load(Acquire);
            let found = self
                .find(b1, Self::matching(self.sigs(b1), sig), key)
                .or_else(|| self.find(b2, Self::matching(self.sigs(b2), sig), key));
            if found.is_some() || self.absent(b1, v1, b2, v2) {
                return found;
            }
            core::hint::spin_loop();
        }
    }

    /// Up to 32 keys in three passes: hash and prefetch both buckets' metadata; read
    /// versions and signatures and prefetch the first matching slot; read the slots.
    #[inline(always)]
    fn burst(
        &self,
        n: usize,
        key: impl Fn(usize) -> u64,
        mut put: impl FnMut(usize, Option<u64>),
    ) -> usize {
        let mut staged = [Staged::default(); 32];
        let staged = &mut staged[..n];
        for (i, s) in staged.iter_mut().enumerate() {
            let k = key(i);
            let (b1, b2, sig) = self.hash(k);
            *s = Staged {
                key: k,
                b1,
                b2,
                sig,
                ..Staged::default()
            };
            prefetch(self.version(b1));
            prefetch(self.version(b2));
        }
        for s in staged.iter_mut() {
            s.v1 = self.version(s.b1).load(Acquire);
            s.v2 = self.version(s.b2).load(Acquire);
            s.m1 = Self::matching(self.sigs(s.b1), s.sig);
            s.m2 = Self::matching(self.sigs(s.b2), s.sig);
            if s.m1 != 0 {
                prefetch(&self.slots[s.b1 * WAYS + s.m1.trailing_zeros() as usize]);
            } else if s.m2 != 0 {
                prefetch(&self.slots[s.b2 * WAYS + s.m2.trailing_zeros() as usize]);
            }
        }
        let mut found = 0;
        for (i, s) in staged.iter().enumerate() {
            let r = self
                .find(s.b1, s.m1, s.key)
                .or_else(|| self.find(s.b2, s.m2, s.key));
            let _ = r.is_none() && self.absent(s.b1, s.v1, s.b2, s.v2);
            found += usize::from(r.is_some());
            put(i, r);
        }
        found
    }
}

/// The table the calls use: the last one `cuckoo_init` made (earlier ones are leaked).
static TABLE: AtomicPtr<Table> = AtomicPtr::new(core::ptr::null_mut());

#[inline(always)]
fn key_word(ifindex: u32, ipv4_be: u32) -> u64 {
    u64::from(ifindex) << 32 | u64::from(ipv4_be)
}

#[inline(always)]
fn table() -> &'static Table {
    let t = TABLE.load(Acquire);
    assert!(!t.is_null(), "cuckoo_init not called");
    // SAFETY: a leaked Box, never freed.
    unsafe { &*t }
}

/// Makes a new, empty table of `slots` slots (a power of two, at least 8) for the calls
/// that follow.
#[no_mangle]
pub extern "C" fn cuckoo_init(slots: usize) {
    TABLE.store(Box::into_raw(Box::new(Table::new(slots))), Release);
}

/// # Safety
/// `e` is valid for reading an `Entry`.
#[no_mangle]
pub unsafe extern "C" fn cuckoo_upsert4(ifindex: u32, ipv4_be: u32, e: *const Entry) -> c_int {
    table().upsert(key_word(ifindex, ipv4_be), value(&*e))
}

/// # Safety
/// `out` is valid for writing an `Entry`.
#[no_mangle]
pub unsafe extern "C" fn cuckoo_lookup4(ifindex: u32, ipv4_be: u32, out: *mut Entry) -> c_int {
    match table().get(key_word(ifindex, ipv4_be)) {
        Some(v) => {
            *out = entry(v);
            1
        }
        None => 0,
    }
}

/// # Safety
/// Each array is valid for `n` elements; `out` and `rc` writable.
#[no_mangle]
pub unsafe extern "C" fn cuckoo_lookup4_burst(
    n: usize,
    ifindex: *const u32,
    ipv4_be: *const u32,
    out: *mut Entry,
    rc: *mut c_int,
) -> c_int {
    let t = table();
    let ifindex = std::slice::from_raw_parts(ifindex, n);
    let ipv4_be = std::slice::from_raw_parts(ipv4_be, n);
    let out = std::slice::from_raw_parts_mut(out, n);
    let rc = std::slice::from_raw_parts_mut(rc, n);
    let mut found = 0;
    for start in (0..n).step_by(32) {
        let len = (n - start).min(32);
        found += t.burst(
            len,
            |i| key_word(ifindex[start + i], ipv4_be[start + i]),
            |i, r| {
                rc[start + i] = match r {
                    Some(v) => {
                        out[start + i] = entry(v);
                        1
                    }
                    None => 0,
                }
            },
        );
    }
    found as c_int
}
