//! The loom side of the switch (see [`super`]): loom's atomics, mutex and
//! cell, which loom tracks, and a mutex for the first close error (the std
//! build's write-once raw pointer, to a box or a constant, is nothing loom
//! tracks).

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

    /// The std build's spinning lock: under loom a plain lock (a spin would
    /// only multiply the interleavings, as loom's spins are single looks).
    pub(crate) fn lock_patient(
        &self,
        _budget: std::time::Duration,
    ) -> loom::sync::MutexGuard<'_, T> {
        self.lock()
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

/// `make()` in a fresh `Arc` (the std build's builds it in place).
pub(crate) fn arc_in_place<T>(make: impl FnOnce() -> T) -> Arc<T> {
    Arc::new(make())
}

/// An error slot that keeps the first value stored in it (loom twin: a mutex
/// over a box or a constant; the closure of [`ErrorSlot::with`] runs under
/// it, and only ever builds an error from the value).
pub(crate) struct ErrorSlot<T: 'static>(Mutex<Option<Stored<T>>>);

/// A stored value of the twin [`ErrorSlot`].
enum Stored<T: 'static> {
    /// A constant.
    Static(&'static T),
    /// Any other.
    Owned(Box<T>),
}

impl<T: 'static> ErrorSlot<T> {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Stores `value` if the slot is still empty; returns whether it did.
    pub(crate) fn set_first(&self, value: T) -> bool {
        self.store(Stored::Owned(Box::new(value)))
    }

    /// Stores `value`, a constant, if the slot is still empty; returns
    /// whether it did.
    pub(crate) fn set_first_static(&self, value: &'static T) -> bool {
        self.store(Stored::Static(value))
    }

    /// Stores `value` if the slot is still empty.
    fn store(&self, value: Stored<T>) -> bool {
        let mut slot = self.0.lock();
        if slot.is_some() {
            return false;
        }
        *slot = Some(value);
        true
    }

    /// Whether a value is stored.
    pub(crate) fn is_set(&self) -> bool {
        self.0.lock().is_some()
    }

    /// Runs `f` with the stored value, if any.
    pub(crate) fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        let slot = self.0.lock();
        f(slot.as_ref().map(|stored| match stored {
            Stored::Static(value) => *value,
            Stored::Owned(value) => &**value,
        }))
    }
}
