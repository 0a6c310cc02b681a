//! ## The write side's lock
//!
//! One writer holds the write side for its whole write, so writes never
//! interleave. A small lock word: free, held, held with a writer starving for
//! it, or being handed to a starving writer. A writer that has waited more
//! than [`STARVE`] asks for a hand-off, and from then on the holder gives the
//! write side straight to one of the starving writers instead of freeing it
//! for whoever comes first, as Go's `sync.Mutex` does in its starvation mode.
//! Needs only the signals: it knows nothing of the slot.

use crossbeam_utils::CachePadded;

use super::{SPIN, STARVE};
use crate::sync::{spin_until, AtomicUsize, Bell, Deadline, Ordering, Park, Patience, Signals};

/// The write side is free: the first writer to come takes it.
pub(super) const FREE: usize = 0;
/// A writer holds the write side.
pub(super) const HELD: usize = 1;
/// A writer holds the write side and another has waited for it for longer than
/// [`STARVE`]: on release it goes to a starving writer (`HANDOFF`).
pub(super) const HELD_STARVING: usize = 2;
/// The write side is being handed to a starving writer: only a writer
/// registered on [`Bell::Handoff`] may take it.
pub(super) const HANDOFF: usize = 3;

/// The write side's lock word: `FREE`, `HELD`, `HELD_STARVING` or
/// `HANDOFF`, on a cache line of its own.
///
/// Only the holder moves it out of `HELD` or `HELD_STARVING` when it
/// releases (to `FREE` or `HANDOFF`), and a starving writer may mark
/// `HELD -> HELD_STARVING`. `FREE -> HELD` is open to every writer;
/// `HANDOFF -> HELD` (or `HELD_STARVING`) only to writers registered on
/// [`Bell::Handoff`], and when none is registered whoever sees that turns
/// `HANDOFF` back into `FREE`, so the write side is never handed to nobody.
pub(super) struct WriteLock {
    /// The lock word.
    word: CachePadded<AtomicUsize>,
}

impl WriteLock {
    /// A free write side.
    pub(super) fn new() -> Self {
        Self {
            word: CachePadded::new(AtomicUsize::new(FREE)),
        }
    }

    /// Whether the write side is free: a buffered pipe's write that fits
    /// whole asks, under the stage's lock, instead of taking it
    /// ([`super::Rendezvous::accept`] with `unheld`).
    #[inline]
    pub(super) fn is_free(&self) -> bool {
        // ORDERING: Relaxed, under the stage's lock, which orders our look
        // against a holder's pieces (each pushed under it): after its first
        // piece, the lock orders its CAS before our look, so we see it held
        // (coherence); before its last, our look comes before its release,
        // so we cannot see that `FREE`. A `FREE` we see is therefore from
        // before its first piece (stale or not: our bytes then come before
        // all of its bytes) or after its last.
        self.word.load(Ordering::Relaxed) == FREE
    }

