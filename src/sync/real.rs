//! The std side of the switch (see [`super`]): std's atomics, a mutex that
//! ignores poisoning, a cell with loom's closure API, and `arc-swap` for the
//! first close error.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::Arc;

use arc_swap::ArcSwapOption;

/// A mutex that ignores poisoning: every critical section in the crate
/// leaves its data consistent at every point a panic could start (they
/// copy bytes and move counters, and call no user code).
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    /// Wraps `value`.
    pub(crate) fn new(value: T) -> Self {
        Self(std::sync::Mutex::new(value))
    }

    /// Locks, waiting for the holder if there is one.
    #[inline]
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A condition variable for the crate's [`Mutex`], ignoring poisoning as
/// it does: where threads blocked in `Listener::accept` sleep.
#[derive(Debug, Default)]
pub(crate) struct Condvar(std::sync::Condvar);

impl Condvar {
    /// No thread waits.
    pub(crate) fn new() -> Self {
        Self(std::sync::Condvar::new())
    }

    /// Releases `guard`, sleeps until notified (or spuriously), and locks
    /// again.
    pub(crate) fn wait<'a, T>(
        &self,
        guard: std::sync::MutexGuard<'a, T>,
    ) -> std::sync::MutexGuard<'a, T> {
        self.0.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes one waiting thread, if any waits.
    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every waiting thread.
    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// A `SeqCst` fence where loom needs one to model `SeqCst` accesses (see
/// the loom twin); nothing in this build, whose `SeqCst` accesses already
/// form one total order.
#[inline(always)]
pub(crate) fn loom_sc_fence() {}

/// A cell whose accesses go through closures, as loom's does.
///
/// In this build it is a plain `std::cell::UnsafeCell`; the closures compile
/// away. The owner of each cell documents who may access it and when.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// An error slot that keeps the first value stored in it.
///
/// Backed by `arc_swap::ArcSwapOption`: a store is a compare-and-swap from
/// `None`, so it only succeeds while the slot is still empty.
pub(crate) struct ErrorSlot<T>(ArcSwapOption<T>);

impl<T> ErrorSlot<T> {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        Self(ArcSwapOption::const_empty())
    }

    /// Stores `value` if the slot is still empty; returns whether it did.
    pub(crate) fn set_first(&self, value: T) -> bool {
        let prev = self
            .0
            .compare_and_swap(&None::<Arc<T>>, Some(Arc::new(value)));
        prev.is_none()
    }

    /// The stored value, if any.
    pub(crate) fn load(&self) -> Option<Arc<T>> {
        self.0.load_full()
    }
}

/// Never sent: the done channel and a deadline's "moved" channel only ever
/// disconnect.
#[derive(Debug)]
pub(crate) enum Never {}
