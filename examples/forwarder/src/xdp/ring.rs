//! [`Ring`]: one of an AF_XDP socket's four single-producer / single-consumer rings,
//! mapped from the kernel.
//!
//! A ring is a producer index, a consumer index, a flags word and a power-of-two array
//! of entries (`u64` frame addresses for the fill and completion rings, `xdp_desc` for
//! RX and TX). The producer writes entries, then stores its index with Release; the
//! consumer loads that index with Acquire, reads the entries, then stores its own index
//! with Release, which hands the entries' slots back: the kernel's side does the same
//! with `smp_load_acquire` / `smp_store_release`. This process is the producer of the
//! fill and TX rings and the consumer of the RX and completion rings, and keeps its own
//! index in `local`, publishing it once per batch.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// A mapped ring of `T` entries.
pub struct Ring<T: Copy> {
    map: NonNull<u8>,
    map_len: usize,
    producer: NonNull<u32>,
    consumer: NonNull<u32>,
    flags: NonNull<u32>,
    entries: NonNull<T>,
    mask: u32,
    /// This side's index (producer for fill/TX, consumer for RX/completion), ahead of
    /// the shared one until [`publish`](Self::publish).
    local: u32,
}

impl<T: Copy> Ring<T> {
    /// Maps the ring of `size` entries at page offset `pgoff` of the socket `fd`, laid out
    /// as `off` says (from `getsockopt(XDP_MMAP_OFFSETS)`).
    pub fn map(
        fd: &OwnedFd,
        pgoff: libc::off_t,
        off: &libc::xdp_ring_offset,
        size: u32,
    ) -> io::Result<Self> {
        let map_len = off.desc as usize + size as usize * core::mem::size_of::<T>();
        // SAFETY: a fresh shared mapping of the socket's ring at the offset the kernel
        // defines for it; the kernel checks the length against the ring's size.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                pgoff,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = NonNull::new(p.cast::<u8>()).expect("mmap returned non-null");
        // SAFETY: the offsets come from the kernel and lie inside the mapping of
        // `map_len` bytes (the entries array ends exactly at its end); the kernel aligns
        // the index words to 4 and the entries to their size.
        let at = |o: u64| unsafe { NonNull::new_unchecked(p.cast::<u8>().add(o as usize)) };
        let ring = Ring {
            map,
            map_len,
            producer: at(off.producer).cast(),
            consumer: at(off.consumer).cast(),
            flags: at(off.flags).cast(),
            entries: at(off.desc).cast(),
            mask: size - 1,
            local: 0,
        };
        Ok(ring)
    }

    fn index(&self, p: NonNull<u32>) -> &AtomicU32 {
        // SAFETY: `p` points to an aligned u32 inside the live mapping (see `map`), which
        // the kernel and this process access only atomically.
        unsafe { AtomicU32::from_ptr(p.as_ptr()) }
    }

    /// Producer side: entries that can be pushed now. O(1).
    #[inline]
    pub fn free(&self) -> u32 {
        let cons = self.index(self.consumer).load(Ordering::Acquire);
        (self.mask + 1) - self.local.wrapping_sub(cons)
    }

    /// Producer side: writes `v` in the next slot; the caller checked [`free`](Self::free).
    #[inline]
    pub fn push(&mut self, v: T) {
        let i = (self.local & self.mask) as usize;
        // SAFETY: `i` is within the entries array (masked); the slot is free (the
        // caller checked `free`), so the kernel does not read it until `publish`.
        unsafe { self.entries.as_ptr().add(i).write(v) };
        self.local = self.local.wrapping_add(1);
    }

    /// Producer side: makes the pushed entries visible to the kernel.
    #[inline]
    pub fn publish(&self) {
        self.index(self.producer)
            .store(self.local, Ordering::Release);
    }

    /// Consumer side: entries the kernel has produced and we have not taken. O(1).
    #[inline]
    pub fn available(&self) -> u32 {
        self.index(self.producer)
            .load(Ordering::Acquire)
            .wrapping_sub(self.local)
    }

    /// Consumer side: takes the next entry; the caller checked
    /// [`available`](Self::available).
    #[inline]
    pub fn pop(&mut self) -> T {
        let i = (self.local & self.mask) as usize;
        // SAFETY: `i` is within the entries array; the entry was published by the
        // kernel (Acquire in `available`) and is not reused until `release`.
        let v = unsafe { self.entries.as_ptr().add(i).read() };
        self.local = self.local.wrapping_add(1);
        v
    }

    /// Consumer side: hands the taken entries' slots back to the kernel.
    #[inline]
    pub fn release(&self) {
        self.index(self.consumer)
            .store(self.local, Ordering::Release);
    }

    /// Entries pushed and published but not yet consumed by the kernel (producer side).
    pub fn in_flight(&self) -> u32 {
        self.local
            .wrapping_sub(self.index(self.consumer).load(Ordering::Acquire))
    }

    /// True when the kernel asks to be woken up (`XDP_RING_NEED_WAKEUP`) to process
    /// this ring.
    #[inline]
    pub fn needs_wakeup(&self) -> bool {
        self.index(self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

impl<T: Copy> Drop for Ring<T> {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; no reference into it outlives
        // `self`.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}
