//! The shipping engine: Go's hand-off on atomics, spinning briefly before it parks.
//!
//! One state word carries the hand-off:
//!
//! ```text
//!            writer stores lease,          reader CAS            reader copies what fits,
//!            then OFFERED                  OFFERED -> CLAIMED    advances the lease
//!   EMPTY  ------------------->  OFFERED  ------------------->  CLAIMED  --------------+
//!     ^                          ^   |                                                 |
//!     |                          |   +-- writer CAS OFFERED -> EMPTY (retract on close |
//!     |                          |       or timeout; only while unclaimed)             |
//!     |                          +--------- bytes left: the reader re-offers the rest -+
//!     |                                                                                |
//!     +---- writer stores EMPTY <---- REPLIED <------ nothing left: reader stores -----+
//! ```
//!
//! A write is offered once, whole. Each read claims the offer, copies what fits
//! into its buffer and advances the lease past those bytes; if bytes are left it
//! puts the rest back on offer itself, so a write read in many small pieces
//! costs the writer no round trip per piece. The reader that takes the last
//! byte (or an empty write) stores `REPLIED`, and the write returns.
//!
//! Only the writer that holds the write side (`lock`) moves the state out of
//! `EMPTY` or `REPLIED`, and back from `OFFERED` to `EMPTY`; only a reader moves
//! it from `OFFERED` to `CLAIMED` and out of `CLAIMED`. A reader that wins the
//! claim owns the lease until it stores the next state; the writer that sees
//! `CLAIMED` waits for that store whatever else happens. That is the invariant
//! [`Lease`] relies on.
//!
//! Every wait first spins (see [`spin_until`]) and then parks on a doorbell of
//! [`Signals`] in a `select!` with the done channel and the deadline, except the
//! writer's wait for a reader that is copying from its lease, which watches
//! neither: that reader must be done before the writer may leave. A thread that
//! changes the state with a `SeqCst` operation and then finds someone registered
//! on the matching doorbell rings it; a waiter registers before its last look at
//! the state, so a ring cannot fall between its look and its sleep.

use std::io;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::{Lease, Shared};
use crate::error::{partial, timed_out};
use crate::sync::{
    spin_until, AtomicBool, AtomicUsize, Bell, Deadline, Ordering, Park, UnsafeCell,
};

/// No offer: the writer may store a new lease.
const EMPTY: usize = 0;
/// A lease is published and no reader has taken it yet.
const OFFERED: usize = 1;
/// A reader took the lease and is copying from it.
const CLAIMED: usize = 2;
/// Readers have taken every byte of the offer.
const REPLIED: usize = 3;

/// How long a thread spins for a partner that is running before it parks: about
/// what a park and wake-up costs on a small machine, so that spinning never
/// costs more than twice what parking at once would.
const SPIN: Duration = Duration::from_micros(10);

/// How long the writer spins for a reader it has just woken to take its offer:
/// about a wake-up's latency on a busy virtual machine.
const WAKE: Duration = Duration::from_micros(50);

/// How long the writer spins for a reader that has taken its lease: [`SPIN`] plus
/// the time the copy takes at a pessimistic 4 bytes per nanosecond, counting at
/// most 1 MiB (a reader that takes longer than that is better waited for asleep).
fn copy_budget(len: usize) -> Duration {
    SPIN + Duration::from_nanos((len.min(1 << 20) / 4) as u64)
}

/// The rendezvous slot: the state word and the lease it guards.
struct Slot {
    /// `EMPTY`, `OFFERED`, `CLAIMED` or `REPLIED`.
    state: AtomicUsize,
    /// The writer's bytes not yet taken, while `OFFERED` or `CLAIMED`.
    ///
    /// # Safety
    ///
    /// Written only by the writer holding the write side, and only while the
    /// state is `EMPTY` or `REPLIED` (no reader looks at it then), or after its
    /// CAS from `OFFERED` to `EMPTY` succeeded. Read and advanced only by the
    /// reader whose CAS moved the state from `OFFERED` to `CLAIMED`, and only until
    /// it stores `OFFERED` or `REPLIED`. Each store of `OFFERED` (`SeqCst`) and the
    /// claiming CAS order the previous owner's accesses before the claimer's; the
    /// store of `REPLIED` or `OFFERED` and the writer's load or CAS of it order the
    /// reader's accesses before the writer's.
    lease: UnsafeCell<Lease>,
}

// SAFETY: the lease is the only field that is not `Sync`; the state machine above
// gives every access to it a single owner at a time (see `Slot::lease`).
unsafe impl Sync for Slot {}

