//! ## Reader, the blocking path
//!
//! A thread's `read`: staged bytes first, then a writer's offer (claimed and
//! copied out of the writer's slice), else the reader's own buffer lent for
//! the next writer to fill. Owns the lender's role and the lend's life; moves
//! the state only as `state.rs` allows a reader to.

use std::io;

use super::state::*;
use super::{Rendezvous, LEND_AFTER, SPIN, WAKE};
use crate::engine::{Dst, Fill, PipeState};
use crate::error::timed_out;
use crate::sync::{core_crowded, spin_until, Bell, Deadline, Ordering, Park};

/// From how many bytes a read of a buffered pipe's staged bytes (the smaller
/// of its room and the bytes staged) copies with the stage's lock released:
/// a larger copy under the lock kept a writer waiting for it, one push at a
/// time. Below it, one pass under the lock costs less than the claim's two.
/// Two bytes under loom, so that the models take both ways: a 1-byte read
/// under the lock, a larger one under a claim.
const UNLOCKED_TAKE: usize = if cfg!(gopipe_loom) { 2 } else { 4 << 10 };

/// Takes a published lend back when dropped (a panic unwinding through a read
/// that lent its buffer): the buffer is about to be freed, so no writer may
/// copy into it afterwards, and one that is copying is waited for.
pub(super) struct LendGuard<'a> {
    /// The engine whose state holds the lend.
    engine: &'a Rendezvous,
    /// The pipe, for its doorbells.
    sh: &'a PipeState,
    /// The lend.
    lend: &'a Lend,
    /// The state the lend replaced, put back if it is taken back unclaimed.
    free: usize,
}

impl Drop for LendGuard<'_> {
    fn drop(&mut self) {
        let _ = self.engine.take_back(self.sh, self.lend, self.free);
        self.lend.end();
        self.engine.release_lender(self.sh);
    }
}

impl Rendezvous {
    /// Reads from the next write; `buf` is not empty.
    pub(crate) fn read(
        &self,
        sh: &PipeState,
        buf: &mut [u8],
        deadline: Deadline,
    ) -> io::Result<usize> {
        let sig = &sh.signals;
        loop {
            // As in Go, a closed pipe wins over a pending write.
            if sig.is_closed() {
                return self.read_closed(sh, buf, deadline);
            }
            // Staged bytes come before any offer (a sync writer waits for
            // them to drain before it offers).
            if !self.stage.is_empty() {
                match self.take_staged(sh, &mut Fill::new(buf)) {
                    // A draining read's sink holds them: wait for its claim
                    // to end (nothing else is usable meanwhile).
                    0 if self.stage.claimed() => match self.wait_usable(sh, deadline) {
                        Park::Rung => continue,
                        Park::Closed => return self.read_closed(sh, buf, deadline),
                        Park::TimedOut => return Err(timed_out()),
                    },
                    0 => continue,
                    n => {
                        super::set_hint(&self.thread_reads, true);
                        return Ok(n);
                    }
                }
            }
            match self.slot.state.load(Ordering::SeqCst) {
                // A writer is waiting: copy from its bytes.
                OFFERED if self.try_claim(sh) => {
                    // An empty write is consumed without ending the read, but a
                    // stream of them must not keep a timed read past its
                    // deadline.
                    match self.copy_and_hand_back(sh, &mut Fill::new(buf)) {
                        0 if deadline.passed() => return Err(timed_out()),
                        0 => continue,
                        n => return Ok(n),
                    }
                }
                // No writer yet (or the last one is done and only has to
                // notice). On a core of its own a reader first spins briefly
                // for the writer's next offer: copying it out is cheaper than
                // having the writer copy in (see `FILL_MAX`). A reader whose
                // core is crowded lends at once: its writer cannot run until
                // it stops, and a lend lets that writer finish without waiting.
                EMPTY | REPLIED if self.offer_coming(sig, deadline) => continue,
                // Lend our buffer, for the next writer to copy into. (If the
                // state moved on during the spin, the lend's CAS fails and the
                // loop looks again.)
                free @ (EMPTY | REPLIED) if self.try_take_lender() => {
                    match self.lend(sh, free, buf, deadline) {
                        LendOutcome::Filled(0) if deadline.passed() => return Err(timed_out()),
                        LendOutcome::Filled(0) | LendOutcome::Lost | LendOutcome::Declined => {
                            continue
                        }
                        LendOutcome::Filled(n) => return Ok(n),
                        LendOutcome::Closed => return self.read_closed(sh, buf, deadline),
                        LendOutcome::TimedOut => return Err(timed_out()),
                    }
                }
                _ => {}
            }
            match self.wait_usable(sh, deadline) {
                Park::Rung => {}
                Park::Closed => return self.read_closed(sh, buf, deadline),
                Park::TimedOut => return Err(timed_out()),
            }
        }
    }

