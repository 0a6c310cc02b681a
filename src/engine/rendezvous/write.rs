//! ## Writer, the blocking path
//!
//! A thread's `write`: take the write side ([`super::lock`]), wait for staged
//! bytes to drain, then fill a waiting reader's lent buffer or offer the
//! bytes, and wait for readers to use the offer up (or take it back on a
//! close or a deadline).

use std::io;

use super::state::*;
use super::{copy_budget, Rendezvous, FILL_MAX, SPIN, WAKE};
use crate::engine::{Lease, PipeState};
use crate::error::{timed_out, Cut, Written};
use crate::sync::{spin_until, Bell, Deadline, Ordering, Park};

/// Frees the write side when dropped, also when a panic unwinds through a write.
pub(super) struct WriteGuard<'a> {
    /// The engine whose write side is held.
    pub(super) engine: &'a Rendezvous,
    /// The pipe, for its doorbells.
    pub(super) sh: &'a PipeState,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.engine.lock.unlock(&self.sh.signals);
    }
}

/// Takes a published offer back when dropped while armed: what makes a panic
/// between publishing an offer and the end of the write safe (the writer's
/// bytes are about to be freed, so no reader may take the lease afterwards).
pub(super) struct OfferGuard<'a> {
    /// The engine whose slot holds the offer.
    engine: &'a Rendezvous,
    /// The pipe, for its doorbells.
    sh: &'a PipeState,
}

impl<'a> OfferGuard<'a> {
    /// Armed for the offer just published on `engine`'s slot.
    pub(super) fn new(engine: &'a Rendezvous, sh: &'a PipeState) -> Self {
        Self { engine, sh }
    }
}

impl Drop for OfferGuard<'_> {
    fn drop(&mut self) {
        // Waits for a reader that is copying, with no deadline (`Lease`).
        if self.engine.retract(self.sh).is_none() {
            // Readers took every byte: the lease is the writer's again.
            self.engine.end_lease();
            self.engine.free_replied(self.sh);
        }
    }
}

impl Rendezvous {
    /// Writes all of `buf` unless the pipe closes or the deadline passes
    /// first (then the cut: what readers took, and why).
    pub(crate) fn write(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {
        if self.buffered {
            return self.write_buffered(sh, &[std::io::IoSlice::new(buf)], deadline);
        }
        let _held = self.hold(sh, deadline)?;
        self.write_locked(sh, buf, deadline)
    }

    /// Writes the slices one after another as one write: the write side is
    /// held for all of them, so no other write comes between. Returns the
    /// bytes readers took, or the cut of the whole (as a write's).
    pub(crate) fn write_all_of(
        &self,
        sh: &PipeState,
        slices: &[std::io::IoSlice<'_>],
        deadline: Deadline,
    ) -> Written {
        if self.buffered {
            return self.write_buffered(sh, slices, deadline);
        }
        let _held = self.hold(sh, deadline)?;
        crate::engine::zero_copy::write_each(slices, |slice| self.write_locked(sh, slice, deadline))
    }

    /// Takes the write side (waiting for it, up to the deadline), unless the
    /// pipe is closed; the guard frees it on every way out, a panic included.
    #[inline]
    pub(super) fn hold<'a>(
        &'a self,
        sh: &'a PipeState,
        deadline: Deadline,
    ) -> io::Result<WriteGuard<'a>> {
        if sh.signals.is_closed() {
            return Err(sh.write_close_error());
        }
        if !self.lock.try_lock() {
            self.lock
                .lock_slow(&sh.signals, deadline)
                .map_err(|why| match why {
                    Park::Closed => sh.write_close_error(),
                    _ => timed_out(),
                })?;
        }
        Ok(WriteGuard { engine: self, sh })
    }

