//! The shipping engine: Go's hand-off on atomics, spinning briefly before it parks.
//!
//! Whichever side arrives second copies. A writer that finds a reader waiting
//! with its buffer lent copies straight into it and is done (nothing to wait
//! for); a reader that finds a writer waiting with its slice lent copies
//! straight out of it. One state word decides who lends, so a reader and a
//! writer arriving together agree: each tries to move it out of `EMPTY` with a
//! compare-and-swap, the winner lends and the other copies.
//!
//! Each move of the state word, by whom, is in the table in `state.rs`.
//!
//! A write is offered once, whole (or what is left of it after filling a lent
//! buffer). Each read claims the offer, copies what fits into its buffer and
//! advances the lease past those bytes; if bytes are left it puts the rest
//! back on offer itself, so a write read in many small pieces costs the writer
//! no round trip and no wake-up per piece. The reader that takes the last byte
//! (or an empty write) moves the state to `REPLIED`, and the write returns. A
//! reader that finds `REPLIED` may lend its buffer over it at once; the writer
//! takes that lend as its answer too (only `REPLIED` is lent over while an
//! offer is up), and its next write fills it. With both threads on one core
//! that makes every other write a fill with no switch.
//!
//! A reader that finds the slot `EMPTY` lends its buffer (a `Lend`): it moves
//! the state to the `Lend`'s address and waits for the answer. The writer that
//! takes it copies what fits, and either frees the slot (all of it fitted: its
//! write is done) or offers the rest as above, then answers the reader with
//! the count. A reader whose deadline passes or whose pipe closes takes its
//! lend back, or, if a writer took it first, waits for that writer's answer and
//! returns the bytes it got. Only one reader lends at a time (`Rendezvous::lender`).
//!
//! A writer that must leave early (the pipe closed, its deadline passed, or a
//! panic unwinds through it) takes its offer back: `OFFERED -> EMPTY` if no
//! reader holds it, else `CLAIMED -> RECALLED`, and then it waits, with no
//! deadline, for the one reader holding the lease to give it back (`RETURNED`,
//! which the writer turns into `EMPTY`, or `REPLIED` if that reader took the
//! last byte). So a retract waits for at most
//! one copy, however many readers keep reading.
//!
//! Every wait first spins (`sync::spin_until`) and then parks on a doorbell of
//! `Signals` in a `select!` with the done channel and the deadline, except the
//! writer's wait for a reader that is copying from its lease, which watches
//! neither: that reader must be done before the writer may leave. A thread that
//! changes the state with a `SeqCst` operation and then finds someone registered
//! on the matching doorbell rings it; a waiter registers before its last look at
//! the state, so a ring cannot fall between its look and its sleep. Readers ring
//! the writer only when its write is finished or when it is taking its offer
//! back, so a parked writer wakes once per write; a writer rings a lending
//! reader once, with its answer.
//!
//! The write side is a small lock word (`lock.rs`): free, held, held with a
//! writer starving for it, or being handed to a starving writer, as Go's
//! `sync.Mutex` does in its starvation mode.
//!
//! # Where things are
//!
//! - `state.rs`: the slot's states and who may move them (a table), the slot,
//!   and the reader's `Lend` (the writer's `Lease` is `engine::Lease`).
//! - `read.rs`: a thread's read: staged bytes, an offer claimed and copied, or
//!   the reader's buffer lent; taking a lend back.
//! - `drain.rs`: reads that hand one write's bytes to a [`Sink`] (`write_to`,
//!   `read_vectored`).
//! - `write.rs`: a thread's write: `write_locked` fills a lend or offers
//!   (`fill_or_offer`), then waits for the reply (`wait_reply`) or takes the
//!   offer back (`retract`).
//! - `lock.rs`: the write side's lock, with hand-off to starving writers.
//! - `poll.rs`: the async polls (tasks never lend and never offer).
//! - Below: the struct, and the tuning constants.
//!
//! # Why `SeqCst`
//!
//! Every change of the state word (or the stage's length, or a lend's answer)
//! that may unblock someone is followed by a look at the sleepers registered
//! on the matching doorbell, and every waiter registers before its last look
//! at the state. Each side writes one location and then reads another: the
//! store-buffering pattern, which only a single total order over the four
//! accesses rules out. With acquire and release alone both could read the old
//! values, and the waiter would sleep while the ringer rang nobody. So the
//! state's changes, the looks a waiter makes before it sleeps, the sleeper
//! counts and the task counts are all `SeqCst`. The `ORDERING:` comment at
//! each access says what else it publishes or acquires (a lease, a copy, a
//! lend), and says so where an access is weaker (`Relaxed` hints, loads that
//! a later CAS checks).

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::stage::{Stage, STAGE_CAP};
use super::Lease;
use crate::sync::{AtomicBool, AtomicUsize, UnsafeCell};
use lock::WriteLock;
use state::{Slot, EMPTY};

mod drain;
mod lock;
mod poll;
mod read;
mod staging;
mod state;
mod write;

pub(crate) use drain::Sink;

// ------------------------------------------------------------ tuning

