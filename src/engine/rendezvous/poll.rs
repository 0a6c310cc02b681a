//! ## Tasks: the async polls
//!
//! A task's buffer lives for one poll, so a task never lends and never
//! offers: a read copies staged bytes or a thread's offer, a write copies
//! into a thread's lent buffer or stages into the pipe's own buffer
//! ([`crate::engine::stage`]). Every wait registers, then looks again (see
//! `sync::tasks`).
//!
//! A poll spins only for a thread that will answer soon (see the hints
//! `thread_reads` and `thread_writes`, and [`spin_in_poll`]). A
//! spin that comes up empty clears the hint it followed, so a thread that
//! read or wrote once and then sits idle costs a task one spin, not one per
//! poll. A write spins with the write side held, so it stops as soon as
//! another writer waits for it.

use std::io;
use std::task::{Context, Poll};

use super::state::*;
use super::write::WriteGuard;
use super::{Rendezvous, FILL_MAX, LEND_AFTER, SPIN};
use crate::engine::stage::STAGE_CAP;
use crate::engine::{Dst, PipeState};
use crate::sync::{spin_in_poll, Bell, Ordering, Spun, TaskSlot};

impl Rendezvous {
    /// An async read: copies staged bytes or a writer's offer into `buf` (not
    /// empty), or registers the task (under `task`'s place) to be woken when
    /// there may be some. A task cannot lend its buffer (it only lives for
    /// this poll), so it never lends; `Pending` took nothing.
    pub(crate) fn poll_read<D: Dst + ?Sized>(
        &self,
        sh: &PipeState,
        cx: &mut Context<'_>,
        task: &TaskSlot,
        buf: &mut D,
    ) -> Poll<io::Result<usize>> {
        /// How many empty writes (or lost races) one poll goes through before
        /// it yields, so that a stream of them cannot hold the executor.
        const TURNS: usize = 32;
        let sig = &sh.signals;
        let mut registered = false;
        for _ in 0..TURNS {
            // A drain claim may hold staged bytes (closed pipe or not): then
            // the task waits for the claim to end, which rings `Bell::Offer`.
            // ORDERING (the look at the offer, last below): SeqCst: after
            // registering, this is the task's last look, paired with the
            // writer's SeqCst offer and its look at the task count
            // (`try_claim` alone starts with a relaxed load).
            if sig.is_closed() {
                if let Some(res) = self.closed_staged(sh, buf) {
                    return Poll::Ready(res);
                }
            } else if !self.stage.is_empty() {
                match self.take_staged(sh, buf) {
                    0 if self.stage.claimed() => {}
                    0 => continue,
                    n => {
                        super::set_hint(&self.thread_reads, false);
                        return Poll::Ready(Ok(n));
                    }
                }
            } else if self.slot.state.load(Ordering::SeqCst) == OFFERED && self.try_claim() {
                match self.copy_and_hand_back(sh, buf) {
                    // An empty write, consumed: it does not end the read.
                    0 => continue,
                    n => return Poll::Ready(Ok(n)),
                }
            }
            if registered {
                return Poll::Pending;
            }
            // A thread writes this pipe: it is running, and its next write
            // comes within a moment; wait that moment rather than sleep. Not
            // on a closed pipe, nor while a drain claim holds the staged
            // bytes: then the wait is for the claim, asleep.
            // ORDERING: Relaxed: a hint for a spin.
            if self
                .thread_writes
                .load(std::sync::atomic::Ordering::Relaxed)
                && !sig.is_closed()
                && !self.stage.claimed()
            {
                let spun = spin_in_poll(
                    LEND_AFTER,
                    || {
                        sig.is_closed()
                            || (!self.stage.is_empty() && !self.stage.claimed())
                            || self.slot.state.load(Ordering::SeqCst) == OFFERED
                    },
                    || false,
                );
                match spun {
                    Spun::Ready => continue,
                    // No write within the moment: the thread is not writing
                    // now. Its next write sets the hint again.
                    Spun::Empty => super::set_hint(&self.thread_writes, false),
                    Spun::Left => {}
                }
            }
            // Register, then look once more (see `TaskBells`).
            sig.register_task(Bell::Offer, task, cx.waker());
            registered = true;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// An async write of the gather `bufs` (one slice for a plain write):
    /// copies into a thread's lent buffer if one is waiting and nothing is
    /// staged, and stages the rest (or all of it). A gather of at most
    /// [`STAGE_CAP`] bytes is accepted whole or not at all (then `Pending`,
    /// having taken nothing); a larger one as much of its prefix as fits, 64 KiB at most.
    pub(crate) fn poll_write(
        &self,
        sh: &PipeState,
        cx: &mut Context<'_>,
        task: &TaskSlot,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let sig = &sh.signals;
        if sig.is_closed() {
            return Poll::Ready(Err(sh.write_close_error()));
        }
        let total = bufs
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.len()));
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if !self.lock.try_lock() {
            // Register, then look again at what could end the wait: the write
            // side freed (its holder frees it, then rings) or a close.
            sig.register_task(Bell::Lock, task, cx.waker());
            if !self.lock.try_lock() {
                if sig.is_closed() {
                    return Poll::Ready(Err(sh.write_close_error()));
                }
                return Poll::Pending;
            }
        }
        // Frees the write side (and rings the writers waiting for it) on
        // every way out.
        let _held = WriteGuard { engine: self, sh };
        super::set_hint(&self.thread_writes, false);
        // A hint for lenders' spins (see `task_writes`).
        super::set_hint(&self.task_writes, true);
        if sig.is_closed() {
            return Poll::Ready(Err(sh.write_close_error()));
        }
        let state = &self.slot.state;
        // A thread reads this pipe: it is running, and comes back for more
        // within a moment. A large write waits that moment for its lent
        // buffer (one copy, where staging makes two), and a write that finds
        // too little room for readers to make it (rather than sleep until
        // they ring).
        // ORDERING: Relaxed: a hint for a spin.
        if self.thread_reads.load(std::sync::atomic::Ordering::Relaxed) {
            self.spin_for_thread_reader(sig, total);
        }
        let mut ring = self.stage.lock();
        if ring.len() == 0 {
            // ORDERING: SeqCst acquires a reader's publication of its lend.
            let lent = state.load(Ordering::SeqCst);
            if let Some(lend) = (lent >= LENT_MIN).then(|| self.claim_lend(lent)).flatten() {
                // SAFETY: our CAS claimed the lend and we have not answered.
                // At most 64 KiB in all, as a write that finds no lend.
                let n = unsafe { lend.fill_gather(bufs, STAGE_CAP) };
                // What did not fit is staged in the same call (it fits whole
                // when the gather does: the stage was empty), up to 64 KiB
                // accepted in all, as a write that finds no lend accepts.
                let staged = ring.push_gather(bufs, n, STAGE_CAP.saturating_sub(n));
                self.stage.publish(&ring);
                // ORDERING: SeqCst, after the SeqCst length (see the staging
                // path below).
                let closed = sig.is_closed();
                if closed && staged > 0 {
                    // Closed meanwhile: take the whole write back, so that it
                    // is neither half accepted nor staged behind an end of
                    // file; the lender hears 0 bytes copied (what it does with
                    // an empty write) and its read then sees the close.
                    ring.unpush(staged);
                    self.stage.publish(&ring);
                }
                drop(ring);
                // After the staged bytes, which the lender's next read finds;
                // they are news to waiting tasks too.
                self.answer_and_free(sh, lend, if closed { 0 } else { n }, true);
                if closed {
                    // Bytes taken back: a `consumed` waiting on them looks again.
                    sig.notify(Bell::Stage);
                    return Poll::Ready(Err(sh.write_close_error()));
                }
                return Poll::Ready(Ok(n + staged));
            }
        }
        let room = ring.room();
        if room == 0 || (total <= STAGE_CAP && total > room) {
            // Wait for readers to make room: register (with no lock held: it
            // may wake a task it pushes out), then look again at everything
            // that could have ended the wait meanwhile (see `TaskBells`).
            let need = if total <= STAGE_CAP { total } else { 1 };
            drop(ring);
            sig.register_task(Bell::Stage, task, cx.waker());
            if sig.is_closed() {
                return Poll::Ready(Err(sh.write_close_error()));
            }
            if STAGE_CAP - self.stage.len() >= need {
                // Room came before we registered: poll again.
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        let n = ring.push_gather(bufs, 0, STAGE_CAP);
        self.stage.publish(&ring);
        // ORDERING: SeqCst, after the SeqCst length: a reader that saw the
        // pipe closed and then no staged byte (end of file, or a read half's
        // close) must never find these bytes later, so a close we see now
        // takes them back; a close we do not see comes after the length in
        // the single order, and that reader then finds the bytes.
        if sig.is_closed() {
            ring.unpush(n);
            self.stage.publish(&ring);
            drop(ring);
            // Bytes taken back: a `consumed` waiting on them looks again.
            sig.notify(Bell::Stage);
            return Poll::Ready(Err(sh.write_close_error()));
        }
        drop(ring);
        // Under loom: the other half of the lender's fence in `lend`.
        crate::sync::loom_sc_fence();
        // A reader may have lent its buffer since we looked: it waits for
        // a writer that will not come while bytes are staged, so ring it
        // (it then takes the lend back and reads the stage).
        // ORDERING: SeqCst, after the stage's SeqCst length (paired with the
        // lender's look at the stage after its CAS).
        if state.load(Ordering::SeqCst) >= LENT_MIN {
            sig.notify(Bell::Filled);
        }
        sig.notify(Bell::Offer);
        Poll::Ready(Ok(n))
    }

    /// Spins, while a thread reads this pipe, until a large write (over
    /// [`FILL_MAX`]) of `total` bytes finds a lent buffer, or a write finds
    /// the room it needs, for at most [`LEND_AFTER`] or [`SPIN`]; the caller
    /// then looks as usual. The caller holds the write side: the spin stops
    /// (or never starts) once another writer waits for it, threads and tasks
    /// alike. A spin that comes up empty clears `thread_reads`: the thread
    /// is not reading now, and its next read sets the hint again.
    fn spin_for_thread_reader(&self, sig: &crate::sync::Signals, total: usize) {
        // A write of at most 64 KiB is staged whole or not at all; a larger
        // one takes a prefix of whatever room there is.
        let need = if total <= STAGE_CAP { total } else { 1 };
        let lent = || self.slot.state.load(Ordering::SeqCst) >= LENT_MIN;
        let writers_wait = || sig.has_sleepers(Bell::Lock) || sig.sleepers(Bell::Handoff) != 0;
        let len = self.stage.len();
        let spun = if len == 0 && total > FILL_MAX && !lent() {
            spin_in_poll(
                LEND_AFTER,
                || sig.is_closed() || lent() || !self.stage.is_empty(),
                writers_wait,
            )
        } else if STAGE_CAP - len < need {
            spin_in_poll(
                SPIN,
                || sig.is_closed() || STAGE_CAP - self.stage.len() >= need,
                writers_wait,
            )
        } else {
            return;
        };
        if spun == Spun::Empty {
            super::set_hint(&self.thread_reads, false);
        }
    }

    /// The mark a `consumed` waits for: every byte async writes have staged
    /// so far (bytes copied straight into a lent buffer were consumed when
    /// they were accepted).
    pub(crate) fn consumed_mark(&self) -> u64 {
        self.stage.lock().accepted_mark()
    }

    /// Ready once readers have taken every staged byte up to `mark` (from
    /// [`Rendezvous::consumed_mark`]); fails with the close error if the read half
    /// closes while some of them are unread (it discards them).
    pub(crate) fn poll_consumed(
        &self,
        sh: &PipeState,
        cx: &mut Context<'_>,
        task: &TaskSlot,
        mark: u64,
    ) -> Poll<io::Result<()>> {
        let mut registered = false;
        loop {
            if self.stage.lock().taken_past(mark) {
                return Poll::Ready(Ok(()));
            }
            // The done flag first, a plain load: the read half's error is
            // stored before done closes, and a close after this look wakes
            // every task, so the look at the error can wait for it.
            if sh.signals.is_closed() && sh.read_closed() {
                return Poll::Ready(Err(sh.write_close_error()));
            }
            if registered {
                return Poll::Pending;
            }
            // Every take of staged bytes, every take-back and every close
            // rings this bell; register, then look again (see `TaskBells`).
            sh.signals.register_task(Bell::Stage, task, cx.waker());
            registered = true;
        }
    }
}
