//! The std side of the switch (see [`super`]): std's atomics, a mutex that
//! ignores poisoning, a cell with loom's closure API, and a write-once atomic
//! pointer for the first close error.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::Arc;

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

    /// Locks, spinning for up to `budget` while another holds it before
    /// waiting asleep as [`Mutex::lock`] does: for a lock held across a
    /// copy of a few microseconds, which std's own spin (about a hundred
    /// looks) does not cover. A waiter asleep in the kernel costs the holder
    /// a wake-up call at its unlock and itself a wake-up's latency (tens of
    /// microseconds when its core has gone idle on a busy machine), and a
    /// stream whose two sides meet there keeps meeting there. Only pauses
    /// between looks, never yields: a task's poll may call it.
    #[inline]
    pub(crate) fn lock_patient(&self, budget: std::time::Duration) -> std::sync::MutexGuard<'_, T> {
        match self.0.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => self.lock_contended(budget),
        }
    }

    /// [`Mutex::lock_patient`] once the lock was found held.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self, budget: std::time::Duration) -> std::sync::MutexGuard<'_, T> {
        let start = std::time::Instant::now();
        // Pauses between two tries: doubling up to 64, so that the tries do
        // not take the lock's cache line from the holder at every pause.
        let mut pauses = 1u32;
        loop {
            for _ in 0..pauses {
                std::hint::spin_loop();
            }
            match self.0.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if pauses < 64 {
                pauses *= 2;
            } else if start.elapsed() >= budget {
                return self.lock();
            }
        }
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

/// `make()` in a fresh `Arc`, built in the allocation where the optimiser
/// can (a pipe's state is a few KiB: built on the stack and then copied into
/// the `Arc`, it cost more than the rest of a short connection's setup).
#[inline(always)]
pub(crate) fn arc_in_place<T>(make: impl FnOnce() -> T) -> Arc<T> {
    let mut fresh = Arc::<T>::new_uninit();
    Arc::get_mut(&mut fresh)
        .expect("a fresh Arc is unique")
        .write(make());
    // SAFETY: `assume_init` needs the value initialised: `write` above
    // initialised it, through the only handle on this fresh `Arc` (so no
    // other could see it before).
    unsafe { fresh.assume_init() }
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
/// A write-once atomic pointer: null while empty, then the first value
/// stored, never replaced or cleared, so a reference read through `&self`
/// stays valid for as long as that borrow ([`ErrorSlot::with`]). The value
/// is either a `&'static T` ([`ErrorSlot::set_first_static`]: a pipe's
/// common closes store one of two constant causes and allocate nothing) or a
/// `Box<T>` the slot owns until it drops ([`ErrorSlot::set_first`]), told
/// apart by the pointer's lowest bit ([`OWNED`]; `T`'s alignment is at
/// least 2, checked at compile time). (This is the shipping build's slot;
/// the design's reference mechanism, an `arc_swap::ArcSwapOption`
/// compare-and-swap from `None`, cost a walk over every thread's debt list
/// at each store and at each slot's drop plus an `Arc` per close, about
/// 2,500 instructions per connection of an in-memory network.)
///
/// Every access is `SeqCst`: a store is in the single order with the task
/// counts a close then looks at (`TaskBells::wake_every`), so a task that
/// registers and then looks at the slot, and a closer that stores and then
/// looks at the counts, cannot miss each other.
pub(crate) struct ErrorSlot<T: 'static>(
    std::sync::atomic::AtomicPtr<T>,
    // The slot may own a `Box<T>` and hands out `&T` to every thread: `Send`
    // and `Sync` as that box is.
    std::marker::PhantomData<Box<T>>,
);

/// The bit of an [`ErrorSlot`]'s pointer that marks a value the slot owns
/// (a leaked `Box`); clear for a `&'static` one.
const OWNED: usize = 1;

