//! Spinning before a wait parks: [`spin_until`] for a thread, and whether
//! its last spin found its core crowded ([`core_crowded`]); [`spin_in_poll`]
//! for a task's poll, which never gives its thread away. Under loom a spin is
//! one look.

/// How a [`spin_in_poll`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spun {
    /// What the spin waited for came (`ready()` held).
    Ready,
    /// The caller asked to stop first (`leave()` held): nothing learnt.
    /// Never under loom, whose spin is a single look with nothing to cut
    /// short.
    #[cfg_attr(gopipe_loom, allow(dead_code))]
    Left,
    /// The budget ran out with neither: whoever the spin waited for is not
    /// coming soon.
    Empty,
}

#[cfg(not(gopipe_loom))]
mod imp {
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    use super::Spun;

    /// Checks between two looks at the clock.
    const CHECKS_PER_CLOCK: u32 = 16;

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

    /// Spins inside a task's poll until `ready()` holds, `leave()` holds or
    /// `budget` has passed, and says which ([`Spun`]).
    ///
    /// Only `spin_loop` pauses, never a yield: a poll runs on an executor's
    /// worker thread, and `yield_now` would hand that thread, with every task
    /// queued on it, to the OS scheduler for as long as it likes. The budget
    /// alone bounds the spin. `leave()` is asked before the first pause and
    /// then once per look at the clock (every few checks), so it may cost
    /// more than `ready()`; the spin leaves this thread's crowded mark
    /// ([`core_crowded`]) as it is.
    #[inline]
    pub(crate) fn spin_in_poll(
        budget: Duration,
        mut ready: impl FnMut() -> bool,
        mut leave: impl FnMut() -> bool,
    ) -> Spun {
        if ready() {
            return Spun::Ready;
        }
        if leave() {
            return Spun::Left;
        }
        let start = Instant::now();
        loop {
            for _ in 0..CHECKS_PER_CLOCK {
                std::hint::spin_loop();
                if ready() {
                    return Spun::Ready;
                }
            }
            if leave() {
                return Spun::Left;
            }
            if start.elapsed() >= budget {
                return if ready() { Spun::Ready } else { Spun::Empty };
            }
        }
    }
}

#[cfg(gopipe_loom)]
mod imp {
    use std::time::Duration;

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

    /// A poll's spin, also a single look; `leave()` is never asked (a
    /// single look has nothing to cut short).
    pub(crate) fn spin_in_poll(
        _budget: Duration,
        mut ready: impl FnMut() -> bool,
        _leave: impl FnMut() -> bool,
    ) -> super::Spun {
        if ready() {
            super::Spun::Ready
        } else {
            super::Spun::Empty
        }
    }
}

pub(crate) use imp::*;
