//! The atomics the map is built on, swapped for loom's under `cfg(loom)` so the very same
//! map code is model-checked by `loom-tests`.

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
