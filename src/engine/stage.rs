//! The stage: the pipe's own bounded buffer, for async writes that find no
//! thread waiting with a lent buffer.
//!
//! A task's buffer lives for one poll, so an async write cannot lend it and
//! wait as a thread does: it copies into a thread's lent buffer if one is
//! waiting, and otherwise into the stage, from which readers (threads and
//! tasks) copy as they would from an offer. The stage is allocated at the
//! first async write that needs it, so a pipe used only by threads never
//! allocates.
//!
//! Only the holder of the write side pushes (or, on a buffered pipe, a write
//! that goes in whole under the ring's lock while no one holds the write
//! side), so staged bytes are a prefix of the stream: a sync write waits for
//! the stage to drain before it offers or fills a lend, and an async write
//! that finds bytes staged stages behind them.
//!
//! A draining read (`write_to`) hands staged bytes to user code (its sink),
//! which must never run under the ring's lock: other readers, async writers
//! and closes would wait for it beyond their bounds. It takes a *drain claim*
//! on the oldest staged write instead ([`Stage::drain`]): under the lock it
//! marks the front claimed, then runs the sink on the claimed bytes with the
//! lock released, then locks again to drop what the sink took and end the
//! claim. While the front is claimed, pushes still write into free room (never
//! over the claimed bytes), and other readers take nothing: they wait until
//! the claim ends ([`Stage::claimed`]), with their own bounds.
//!
//! The same ring, with a capacity the user sets and reads that join writes,
//! is the buffer of a buffered pipe (`buffered_pipe`): every write stages
//! there, blocking or not. Its storage grows with the bytes it holds (never
//! while a drain claim holds bytes in place), up to the capacity rounded up
//! to a power of two, and is given back when the ring empties, so a huge
//! capacity costs nothing until used.

mod ring;

pub(crate) use ring::Ring;

use crossbeam_utils::CachePadded;

use super::Dst;
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};

/// How many bytes the stage of an unbuffered pipe holds at most (its async
/// writes' send buffer).
pub(crate) const STAGE_CAP: usize = 64 << 10;

/// How long a push or a take that finds the ring locked spins before it
/// waits asleep: a copy of about 64 KiB at a pessimistic 4 bytes a
/// nanosecond, more than the common holder needs (a 1 KiB push, a take of
/// what a write left), and about what a thread spins for its partner
/// before it parks.
const LOCK_SPIN: std::time::Duration = std::time::Duration::from_micros(16);

/// The stage: the ring behind a mutex, and its length where the lock-free
/// paths can see it.
pub(crate) struct Stage {
    /// The ring's capacity (a copy, for the looks that do not take the lock).
    cap: usize,
    /// How many bytes are staged: a copy of the ring's length, stored under the
    /// lock after every change, for the looks that do not take the lock. On
    /// a cache line of its own: a reader waiting for bytes looks at it over
    /// and over, and on the line of the lock and the ring it took that line
    /// from the writer during every push (each of the writer's stores to the
    /// lock, the ring and the length then missed its cache).
    len: CachePadded<AtomicUsize>,
    /// Whether a drain claim holds the front (a copy of `Ring::claimed`,
    /// stored under the lock), for the looks that do not take the lock.
    claimed: AtomicBool,
    /// The bytes.
    ring: Mutex<Ring>,
}

impl Stage {
    /// An empty stage of `cap` bytes (not zero), with no storage yet;
    /// reads join writes if `joined` (a buffered pipe's).
    pub(crate) fn new(cap: usize, joined: bool) -> Self {
        Self {
            cap,
            len: CachePadded::new(AtomicUsize::new(0)),
            claimed: AtomicBool::new(false),
            ring: Mutex::new(Ring::new(cap, joined)),
        }
    }