    /// What a read on a closed pipe returns: staged bytes first, unless the
    /// read half itself closed (that discards them); then end of file or the
    /// close error. Staged bytes that a drain claim holds are waited for, up
    /// to the deadline: the drainer's sink may fail and leave them staged, so
    /// end of file must not come before the claim ends.
    #[cold]
    pub(super) fn read_closed(
        &self,
        sh: &PipeState,
        buf: &mut [u8],
        deadline: Deadline,
    ) -> io::Result<usize> {
        loop {
            if let Some(res) = self.closed_staged(sh, &mut Fill::new(buf)) {
                return res;
            }
            if self.wait_claim(sh, deadline) == Park::TimedOut {
                return Err(timed_out());
            }
        }
    }

    /// [`Rendezvous::read_closed`] without waiting: `None` while a drain claim holds
    /// staged bytes (the caller waits for the claim to end).
    #[cold]
    pub(super) fn closed_staged<D: Dst + ?Sized>(
        &self,
        sh: &PipeState,
        buf: &mut D,
    ) -> Option<io::Result<usize>> {
        loop {
            if self.stage.is_empty() || sh.read_closed() {
                return Some(sh.read_close_result());
            }
            match self.take_staged(sh, buf) {
                0 if self.stage.claimed() => return None,
                // Another reader took them, or a claim ended: look again.
                0 => {}
                n => return Some(Ok(n)),
            }
        }
    }

    /// A read on a closed pipe whose staged bytes a drain claim holds: waits
    /// for the claim to end, the read half to close or the deadline to pass.
    /// It ignores the done channel (closed already, it would end every park)
    /// but keeps the deadline.
    #[cold]
    pub(super) fn wait_claim(&self, sh: &PipeState, deadline: Deadline) -> Park {
        let sig = &sh.signals;
        let ended = || !self.stage.claimed() || sh.read_closed();
        if spin_until(deadline.budget(SPIN), ended) {
            return Park::Rung;
        }
        // The claim's end and the read half's close both wake every thread
        // waiting here (`Signals::notify_all`), not one of them.
        sig.wait_until(Bell::Offer, deadline, false, ended)
    }

    /// Copies staged bytes into `buf` (not empty); returns how many: 0 if a
    /// drain claim holds them (the caller waits for it to end) or another
    /// reader took them first. A buffered pipe's large take copies with the
    /// stage's lock released ([`UNLOCKED_TAKE`]).
    #[inline]
    pub(super) fn take_staged<D: Dst + ?Sized>(&self, sh: &PipeState, buf: &mut D) -> usize {
        if self.buffered && buf.room().min(self.stage.len()) >= UNLOCKED_TAKE {
            return self.take_staged_unlocked(sh, buf);
        }
        let (n, left) = self.stage.take(buf);
        self.staged_taken(sh, n, left);
        n
    }

    /// [`Rendezvous::take_staged`] of a large take: under a drain claim, as
    /// a `read_vectored` takes (see `drain_staged`), so that writers go on
    /// pushing into the free room while it copies rather than wait for the
    /// copy. A claim held already is left to its holder (0).
    #[inline(never)]
    fn take_staged_unlocked<D: Dst + ?Sized>(&self, sh: &PipeState, buf: &mut D) -> usize {
        let mut into_buf = |bytes: &[u8]| -> io::Result<usize> {
            let k = bytes.len().min(buf.room());
            buf.put(&bytes[..k]);
            Ok(k)
        };
        self.drain_staged(sh, &mut into_buf).map_or(0, |(n, _)| n)
    }

