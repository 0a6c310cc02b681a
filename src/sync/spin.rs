//! Spinning before a wait parks: [`spin_until`], and whether the last spin
//! found this thread's core crowded ([`core_crowded`]); under loom a spin is
//! one look.

#[cfg(not(gopipe_loom))]
mod imp {
    use std::cell::Cell;
    use std::time::{Duration, Instant};

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
}

pub(crate) use imp::*;
