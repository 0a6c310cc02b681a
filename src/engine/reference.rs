//! The reference engine: the design's mechanism, written as literally as it goes.
//!
//! Two zero-capacity crossbeam channels carry the hand-off: `wr` takes the
//! writer's [`Lease`] to one reader, `rd` brings back how many bytes that
//! reader took. The write side is a one-token channel, so that taking it can
//! be a `select!` too.
//! Every blocking step is a `select!` over its channel, the done channel and the
//! deadline, except the writer's wait for the answer of a reader that already
//! took its lease, which must not give up (see [`Lease`]). Unwind guards keep
//! both true when a panic unwinds through a write.
//!
//! Each hand-off parks a thread, so this engine is slow; it is kept as the
//! executable specification the shipping engine (`rendezvous`) is tested
//! against.

use std::io;
use std::time::Instant;

use crossbeam_channel::{bounded, select, Receiver, Sender, TryRecvError};

use super::{Lease, PipeState};
use crate::error::{timed_out, Cut, Written};
use crate::sync::Deadline;

/// The reference engine's channels.
pub(crate) struct Reference {
    /// Writer to reader: the lease (zero capacity, so a send is a hand-off).
    wr_tx: Sender<Lease>,
    /// Reader's end of `wr`.
    wr_rx: Receiver<Lease>,
    /// Reader to writer: how many bytes it copied (zero capacity).
    rd_tx: Sender<usize>,
    /// Writer's end of `rd`.
    rd_rx: Receiver<usize>,
    /// The write side's token, returned after each write.
    lock_tx: Sender<()>,
    /// Where a writer takes the write side's token from.
    lock_rx: Receiver<()>,
}

/// What a `select!` waiting for the deadline should wait for: `None` waits for
/// ever (the deadline is too far to represent, or there is none).
fn remaining(deadline: Deadline) -> Option<std::time::Duration> {
    deadline
        .instant()
        .map(|at| at.saturating_duration_since(Instant::now()))
}

impl Reference {
    /// Idle channels, the write side's token in place.
    pub(crate) fn new() -> Self {
        let (wr_tx, wr_rx) = bounded(0);
        let (rd_tx, rd_rx) = bounded(0);
        let (lock_tx, lock_rx) = bounded(1);
        lock_tx.send(()).expect("the receiver is alive");
        Self {
            wr_tx,
            wr_rx,
            rd_tx,
            rd_rx,
            lock_tx,
            lock_rx,
        }
    }

    /// Whether the done channel is closed, by looking at the channel itself.
    fn done(sh: &PipeState) -> bool {
        matches!(
            sh.signals.done().try_recv(),
            Err(TryRecvError::Disconnected)
        )
    }