    /// Rings after a read took `n` staged bytes and left `left` staged.
    #[inline]
    pub(super) fn staged_taken(&self, sh: &PipeState, n: usize, left: usize) {
        if n > 0 {
            // Room for a waiting async writer, or the drain a sync writer or
            // a flush waits for.
            sh.signals.notify(Bell::Stage);
            if left > 0 {
                // More for the next reader.
                sh.signals.notify(Bell::Offer);
            }
        }
    }

    /// On a core of its own, whether a reader that found the slot free sees
    /// a writer's offer (or staged bytes, or the close) within
    /// [`LEND_AFTER`]: copying an offer out is cheaper than having the writer
    /// copy in (see `FILL_MAX`). A reader whose core is crowded does not wait:
    /// its writer cannot run until it stops, and a lend lets that writer
    /// finish without waiting. Nor does a reader of an unbuffered pipe that
    /// tasks write: a task never offers, it fills a lend (one copy) or
    /// stages (two). A buffered pipe's reader does wait for staged bytes,
    /// tasks writing or not: there every write that finds no lend stages,
    /// and a reader that lent at once took a task's stream one write a read,
    /// each a hand-off (a thread reading 1 KiB writes from a task took 1.3x
    /// the time it takes spinning, 4 KiB writes 2.2x; 16 and 64 KiB writes,
    /// which fill a lend whole, the same).
    #[inline]
    pub(super) fn offer_coming(&self, sig: &crate::sync::Signals, deadline: Deadline) -> bool {
        !core_crowded()
            && (self.buffered || !self.task_writes.load(std::sync::atomic::Ordering::Relaxed))
            && spin_until(deadline.budget(LEND_AFTER), || {
                self.slot.state.load(Ordering::SeqCst) == OFFERED
                    || sig.is_closed()
                    || !self.stage.is_empty()
            })
    }

    /// A reader's wait when it found nothing it can use: another reader holds
    /// the offer or lends its buffer, or a writer is busy with the slot (or
    /// another reader won the race, with the wake-up we may have taken from
    /// the doorbell: it has work to do, we do not). Spins, then parks until
    /// the state may be usable (`Rung`: look again), the pipe closes or the
    /// deadline passes. Only here may a timed read give up: a read woken for a
    /// usable state must try it first, or the wake-up would be lost.
    pub(super) fn wait_usable(&self, sh: &PipeState, deadline: Deadline) -> Park {
        let sig = &sh.signals;
        if deadline.passed() {
            return Park::TimedOut;
        }
        if spin_until(deadline.budget(SPIN), || self.usable() || sig.is_closed()) {
            return Park::Rung;
        }
        sig.wait_until(Bell::Offer, deadline, true, || self.usable())
    }

    /// Whether a reader could do something now: take staged bytes (no drain
    /// claim holds them), claim an offer, or lend.
    #[inline]
    pub(super) fn usable(&self) -> bool {
        if !self.stage.is_empty() {
            return !self.stage.claimed();
        }
        // ORDERING: SeqCst: the waiter's last looks before it parks, paired
        // with the looks at the doorbell of whoever makes the state usable.
        match self.slot.state.load(Ordering::SeqCst) {
            OFFERED => true,
            EMPTY | REPLIED => !self.lender.load(Ordering::SeqCst),
            _ => false,
        }
    }

    /// Becomes the one reader that may lend; returns whether this call did.
    #[inline]
    pub(super) fn try_take_lender(&self) -> bool {
        // ORDERING: acquires the previous lender's release (nothing else is
        // handed over through this flag: the lend itself goes through the
        // state word).
        !self.lender.load(Ordering::Relaxed)
            && self
                .lender
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
    }