impl<T: 'static> ErrorSlot<T> {
    /// The pointer's low bit is free for [`OWNED`].
    const ALIGNED: () = assert!(std::mem::align_of::<T>() > OWNED);

    /// An empty slot.
    pub(crate) fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::ALIGNED;
        Self(
            std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
            std::marker::PhantomData,
        )
    }

    /// Stores `value` if the slot is still empty; returns whether it did.
    pub(crate) fn set_first(&self, value: T) -> bool {
        if self.is_set() {
            return false;
        }
        let owned = Box::into_raw(Box::new(value));
        if self.publish(owned.map_addr(|addr| addr | OWNED)) {
            return true;
        }
        // SAFETY: `owned` is the `Box::into_raw` made just above and was
        // never published (the exchange failed): its only owner frees it.
        drop(unsafe { Box::from_raw(owned) });
        false
    }

    /// Stores `value`, a constant, if the slot is still empty; returns
    /// whether it did. Allocates nothing.
    pub(crate) fn set_first_static(&self, value: &'static T) -> bool {
        !self.is_set() && self.publish(std::ptr::from_ref(value).cast_mut())
    }

    /// Publishes `stored` (tagged, see the type) if the slot is still empty.
    fn publish(&self, stored: *mut T) -> bool {
        // ORDERING: SeqCst: releases the value to every load that finds it,
        // and is in the single order with the task counts (see the type).
        self.0
            .compare_exchange(
                std::ptr::null_mut(),
                stored,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
    }

    /// Whether a value is stored.
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        // ORDERING: SeqCst, as every access (see the type).
        !self.0.load(Ordering::SeqCst).is_null()
    }

    /// Runs `f` with the stored value, if any.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        // ORDERING: SeqCst: acquires the value the store released.
        let stored = self.0.load(Ordering::SeqCst);
        if stored.is_null() {
            return f(None);
        }
        // SAFETY: a non-null pointer, untagged, is a `&'static T` or the
        // slot's own box, which only `Drop` (with `&mut self`, so not while
        // this borrow lives) frees, and which nothing writes after its
        // publication: a shared reference for this borrow is sound.
        f(Some(unsafe { &*stored.map_addr(|addr| addr & !OWNED) }))
    }
}

impl<T: 'static> Drop for ErrorSlot<T> {
    fn drop(&mut self) {
        let stored = *self.0.get_mut();
        if stored.addr() & OWNED != 0 {
            // SAFETY: tagged, so the slot's own `Box::into_raw` (see the
            // type), freed once: nothing can read the slot any more
            // (`&mut self`).
            drop(unsafe { Box::from_raw(stored.map_addr(|addr| addr & !OWNED)) });
        }
    }
}

/// Never sent: the done channel and a deadline's "moved" channel only ever
/// disconnect.
#[derive(Debug)]
pub(crate) enum Never {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Mutex;

    /// `lock_patient` excludes as `lock` does, whether it gets the lock
    /// while spinning (a long budget) or falls back to the blocking lock (no
    /// budget), and ignores poisoning as `lock` does.
    #[test]
    fn a_patient_lock_excludes_and_ignores_poison() {
        let m = Arc::new(Mutex::new(0u64));
        let adders: Vec<_> = [Duration::ZERO, Duration::from_millis(1)]
            .into_iter()
            .map(|budget| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        // Read, then write: an overlap of two holders loses
                        // an increment.
                        let mut g = m.lock_patient(budget);
                        let seen = *g;
                        *g = seen + 1;
                    }
                })
            })
            .collect();
        for adder in adders {
            adder.join().expect("adder panicked");
        }
        assert_eq!(*m.lock(), 200_000);
        let poisoner = Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let _held = poisoner.0.lock();
            panic!("poisons the mutex on purpose");
        })
        .join();
        assert!(m.0.is_poisoned());
        *m.lock_patient(Duration::ZERO) += 1;
        assert_eq!(*m.lock_patient(Duration::from_millis(1)), 200_001);
    }
}
