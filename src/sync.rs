//! The primitives the pipe's protocol is written against.
//!
//! Everything that synchronises threads inside the crate comes from here, so that
//! one cfg switch swaps the whole set: the normal build uses std's atomics,
//! `crossbeam-channel` for blocking and closure, `crossbeam-utils` for spinning and
//! `arc-swap` for the close errors; a build with `--cfg gopipe_loom` gets twins of
//! the same API built on `loom`, which cannot see inside `crossbeam-channel` or
//! `arc-swap`. The protocol in `engine/fast.rs` is therefore the same text in both
//! builds, and loom checks the engine that ships.
//!
//! The API offered on both sides:
//! - `Arc`, `AtomicBool`, `AtomicUsize`, `AtomicU64`, `Ordering`;
//! - `UnsafeCell<T>` with `with`/`with_mut` closures (loom tracks every access);
//! - `ErrorSlot<T>`: an optional `Arc<T>` that only the first store fills;
//! - `Signals`: the done channel (closed once) plus six doorbells that a parked
//!   thread waits on, together with the done channel and an optional deadline;
//! - `Deadline` and `spin_until`: the spin-then-park policy's clock.

#[cfg(not(gopipe_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use std::sync::Arc;

    use std::cell::Cell;
    use std::time::{Duration, Instant};

    use arc_swap::ArcSwapOption;
    use crossbeam_channel::{bounded, select, Receiver, Sender};

    use super::{Bell, Park, TaskBells, BELLS};

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

    /// The instant deadlines are counted from (the first use in the process).
    fn epoch() -> Instant {
        static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    /// A half's absolute deadline, which may move while calls are blocked: a
    /// change wakes every thread parked on that half so that it looks again.
    ///
    /// `at` holds nanoseconds after [`epoch`] plus one (`0`: none). `moved` is
    /// a channel nobody sends on: a change replaces it, and dropping the old
    /// sender wakes every `select!` holding the old receiver. A parked thread
    /// takes its receiver before it reads `at`, so a change after its read
    /// always reaches it.
    pub(crate) struct AbsDeadline {
        /// The deadline, encoded as above.
        at: AtomicU64,
        /// The current "moved" channel.
        moved: Mutex<(Sender<Never>, Receiver<Never>)>,
    }

    impl AbsDeadline {
        /// No deadline.
        pub(crate) fn new() -> Self {
            Self {
                at: AtomicU64::new(0),
                moved: Mutex::new(bounded(0)),
            }
        }

        /// Sets (or clears) the deadline, and wakes the threads parked under
        /// the old one.
        pub(crate) fn set(&self, at: Option<Instant>) {
            let encoded = match at {
                None => 0,
                // An instant before the epoch is in the past all the same.
                Some(at) => u64::try_from(at.saturating_duration_since(epoch()).as_nanos())
                    .unwrap_or(u64::MAX - 1)
                    .saturating_add(1),
            };
            // ORDERING: stored before the channel is replaced (under the
            // mutex): a parked thread woken by the old channel, or one that
            // takes the new receiver, then reads this value.
            self.at.store(encoded, Ordering::SeqCst);
            let fresh = bounded(0);
            drop(std::mem::replace(&mut *self.moved.lock(), fresh));
        }

        /// The deadline, if one is set.
        pub(crate) fn get(&self) -> Option<Instant> {
            // ORDERING: a deadline is a plain value; waits that must see a
            // change are woken through `moved`.
            match self.at.load(Ordering::Relaxed) {
                0 => None,
                n => epoch().checked_add(Duration::from_nanos(n - 1)),
            }
        }

        /// The receiver a parked thread watches.
        fn receiver(&self) -> Receiver<Never> {
            self.moved.lock().1.clone()
        }
    }

    /// When a blocking wait gives up: a fixed instant (from the half's
    /// timeout, taken when the call started), the half's absolute deadline as
    /// it is now, whichever comes first.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Deadline {
        /// From the timeout.
        fixed: Option<Instant>,
        /// The half's absolute deadline, or null.
        ///
        /// # Safety
        ///
        /// Points into the pipe's `Shared`, which the call that made this
        /// `Deadline` (`Shared::read` and the like, through
        /// [`Deadline::with_half`]) keeps alive: a `Deadline` never outlives the
        /// call it was made for.
        half: *const AbsDeadline,
    }

    impl Deadline {
        /// A deadline `nanos` from now, or none for `0` (no timeout set).
        #[inline]
        pub(crate) fn after_nanos(nanos: u64) -> Self {
            let fixed = if nanos == 0 {
                None
            } else {
                // A timeout too far away to be represented never expires.
                Instant::now().checked_add(Duration::from_nanos(nanos))
            };
            Self {
                fixed,
                half: std::ptr::null(),
            }
        }

        /// This deadline, and `half`'s absolute one (read at every look).
        ///
        /// # Safety
        ///
        /// The returned `Deadline` must not outlive `half` (see
        /// `Deadline::half`).
        #[inline]
        pub(crate) unsafe fn with_half(self, half: &AbsDeadline) -> Self {
            Self {
                fixed: self.fixed,
                half,
            }
        }

        /// No deadline: wait as long as it takes.
        pub(crate) const fn never() -> Self {
            Self {
                fixed: None,
                half: std::ptr::null(),
            }
        }

        /// The half's absolute deadline, if this one has a half.
        #[inline]
        fn half(&self) -> Option<&AbsDeadline> {
            // SAFETY: non-null only when made by `with_half`, whose caller
            // keeps the half alive for as long as this `Deadline` (`half`).
            unsafe { self.half.as_ref() }
        }

        /// Whether this deadline can expire at all (for a wait that must not
        /// give up: no timeout and no half).
        pub(crate) fn is_never(&self) -> bool {
            self.fixed.is_none() && self.half.is_null()
        }

        /// The instant it expires at now, if any.
        #[inline]
        pub(crate) fn instant(&self) -> Option<Instant> {
            match (self.fixed, self.half().and_then(AbsDeadline::get)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }

        /// Whichever of the two deadlines comes first (the half of `self` is
        /// kept; `other` is a fixed one).
        pub(crate) fn earlier(self, other: Deadline) -> Self {
            let fixed = match (self.fixed, other.fixed) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Self {
                fixed,
                half: self.half,
            }
        }

        /// Whether the deadline has passed.
        #[inline]
        pub(crate) fn passed(&self) -> bool {
            if self.is_never() {
                return false;
            }
            self.instant().is_some_and(|at| Instant::now() >= at)
        }

        /// `spin`, cut to what is left before the deadline: spinning counts
        /// against it like any other wait.
        #[inline]
        pub(crate) fn budget(&self, spin: Duration) -> Duration {
            if self.is_never() {
                return spin;
            }
            match self.instant() {
                None => spin,
                Some(at) => spin.min(at.saturating_duration_since(Instant::now())),
            }
        }
    }

    /// How long a waiter puts up with losing a lock to others before it asks
    /// for a hand-off: a fixed time from its start.
    pub(crate) struct Patience(Instant);

    impl Patience {
        /// Patience that runs out `span` from now.
        pub(crate) fn new(span: Duration) -> Self {
            Self(Instant::now() + span)
        }

        /// When it runs out, as a deadline for a park.
        pub(crate) fn deadline(&self) -> Deadline {
            Deadline {
                fixed: Some(self.0),
                half: std::ptr::null(),
            }
        }

        /// Whether it has run out.
        pub(crate) fn exhausted(&self) -> bool {
            Instant::now() >= self.0
        }

        /// A wake-up that may have been lost to another thread (the std build
        /// counts time, not wake-ups).
        pub(crate) fn lost_one(&mut self) {}
    }

    thread_local! {
        /// Whether this thread's last yield in [`spin_until`] let another
        /// thread run on its core.
        static CROWDED: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether this thread's last spin found its core shared with a running
    /// thread (most likely its partner in the hand-off).
    #[inline]
    pub(crate) fn core_crowded() -> bool {
        CROWDED.with(Cell::get)
    }

    /// Spins until `ready()` returns true or `budget` has passed; returns the last
    /// answer of `ready()`.
    ///
    /// The loop pauses with `spin_loop` between checks and gives the core away
    /// (`yield_now`) now and then: first after half a microsecond, then every
    /// couple of microseconds. A yield that took long means another thread ran
    /// on this core, most likely the partner we are waiting for (both threads on
    /// one core); from then on the loop yields at every check, so that the
    /// partner gets the core at once instead of after a wasted spin.
    #[inline]
    pub(crate) fn spin_until(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
        /// Checks between two looks at the clock.
        const CHECKS_PER_CLOCK: u32 = 16;
        /// When to yield the first time.
        const FIRST_YIELD: Duration = Duration::from_nanos(500);
        /// How long to spin between two yields while the core looks free.
        const YIELD_EVERY: Duration = Duration::from_micros(2);
        /// A yield that took longer than this let another thread run here.
        const CROWDED_YIELD: Duration = Duration::from_micros(1);

        if ready() {
            return true;
        }
        let start = Instant::now();
        let mut next_yield = FIRST_YIELD;
        // A thread whose last spin found its core crowded starts out yielding:
        // its partner most likely shares the core still, and spinning for a
        // partner that is not running only delays it. One quick yield clears
        // the mark when the partner has a core of its own again.
        let mut crowded = CROWDED.with(Cell::get);
        loop {
            if !crowded {
                for _ in 0..CHECKS_PER_CLOCK {
                    std::hint::spin_loop();
                    if ready() {
                        return true;
                    }
                }
            }
            let spent = start.elapsed();
            if spent >= budget {
                return ready();
            }
            if crowded || spent >= next_yield {
                std::thread::yield_now();
                let after = start.elapsed();
                // Saturating: std does not promise that `Instant` never steps
                // back, and a panic here would unwind through a hand-off.
                crowded = after.saturating_sub(spent) > CROWDED_YIELD;
                CROWDED.with(|c| c.set(crowded));
                next_yield = after + YIELD_EVERY;
                if ready() {
                    return true;
                }
            }
        }
    }

    /// Never sent: the done channel only ever disconnects.
    #[derive(Debug)]
    pub(crate) enum Never {}

    /// The done channel and the doorbells parked threads wait on.
    ///
    /// `done` is a channel nobody sends on; closing the pipe drops its only
    /// sender, exactly once, which wakes every `select!` that includes it. Each
    /// doorbell is a `bounded(1)` channel of tokens: ringing leaves at most one
    /// token, and a parked thread waits in `select!` for a token, the done
    /// channel and its deadline. `sleepers` counts the threads registered on each
    /// doorbell, so that the fast path rings only when someone may be asleep.
    pub(crate) struct Signals {
        /// Set once, just before the done channel is closed; the fast path reads it.
        closed: crossbeam_utils::CachePadded<AtomicBool>,
        /// The sender of the done channel; `None` once closed.
        done_tx: Mutex<Option<Sender<Never>>>,
        /// The receiving end of the done channel, cloned by nobody.
        done_rx: Receiver<Never>,
        /// One doorbell per kind of wait.
        bells: [(Sender<()>, Receiver<()>); BELLS],
        /// Threads registered (about to park, or parked) on each doorbell.
        sleepers: crossbeam_utils::CachePadded<[AtomicUsize; BELLS]>,
        /// Tasks waiting on each doorbell (the async halves).
        tasks: TaskBells,
    }

    impl Signals {
        /// Open signals: done not closed, no tokens, no sleepers.
        pub(crate) fn new() -> Self {
            let (done_tx, done_rx) = bounded(0);
            Self {
                closed: crossbeam_utils::CachePadded::new(AtomicBool::new(false)),
                done_tx: Mutex::new(Some(done_tx)),
                done_rx,
                bells: std::array::from_fn(|_| bounded(1)),
                sleepers: crossbeam_utils::CachePadded::new(std::array::from_fn(|_| {
                    AtomicUsize::new(0)
                })),
                tasks: TaskBells::new(),
            }
        }

        /// Registers a task's waker on `bell` under `slot`'s place until the
        /// next ring of it (or the close); the task must look at the state
        /// again afterwards, before it returns `Pending` (see `TaskBells`).
        #[inline]
        pub(crate) fn register_task(
            &self,
            bell: Bell,
            slot: &super::TaskSlot,
            waker: &std::task::Waker,
        ) {
            self.tasks.register(bell, slot, waker);
        }

        /// Gives back `slot`'s place in the task lists (its handle drops).
        pub(crate) fn release_task_slot(&self, slot: &super::TaskSlot) {
            self.tasks.release(slot);
        }

        /// How many task wakers the pipe holds.
        pub(crate) fn task_wakers_held(&self) -> usize {
            self.tasks.held()
        }

        /// Wakes every waiting task: a half closed after the done channel
        /// already was (by the other half), which a task may wait for (a
        /// `consumed` waits for the read half's close).
        pub(crate) fn wake_all_tasks(&self) {
            self.tasks.wake_all();
        }

        /// Nothing: in this build a half's deadline wakes its parked threads
        /// itself (`AbsDeadline::set`).
        #[inline(always)]
        pub(crate) fn deadline_moved(&self) {}

        /// Whether the done channel has been closed.
        #[inline]
        pub(crate) fn is_closed(&self) -> bool {
            self.closed.load(Ordering::SeqCst)
        }

        /// Closes the done channel; only the first call does anything.
        ///
        /// Returns whether this call was the one that closed it.
        pub(crate) fn close(&self) -> bool {
            // Under the mutex, so that a second close returns only once the first
            // has finished, as Go's `sync.Once` does: after any close returns, the
            // done channel is closed.
            let mut tx = self.done_tx.lock();
            if tx.is_none() {
                return false;
            }
            // ORDERING: SeqCst, before the done channel disconnects, so that a
            // waiter that saw `closed == false` is parked in a `select!` that
            // includes the done channel, which the drop below then wakes.
            self.closed.store(true, Ordering::SeqCst);
            drop(tx.take());
            drop(tx);
            // Tasks have no done channel to watch: wake every one of them (a
            // task that registers after this sees `closed` on its next look).
            self.tasks.wake_all();
            true
        }

        /// The done channel, for engines that `select!` on it directly.
        #[cfg_attr(not(feature = "__reference-engine"), allow(dead_code))]
        pub(crate) fn done(&self) -> &Receiver<Never> {
            &self.done_rx
        }

        /// Whether any thread or task is registered on `bell` (parked or
        /// about to park).
        #[inline]
        pub(crate) fn has_sleepers(&self, bell: Bell) -> bool {
            self.sleepers(bell) != 0 || self.tasks.any(bell)
        }

        /// How many threads are registered on `bell`.
        pub(crate) fn sleepers(&self, bell: Bell) -> usize {
            self.sleepers[bell as usize].load(Ordering::SeqCst)
        }

        /// Wakes a thread parked on `bell`, if any may be, and every task
        /// waiting on it.
        ///
        /// The caller must have made its change visible with a `SeqCst`
        /// operation before calling this.
        #[inline]
        pub(crate) fn notify(&self, bell: Bell) {
            self.notify_threads(bell);
            self.tasks.wake(bell);
        }

        /// Wakes a thread parked on `bell`, if any may be, and no task: for
        /// changes only a thread can use (a slot free to lend a buffer over:
        /// tasks never lend).
        #[inline]
        pub(crate) fn notify_threads(&self, bell: Bell) {
            if self.sleepers(bell) != 0 {
                // ORDERING: a full doorbell already holds a token that will wake
                // someone, who then looks at the state again. That look must see
                // the caller's change although nothing else links the two
                // threads: this fence, with the SeqCst operations the token's
                // taker performs on the channel, orders it (slow path only).
                std::sync::atomic::fence(Ordering::SeqCst);
                let _ = self.bells[bell as usize].0.try_send(());
            }
        }

        /// Registers the calling thread on `bell` for the duration of `f`.
        #[inline]
        pub(crate) fn registered<R>(&self, bell: Bell, f: impl FnOnce() -> R) -> R {
            self.sleepers[bell as usize].fetch_add(1, Ordering::SeqCst);
            let result = f();
            self.sleepers[bell as usize].fetch_sub(1, Ordering::SeqCst);
            result
        }

        /// Parks until a token arrives on `bell`, the done channel closes (when
        /// `watch_done`) or the deadline passes. Without `watch_done` it waits for
        /// a token or the deadline only (a wait that a close must not end: a
        /// writer's wait for a reader copying from its lease, with
        /// [`Deadline::never`], or a read on a closed pipe waiting for a drain
        /// claim to end, with its own deadline).
        ///
        /// Call only while registered on `bell` (see [`Signals::registered`]).
        pub(crate) fn park(&self, bell: Bell, deadline: Deadline, watch_done: bool) -> Park {
            let rx = &self.bells[bell as usize].1;
            if !watch_done && deadline.is_never() {
                // The signals hold the sender, so this cannot disconnect.
                let _ = rx.recv();
                return Park::Rung;
            }
            let unwatched;
            let done = if watch_done {
                &self.done_rx
            } else {
                unwatched = crossbeam_channel::never();
                &unwatched
            };
            // Taken before the deadline is read: a move after the read wakes
            // us (the caller then looks again, and reads the new deadline).
            let moved = deadline.half().map(AbsDeadline::receiver);
            let at = deadline.instant();
            // A passed deadline wins over a waiting token: the caller looked
            // at the state before it parked, and a stream of tokens must not
            // keep a timed wait going for ever.
            if at.is_some_and(|at| Instant::now() >= at) {
                return Park::TimedOut;
            }
            // A move of the deadline reads as a ring: look again.
            match (moved, at) {
                (None, None) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                },
                (None, Some(at)) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                    default(at.saturating_duration_since(Instant::now())) => Park::TimedOut,
                },
                (Some(moved), None) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                    recv(moved) -> _ => Park::Rung,
                },
                (Some(moved), Some(at)) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                    recv(moved) -> _ => Park::Rung,
                    default(at.saturating_duration_since(Instant::now())) => Park::TimedOut,
                },
            }
        }
    }
}