    /// Gives up the lender's role, and wakes a reader that waited for it.
    #[inline]
    pub(super) fn release_lender(&self, sh: &PipeState) {
        // ORDERING: SeqCst orders the release before the look at the doorbell.
        self.lender.store(false, Ordering::SeqCst);
        // Only threads lend: a task waiting for bytes has no use for this.
        sh.signals.notify_threads(Bell::Offer);
    }

    /// Lends `buf` to the next writer and waits for it to copy into it, the
    /// pipe to close or the deadline to pass. `free` is the state the caller
    /// saw: `EMPTY`, or `REPLIED` (a writer whose offer readers used up, which
    /// takes a lend in its place as its answer: see `fill_or_offer`). The caller
    /// holds the lender's role; this call gives it back.
    pub(super) fn lend(
        &self,
        sh: &PipeState,
        free: usize,
        buf: &mut [u8],
        deadline: Deadline,
    ) -> LendOutcome {
        let sig = &sh.signals;
        super::set_hint(&self.thread_reads, true);
        let lend = Lend::new(buf);
        let addr = &lend as *const Lend as usize;
        // ORDERING: SeqCst publishes the lend (its view and its PENDING
        // result) to the writer's claiming CAS, and orders it before the
        // writer's look at its doorbell... and ours below.
        if self
            .slot
            .state
            .compare_exchange(free, addr, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.release_lender(sh);
            return LendOutcome::Lost;
        }
        // From here until the lend is back or answered, a panic must not
        // unwind past this frame: `buf` would be freed under a writer's copy.
        let guard = LendGuard {
            engine: self,
            sh,
            lend: &lend,
            free,
        };
        sh.failpoint_after_lend();
        // Under loom, the fence that makes the CAS above and the look at the
        // stage below one SeqCst pair with the stager's (see `loom_sc_fence`).
        crate::sync::loom_sc_fence();
        // Bytes an async write staged meanwhile come first, and no writer
        // fills a lend while bytes are staged: a lender that sees some takes
        // its lend back and reads them. (The stager looks at the state after
        // staging and rings us, so one of the two looks sees the other.)
        let staged = || !self.stage.is_empty();
        let mut woke = Park::Rung;
        // ORDERING: a hint for how long to spin, nothing more.
        let patience = if self.task_writes.load(std::sync::atomic::Ordering::Relaxed) {
            WAKE
        } else {
            SPIN
        };
        if !spin_until(deadline.budget(patience), || {
            lend.answered() || sig.is_closed() || staged()
        }) || !(lend.answered() || staged())
        {
            woke = sig.wait_until(Bell::Filled, deadline, true, || lend.answered() || staged());
        }
        std::mem::forget(guard);
        let filled = if woke == Park::Rung && lend.answered() {
            // ORDERING: the SeqCst load that saw the answer acquired the copy.
            Some(lend.result.load(Ordering::Relaxed))
        } else {
            // A declined lend carried no bytes: as good as taken back.
            self.take_back(sh, &lend, free).filter(|&n| n != DECLINED)
        };
        lend.end();
        self.release_lender(sh);
        match (filled, woke) {
            (Some(DECLINED), Park::Rung) => LendOutcome::Declined,
            (Some(n), Park::Rung) => LendOutcome::Filled(n),
            // Taken back unfilled to read staged bytes: look again.
            (None, Park::Rung) => LendOutcome::Lost,
            // Bytes that arrived before the close or the deadline are returned,
            // never lost.
            (Some(n), _) if n > 0 => LendOutcome::Filled(n),
            (_, Park::Closed) => LendOutcome::Closed,
            _ => LendOutcome::TimedOut,
        }
    }

