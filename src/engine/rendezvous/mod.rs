//! The shipping engine: Go's hand-off on atomics, spinning briefly before it parks.
//!
//! Whichever side arrives second copies. A writer that finds a reader waiting
//! with its buffer lent copies straight into it and is done (nothing to wait
//! for); a reader that finds a writer waiting with its slice lent copies
//! straight out of it. One state word decides who lends, so a reader and a
//! writer arriving together agree: each tries to move it out of `EMPTY` with a
//! compare-and-swap, the winner lends and the other copies.
//!
//! ```text
//!            writer stores lease,          reader CAS            reader copies what fits,
//!            then CAS EMPTY -> OFFERED     OFFERED -> CLAIMED    advances the lease
//!   EMPTY  ------------------->  OFFERED  ------------------->  CLAIMED  --------------+
//!    ^ |  ^                      ^   |                            |                    |
//!    | |  |                      |   +-- writer CAS OFFERED ->    | writer CAS         |
//!    | |  |                      |       EMPTY (retract)          | CLAIMED -> RECALLED|
//!    | |  |                      |                                v                    |
//!    | |  |                      |                             RECALLED --- reader:    |
//!    | |  |                      |                                rest left: RETURNED  |
//!    | |  |                      |                                none left: REPLIED   |
//!    | |  |                      +------ bytes left: the reader CASes CLAIMED -> OFFERED
//!    | |  |                      |                                                     |
//!    | |  +-- writer stores EMPTY <---- REPLIED <---- nothing left: reader CASes ------+
//!    | |                         |
//!    | |  reader CAS             |  rest left: writer stores the lease, then OFFERED
//!    | +---------------> LENT ---+------------> FILLING (writer copies into the lent
//!    |   EMPTY -> &Lend    |       writer CAS         |       buffer, then answers it)
//!    |                     |       &Lend -> FILLING   |
//!    +---------------------+--------------------------+ all of it fitted: writer stores EMPTY
//!      reader takes its lend back (CAS &Lend -> EMPTY)
//! ```
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
//! A reader that finds the slot `EMPTY` lends its buffer ([`Lend`]): it moves
//! the state to the `Lend`'s address and waits for the answer. The writer that
//! takes it copies what fits, and either frees the slot (all of it fitted: its
//! write is done) or offers the rest as above, then answers the reader with
//! the count. A reader whose deadline passes or whose pipe closes takes its
//! lend back, or, if a writer took it first, waits for that writer's answer and
//! returns the bytes it got. Only one reader lends at a time ([`Rendezvous::lender`]).
//!
//! A writer that must leave early (the pipe closed, its deadline passed, or a
//! panic unwinds through it) takes its offer back: `OFFERED -> EMPTY` if no
//! reader holds it, else `CLAIMED -> RECALLED`, and then it waits, with no
//! deadline, for the one reader holding the lease to give it back (`RETURNED`,
//! which the writer turns into `EMPTY`, or `REPLIED` if that reader took the
//! last byte). So a retract waits for at most
//! one copy, however many readers keep reading.
//!
//! Only the writer that holds the write side (`lock`) moves the state from
//! `EMPTY` (or a `REPLIED` whose writer has left) to `OFFERED`, out of
//! `REPLIED`, `FILLING` and `RETURNED`, back from `OFFERED` to `EMPTY`, from
//! `CLAIMED` to `RECALLED` and from `LENT` to `FILLING`; only a reader moves it
//! from `EMPTY` or `REPLIED` to `LENT` and back, from `OFFERED` to `CLAIMED`,
//! and out of `CLAIMED` and `RECALLED` (each contested move with a
//! compare-and-swap, so the two sides always agree on who owns the lease or the
//! lent buffer). A reader that wins the claim owns the lease until it moves the
//! state on; a writer that sees `CLAIMED` waits for that whatever else happens.
//! A writer that claims a lend owns the lent buffer until it answers; a reader
//! that fails to take its lend back waits for that answer whatever else
//! happens. Those are the invariants [`Lease`] and [`Lend`] rely on.
//!
//! Every wait first spins (see [`spin_until`]) and then parks on a doorbell of
//! [`Signals`] in a `select!` with the done channel and the deadline, except the
//! writer's wait for a reader that is copying from its lease, which watches
//! neither: that reader must be done before the writer may leave. A thread that
//! changes the state with a `SeqCst` operation and then finds someone registered
//! on the matching doorbell rings it; a waiter registers before its last look at
//! the state, so a ring cannot fall between its look and its sleep. Readers ring
//! the writer only when its write is finished or when it is taking its offer
//! back, so a parked writer wakes once per write; a writer rings a lending
//! reader once, with its answer.
//!
//! The write side is a small lock word (see [`Rendezvous::lock`]): free, held, held
//! with a writer starving for it, or being handed to a starving writer. A writer
//! that has waited more than [`STARVE`] for it asks for a hand-off, and from
//! then on the holder gives the write side straight to one of the starving
//! writers instead of freeing it for whoever comes first, as Go's `sync.Mutex`
//! does in its starvation mode.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::stage::Stage;
use super::Lease;
use crate::sync::{AtomicBool, AtomicUsize, UnsafeCell};
use lock::WriteLock;
use state::{Slot, EMPTY};

mod drain;
mod lock;
mod poll;
mod read;
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
    /// interleave. `FREE`, `HELD`, `HELD_STARVING` or `HANDOFF`.
    ///
    /// Only the holder moves it out of `HELD` or `HELD_STARVING` when it
    /// releases (to `FREE` or `HANDOFF`), and a starving writer may mark
    /// `HELD -> HELD_STARVING`. `FREE -> HELD` is open to every
    /// writer; `HANDOFF -> HELD` (or `HELD_STARVING`) only to writers registered
    /// on [`Bell::Handoff`], and when none is registered whoever sees that
    /// turns `HANDOFF` back into `FREE`, so the write side is never handed to
    /// nobody.
    lock: WriteLock,
    /// Held by the one reader that may lend its buffer, from before it
    /// publishes its [`Lend`] until it has taken it back or has its answer.
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
}

impl Rendezvous {
    /// An idle engine.
    pub(crate) fn new() -> Self {
        Self {
            slot: CachePadded::new(Slot {
                state: AtomicUsize::new(EMPTY),
                lease: UnsafeCell::new(Lease::empty()),
            }),
            lock: WriteLock::new(),
            lender: CachePadded::new(AtomicBool::new(false)),
            stage: Stage::new(),
            task_writes: std::sync::atomic::AtomicBool::new(false),
        }
    }
}
