//! When a blocking wait gives up: a call's [`Deadline`] (its timeout, and
//! its half's absolute deadline, [`AbsDeadline`], which may move while the
//! call is blocked) and a waiter's [`Patience`] for the write side, with
//! their loom twins (loom has no clock: a set deadline fires where a wait
//! would sleep).

#[cfg(not(gopipe_loom))]
mod imp {
    use std::time::{Duration, Instant};

    use crossbeam_channel::{bounded, Receiver, Sender};

    use crate::sync::{AtomicU64, Mutex, Never, Ordering};

    /// The instant deadlines are counted from (the first use in the process).
    fn epoch() -> Instant {
        static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    /// A half's absolute deadline, which may move while calls are blocked: a
    /// change wakes every thread parked on that half so that it looks again.
    ///
    /// `at` holds nanoseconds after [`epoch`] plus one (`0`: none). `moved` is
    /// a channel nobody sends on, made by the first thread that parks
    /// watching it (a half whose threads never park, or that only tasks use,
    /// never allocates one): a change drops it, and dropping the sender wakes
    /// every `select!` holding its receiver; the next parked thread makes a
    /// fresh one. A parked thread takes its receiver (under the mutex)
    /// before it reads `at`, and a change stores `at` before it takes the
    /// mutex, so a change after the thread's read always reaches it.
    pub(crate) struct AbsDeadline {
        /// The deadline, encoded as above.
        at: AtomicU64,
        /// The current "moved" channel, if a parked thread made one since
        /// the last change.
        moved: Mutex<Option<(Sender<Never>, Receiver<Never>)>>,
    }

    impl AbsDeadline {
        /// No deadline.
        pub(crate) fn new() -> Self {
            Self {
                at: AtomicU64::new(0),
                moved: Mutex::new(None),
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
            // ORDERING: stored before the channel is dropped (under the
            // mutex): a parked thread woken by the old channel, or one that
            // makes the next, then reads this value.
            self.at.store(encoded, Ordering::SeqCst);
            let old = self.moved.lock().take();
            drop(old);
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
        pub(in crate::sync) fn receiver(&self) -> Receiver<Never> {
            self.moved
                .lock()
                .get_or_insert_with(|| bounded(0))
                .1
                .clone()
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
        /// Points into the pipe's `PipeState`, which the call that made this
        /// `Deadline` (`PipeState::read` and the like, through
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
        pub(in crate::sync) fn half(&self) -> Option<&AbsDeadline> {
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
}

#[cfg(gopipe_loom)]
mod imp {
    use std::time::Duration;

    use crate::sync::{AtomicBool, Ordering};

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
        pub(in crate::sync) fn fires(&self) -> bool {
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
}

pub(crate) use imp::*;