/// The largest copy a writer makes into a lent buffer. Past it the writer
/// offers its bytes instead: a reader that copies pulls them into a buffer its
/// own cache already holds, while a writer that copies drags the reader's
/// buffer into its cache and back, which for large copies costs more than the
/// round trip that filling saves (measured: 16 KiB writes into 8 KiB and
/// 16 KiB buffers took twice as long when filled).
pub(super) const FILL_MAX: usize = 4 << 10;
/// How long a reader on a core of its own spins for a writer's offer before
/// it lends its buffer: about a writer's turnaround between two writes.
pub(super) const LEND_AFTER: Duration = Duration::from_micros(2);
/// How long a writer waits for the write side before it asks for a hand-off.
pub(super) const STARVE: Duration = Duration::from_millis(1);
/// How long a thread spins for a partner that is running before it parks: about
/// what a park and wake-up costs on a small machine, so that spinning never
/// costs more than twice what parking at once would.
pub(super) const SPIN: Duration = Duration::from_micros(10);
/// How long the writer spins for a reader it has just woken to take its offer:
/// about a wake-up's latency on a busy virtual machine.
pub(super) const WAKE: Duration = Duration::from_micros(50);

/// How long the writer spins for a reader that has taken its lease: [`SPIN`] plus
/// the time the copy takes at a pessimistic 4 bytes per nanosecond, counting at
/// most 1 MiB (a reader that takes longer than that is better waited for asleep).
pub(super) fn copy_budget(len: usize) -> Duration {
    SPIN + Duration::from_nanos((len.min(1 << 20) / 4) as u64)
}

/// The lock-free rendezvous engine.
pub(crate) struct Rendezvous {
    /// The hand-off, on a cache line of its own.
    slot: CachePadded<Slot>,
    /// The write side: held by one writer for its whole write, so writes never
    /// interleave (a buffered pipe's write that goes in whole under the
    /// stage's lock needs not take it, only see it free there: see
    /// `staging.rs`). `FREE`, `HELD`, `HELD_STARVING` or `HANDOFF`.
    ///
    /// Only the holder moves it out of `HELD` or `HELD_STARVING` when it
    /// releases (to `FREE` or `HANDOFF`), and a starving writer may mark
    /// `HELD -> HELD_STARVING`. `FREE -> HELD` is open to every
    /// writer; `HANDOFF -> HELD` (or `HELD_STARVING`) only to writers registered
    /// on `Bell::Handoff`, and when none is registered whoever sees that
    /// turns `HANDOFF` back into `FREE`, so the write side is never handed to
    /// nobody.
    lock: WriteLock,
    /// Held by the one reader that may lend its buffer, from before it
    /// publishes its `Lend` until it has taken it back or has its answer.
    lender: CachePadded<AtomicBool>,
    /// Bytes async writes staged: they come before any offer or fill (see
    /// [`super::stage`]).
    stage: Stage,
    /// Set once an async write has used this pipe (a task writes): a lending
    /// reader then spins for its answer about a task's wake-up time
    /// ([`WAKE`]) before it parks, because the task that answers comes back
    /// only after the runtime has scheduled it. A std atomic also under loom:
    /// it only sets a spin's length, and loom's spins are single looks.
    task_writes: std::sync::atomic::AtomicBool,
    /// Set while the pipe's reads are a thread's (a thread lent its buffer
    /// or took staged bytes last), cleared when a task reads: an async write
    /// that finds no lend, or too little room, then spins briefly for that
    /// thread, which is running, instead of sleeping until it rings. Also
    /// cleared when such a spin comes up empty: the thread is not reading
    /// now (it may sit idle for good), and every later write would spin for
    /// nothing; its next read sets the hint again. A hint for spins only,
    /// as `task_writes` is (a std atomic also under loom).
    thread_reads: std::sync::atomic::AtomicBool,
    /// Set while the pipe's writes are a thread's (cleared when a task
    /// writes): an async read that finds nothing spins briefly for that
    /// thread's next write before it sleeps. Also cleared when that spin
    /// comes up empty (the thread is not writing now); its next write sets
    /// it again. A hint for spins only (a std atomic also under loom).
    thread_writes: std::sync::atomic::AtomicBool,
    /// Whether this is a buffered pipe's engine: every write stages (the
    /// stage is the buffer, of the capacity the user set, and reads join
    /// writes), and no writer offers (see `staging.rs`).
    buffered: bool,
}

/// Sets a spin hint (`task_writes`, `thread_reads`, `thread_writes`) to `on`, storing
/// only when it changes, so that a stream of reads or writes does not write
/// its cache line.
#[inline]
pub(super) fn set_hint(hint: &std::sync::atomic::AtomicBool, on: bool) {
    // ORDERING: Relaxed: a hint for the length of a spin, nothing more.
    if hint.load(std::sync::atomic::Ordering::Relaxed) != on {
        hint.store(on, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Rendezvous {
    /// An idle engine.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self::with_stage(Stage::new(STAGE_CAP, false), false)
    }

    /// An idle engine of a buffered pipe of `cap` bytes (not zero).
    #[inline(always)]
    pub(crate) fn buffered(cap: usize) -> Self {
        Self::with_stage(Stage::new(cap, true), true)
    }

    /// An idle engine around `stage`.
    #[inline(always)]
    fn with_stage(stage: Stage, buffered: bool) -> Self {
        Self {
            slot: CachePadded::new(Slot {
                state: AtomicUsize::new(EMPTY),
                lease: UnsafeCell::new(Lease::empty()),
            }),
            lock: WriteLock::new(),
            lender: CachePadded::new(AtomicBool::new(false)),
            stage,
            task_writes: std::sync::atomic::AtomicBool::new(false),
            thread_reads: std::sync::atomic::AtomicBool::new(false),
            thread_writes: std::sync::atomic::AtomicBool::new(false),
            buffered,
        }
    }

    /// Drops a buffered pipe's unread bytes once its read half closed
    /// (nobody will read them), giving their storage back.
    pub(crate) fn discard_buffered(&self) {
        if self.buffered {
            let mut ring = self.stage.lock();
            ring.discard();
            self.stage.publish(&ring);
        }
    }
}