    /// Takes a published lend back, putting back the state it replaced
    /// (`free`: `EMPTY`, or the `REPLIED` a writer may still be waiting to
    /// see); returns `None` if no writer had claimed it, or what the writer
    /// that claimed it copied, after waiting for its answer with no deadline.
    pub(super) fn take_back(&self, sh: &PipeState, lend: &Lend, free: usize) -> Option<usize> {
        let sig = &sh.signals;
        let addr = lend as *const Lend as usize;
        // ORDERING: SeqCst; on failure a writer has claimed the lend, and the
        // wait below acquires its answer.
        if self
            .slot
            .state
            .compare_exchange(addr, free, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // The slot is free again.
            self.ring_blocked_offerer(sig);
            return None;
        }
        // A writer is copying into our buffer: it must be done before we may
        // leave, so wait for its answer whatever closes.
        if !spin_until(SPIN, || lend.answered()) {
            sig.wait_until(Bell::Filled, Deadline::never(), false, || lend.answered());
        }
        Some(lend.result.load(Ordering::Relaxed))
    }

    /// Takes the current offer if there is one; returns whether this call did.
    ///
    /// On a buffered pipe, staged bytes come before the offer (its writer
    /// offers the rest of a write while the write's first bytes fill the
    /// buffer: `offer_rest`): a claim that finds bytes staged hands the offer
    /// back untouched and returns false, and the caller reads the stage. Our
    /// look at the stage before the claim may predate the writer's last
    /// push; the look after the claiming CAS, which follows the offer in the
    /// single order, cannot.
    #[inline]
    pub(super) fn try_claim(&self, sh: &PipeState) -> bool {
        let state = &self.slot.state;
        // ORDERING: the CAS acquires the store or CAS that made the state
        // OFFERED, which came after the lease was stored or advanced. SeqCst
        // on success: before the look at the stage below.
        if !(state.load(Ordering::Relaxed) == OFFERED
            && state
                .compare_exchange(OFFERED, CLAIMED, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok())
        {
            return false;
        }
        if self.buffered && !self.stage.is_empty() {
            let left = self.slot.lease.with(|lease| {
                // SAFETY: our CAS moved the state to CLAIMED: the lease is
                // ours until we hand it back (`Slot::lease`).
                unsafe { (*lease).len() }
            });
            self.hand_back(sh, left);
            return false;
        }
        true
    }

    /// Copies from the claimed lease into `buf`, then puts the rest back on offer,
    /// tells the writer that nothing is left, or gives the lease back to a writer
    /// that recalled it; returns how many bytes it copied.
    #[inline]
    pub(super) fn copy_and_hand_back<D: Dst + ?Sized>(&self, sh: &PipeState, buf: &mut D) -> usize {
        let (n, left) = self.slot.lease.with_mut(|lease| {
            // SAFETY: this reader's CAS moved the state to CLAIMED, so it owns the
            // lease, and the writer does not leave before the state moves on
            // below (`Slot::lease`, `Lease`).
            unsafe {
                let n = (*lease).copy_into(buf);
                (*lease).advance(n);
                (n, (*lease).len())
            }
        });
        self.hand_back(sh, left);
        n
    }

    /// Hands a claimed lease back with `left` bytes in it: puts the rest back
    /// on offer, tells the writer nothing is left, or gives the lease back to a
    /// writer that recalled it.
    #[inline]
    pub(super) fn hand_back(&self, sh: &PipeState, left: usize) {
        let sig = &sh.signals;
        let state = &self.slot.state;
        let next = if left == 0 { REPLIED } else { OFFERED };
        // ORDERING: SeqCst releases the copy (and the advanced lease) to the
        // writer or the next claimer, and orders the change before the looks at
        // the doorbells.
        match state.compare_exchange(CLAIMED, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) if next == OFFERED => {
                // The rest stays on offer for the next read, with no round trip
                // through the writer, which sleeps on until its write is done.
                sig.notify(Bell::Offer);
            }
            Ok(_) => {
                sig.notify(Bell::Reply);
                self.ring_blocked_offerer(sig);
            }
            Err(_) => {
                // RECALLED: the writer is leaving and waits for this lease.
                // ORDERING: SeqCst, as above, releases the copy to the writer.
                state.store(if left == 0 { REPLIED } else { RETURNED }, Ordering::SeqCst);
                sig.notify(Bell::Reply);
            }
        }
    }
}
