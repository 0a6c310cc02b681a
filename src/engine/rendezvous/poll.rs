//! ## Tasks: the async polls
//!
//! A task's buffer lives for one poll, so a task never lends and never
//! offers: a read copies staged bytes or a thread's offer, a write copies
//! into a thread's lent buffer or stages into the pipe's own buffer
//! ([`crate::engine::stage`]). Every wait registers, then looks again (see
//! `sync::tasks`).
//!
//! A poll spins only for a thread that will answer soon (see the hints
//! `thread_reads` and `thread_writes`), and never yields while it does
//! ([`spin_in_poll`]): the thread it runs on is an executor's worker. A
//! spin that comes up empty clears the hint it followed, so a thread that
//! read or wrote once and then sits idle costs a task one spin, not one per
//! poll. A write spins with the write side held, so it stops as soon as
//! another writer waits for it.

use std::io;
use std::task::{Context, Poll};

use super::staging::Accepted;
use super::state::*;
use super::write::WriteGuard;
use super::{Rendezvous, FILL_MAX, LEND_AFTER, SPIN};
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
            } else if self.slot.state.load(Ordering::SeqCst) == OFFERED && self.try_claim(sh) {
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
    /// staged, and stages the rest (or all of it) ([`Rendezvous::accept`]).
    /// A gather of at most the stage's capacity (64 KiB, or a
    /// buffered pipe's) is accepted whole or not at all (then `Pending`,
    /// having taken nothing); a larger one as much of its prefix as fits, the
    /// capacity at most.
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
        let cap = self.stage.cap();
        // A buffered pipe's write that fits in the room there is now goes in
        // whole, without the write side, if no other write holds it (see
        // `accept`); not a large one while a thread reads, which waits a
        // moment below for that thread's lent buffer (one copy, not two).
        // ORDERING: Relaxed: a hint for a spin.
        if self.buffered
            && total <= cap
            && (total <= FILL_MAX || !self.thread_reads.load(std::sync::atomic::Ordering::Relaxed))
        {
            super::set_hint(&self.thread_writes, false);
            super::set_hint(&self.task_writes, true);
            match self.accept(sh, bufs, total, cap, true, true) {
                Accepted::Took(n) => return Poll::Ready(Ok(n)),
                Accepted::Closed => return Poll::Ready(Err(sh.write_close_error())),
                Accepted::NoRoom => {}
            }
        }
        self.poll_write_held(sh, cx, task, bufs, total)
    }

    /// [`Rendezvous::poll_write`] of `total` bytes (not zero) on an open
    /// pipe, with the write side held: an unbuffered pipe's, or a buffered
    /// pipe's that found no room for the whole gather or the write side
    /// held. Not inlined: the buffered pipe's common write above then saves
    /// and restores fewer registers (callgrind: 10 instructions a write).
    #[inline(never)]
    fn poll_write_held(
        &self,
        sh: &PipeState,
        cx: &mut Context<'_>,
        task: &TaskSlot,
        bufs: &[io::IoSlice<'_>],
        total: usize,
    ) -> Poll<io::Result<usize>> {
        let sig = &sh.signals;
        let cap = self.stage.cap();
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
        // A thread reads this pipe: it is running, and comes back for more
        // within a moment. A large write waits that moment for its lent
        // buffer (one copy, where staging makes two), and a write that finds
        // too little room for readers to make it (rather than sleep until
        // they ring).
        // ORDERING: Relaxed: a hint for a spin.
        if self.thread_reads.load(std::sync::atomic::Ordering::Relaxed) {
            self.spin_for_thread_reader(sig, total);
        }
        // A gather of at most the stage's capacity whole or not at all; a
        // larger one, as much of its prefix as fits.
        match self.accept(sh, bufs, total, cap, total <= cap, false) {
            Accepted::Took(n) => Poll::Ready(Ok(n)),
            Accepted::Closed => Poll::Ready(Err(sh.write_close_error())),
            Accepted::NoRoom => {
                // Wait for readers to make room: register (with no lock
                // held: it is the executor's code), then look again at
                // everything that could have ended the wait meanwhile (see
                // `TaskBells`).
                let need = total.min(cap);
                sig.register_task(Bell::Stage, task, cx.waker());
                if sig.is_closed() {
                    return Poll::Ready(Err(sh.write_close_error()));
                }
                if self.stage.lock().room() >= need {
                    // Room came before we registered: poll again.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }

    /// Spins, while a thread reads this pipe, until a large write (over
    /// [`FILL_MAX`]) of `total` bytes finds a lent buffer, or a write finds
    /// the room it needs, for at most [`LEND_AFTER`] or [`SPIN`]; the caller
    /// then looks as usual. The caller holds the write side: the spin stops
    /// (or never starts) once another writer waits for it, threads and tasks
    /// alike. A spin that comes up empty clears `thread_reads`: the thread
    /// is not reading now, and its next read sets the hint again.
    fn spin_for_thread_reader(&self, sig: &crate::sync::Signals, total: usize) {
        // A write of at most the capacity is staged whole or not at all; a
        // larger one takes a prefix of whatever room there is.
        let cap = self.stage.cap();
        let need = if total <= cap { total } else { 1 };
        let lent = || self.slot.state.load(Ordering::SeqCst) >= LENT_MIN;
        let writers_wait = || sig.has_sleepers(Bell::Lock) || sig.sleepers(Bell::Handoff) != 0;
        let len = self.stage.len();
        let spun = if len == 0 && total > FILL_MAX && !lent() {
            spin_in_poll(
                LEND_AFTER,
                || sig.is_closed() || lent() || !self.stage.is_empty(),
                writers_wait,
            )
        } else if cap - len < need {
            spin_in_poll(
                SPIN,
                || sig.is_closed() || cap - self.stage.len() >= need,
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