    /// Takes the write side if it is free; returns whether this call did.
    #[inline]
    pub(super) fn try_lock(&self) -> bool {
        // ORDERING: acquires the previous writer's whole hand-off. The failure
        // ordering is SeqCst too: in `lock_slow` a failed attempt is the waiter's
        // last look before it parks, which must be ordered against the holder's
        // release and its look at the doorbell's sleepers.
        self.word
            .compare_exchange(FREE, HELD, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Waits for the write side: as an ordinary waiter until its patience runs
    /// out (about [`STARVE`]), then as a starving one that the holder hands the
    /// write side to.
    #[cold]
    pub(super) fn lock_slow(&self, sig: &Signals, deadline: Deadline) -> Result<(), Park> {
        /// How an ordinary wait for the write side ended.
        enum Wait {
            /// The write side is ours.
            Got,
            /// Our patience ran out: ask for a hand-off.
            Starving,
            /// The pipe closed or the deadline passed.
            GaveUp(Park),
        }
        // Spin until the write side looks free (or the pipe closed); the loop
        // below then tries to take it before it would park.
        spin_until(deadline.budget(SPIN), || {
            self.word.load(Ordering::Relaxed) == FREE || sig.is_closed()
        });
        let mut patience = Patience::new(STARVE);
        let wait = sig.registered(Bell::Lock, || loop {
            if self.try_lock() {
                return Wait::Got;
            }
            if deadline.passed() {
                return Wait::GaveUp(Park::TimedOut);
            }
            if patience.exhausted() {
                return Wait::Starving;
            }
            match sig.park(Bell::Lock, deadline.earlier(patience.deadline()), true) {
                // Woken, and about to try again: if another writer takes the
                // write side first, this wake-up was lost to it.
                Park::Rung => patience.lost_one(),
                // Our patience ran out, not the caller's: the loop sees it.
                Park::TimedOut if !deadline.passed() => {}
                other => return Wait::GaveUp(other),
            }
        });
        match wait {
            // The write side is ours; the writer checks for a close first.
            Wait::Got => Ok(()),
            Wait::Starving => self.lock_starving(sig, deadline),
            Wait::GaveUp(why) => Err(why),
        }
    }

    /// Waits for the write side as a writer that has waited long: marks the
    /// write side so that its holder hands it over instead of freeing it.
    #[cold]
    pub(super) fn lock_starving(&self, sig: &Signals, deadline: Deadline) -> Result<(), Park> {
        let lock = &self.word;
        let woke = sig.registered(Bell::Handoff, || loop {
            // ORDERING: SeqCst throughout: these looks and CASes pair with the
            // holder's release and its look at this doorbell's sleepers.
            match lock.load(Ordering::SeqCst) {
                from @ (FREE | HANDOFF) => {
                    // Other starving writers keep the mark for their turn.
                    let to = if sig.sleepers(Bell::Handoff) > 1 {
                        HELD_STARVING
                    } else {
                        HELD
                    };
                    if lock
                        .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        return Park::Rung;
                    }
                }
                // Looked at only once the write side is seen taken, so that a
                // hand-off whose token we took is never left behind.
                _ if deadline.passed() => return Park::TimedOut,
                HELD => {
                    // Ask the holder for a hand-off; a failure means the state
                    // moved on: look again.
                    let _ = lock.compare_exchange(
                        HELD,
                        HELD_STARVING,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                }
                _ => match sig.park(Bell::Handoff, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                },
            }
        });
        if woke == Park::Rung {
            return Ok(());
        }
        // Giving up. A hand-off in flight may have been meant for us (we may
        // even have taken its token): pass it on to another starving writer, or
        // free the write side if none is left. (A mark we left on a held write
        // side needs nothing: its holder finds nobody to hand to and frees it.)
        // ORDERING: SeqCst; our unregistering came first, so either this look
        // sees a hand-off or the holder's look at the sleepers misses us.
        if lock.load(Ordering::SeqCst) == HANDOFF {
            self.ring_handoff(sig);
        }
        Err(woke)
    }

    /// Rings a starving writer for the hand-off in flight, or, if they all gave
    /// up meanwhile, frees the write side instead.
    pub(super) fn ring_handoff(&self, sig: &Signals) {
        if sig.has_sleepers(Bell::Handoff) {
            sig.notify(Bell::Handoff);
        } else {
            self.cancel_handoff(sig);
        }
    }

    /// Turns a hand-off that no starving writer is registered for back into a
    /// free write side, and wakes the ordinary waiters.
    pub(super) fn cancel_handoff(&self, sig: &Signals) {
        // ORDERING: SeqCst, after the caller's look at (or change of) the
        // Handoff sleepers, so that a hand-off and the last starving writer's
        // departure cannot miss each other.
        if self
            .word
            .compare_exchange(HANDOFF, FREE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            sig.notify(Bell::Lock);
        }
    }

    /// Releases the write side: frees it, or hands it to a starving writer.
    pub(super) fn unlock(&self, sig: &Signals) {
        // ORDERING: SeqCst releases the whole write to the next holder and
        // orders the change before the looks at the doorbells.
        if self
            .word
            .compare_exchange(HELD, FREE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            sig.notify(Bell::Lock);
            return;
        }
        // HELD_STARVING: while the write side is held, the only other change
        // is a starving writer's mark HELD -> HELD_STARVING.
        match self
            .word
            .compare_exchange(HELD_STARVING, HANDOFF, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => self.ring_handoff(sig),
            Err(other) => unreachable!("write side released in state {other}"),
        }
    }
}
