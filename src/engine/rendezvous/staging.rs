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
//! A blocking write of a buffered pipe that fills the buffer with more of
//! the slice it is writing left than even an empty buffer holds offers that
//! rest, as an unbuffered pipe's write does ([`Rendezvous::offer_rest`]):
//! readers take the staged bytes first, then the rest straight from the
//! writer, in one read, and the write returns once they took it. That keeps
//! a small buffer as live as none: a peer that reads a write and then writes
//! back gets the whole write in one read, as from `pipe()`, instead of a
//! buffer's worth while the writer refills the buffer behind it. A rest the
//! buffer can hold waits for room, and the write returns once it is in.
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
        // Whether the last step staged bytes and left some over: the buffer
        // is full then.
        let mut full = false;
        loop {
            // The buffer is full: wait for room, or, if the rest of this
            // slice is more than even an empty buffer holds, put it on offer
            // at once (see `offer_rest`), not into room a reader frees
            // meanwhile, a piece at a time. Returns how many bytes readers
            // took from the offer.
            let offer = |done: usize| {
                let rest = &bufs[first][skip..];
                let waited = if rest.len() > self.stage.cap() {
                    self.offer_rest(sh, rest, deadline)
                } else {
                    self.wait_room(sh, deadline)
                        .map(|()| 0)
                        .map_err(|err| Cut { taken: 0, err })
                };
                waited.map_err(|Cut { taken, err }| Cut {
                    taken: done + taken,
                    err,
                })
            };
            let (n, staged) = if full {
                (offer(done)?, false)
            } else {
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
                    Accepted::Took(n) => (n, true),
                    Accepted::Closed => {
                        return Err(Cut {
                            taken: done,
                            err: sh.write_close_error(),
                        })
                    }
                    Accepted::NoRoom => (offer(done)?, false),
                }
            };
            done += n;
            if done == total {
                return Ok(done);
            }
            full = staged;
            (first, skip) = step(bufs, first, skip, n);
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

    /// Rings a buffered pipe's blocked writer after the slot moved in a way
    /// its `offer_rest` waits for: freed (a lend taken back or answered), or
    /// its offer used up. That writer waits on `Bell::Stage` and is a thread
    /// (it holds the write side); tasks waiting there wait for room, which
    /// none of these moves makes, so only threads are rung.
    #[inline]
    pub(super) fn ring_blocked_offerer(&self, sig: &crate::sync::Signals) {
        if self.buffered {
            sig.notify_threads(Bell::Stage);
        }
    }

    /// A blocking write of a buffered pipe, with the write side held, that
    /// found the buffer full and has more left of the slice it is writing
    /// than even an empty buffer holds: offers `rest` (that slice's rest) to
    /// readers as an unbuffered pipe's write does, and waits until readers
    /// have used the offer up, the pipe closes or the deadline passes.
    /// Returns how many bytes of `rest` readers took: all of it; 0 when it
    /// found a reader's lent buffer in an empty buffer instead (the caller
    /// fills it); or the cut, with what readers took of `rest`.
    ///
    /// Readers take the staged bytes first, then the offer (a reader that
    /// claims the offer while bytes are staged hands it back: see
    /// `try_claim`), and nothing else is staged while the offer is up (we
    /// hold the write side), so the stream keeps its order. What the offer
    /// buys is liveness: a reader takes the whole rest of a write in one
    /// read, as it would from an unbuffered pipe, instead of a buffer's worth
    /// at a time. With a small capacity and a peer that echoes, a write of
    /// more than the buffers hold (both directions full, both writers
    /// waiting, nobody reading) would otherwise deadlock where `duplex()`
    /// does not. The rest never fits the buffer whole, so the write returns
    /// once readers took it, as an unbuffered write does; a rest that could
    /// fit waits for room instead (`wait_room`), and the write returns as
    /// soon as its bytes are in the buffer.
    #[cold]
    fn offer_rest(&self, sh: &PipeState, rest: &[u8], deadline: Deadline) -> Written {
        debug_assert!(!rest.is_empty());
        let sig = &sh.signals;
        let state = &self.slot.state;
        loop {
            if sig.is_closed() {
                return Err(Cut {
                    taken: 0,
                    err: sh.write_close_error(),
                });
            }
            // ORDERING: SeqCst, as the unbuffered write's look at the slot.
            let free = state.load(Ordering::SeqCst);
            if free == EMPTY || free == REPLIED {
                // SAFETY: the slot is free and we hold the write side: no
                // reader looks at the lease (`Slot::lease`).
                unsafe { self.set_lease(rest) };
                // ORDERING: SeqCst publishes the lease to the claiming CAS,
                // after the staged bytes' SeqCst length (a claimer looks at
                // the stage after its claim: `try_claim`), and before the
                // look at the doorbell.
                if state
                    .compare_exchange(free, OFFERED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    break;
                }
                // A reader lent its buffer meanwhile.
                continue;
            }
            // A reader's lend, in a buffer that has emptied since we found it
            // full: it is for us, and the caller's next step fills it (one
            // copy, as much of the rest as it holds).
            if free >= LENT_MIN && self.stage.is_empty() {
                return Ok(0);
            }
            // Not ours to use yet: a lend made while nothing was staged,
            // which its reader takes back on seeing our staged bytes, or
            // (`FILLING`) a lend that a write which went in without the
            // write side, before we took it, is filling and about to answer.
            // The take-back and the answer ring the doorbell below on a
            // buffered pipe (`take_back`, `answer_and_free`), and so does a
            // read that empties the buffer.
            debug_assert!(
                free >= LENT_MIN || free == FILLING,
                "a blocked buffered write found the slot in state {free}"
            );
            let usable = || {
                // ORDERING: SeqCst: the waiter's last look before it parks,
                // paired with the take-back's or the answer's SeqCst store
                // and their look at the doorbell (and the stage's length with
                // the reader's take).
                let s = state.load(Ordering::SeqCst);
                s == EMPTY || s == REPLIED || (s >= LENT_MIN && self.stage.is_empty())
            };
            if !spin_until(deadline.budget(SPIN), || usable() || sig.is_closed()) {
                match sig.wait_until(Bell::Stage, deadline, true, usable) {
                    Park::TimedOut => {
                        return Err(Cut {
                            taken: 0,
                            err: timed_out(),
                        })
                    }
                    // Closed: the loop's first look.
                    Park::Closed | Park::Rung => {}
                }
            }
        }
        // From here until the offer is used up or taken back, a panic must
        // not unwind past this frame with the offer up: `rest` is the
        // caller's, about to be freed.
        let guard = super::write::OfferGuard::new(self, sh);
        sh.failpoint_after_offer();
        sig.notify(Bell::Offer);
        // Readers used the offer up: `REPLIED`, or a lend a reader put over
        // it (see `wait_reply`).
        let replied = || {
            // ORDERING: SeqCst acquires the last reader's copy (its hand-back
            // to REPLIED releases it) and is the waiter's last look before it
            // parks, paired with that hand-back and its look at the doorbell.
            let s = state.load(Ordering::SeqCst);
            s == REPLIED || s >= LENT_MIN
        };
        let woke = if spin_until(deadline.budget(SPIN), || replied() || sig.is_closed()) {
            Park::Rung
        } else {
            // The one thread on this doorbell: we hold the write side.
            // Readers ring it when they use an offer of a buffered pipe up
            // (`hand_back`).
            sig.wait_until(Bell::Stage, deadline, true, replied)
        };
        std::mem::forget(guard);
        // Take back what readers have not taken (waiting for a reader that
        // is copying), or see it used up.
        let left = match self.retract(sh) {
            Some(left) => left,
            None => {
                self.end_lease();
                self.free_replied(sh);
                0
            }
        };
        let taken = rest.len() - left;
        if left > 0 {
            if woke == Park::TimedOut {
                return Err(Cut {
                    taken,
                    err: timed_out(),
                });
            }
            // Closed (the spin or the wait saw it, or it came since).
            if sig.is_closed() {
                return Err(Cut {
                    taken,
                    err: sh.write_close_error(),
                });
            }
        }
        // Used up: the caller goes on (and sees a close that came meanwhile
        // at its next step).
        Ok(taken)
    }
}

/// Where a gather resumes after `n` more of its bytes were taken, from
/// slice `first` at `skip`: the first slice not used up, and the offset in it
/// (the gather holds more than the `n` bytes).
fn step(
    bufs: &[io::IoSlice<'_>],
    mut first: usize,
    mut skip: usize,
    mut n: usize,
) -> (usize, usize) {
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
    (first, skip)
}