    /// Reads from the next write; `buf` is not empty.
    pub(crate) fn read(
        &self,
        sh: &PipeState,
        buf: &mut [u8],
        deadline: Deadline,
    ) -> io::Result<usize> {
        // A read is a drain into one buffer: it copies what fits, then takes
        // nothing more.
        let mut filled = 0;
        self.drain(
            sh,
            &mut |bytes: &[u8]| {
                let n = bytes.len().min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&bytes[..n]);
                filled += n;
                Ok(n)
            },
            deadline,
        )
    }

    /// A read that hands the bytes of one write to `take` (see
    /// `fast::Take`); answers the writer with what `take` took, also when it
    /// fails or panics.
    pub(crate) fn drain(
        &self,
        sh: &PipeState,
        take: &mut super::rendezvous::Sink<'_>,
        deadline: Deadline,
    ) -> io::Result<usize> {
        let done = sh.signals.done();
        loop {
            if Self::done(sh) {
                return sh.read_close_result();
            }
            if deadline.passed() {
                return Err(timed_out());
            }
            let lease = match remaining(deadline) {
                None => select! {
                    recv(self.wr_rx) -> lease => lease.expect("the pipe holds a sender"),
                    recv(done) -> _ => return sh.read_close_result(),
                },
                Some(left) => select! {
                    recv(self.wr_rx) -> lease => lease.expect("the pipe holds a sender"),
                    recv(done) -> _ => return sh.read_close_result(),
                    default(left) => return Err(timed_out()),
                },
            };
            // SAFETY: we received the lease and answer it only when `answer`
            // drops, after the last use of `bytes` (`Lease`).
            let bytes = unsafe { lease.as_slice() };
            let mut answer = Answered {
                tx: &self.rd_tx,
                n: 0,
            };
            let mut failed = None;
            while answer.n < bytes.len() {
                match take(&bytes[answer.n..]) {
                    Ok(0) => break,
                    Ok(k) => answer.n += k.min(bytes.len() - answer.n),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let n = answer.n;
            drop(answer);
            if let Some(e) = failed {
                return Err(e);
            }
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// Writes the slices one after another with the write side's token held
    /// for all of them.
    pub(crate) fn write_all_of(
        &self,
        sh: &PipeState,
        slices: &[io::IoSlice<'_>],
        deadline: Deadline,
    ) -> Written {
        let _token = self.take_token(sh, deadline)?;
        crate::engine::zero_copy::write_each(slices, |slice| self.write_locked(sh, slice, deadline))
    }

    /// Writes all of `buf` unless the pipe closes or the deadline passes
    /// first (then the cut: what readers took, and why).
    pub(crate) fn write(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {
        let _token = self.take_token(sh, deadline)?;
        self.write_locked(sh, buf, deadline)
    }

    /// Takes the write side's token (waiting for it, up to the deadline),
    /// unless the pipe is closed; the guard puts it back on every way out, a
    /// panic included.
    fn take_token(&self, sh: &PipeState, deadline: Deadline) -> io::Result<Token<'_>> {
        let done = sh.signals.done();
        if Self::done(sh) {
            return Err(sh.write_close_error());
        }
        match remaining(deadline) {
            None => select! {
                recv(self.lock_rx) -> _ => {},
                recv(done) -> _ => return Err(sh.write_close_error()),
            },
            Some(left) => select! {
                recv(self.lock_rx) -> _ => {},
                recv(done) -> _ => return Err(sh.write_close_error()),
                default(left) => return Err(timed_out()),
            },
        }
        Ok(Token(&self.lock_tx))
    }

    /// The write proper, with the write side's token held.
    fn write_locked(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {
        let done = sh.signals.done();
        let mut rest = buf;
        let mut n = 0;
        // Even an empty write is offered once: it is a rendezvous, as in Go.
        loop {
            // A write whose rest readers keep taking must still stop at its
            // deadline.
            if n > 0 && deadline.passed() {
                return Err(Cut {
                    taken: n,
                    err: timed_out(),
                });
            }
            let lease = Lease::new(rest);
            let sent = match remaining(deadline) {
                None => select! {
                    send(self.wr_tx, lease) -> res => res.is_ok(),
                    recv(done) -> _ => false,
                },
                Some(left) => select! {
                    send(self.wr_tx, lease) -> res => res.is_ok(),
                    recv(done) -> _ => false,
                    default(left) => return Err(Cut { taken: n, err: timed_out() }),
                },
            };
            if !sent {
                return Err(Cut {
                    taken: n,
                    err: sh.write_close_error(),
                });
            }
            // A reader has the lease: wait for its answer whatever happens, also
            // if a panic unwinds from here.
            let answer = Answer(Some(&self.rd_rx));
            sh.failpoint_after_offer();
            let taken = answer.take();
            n += taken;
            rest = &rest[taken..];
            if rest.is_empty() {
                return Ok(n);
            }
        }
    }
}

/// The write side's token, put back when dropped.
struct Token<'a>(&'a Sender<()>);

impl Drop for Token<'_> {
    fn drop(&mut self) {
        // The token's slot is free: this writer took the only token.
        let _ = self.0.send(());
    }
}

/// A draining read's answer to the writer, sent when dropped (a panic in the
/// sink included): how many bytes the sink took.
struct Answered<'a> {
    /// Where the answer goes.
    tx: &'a Sender<usize>,
    /// How many bytes were taken.
    n: usize,
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        let _ = self.tx.send(self.n);
    }
}

/// The answer a reader owes for a lease it received: waited for when dropped
/// unclaimed (a panic unwinding through the write), because the reader may still
/// be copying from the writer's bytes.
struct Answer<'a>(Option<&'a Receiver<usize>>);

impl Answer<'_> {
    /// Waits for the answer: how many bytes the reader took.
    fn take(mut self) -> usize {
        let rx = self.0.take().expect("taken once");
        rx.recv().expect("the pipe holds a sender")
    }
}

impl Drop for Answer<'_> {
    fn drop(&mut self) {
        if let Some(rx) = self.0.take() {
            let _ = rx.recv();
        }
    }
}
