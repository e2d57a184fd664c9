//! The atomics the map is built on, swapped for loom's under `cfg(loom)` so the very same
//! map code is model-checked by `loom-tests`, and the two CPU hints its loops use.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU64, Ordering};

/// Called between retries of a reader or a writer spinning on a held lock. Under loom it
/// yields so the model checker can schedule the lock holder.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// Asks the CPU to bring the cache line of `p` in, without reading it into the program
/// (no data race even while a writer stores there). A no-op where there is no prefetch
/// instruction to use (targets without SSE, such as `x86_64-unknown-none`), and under loom
/// and miri.
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse", not(loom), not(miri)))]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `_mm_prefetch` needs SSE, which this build targets (the cfg above). A
        // prefetch is a hint: it never faults, whatever the address, and reads nothing
        // the program sees.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(core::ptr::from_ref(p).cast()) };
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse", not(loom), not(miri))))]
    let _ = p;
}
