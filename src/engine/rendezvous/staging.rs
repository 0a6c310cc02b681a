//! ## Writers that stage
//!
//! Bytes that go into the stage ([`crate::engine::stage`]) rather than on
//! offer: an async write's (a task's buffer lives for one poll), and every
//! write of a buffered pipe ([`crate::buffered_pipe`]), whose stage is its
//! buffer. Both copy into a thread's lent buffer when one waits and nothing
//! is staged (one copy), and stage the rest ([`Rendezvous::accept`]); an
//! async write that finds no room returns `Pending`, a blocking write of a
//! buffered pipe waits for room with the write side held
//! ([`Rendezvous::write_buffered`]), so that no other write comes between
//! its pieces.
//!
//! A buffered pipe's write that fits whole in the room there is now, and
//! finds the write side free, takes no write side at all: it goes in whole
//! under the stage's lock, which no other write's bytes can come between,
//! and the look at the write side under that lock keeps it out of a held
//! write's middle ([`Rendezvous::accept`] with `unheld`). That spares the
//! common write two atomic read-modify-writes on a line of its own.

use std::io;

use super::state::*;
use super::{Rendezvous, SPIN};
use crate::engine::PipeState;
use crate::error::{timed_out, Cut, Written};
use crate::sync::{spin_until, Bell, Deadline, Ordering, Park};

/// What [`Rendezvous::accept`] did.
pub(super) enum Accepted {
    /// It took this many bytes (not zero).
    Took(usize),
    /// No room for what it may take (or, asked to go in without the write
    /// side, the write side held): nothing taken.
    NoRoom,
    /// The pipe is closed: nothing taken.
    Closed,
}

impl Rendezvous {
    /// Takes bytes of the gather `bufs` (not empty, `total` bytes in all: the
    /// caller counted them), at most `max`, with the
    /// write side held: into a waiting thread's lent buffer if nothing is
    /// staged, the rest (or all of it) into the stage. With `whole`, all of
    /// the gather or nothing (the caller made sure it fits in the capacity);
    /// else as much of its prefix as there is room for.
    ///
    /// With `unheld` (a buffered pipe's write, with `whole`), the caller does
    /// not hold the write side: the gather goes in only if the write side is
    /// free and the room takes all of it, else [`Accepted::Held`] and nothing
    /// taken. Both are looked at under the stage's lock, where the gather
    /// then goes in whole: a holder's write has no byte in before it takes
    /// the write side, and none of ours comes between its pieces (it holds
    /// the side from its first piece to its last, and we look after its
    /// first under the same lock).
    // Inlined: the async write's hot path (a separate call cost about ten
    // instructions a 1 KiB write + read, callgrind).
    #[inline(always)]
    pub(super) fn accept(
        &self,
        sh: &PipeState,
        bufs: &[io::IoSlice<'_>],
        total: usize,
        max: usize,
        whole: bool,
        unheld: bool,
    ) -> Accepted {
        let sig = &sh.signals;
        let state = &self.slot.state;
        let mut ring = self.stage.lock();
        if unheld && (!self.lock.is_free() || total > ring.room()) {
            return Accepted::NoRoom;
        }
        if ring.len() == 0 {
            // ORDERING: SeqCst acquires a reader's publication of its lend.
            let lent = state.load(Ordering::SeqCst);
            if let Some(lend) = (lent >= LENT_MIN).then(|| self.claim_lend(lent)).flatten() {
                // SAFETY: our CAS claimed the lend and we have not answered.
                // At most `max` in all, as a write that finds no lend.
                let n = unsafe { lend.fill_gather(bufs, max) };
                // What did not fit is staged in the same call (whole when the
                // caller wants it whole: it fits, the stage being empty), up
                // to `max` accepted in all.
                let staged = ring.push_gather(bufs, n, max.saturating_sub(n));
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
                    return Accepted::Closed;
                }
                return Accepted::Took(n + staged);
            }
        }
        let room = ring.room();
        if room == 0 || (whole && total > room) {
            return Accepted::NoRoom;
        }
        let n = ring.push_gather(bufs, 0, max);
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
            return Accepted::Closed;
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
        Accepted::Took(n)
    }

