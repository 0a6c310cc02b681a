//! The loom side of the switch (see [`super`]): loom's atomics, mutex and
//! cell, which loom tracks, and a mutex for the first close error (loom
//! cannot see inside `arc-swap`).

pub(crate) use loom::cell::UnsafeCell;
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use loom::sync::Arc;

/// Loom twin of the std build's poison-ignoring mutex.
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

impl<T> Mutex<T> {
    /// Wraps `value`.
    pub(crate) fn new(value: T) -> Self {
        Self(loom::sync::Mutex::new(value))
    }

    /// Locks, waiting for the holder if there is one.
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Loom twin of the std build's poison-ignoring condition variable.
#[derive(Debug)]
pub(crate) struct Condvar(loom::sync::Condvar);

impl Condvar {
    /// No thread waits.
    pub(crate) fn new() -> Self {
        Self(loom::sync::Condvar::new())
    }

    /// Releases `guard`, sleeps until notified, and locks again.
    pub(crate) fn wait<'a, T>(
        &self,
        guard: loom::sync::MutexGuard<'a, T>,
    ) -> loom::sync::MutexGuard<'a, T> {
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

/// loom treats `SeqCst` loads and stores as `AcqRel` but models `SeqCst`
/// fences: a fence before a waiter's first look, and one before a
/// notifier's look at the waiters, restore the single order the real build
/// relies on (see `Signals::sleepers`).
pub(crate) fn loom_sc_fence() {
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// An error slot that keeps the first value stored in it (loom twin: a mutex).
pub(crate) struct ErrorSlot<T>(Mutex<Option<std::sync::Arc<T>>>);

impl<T> ErrorSlot<T> {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Stores `value` if the slot is still empty; returns whether it did.
    pub(crate) fn set_first(&self, value: T) -> bool {
        let mut slot = self.0.lock();
        if slot.is_some() {
            return false;
        }
        *slot = Some(std::sync::Arc::new(value));
        true
    }

    /// The stored value, if any.
    pub(crate) fn load(&self) -> Option<std::sync::Arc<T>> {
        self.0.lock().clone()
    }
}