#[cfg(gopipe_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::Arc;

    use loom::sync::Condvar;
    use std::time::Duration;

    use super::{Bell, Park, TaskBells, BELLS};

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

    /// Whether a wait has a deadline. Loom has no clock: a wait with a deadline
    /// gives up at the first point where it would have to sleep, and loom explores
    /// every place that point can fall relative to the other threads.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Deadline {
        /// Whether a timeout was set when the call started.
        fixed: bool,
        /// The half's absolute deadline, or null (see the std build's
        /// `Deadline::half` for the lifetime rule).
        half: *const AbsDeadline,
    }

    impl Deadline {
        /// A deadline, unless `nanos` is `0` (no timeout set).
        pub(crate) fn after_nanos(nanos: u64) -> Self {
            Self {
                fixed: nanos != 0,
                half: std::ptr::null(),
            }
        }

        /// No deadline.
        pub(crate) const fn never() -> Self {
            Self {
                fixed: false,
                half: std::ptr::null(),
            }
        }

        /// Whichever comes first: a deadline if either has one (the half of
        /// `self` is kept).
        pub(crate) fn earlier(self, other: Deadline) -> Self {
            Self {
                fixed: self.fixed || other.fixed,
                half: self.half,
            }
        }

        /// This deadline and `half`'s, which is looked at every time a wait
        /// would sleep.
        ///
        /// # Safety
        ///
        /// The returned `Deadline` must not outlive `half`.
        pub(crate) unsafe fn with_half(self, half: &AbsDeadline) -> Self {
            Self {
                fixed: self.fixed,
                half,
            }
        }

        /// Whether a wait that would sleep now gives up instead: a timeout was
        /// set, or the half's deadline is set now (loom has no clock, so a
        /// set deadline is one that has passed by the time anyone sleeps).
        fn fires(&self) -> bool {
            // SAFETY: as in the std build, the half outlives this deadline.
            self.fixed || unsafe { self.half.as_ref() }.is_some_and(AbsDeadline::is_set)
        }

        /// Loom has no clock: a deadline only fires where a wait would sleep
        /// (in `Signals::park`), never in the middle of a loop.
        pub(crate) fn passed(&self) -> bool {
            false
        }

        /// Spins are a single look under loom.
        pub(crate) fn budget(&self, spin: Duration) -> Duration {
            spin
        }
    }

    /// Loom twin of a half's absolute deadline: whether one is set. A change
    /// wakes the parked threads through `Signals::deadline_moved`.
    pub(crate) struct AbsDeadline(AtomicBool);

    impl AbsDeadline {
        /// No deadline.
        pub(crate) fn new() -> Self {
            Self(AtomicBool::new(false))
        }

        /// Sets or clears it.
        pub(crate) fn set(&self, at: Option<std::time::Instant>) {
            // ORDERING: SeqCst, before the caller wakes the parked threads,
            // which then read it under the signals' lock.
            self.0.store(at.is_some(), Ordering::SeqCst);
        }

        /// Whether one is set.
        fn is_set(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// Loom twin of the std `Patience`: loom has no clock, so patience runs out
    /// once a waiter was woken and then lost the lock to another thread, the
    /// event that time stands for in the real build.
    pub(crate) struct Patience(u32);

    impl Patience {
        /// Fresh patience.
        pub(crate) fn new(_span: Duration) -> Self {
            Self(0)
        }

        /// Never fires on its own under loom.
        pub(crate) fn deadline(&self) -> Deadline {
            Deadline::never()
        }

        /// Whether a wake-up was lost.
        pub(crate) fn exhausted(&self) -> bool {
            self.0 > 0
        }

        /// Counts a wake-up that did not get the lock.
        pub(crate) fn lost_one(&mut self) {
            self.0 += 1;
        }
    }

    /// Loom has no cores: never crowded, so loom explores both a reader that
    /// finds an offer during its single look and one that lends.
    pub(crate) fn core_crowded() -> bool {
        false
    }

    /// Under loom a spin is a single look: every further iteration would only
    /// multiply the interleavings loom has to explore, and parking covers the
    /// same outcomes.
    pub(crate) fn spin_until(_budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
        ready()
    }

    /// The state behind the loom twin of [`Signals`].
    struct Board {
        /// A pending token per doorbell.
        tokens: [bool; BELLS],
        /// Whether the done channel is closed.
        done: bool,
    }

    /// Loom twin of the done channel and doorbells: one mutex and condvar.
    pub(crate) struct Signals {
        /// Set once, before `board.done`; the fast path reads it.
        closed: AtomicBool,
        /// Tokens and the done flag.
        board: Mutex<Board>,
        /// Notified on every token and on close.
        changed: Condvar,
        /// Threads registered on each doorbell.
        sleepers: [AtomicUsize; BELLS],
        /// Tasks waiting on each doorbell.
        tasks: TaskBells,
    }

    impl Signals {
        /// Open signals.
        pub(crate) fn new() -> Self {
            Self {
                closed: AtomicBool::new(false),
                board: Mutex::new(Board {
                    tokens: [false; BELLS],
                    done: false,
                }),
                changed: Condvar::new(),
                sleepers: std::array::from_fn(|_| AtomicUsize::new(0)),
                tasks: TaskBells::new(),
            }
        }

        /// Registers a task's waker on `bell` (see the std build).
        pub(crate) fn register_task(
            &self,
            bell: Bell,
            slot: &super::TaskSlot,
            waker: &std::task::Waker,
        ) {
            self.tasks.register(bell, slot, waker);
        }

        /// Gives back `slot`'s place in the task lists (see the std build).
        pub(crate) fn release_task_slot(&self, slot: &super::TaskSlot) {
            self.tasks.release(slot);
        }

        /// How many task wakers the pipe holds.
        pub(crate) fn task_wakers_held(&self) -> usize {
            self.tasks.held()
        }

        /// Wakes every waiting task (see the std build).
        pub(crate) fn wake_all_tasks(&self) {
            self.tasks.wake_all();
        }

        /// Wakes every parked thread to look at a half's deadline again.
        pub(crate) fn deadline_moved(&self) {
            drop(self.board.lock());
            self.changed.notify_all();
        }

        /// Whether done has been closed.
        pub(crate) fn is_closed(&self) -> bool {
            self.closed.load(Ordering::SeqCst)
        }

        /// Closes done once; returns whether this call closed it. As in the std
        /// build, a second close returns only once the first has finished.
        pub(crate) fn close(&self) -> bool {
            let mut board = self.board.lock();
            if board.done {
                return false;
            }
            self.closed.store(true, Ordering::SeqCst);
            board.done = true;
            drop(board);
            self.changed.notify_all();
            self.tasks.wake_all();
            true
        }

        /// Whether any thread or task is registered on `bell`.
        pub(crate) fn has_sleepers(&self, bell: Bell) -> bool {
            self.sleepers(bell) != 0 || self.tasks.any(bell)
        }

        /// How many threads are registered on `bell`.
        pub(crate) fn sleepers(&self, bell: Bell) -> usize {
            // ORDERING: loom treats `SeqCst` loads and stores as `AcqRel` (see
            // "Unsupported features" in loom's README), so on its own it would let
            // this load and a waiter's look at the state both miss the other's
            // write: the store-buffering outcome that the real build's `SeqCst`
            // accesses rule out. loom does model `SeqCst` fences; this one, with
            // the one in `registered`, restores that single order. (So loom checks
            // the protocol given `SeqCst` there; it cannot check the orderings.)
            loom::sync::atomic::fence(Ordering::SeqCst);
            self.sleepers[bell as usize].load(Ordering::SeqCst)
        }

        /// Leaves a token on `bell` if a thread may be parked there, and wakes
        /// the tasks waiting on it.
        pub(crate) fn notify(&self, bell: Bell) {
            self.notify_threads(bell);
            self.tasks.wake(bell);
        }

        /// Leaves a token on `bell` if a thread may be parked there, waking
        /// no task (see the std build).
        pub(crate) fn notify_threads(&self, bell: Bell) {
            if self.sleepers(bell) != 0 {
                self.board.lock().tokens[bell as usize] = true;
                self.changed.notify_all();
            }
        }

        /// Registers the calling thread on `bell` for the duration of `f`.
        pub(crate) fn registered<R>(&self, bell: Bell, f: impl FnOnce() -> R) -> R {
            self.sleepers[bell as usize].fetch_add(1, Ordering::SeqCst);
            // ORDERING: the other half of the fence in `has_sleepers`: `f`'s first
            // look at the state cannot miss a change whose author then missed
            // this registration.
            loom::sync::atomic::fence(Ordering::SeqCst);
            let result = f();
            self.sleepers[bell as usize].fetch_sub(1, Ordering::SeqCst);
            result
        }

        /// Parks until a token, done (when `watch_done`) or the deadline (see
        /// the std build).
        pub(crate) fn park(&self, bell: Bell, deadline: Deadline, watch_done: bool) -> Park {
            let mut board = self.board.lock();
            loop {
                if board.tokens[bell as usize] {
                    board.tokens[bell as usize] = false;
                    return Park::Rung;
                }
                if watch_done && board.done {
                    return Park::Closed;
                }
                if deadline.fires() {
                    return Park::TimedOut;
                }
                board = self.changed.wait(board).unwrap();
            }
        }
    }
}

pub(crate) use imp::*;

/// How many doorbells [`Signals`] has.
const BELLS: usize = 6;

/// Where a task that polls through one handle keeps its waker: a place of
/// its own in every bell's list, taken at the handle's first `Pending` poll
/// and given back when the handle drops (a pipe used only by threads never
/// takes one). A pending `consumed` future has one of its own too.
///
/// `0` while none was taken, else the index plus one.
#[derive(Debug, Default)]
pub(crate) struct TaskSlot(std::sync::atomic::AtomicUsize);

impl TaskSlot {
    /// No place taken yet.
    pub(crate) const fn new() -> Self {
        Self(std::sync::atomic::AtomicUsize::new(0))
    }
}

/// How many wakers a bell keeps for tasks that polled through a handle whose
/// place another task took since (several tasks sharing one `&PipeReader`):
/// past this the oldest is woken and dropped (it polls again and takes its
/// place back if it still waits).
const SHARED_HANDLE_WAKERS: usize = 4;

/// One bell's wakers.
#[derive(Default)]
struct Wakers {
    /// The listed wakers, with the place each is listed under.
    listed: Vec<(usize, std::task::Waker)>,
    /// Per place, its index in `listed` plus one (`0`: nothing listed).
    at: Vec<usize>,
    /// Wakers pushed out of their place by another task polling through the
    /// same handle, oldest first; at most [`SHARED_HANDLE_WAKERS`].
    displaced: std::collections::VecDeque<std::task::Waker>,
}

impl Wakers {
    /// How many wakers are held.
    fn len(&self) -> usize {
        self.listed.len() + self.displaced.len()
    }

    /// Removes what place `place` has listed.
    fn unlist(&mut self, place: usize) -> Option<std::task::Waker> {
        let i = self.at.get(place).copied().filter(|&i| i != 0)? - 1;
        self.at[place] = 0;
        let (_, waker) = self.listed.swap_remove(i);
        if let Some(&(moved, _)) = self.listed.get(i) {
            self.at[moved] = i + 1;
        }
        Some(waker)
    }
}

/// The tasks waiting on each doorbell: one waker per place ([`TaskSlot`]) per
/// bell, so that operations that returned `Pending` and were then dropped
/// (their state lives in the caller's future, which cannot tell the pipe)
/// never pile up: the next `Pending` poll through the same handle replaces
/// its waker. A pipe holds at most one waker per bell for each handle that
/// polled and each pending `consumed`, plus [`SHARED_HANDLE_WAKERS`] per bell;
/// registering costs the same however many tasks wait.
///
/// # The rule every async wait follows
///
/// A task that finds nothing to do registers first, then looks again at
/// everything that could have completed it (a close of either half, room in
/// the stage, staged bytes taken, the write side freed) before it returns
/// `Pending`; whoever changes any of those changes it first (`SeqCst`) and
/// rings after. Registering is `SeqCst` on the count before that last look,
/// and a ring looks at the count after its change, so one of the two sees
/// the other (as with the threads' `sleepers`). A ring wakes every task on
/// its bell: a task woken for nothing looks, finds nothing and registers
/// again, while waking only one could spend the wake-up on a task that was
/// dropped. Closing either half wakes every task on every bell.
///
/// No waker is cloned, woken or dropped under a list's lock: that is the
/// executor's code.
struct TaskBells {
    /// Wakers held per bell, so that a ring skips the lock when none is.
    count: [AtomicUsize; BELLS],
    /// The wakers, per bell.
    lists: [Mutex<Wakers>; BELLS],
    /// Places given back, for the next handle that needs one, and how many
    /// were ever handed out.
    places: Mutex<(Vec<usize>, usize)>,
}

impl TaskBells {
    /// No task waits.
    fn new() -> Self {
        Self {
            count: std::array::from_fn(|_| AtomicUsize::new(0)),
            lists: std::array::from_fn(|_| Mutex::new(Wakers::default())),
            places: Mutex::new((Vec::new(), 0)),
        }
    }

    /// The place of `slot`, taking one at its first use.
    fn place(&self, slot: &TaskSlot) -> usize {
        // ORDERING: Relaxed: the place is only an index into lists that are
        // behind locks; a race between two first uses is settled by the CAS.
        match slot.0.load(std::sync::atomic::Ordering::Relaxed) {
            0 => {}
            n => return n - 1,
        }
        let mine = {
            let mut places = self.places.lock();
            match places.0.pop() {
                Some(place) => place,
                None => {
                    places.1 += 1;
                    places.1 - 1
                }
            }
        };
        // ORDERING: as above.
        match slot.0.compare_exchange(
            0,
            mine + 1,
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        ) {
            Ok(_) => mine,
            Err(theirs) => {
                self.places.lock().0.push(mine);
                theirs - 1
            }
        }
    }

    /// Gives `slot`'s place back (its handle or future is going away), with
    /// the wakers it holds.
    fn release(&self, slot: &TaskSlot) {
        // ORDERING: the slot's owner is being dropped: nobody else uses it.
        let place = match slot.0.swap(0, std::sync::atomic::Ordering::Relaxed) {
            0 => return,
            n => n - 1,
        };
        let mut dropped = Vec::new();
        for (bell, list) in self.lists.iter().enumerate() {
            let mut list = list.lock();
            if let Some(waker) = list.unlist(place) {
                self.count[bell].fetch_sub(1, Ordering::SeqCst);
                dropped.push(waker);
            }
        }
        self.places.lock().0.push(place);
        drop(dropped);
    }

    /// Lists `waker` on `bell` under `slot`'s place, in place of what that
    /// place held.
    fn register(&self, bell: Bell, slot: &TaskSlot, waker: &std::task::Waker) {
        let place = self.place(slot);
        let list = self.lists[bell as usize].lock();
        let held = list.at.get(place).copied().unwrap_or(0);
        if held != 0 && list.listed[held - 1].1.will_wake(waker) {
            drop(list);
            loom_sc_fence();
            return;
        }
        // Cloned without the lock: it is the executor's code.
        drop(list);
        let fresh = waker.clone();
        let mut list = self.lists[bell as usize].lock();
        let mut evicted = None;
        let before = list.len();
        match list.at.get(place).copied().unwrap_or(0) {
            0 => {
                if list.at.len() <= place {
                    list.at.resize(place + 1, 0);
                }
                list.listed.push((place, fresh));
                let i = list.listed.len();
                list.at[place] = i;
            }
            i => {
                let old = std::mem::replace(&mut list.listed[i - 1].1, fresh);
                // Another task polled through the same handle: keep the one it
                // pushed out for a while (both may still wait).
                list.displaced.push_back(old);
                if list.displaced.len() > SHARED_HANDLE_WAKERS {
                    evicted = list.displaced.pop_front();
                }
            }
        }
        let after = list.len();
        // ORDERING: SeqCst, before the task's next look at the state (paired
        // with a ring's look at the count in `any`); under the lock, so the
        // count never drops below the wakers held.
        if after > before {
            self.count[bell as usize].fetch_add(after - before, Ordering::SeqCst);
        } else if after < before {
            self.count[bell as usize].fetch_sub(before - after, Ordering::SeqCst);
        }
        drop(list);
        loom_sc_fence();
        // Woken, not lost: if it still waits it polls again.
        if let Some(waker) = evicted {
            waker.wake();
        }
    }

    /// Whether any task waits on `bell`.
    #[inline]
    fn any(&self, bell: Bell) -> bool {
        loom_sc_fence();
        // ORDERING: SeqCst, after the ringer's SeqCst change of the state.
        self.count[bell as usize].load(Ordering::SeqCst) != 0
    }

    /// Wakes every task waiting on `bell`.
    #[inline]
    fn wake(&self, bell: Bell) {
        if self.any(bell) {
            self.wake_slow(bell);
        }
    }

    /// Takes the wakers of `bell` and wakes them.
    #[cold]
    fn wake_slow(&self, bell: Bell) {
        let mut list = self.lists[bell as usize].lock();
        let listed = std::mem::take(&mut list.listed);
        let displaced = std::mem::take(&mut list.displaced);
        for &(place, _) in &listed {
            list.at[place] = 0;
        }
        // ORDERING: under the lock, so the count never drops below the
        // wakers held; a register after this sees an empty list.
        self.count[bell as usize].fetch_sub(listed.len() + displaced.len(), Ordering::SeqCst);
        drop(list);
        for (_, waker) in listed {
            waker.wake();
        }
        for waker in displaced {
            waker.wake();
        }
    }

    /// Wakes every task waiting on any bell (a half closed). Takes every
    /// list's lock whatever the counts say: a task registers under that lock
    /// and then looks at the closes, so it either is in a list taken here or
    /// sees the close that the caller stored before calling this.
    fn wake_all(&self) {
        for bell in Bell::ALL {
            self.wake_slow(bell);
        }
    }

    /// How many wakers are held, over every bell (for the tests).
    fn held(&self) -> usize {
        self.lists.iter().map(|list| list.lock().len()).sum()
    }
}

/// The doorbells of [`Signals`]: one per kind of wait in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bell {
    /// Readers waiting for a writer's offer.
    Offer = 0,
    /// The writer waiting for readers to use its offer up, or for a reader to
    /// give back a lease it is taking back.
    Reply = 1,
    /// Writers waiting for the write side.
    Lock = 2,
    /// Writers that have waited long for the write side, waiting for it to be
    /// handed to one of them.
    Handoff = 3,
    /// The reader that lent its buffer, waiting for a writer's answer (at most
    /// one reader lends at a time, so at most one thread waits here).
    Filled = 4,
    /// Waiting for readers to take bytes an async write staged: the thread
    /// holding the write side (at most one), and tasks that wait for room or
    /// in `consumed`.
    Stage = 5,
}

impl Bell {
    /// Every bell.
    const ALL: [Bell; BELLS] = [
        Bell::Offer,
        Bell::Reply,
        Bell::Lock,
        Bell::Handoff,
        Bell::Filled,
        Bell::Stage,
    ];
}

/// Why [`Signals::park`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Park {
    /// A token was taken from the doorbell: look again.
    Rung,
    /// The done channel is closed.
    Closed,
    /// The deadline passed.
    TimedOut,
}