/// The lock-free rendezvous engine.
pub(crate) struct Fast {
    /// The hand-off, on a cache line of its own.
    slot: CachePadded<Slot>,
    /// The write side: held by one writer for its whole write, so writes never
    /// interleave.
    lock: CachePadded<AtomicBool>,
}

impl Fast {
    /// An idle engine.
    pub(crate) fn new() -> Self {
        Self {
            slot: CachePadded::new(Slot {
                state: AtomicUsize::new(EMPTY),
                lease: UnsafeCell::new(Lease::empty()),
            }),
            lock: CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// Reads from the next write; `buf` is not empty.
    pub(crate) fn read(
        &self,
        sh: &Shared,
        buf: &mut [u8],
        deadline: Deadline,
    ) -> io::Result<usize> {
        let sig = &sh.signals;
        loop {
            // As in Go, a closed pipe wins over a pending write.
            if sig.is_closed() {
                return sh.read_close_result();
            }
            if self.try_claim() {
                // An empty write is consumed without ending the read.
                match self.copy_and_hand_back(sh, buf) {
                    0 => continue,
                    n => return Ok(n),
                }
            }
            let offered = || self.slot.state.load(Ordering::SeqCst) == OFFERED;
            if spin_until(SPIN, || offered() || sig.is_closed()) {
                continue;
            }
            let woke = sig.registered(Bell::Offer, || loop {
                if offered() {
                    return Park::Rung;
                }
                match sig.park(Bell::Offer, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                }
            });
            match woke {
                Park::Rung => {}
                Park::Closed => return sh.read_close_result(),
                Park::TimedOut => return Err(timed_out()),
            }
        }
    }

    /// Takes the current offer if there is one; returns whether this call did.
    #[inline]
    fn try_claim(&self) -> bool {
        let state = &self.slot.state;
        // ORDERING: the CAS acquires the writer's store of OFFERED, which was
        // made after it stored the lease.
        state.load(Ordering::Relaxed) == OFFERED
            && state
                .compare_exchange(OFFERED, CLAIMED, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
    }

    /// Copies from the claimed lease into `buf`, then puts the rest back on offer,
    /// or tells the writer that nothing is left; returns how many bytes it copied.
    #[inline]
    fn copy_and_hand_back(&self, sh: &Shared, buf: &mut [u8]) -> usize {
        let (n, left) = self.slot.lease.with_mut(|lease| {
            // SAFETY: this reader's CAS moved the state to CLAIMED, so it owns the
            // lease, and the writer does not leave before the state store below
            // (`Slot::lease`, `Lease`).
            unsafe {
                let n = (*lease).copy_to(buf);
                (*lease).advance(n);
                (n, (*lease).len())
            }
        });
        let sig = &sh.signals;
        if left == 0 {
            // ORDERING: SeqCst releases the copy to the writer (the lease is its
            // own again) and orders the store before the looks at the doorbells.
            self.slot.state.store(REPLIED, Ordering::SeqCst);
        } else {
            // The rest stays on offer for the next read, with no round trip
            // through the writer. ORDERING: as above, for the next claimer.
            self.slot.state.store(OFFERED, Ordering::SeqCst);
            sig.notify(Bell::Offer);
        }
        // The writer waits for the offer to be used up, or (when it is closing or
        // timing out) for this claim to end.
        sig.notify(Bell::Reply);
        n
    }

    /// Writes all of `buf` unless the pipe closes or the deadline passes first.
    pub(crate) fn write(&self, sh: &Shared, buf: &[u8], deadline: Deadline) -> io::Result<usize> {
        if sh.signals.is_closed() {
            return Err(sh.write_close_error());
        }
        if !self.try_lock() {
            self.lock_slow(sh, deadline)?;
        }
        let result = self.hand_over(sh, buf, deadline);
        // ORDERING: SeqCst orders the release before the look at the doorbell.
        self.lock.store(false, Ordering::SeqCst);
        sh.signals.notify(Bell::Lock);
        result
    }

    /// Takes the write side if it is free; returns whether this call did.
    #[inline]
    fn try_lock(&self) -> bool {
        // ORDERING: acquires the previous writer's whole hand-off. The failure
        // ordering is SeqCst too: in `lock_slow` a failed attempt is the waiter's
        // last look before it parks, which must be ordered against the holder's
        // release and its look at the doorbell's sleepers.
        self.lock
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Waits for the write side.
    #[cold]
    fn lock_slow(&self, sh: &Shared, deadline: Deadline) -> io::Result<()> {
        let sig = &sh.signals;
        // Spin until the write side looks free (or the pipe closed); the loop
        // below then tries to take it before it would park.
        spin_until(SPIN, || {
            !self.lock.load(Ordering::Relaxed) || sig.is_closed()
        });
        let woke = sig.registered(Bell::Lock, || loop {
            if self.try_lock() {
                return Park::Rung;
            }
            match sig.park(Bell::Lock, deadline, true) {
                Park::Rung => {}
                other => return other,
            }
        });
        match woke {
            // The write side is ours; `hand_over` checks for a close first.
            Park::Rung => Ok(()),
            Park::Closed => Err(sh.write_close_error()),
            Park::TimedOut => Err(timed_out()),
        }
    }

    /// The write proper, with the write side held: offers `buf` and waits until
    /// readers have taken all of it, the pipe closes or the deadline passes.
    fn hand_over(&self, sh: &Shared, buf: &[u8], deadline: Deadline) -> io::Result<usize> {
        let sig = &sh.signals;
        let state = &self.slot.state;
        if sig.is_closed() {
            return Err(sh.write_close_error());
        }
        // Even an empty write is offered: it is a rendezvous, as in Go.
        self.slot.lease.with_mut(|lease| {
            // SAFETY: the state is EMPTY (we hold the write side, and every
            // earlier offer was used up or retracted), so no reader looks at the
            // lease (`Slot::lease`).
            unsafe { *lease = Lease::new(buf) }
        });
        // ORDERING: SeqCst publishes the lease to the claiming CAS and orders the
        // store before the look at the doorbell.
        state.store(OFFERED, Ordering::SeqCst);
        let reader_asleep = sig.has_sleepers(Bell::Offer);
        if reader_asleep {
            sig.notify(Bell::Offer);
        }
        let replied = || state.load(Ordering::SeqCst) == REPLIED;
        // Spin, first for a reader to take the offer, then for readers to copy
        // it, at a budget that grows with the bytes to copy. A reader we just
        // woke takes a wake-up's time to come; parking now would add a second
        // wake-up (ours) to every hand-off from here on, so we spin through it.
        let claim_budget = if reader_asleep { WAKE } else { SPIN };
        if spin_until(claim_budget, || state.load(Ordering::Relaxed) != OFFERED) {
            spin_until(copy_budget(buf.len()), replied);
        }
        if !replied() {
            let woke = sig.registered(Bell::Reply, || loop {
                if replied() {
                    return Park::Rung;
                }
                match sig.park(Bell::Reply, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                }
            });
            if woke != Park::Rung {
                // Closed or timed out: take back what readers have not taken.
                if let Some(left) = self.retract(sh) {
                    return partial(buf.len() - left, || match woke {
                        Park::TimedOut => timed_out(),
                        _ => sh.write_close_error(),
                    });
                }
            }
        }
        // ORDERING: the SeqCst load that saw REPLIED acquired the last copy.
        state.store(EMPTY, Ordering::Relaxed);
        self.end_lease();
        Ok(buf.len())
    }

    /// Takes the current offer back; returns how many bytes were left in it, or
    /// `None` if readers took every byte first. A reader that is copying from
    /// the offer is waited for, with no deadline.
    fn retract(&self, sh: &Shared) -> Option<usize> {
        let sig = &sh.signals;
        let state = &self.slot.state;
        loop {
            match state.compare_exchange(OFFERED, EMPTY, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    let left = self.slot.lease.with(|lease| {
                        // SAFETY: the CAS took the offer back, so no reader holds
                        // the lease (`Slot::lease`).
                        unsafe { (*lease).len() }
                    });
                    self.end_lease();
                    return Some(left);
                }
                Err(REPLIED) => return None,
                Err(_) => {
                    // A reader is copying from our bytes: it must be done before we
                    // may leave, so wait for its next state with no deadline.
                    sig.registered(Bell::Reply, || {
                        while state.load(Ordering::SeqCst) == CLAIMED {
                            sig.park(Bell::Reply, Deadline::never(), false);
                        }
                    });
                }
            }
        }
    }

    /// Clears the lease once no reader can hold it (under loom, this access is
    /// what proves the reader's copy happened before the write returns).
    #[inline]
    fn end_lease(&self) {
        self.slot.lease.with_mut(|lease| {
            // SAFETY: the offer was retracted or answered, so no reader holds the
            // lease (`Slot::lease`).
            unsafe { *lease = Lease::empty() }
        });
    }
}