    /// How many bytes the stage holds at most.
    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// How many bytes are staged.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        // ORDERING: SeqCst: a waiter's last look before it sleeps, and the
        // lender's look after publishing its lend (paired with the stager's
        // SeqCst store and its look at the state).
        self.len.load(Ordering::SeqCst)
    }

    /// Whether no byte is staged.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Locks the ring. Every change must be published with
    /// [`Stage::publish`] before the lock is dropped.
    ///
    /// A holder copies (a push, a take: at most the capacity or the
    /// reader's buffer), so a ring found locked is waited for spinning, up
    /// to [`LOCK_SPIN`], before asleep (see `Mutex::lock_patient`).
    #[inline]
    pub(crate) fn lock(&self) -> impl std::ops::DerefMut<Target = Ring> + '_ {
        self.ring.lock_patient(LOCK_SPIN)
    }

    /// Publishes the ring's length after a change, under its lock.
    #[inline]
    pub(crate) fn publish(&self, ring: &Ring) {
        // ORDERING: SeqCst, before the caller's look at the state and its
        // rings (see `len`); the bytes themselves are ordered by the lock.
        self.len.store(ring.len(), Ordering::SeqCst);
    }

    /// Whether a drain claim holds the front: readers then wait (see
    /// [`Stage::drain`]).
    #[inline]
    pub(crate) fn claimed(&self) -> bool {
        // ORDERING: SeqCst: a waiter's last look before it sleeps, paired with
        // the drainer's SeqCst store when the claim ends and its look at the
        // doorbell.
        self.claimed.load(Ordering::SeqCst)
    }

    /// Sets or ends the drain claim, under the ring's lock.
    fn set_claim(&self, ring: &mut Ring, on: bool) {
        ring.claimed = on;
        // ORDERING: SeqCst, before the drainer's rings when the claim ends
        // (see `claimed`); the bytes themselves are ordered by the lock.
        self.claimed.store(on, Ordering::SeqCst);
    }

    /// Ends the drain claim, under the ring's lock: drops the staged bytes
    /// if the read half closed meanwhile, and starts over at the storage's
    /// front (or gives large storage back) if nothing is left, as `advance`
    /// does unclaimed. The caller publishes.
    fn end_claim(&self, ring: &mut Ring) {
        self.set_claim(ring, false);
        if ring.discard_due {
            ring.discard();
        }
        ring.emptied();
    }

    /// Hands the oldest staged write's bytes to `take` with the lock
    /// released, under a drain claim, until it has taken them all, stops or
    /// fails; returns how many it took, how many bytes are left staged, and
    /// its error, or `None` if another drain holds the claim (the caller
    /// waits for it to end). A panic in `take` ends the claim too, with the
    /// bytes of the panicking call left staged.
    ///
    /// After each call of `take` that took bytes and leaves the claim on,
    /// the room it freed is published and `freed` runs, with the lock
    /// released (the caller rings the writers waiting for room and the
    /// `consumed` waits); the call that ends the claim leaves that to the
    /// caller.
    pub(crate) fn drain(
        &self,
        take: &mut dyn FnMut(&[u8]) -> std::io::Result<usize>,
        freed: &dyn Fn(),
    ) -> Option<(usize, usize, Option<std::io::Error>)> {
        /// Ends the claim when dropped: on a panic in `take`.
        struct Claim<'a>(&'a Stage);
        impl Drop for Claim<'_> {
            fn drop(&mut self) {
                let mut ring = self.0.lock();
                self.0.end_claim(&mut ring);
                self.0.publish(&ring);
            }
        }
        let mut ring = self.lock();
        if ring.claimed {
            return None;
        }
        let (mut ptr, mut len) = ring.front_raw();
        if len == 0 {
            return Some((0, ring.len(), None));
        }
        self.set_claim(&mut ring, true);
        drop(ring);
        let claim = Claim(self);
        let mut total = 0;
        let mut failed = None;
        loop {
            // SAFETY: `ptr` and `len` are the front bytes, claimed: no one
            // takes them, pushes write only into free room and `head` does
            // not move until the claim ends (`Ring::claimed`), which only this
            // call does, after the slice's last use.
            let front = unsafe { std::slice::from_raw_parts(ptr, len) };
            // User code, with the lock released.
            let got = take(front);
            let mut ring = self.lock();
            let more = match got {
                Ok(0) => false,
                Ok(n) => {
                    let n = n.min(len);
                    total += n;
                    !ring.advance(n)
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            };
            (ptr, len) = ring.front_raw();
            // The read half closed meanwhile (its discard waits for the
            // claim): no more bytes go to the sink.
            if !more || len == 0 || ring.discard_due {
                std::mem::forget(claim);
                self.end_claim(&mut ring);
                self.publish(&ring);
                return Some((total, ring.len(), failed));
            }
            // The claim goes on: publish the room this call freed (the
            // claimed bytes left stay where they are: `head` moved past the
            // taken ones only), then ring with the lock released.
            self.publish(&ring);
            drop(ring);
            freed();
        }
    }

    /// Moves staged bytes into `out`; returns how many, and how many are left.
    pub(crate) fn take<D: Dst + ?Sized>(&self, out: &mut D) -> (usize, usize) {
        let mut ring = self.lock();
        let n = ring.take_into(out);
        self.publish(&ring);
        (n, ring.len())
    }
}

#[cfg(all(test, not(gopipe_loom)))]
mod tests {
    use super::{Stage, STAGE_CAP};

    /// The read half's close during a drain claim ends the claim after the
    /// sink's call in progress, and drops the staged bytes then (before, the
    /// sink was handed the rest, and what it left stayed until the pipe was
    /// dropped, holding its storage).
    #[test]
    fn a_discard_during_a_drain_claim_happens_at_its_end() {
        let stage = Stage::new(STAGE_CAP, true);
        {
            let mut ring = stage.lock();
            assert_eq!(ring.push(b"abcdef"), 6);
            stage.publish(&ring);
        }
        let mut calls = 0;
        let drained = stage.drain(
            &mut |bytes| {
                calls += 1;
                // The read half closes while the sink runs.
                let mut ring = stage.lock();
                ring.discard();
                assert_eq!(ring.len(), 6, "claimed bytes stay while claimed");
                drop(ring);
                Ok(bytes.len().min(2))
            },
            &|| {},
        );
        assert_eq!(drained.map(|(n, left, _)| (n, left)), Some((2, 0)));
        assert_eq!(calls, 1);
        assert!(stage.is_empty());
    }
}