    /// A blocking write of the gather `bufs` on a buffered pipe: goes in whole
    /// without the write side if the room takes it and no write holds the
    /// side (see `accept`); else holds the write side for the whole write,
    /// and stages as much as fits, waiting
    /// (spinning a moment, then parked on `Bell::Stage`) for readers to make
    /// room for the rest; returns once every byte is in the buffer, or the
    /// cut: a close or the deadline, with the exact count accepted.
    pub(crate) fn write_buffered(
        &self,
        sh: &PipeState,
        bufs: &[io::IoSlice<'_>],
        deadline: Deadline,
    ) -> Written {
        let sig = &sh.signals;
        let total = bufs
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.len()));
        if total == 0 {
            // Nothing to wait for: a socket's empty write.
            return if sig.is_closed() {
                Err(sh.write_close_error().into())
            } else {
                Ok(0)
            };
        }
        super::set_hint(&self.thread_writes, true);
        // A write that fits in the room there is now goes in whole, without
        // the write side, if no other write holds it (see `accept`).
        if total <= self.stage.cap() && !sig.is_closed() {
            match self.accept(sh, bufs, total, total, true, true) {
                Accepted::Took(n) => {
                    debug_assert_eq!(n, total);
                    return Ok(n);
                }
                Accepted::Closed => return Err(sh.write_close_error().into()),
                Accepted::NoRoom => {}
            }
        }
        let _held = self.hold(sh, deadline)?;
        let mut done = 0;
        // The gather less what was accepted: the first slice that is not
        // used up, from `skip` on, then the rest.
        let (mut first, mut skip) = (0, 0);
        loop {
            let rest: Vec<io::IoSlice<'_>>;
            let left: &[io::IoSlice<'_>] = if skip == 0 {
                &bufs[first..]
            } else {
                rest = std::iter::once(io::IoSlice::new(&bufs[first][skip..]))
                    .chain(bufs[first + 1..].iter().map(|b| io::IoSlice::new(b)))
                    .collect();
                &rest
            };
            match self.accept(sh, left, total - done, usize::MAX, false, false) {
                Accepted::Took(n) => {
                    done += n;
                    if done == total {
                        return Ok(done);
                    }
                    // Step past the `n` bytes taken.
                    let mut n = n;
                    while n > 0 {
                        let here = bufs[first].len() - skip;
                        if n < here {
                            skip += n;
                            n = 0;
                        } else {
                            n -= here;
                            first += 1;
                            skip = 0;
                        }
                    }
                    while bufs[first].len() == skip {
                        first += 1;
                        skip = 0;
                    }
                }
                Accepted::Closed => {
                    return Err(Cut {
                        taken: done,
                        err: sh.write_close_error(),
                    })
                }
                Accepted::NoRoom => {
                    if let Err(err) = self.wait_room(sh, deadline) {
                        return Err(Cut { taken: done, err });
                    }
                }
            }
        }
    }

    /// Waits, holding the write side of a buffered pipe, until the stage has
    /// room, the pipe closes (`Err` with the close error) or the deadline
    /// passes (`Err(TimedOut)`).
    #[cold]
    fn wait_room(&self, sh: &PipeState, deadline: Deadline) -> io::Result<()> {
        let sig = &sh.signals;
        // The room a push may use, under the lock (a drain claim can hold
        // the storage in place, so the length alone does not tell).
        let room = || self.stage.lock().room() > 0;
        if !spin_until(deadline.budget(SPIN), || {
            sig.is_closed() || self.stage.len() < self.stage.cap()
        }) || !room()
        {
            // The one thread on this doorbell that waits for room: we hold
            // the write side (tasks wait there too, and `consumed`).
            let woke = sig.wait_until(Bell::Stage, deadline, true, room);
            if woke == Park::TimedOut {
                return Err(timed_out());
            }
        }
        if sig.is_closed() {
            return Err(sh.write_close_error());
        }
        Ok(())
    }
}