    /// Waits, holding the write side, until readers have taken every staged
    /// byte, the pipe closes or the deadline passes.
    #[cold]
    pub(super) fn wait_drained(&self, sh: &PipeState, deadline: Deadline) -> io::Result<()> {
        let sig = &sh.signals;
        let drained = || self.stage.is_empty();
        if !spin_until(deadline.budget(SPIN), || drained() || sig.is_closed()) {
            // The one thread on this doorbell: we hold the write side.
            let woke = sig.wait_until(Bell::Stage, deadline, true, drained);
            if woke == Park::TimedOut {
                return Err(timed_out());
            }
        }
        if sig.is_closed() {
            return Err(sh.write_close_error());
        }
        Ok(())
    }

    /// The write proper, with the write side held: readers take staged bytes
    /// first, then the bytes go into a waiting reader's lent buffer or on
    /// offer ([`Rendezvous::fill_or_offer`]), and an offer is waited for
    /// until readers have used it up, the pipe closes or the deadline passes
    /// ([`Rendezvous::wait_reply`]).
    pub(super) fn write_locked(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {
        if sh.signals.is_closed() {
            return Err(sh.write_close_error().into());
        }
        super::set_hint(&self.thread_writes, true);
        // Bytes an async write staged go first; none are staged while we
        // hold the write side.
        if !self.stage.is_empty() {
            self.wait_drained(sh, deadline)?;
        }
        if self.fill_or_offer(sh, buf) {
            return Ok(buf.len());
        }
        self.wait_reply(sh, buf, deadline)
    }

    /// Step one of a write: copies `buf` into a waiting reader's lent buffer
    /// if one is lent and small enough to fill, else (or with what did not
    /// fit) offers it. Returns true if all of it went into the lent buffer
    /// (the write is done), false if an offer is up.
    fn fill_or_offer(&self, sh: &PipeState, buf: &[u8]) -> bool {
        let sig = &sh.signals;
        let state = &self.slot.state;
        // Even an empty write meets a reader: it is a rendezvous, as in Go.
        let mut rest = buf;
        loop {
            // ORDERING: SeqCst acquires a reader's publication of its lend.
            match state.load(Ordering::SeqCst) {
                lent if lent >= LENT_MIN => {
                    // A reader lent its buffer: take it, unless it takes it back
                    // first.
                    let Some(lend) = self.claim_lend(lent) else {
                        continue;
                    };
                    // SAFETY: our CAS claimed the lend and we have not answered.
                    let answer = if rest.len().min(unsafe { lend.len() }) > FILL_MAX {
                        // A large copy: offer it instead, and tell the reader
                        // to come and take it.
                        DECLINED
                    } else {
                        // SAFETY: our CAS claimed the lend and we have not
                        // answered.
                        let n = unsafe { lend.fill(rest) };
                        rest = &rest[n..];
                        if !rest.is_empty() {
                            n
                        } else {
                            // All of it fitted: the write is done, with no reply
                            // to wait for. A free slot is news only to a
                            // reader that lends.
                            self.answer_and_free(sh, lend, n, false);
                            return true;
                        }
                    };
                    // What is left goes on offer in the same move, then the
                    // reader hears its answer.
                    // SAFETY: the state is FILLING, which only we move on.
                    unsafe { self.set_lease(rest) };
                    // ORDERING: SeqCst publishes the lease to the claiming CAS,
                    // before the reader hears its answer.
                    state.store(OFFERED, Ordering::SeqCst);
                    lend.answer(answer);
                    sig.notify(Bell::Filled);
                    return false;
                }
                // Free: `EMPTY`, or a `REPLIED` whose writer has left (it
                // reached the writer as a lend put over it, then taken back).
                free @ (EMPTY | REPLIED) => {
                    // SAFETY: the slot is free (we hold the write side, and
                    // every earlier offer was used up or taken back); a reader
                    // that lends meanwhile does not look at the lease either.
                    unsafe { self.set_lease(rest) };
                    // ORDERING: SeqCst publishes the lease to the claiming CAS
                    // and orders the offer before the look at the doorbell.
                    if state
                        .compare_exchange(free, OFFERED, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        return false;
                    }
                    // A reader lent its buffer first: fill it instead.
                }
                other => unreachable!("a write found the slot in state {other}"),
            }
        }
    }

    /// Step two of a write: waits, with the offer of `buf` (or of what a lend
    /// did not take) up, until readers have used it up, the pipe closes or
    /// the deadline passes; on a close or the deadline takes back what is
    /// left and returns the cut: the count readers took, and why.
    fn wait_reply(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {
        let sig = &sh.signals;
        let state = &self.slot.state;
        // From here until the offer is used up or taken back, a panic must not
        // unwind past this frame with the offer up: `buf` is about to be freed.
        let guard = OfferGuard { engine: self, sh };
        sh.failpoint_after_offer();
        let reader_asleep = sig.has_sleepers(Bell::Offer);
        if reader_asleep {
            sig.notify(Bell::Offer);
        }
        // Readers used the offer up: `REPLIED`, or a lend a reader put in its
        // place (only a reader that saw `REPLIED` lends over it, so a lend here
        // means our offer was used up).
        let replied = || {
            let s = state.load(Ordering::SeqCst);
            s == REPLIED || s >= LENT_MIN
        };
        // Spin, first for a reader to take the offer, then for readers to copy
        // it, at a budget that grows with the bytes to copy. A reader we just
        // woke takes a wake-up's time to come; parking now would add a second
        // wake-up (ours) to every hand-off from here on, so we spin through it.
        let claim_budget = if reader_asleep { WAKE } else { SPIN };
        if spin_until(deadline.budget(claim_budget), || {
            state.load(Ordering::Relaxed) != OFFERED
        }) {
            spin_until(deadline.budget(copy_budget(buf.len())), replied);
        }
        if !replied() {
            let woke = sig.wait_until(Bell::Reply, deadline, true, replied);
            if woke != Park::Rung {
                // Closed or timed out: take back what readers have not taken.
                std::mem::forget(guard);
                if let Some(left) = self.retract(sh) {
                    return Err(Cut {
                        taken: buf.len() - left,
                        err: match woke {
                            Park::TimedOut => timed_out(),
                            _ => sh.write_close_error(),
                        },
                    });
                }
                return self.finish(sh, buf.len());
            }
        }
        std::mem::forget(guard);
        self.finish(sh, buf.len())
    }

    /// Claims the lend whose address `lent` the state held (CAS from `lent`
    /// to `FILLING`); `None` if its reader took it back first. The caller
    /// then owns the lent buffer until it answers (see [`Lend`]).
    pub(super) fn claim_lend(&self, lent: usize) -> Option<&Lend> {
        debug_assert!(lent >= LENT_MIN);
        // ORDERING: SeqCst acquires the reader's publication of its lend.
        self.slot
            .state
            .compare_exchange(lent, FILLING, Ordering::SeqCst, Ordering::SeqCst)
            .ok()?;
        // SAFETY: `lent` is the address of a `Lend` that our CAS claimed: its
        // reader waits for our answer before it returns (`Lend`), so the
        // reference is valid until the caller answers, which it does last.
        Some(unsafe { &*(lent as *const Lend) })
    }

    /// Frees the slot and answers a claimed `lend` with `n` bytes: the slot
    /// is free before the reader hears, so its next read finds it usable.
    /// Rings the lender, and the readers waiting for the slot: threads only
    /// (a free slot is news only to a reader that lends), or tasks too when
    /// `tasks` (bytes were staged in the same move).
    pub(super) fn answer_and_free(&self, sh: &PipeState, lend: &Lend, n: usize, tasks: bool) {
        // ORDERING: SeqCst orders the free slot before the answer and both
        // before the looks at the doorbells.
        self.slot.state.store(EMPTY, Ordering::SeqCst);
        lend.answer(n);
        sh.signals.notify(Bell::Filled);
        // The slot is free again.
        self.ring_blocked_offerer(&sh.signals);
        if tasks {
            sh.signals.notify(Bell::Offer);
        } else {
            sh.signals.notify_threads(Bell::Offer);
        }
    }

    /// Stores the lease of the offer about to be published.
    ///
    /// # Safety
    ///
    /// The caller holds the write side and the state is free (`EMPTY`,
    /// `REPLIED`, or a reader's lend over them) or `FILLING`: no reader looks at
    /// the lease in those states (`Slot::lease`).
    #[inline]
    pub(super) unsafe fn set_lease(&self, bytes: &[u8]) {
        self.slot.lease.with_mut(|lease| {
            // SAFETY: the caller guarantees no reader holds the lease.
            unsafe { *lease = Lease::new(bytes) }
        });
    }

    /// Ends a write whose offer readers used up.
    #[inline]
    pub(super) fn finish(&self, sh: &PipeState, len: usize) -> Written {
        self.end_lease();
        self.free_replied(sh);
        Ok(len)
    }

    /// Frees the slot after a used-up offer: `REPLIED -> EMPTY`, unless a
    /// reader already lent its buffer over it (then it stays lent).
    #[inline]
    pub(super) fn free_replied(&self, sh: &PipeState) {
        // ORDERING: the SeqCst load that saw REPLIED (or the lend over it,
        // which continues the reader's release sequence) acquired the last
        // copy. SeqCst here orders the free slot before the look at the
        // readers' doorbell: a reader that found the slot busy may lend now.
        if self
            .slot
            .state
            .compare_exchange(REPLIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // Only threads lend: waking a task here would cost it a poll for
            // nothing (it waits for an offer or staged bytes).
            sh.signals.notify_threads(Bell::Offer);
        }
    }

    /// Takes the current offer back; returns how many bytes were left in it, or
    /// `None` if readers took every byte first (the state is then `REPLIED`). A
    /// reader that is copying from the offer is waited for, with no deadline:
    /// it gives the lease back instead of offering the rest again.
    pub(super) fn retract(&self, sh: &PipeState) -> Option<usize> {
        let sig = &sh.signals;
        let state = &self.slot.state;
        loop {
            // ORDERING: SeqCst, so the CAS acquires a reader's re-offer (and the
            // lease it advanced) and, on failure, its REPLIED.
            match state.compare_exchange(OFFERED, EMPTY, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                // Used up: REPLIED, or a lend put over it.
                Err(s) if s == REPLIED || s >= LENT_MIN => return None,
                Err(_) => {
                    // CLAIMED: a reader is copying from our bytes. Recall the
                    // lease; if the reader moved on first, look again.
                    if state
                        .compare_exchange(CLAIMED, RECALLED, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        continue;
                    }
                    // It must be done before we may leave: wait for it to give
                    // the lease back, with no deadline and whatever closes.
                    let mut answer = RECALLED;
                    sig.wait_until(Bell::Reply, Deadline::never(), false, || {
                        answer = state.load(Ordering::SeqCst);
                        answer != RECALLED
                    });
                    if answer != RETURNED {
                        // REPLIED, or a lend a reader put over it.
                        return None;
                    }
                    // ORDERING: the load that saw RETURNED acquired the reader's
                    // hand-back; the slot is ours until we free it here.
                    state.store(EMPTY, Ordering::SeqCst);
                    break;
                }
            }
        }
        let left = self.slot.lease.with(|lease| {
            // SAFETY: the offer was taken back (our CAS, or the reader's answer
            // to the recall), so no reader holds the lease (`Slot::lease`).
            unsafe { (*lease).len() }
        });
        self.end_lease();
        // The slot is free: a reader that found it busy may lend now (only
        // threads lend).
        sig.notify_threads(Bell::Offer);
        Some(left)
    }

    /// Clears the lease once no reader can hold it (under loom, this access is
    /// what proves the reader's copy happened before the write returns).
    #[inline]
    pub(super) fn end_lease(&self) {
        self.slot.lease.with_mut(|lease| {
            // SAFETY: the offer was taken back or used up, so no reader holds the
            // lease (`Slot::lease`).
            unsafe { *lease = Lease::empty() }
        });
    }
}
