//! ## Reader, the draining path
//!
//! `write_to` and `read_vectored`: a read that hands one write's bytes to a
//! [`Sink`] instead of copying them into a buffer of its own: straight from
//! a claimed lease, or from the stage under a drain claim, never with a lock
//! held while the sink runs.

use std::io;

use super::state::*;
use super::Rendezvous;
use crate::engine::PipeState;
use crate::error::timed_out;
use crate::sync::{Bell, Deadline, Ordering, Park};

/// What a draining read does with the bytes it took: takes a prefix of the
/// slice (`Ok(n)`, `n > 0`), takes nothing more (`Ok(0)`: stop), or fails
/// having taken nothing of this slice (`Err`).
pub(crate) type Sink<'a> = dyn FnMut(&[u8]) -> io::Result<usize> + 'a;

/// Hands a claimed lease back when dropped: what makes a panic in a draining
/// read's sink safe (the writer waits for the lease, and other readers for the
/// slot).
pub(super) struct ClaimGuard<'a> {
    /// The engine whose lease is claimed.
    engine: &'a Rendezvous,
    /// The pipe, for its doorbells.
    sh: &'a PipeState,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        self.engine.hand_back_lease(self.sh);
    }
}

impl Rendezvous {
    /// A read that hands the bytes of one write to `take` instead of copying
    /// them into a buffer of its own (`write_to`, `read_vectored`). Returns how
    /// many bytes `take` took (`Ok(0)` at end of file), or the close error, a
    /// timeout, or `take`'s error. It waits as a reader does, lending an empty
    /// buffer: a writer that finds it offers its bytes (or, async, stages
    /// them), which this read then drains.
    pub(crate) fn drain(
        &self,
        sh: &PipeState,
        take: &mut Sink<'_>,
        deadline: Deadline,
    ) -> io::Result<usize> {
        let sig = &sh.signals;
        loop {
            if sig.is_closed() {
                // Staged bytes first, unless the read half itself closed.
                if !sh.read_closed() && !self.stage.is_empty() {
                    match self.drain_staged(sh, take) {
                        // Another drain holds them: wait for its claim.
                        None => {
                            if self.wait_claim(sh, deadline) == Park::TimedOut {
                                return Err(timed_out());
                            }
                            continue;
                        }
                        Some((0, None)) => continue,
                        Some((_, Some(e))) => return Err(e),
                        Some((n, None)) => return Ok(n),
                    }
                }
                return sh.read_close_result();
            }
            if !self.stage.is_empty() {
                match self.drain_staged(sh, take) {
                    // Another drain holds them: wait for its claim (a close
                    // is handled at the top of the loop).
                    None => {
                        if self.wait_usable(sh, deadline) == Park::TimedOut {
                            return Err(timed_out());
                        }
                        continue;
                    }
                    Some((0, None)) => continue,
                    Some((_, Some(e))) => return Err(e),
                    Some((n, None)) => return Ok(n),
                }
            }
            match self.slot.state.load(Ordering::SeqCst) {
                OFFERED if self.try_claim(sh) => match self.drain_claimed(sh, take) {
                    (_, Some(e)) => return Err(e),
                    // An empty write (or a `take` that took nothing).
                    (0, None) if deadline.passed() => return Err(timed_out()),
                    (0, None) => continue,
                    (n, None) => return Ok(n),
                },
                EMPTY | REPLIED if self.offer_coming(sig, deadline) => continue,
                // Lend an empty buffer: the writer copies nothing into it and
                // offers (or stages) its bytes, and answers us, so we wait
                // exactly as a lending reader does.
                free @ (EMPTY | REPLIED) if self.try_take_lender() => {
                    match self.lend(sh, free, &mut [], deadline) {
                        LendOutcome::Filled(_) if deadline.passed() => return Err(timed_out()),
                        LendOutcome::Filled(_) | LendOutcome::Lost | LendOutcome::Declined => {
                            continue
                        }
                        LendOutcome::Closed => continue,
                        LendOutcome::TimedOut => return Err(timed_out()),
                    }
                }
                _ => {}
            }
            // A close is handled at the top of the loop.
            if self.wait_usable(sh, deadline) == Park::TimedOut {
                return Err(timed_out());
            }
        }
    }

    /// Hands the claimed lease's bytes to `take` (see [`Sink`]) until it has
    /// taken them all, stops taking, fails, or the writer recalls the lease;
    /// then hands the lease back with the rest in it. Returns how many bytes
    /// `take` took, and its error if it failed. A panic in `take` hands the
    /// lease back too ([`ClaimGuard`]), with the bytes taken before it gone.
    pub(super) fn drain_claimed(
        &self,
        sh: &PipeState,
        take: &mut Sink<'_>,
    ) -> (usize, Option<io::Error>) {
        let guard = ClaimGuard { engine: self, sh };
        let mut total = 0;
        let mut failed = None;
        loop {
            let lease = self.slot.lease.with(|lease| {
                // SAFETY: this reader's claim owns the lease (`Slot::lease`).
                unsafe { *lease }
            });
            if lease.len() == 0 {
                break;
            }
            // A writer that must leave (closed, timed out) waits for us: let
            // it go before the next call of `take`, so that it waits for at
            // most the one call in progress when it recalled.
            // ORDERING: a hint only; the hand-back's CAS decides.
            if self.slot.state.load(Ordering::Relaxed) == RECALLED {
                break;
            }
            // SAFETY: the lease is live until we hand it back below (or the
            // guard does), and the writer does not leave before (`Lease`).
            let bytes = unsafe { lease.as_slice() };
            match take(bytes) {
                Ok(0) => break,
                Ok(n) => {
                    let n = n.min(bytes.len());
                    total += n;
                    self.slot.lease.with_mut(|lease| {
                        // SAFETY: as above: the lease is ours until we hand
                        // it back.
                        unsafe { (*lease).advance(n) }
                    });
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        std::mem::forget(guard);
        self.hand_back_lease(sh);
        (total, failed)
    }

    /// Hands the claimed lease back with what is left in it.
    pub(super) fn hand_back_lease(&self, sh: &PipeState) {
        let left = self.slot.lease.with(|lease| {
            // SAFETY: this reader's claim owns the lease until the hand-back.
            unsafe { (*lease).len() }
        });
        self.hand_back(sh, left);
    }

    /// Hands the oldest staged write's bytes to `take` under a drain claim,
    /// with no lock held while `take` runs (see `Stage::drain`); returns how
    /// many it took, and its error, or `None` if another draining read holds
    /// the claim (the caller waits for it to end).
    pub(super) fn drain_staged(
        &self,
        sh: &PipeState,
        take: &mut Sink<'_>,
    ) -> Option<(usize, Option<io::Error>)> {
        /// Rings, when dropped (a panicking `take` too), whoever waits for
        /// the claim to end: every reader and draining read (bytes left, end
        /// of file, or a free slot to lend over: each of them can use it, so
        /// all are woken, threads and tasks), and the writers waiting for
        /// room or the drain.
        struct ClaimEnded<'a>(&'a PipeState);
        impl Drop for ClaimEnded<'_> {
            fn drop(&mut self) {
                self.0.signals.notify(Bell::Stage);
                self.0.signals.notify_all(Bell::Offer);
            }
        }
        let rings = ClaimEnded(sh);
        // Each sink call that took bytes frees room and counts them taken:
        // async writers waiting for room and `consumed` waits hear of it at
        // once, not when the whole claim ends.
        let drained = self.stage.drain(take, &|| sh.signals.notify(Bell::Stage));
        match drained {
            Some((n, _, failed)) => Some((n, failed)),
            None => {
                // No claim of ours ended: ring nobody.
                std::mem::forget(rings);
                None
            }
        }
    }
}
