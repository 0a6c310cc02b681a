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
//! returns the bytes it got. Only one reader lends at a time ([`Fast::lender`]).
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
//! The write side is a small lock word (see [`Fast::lock`]): free, held, held
//! with a writer starving for it, or being handed to a starving writer. A writer
//! that has waited more than [`STARVE`] for it asks for a hand-off, and from
//! then on the holder gives the write side straight to one of the starving
//! writers instead of freeing it for whoever comes first, as Go's `sync.Mutex`
//! does in its starvation mode.

use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::stage::{Stage, STAGE_CAP};
use super::{Lease, Shared};
use crate::error::{partial, timed_out};
use crate::sync::{
    core_crowded, spin_until, AtomicBool, AtomicUsize, Bell, Deadline, Ordering, Park, Patience,
    TaskSlot, UnsafeCell,
};

/// No offer: the writer may store a new lease.
const EMPTY: usize = 0;
/// A lease is published and no reader has taken it yet.
const OFFERED: usize = 1;
/// A reader took the lease and is copying from it.
const CLAIMED: usize = 2;
/// Readers have taken every byte of the offer.
const REPLIED: usize = 3;
/// A reader is copying from the lease and the writer wants it back: the reader
/// gives it back (`RETURNED`, or `REPLIED` if it took the last byte) instead of
/// offering the rest again.
const RECALLED: usize = 4;
/// The writer took a reader's lent buffer and is copying into it.
const FILLING: usize = 5;
/// A reader gave a recalled lease back with bytes left in it: the writer takes
/// it from here (`EMPTY`). Unlike `EMPTY`, no reader lends over it, so the
/// writer cannot mistake the lease coming back for its offer being used up.
const RETURNED: usize = 6;
/// From this value up, the state is the address of the [`Lend`] of the reader
/// that lent its buffer (`LENT`). A `Lend` is aligned to 8 bytes, so its
/// address is never one of the tags above.
const LENT_MIN: usize = 8;

/// A `Lend`'s result before the writer answered it.
const PENDING: usize = usize::MAX;
/// A `Lend`'s result when the writer declined to copy into it and offered its
/// bytes instead (the reader then claims the offer like any other).
const DECLINED: usize = usize::MAX - 1;

/// The largest copy a writer makes into a lent buffer. Past it the writer
/// offers its bytes instead: a reader that copies pulls them into a buffer its
/// own cache already holds, while a writer that copies drags the reader's
/// buffer into its cache and back, which for large copies costs more than the
/// round trip that filling saves (measured: 16 KiB writes into 8 KiB and
/// 16 KiB buffers took twice as long when filled).
const FILL_MAX: usize = 4 << 10;

/// How long a reader on a core of its own spins for a writer's offer before
/// it lends its buffer: about a writer's turnaround between two writes.
const LEND_AFTER: Duration = Duration::from_micros(2);

/// The write side is free: the first writer to come takes it.
const FREE: usize = 0;
/// A writer holds the write side.
const HELD: usize = 1;
/// A writer holds the write side and another has waited for it for longer than
/// [`STARVE`]: on release it goes to a starving writer (`HANDOFF`).
const HELD_STARVING: usize = 2;
/// The write side is being handed to a starving writer: only a writer
/// registered on [`Bell::Handoff`] may take it.
const HANDOFF: usize = 3;

/// How long a writer waits for the write side before it asks for a hand-off.
const STARVE: Duration = Duration::from_millis(1);

/// How long a thread spins for a partner that is running before it parks: about
/// what a park and wake-up costs on a small machine, so that spinning never
/// costs more than twice what parking at once would.
const SPIN: Duration = Duration::from_micros(10);

/// How long the writer spins for a reader it has just woken to take its offer:
/// about a wake-up's latency on a busy virtual machine.
const WAKE: Duration = Duration::from_micros(50);

/// How long the writer spins for a reader that has taken its lease: [`SPIN`] plus
/// the time the copy takes at a pessimistic 4 bytes per nanosecond, counting at
/// most 1 MiB (a reader that takes longer than that is better waited for asleep).
fn copy_budget(len: usize) -> Duration {
    SPIN + Duration::from_nanos((len.min(1 << 20) / 4) as u64)
}

/// The rendezvous slot: the state word and the lease it guards.
struct Slot {
    /// `EMPTY`, `OFFERED`, `CLAIMED`, `REPLIED` or `RECALLED`.
    state: AtomicUsize,
    /// The writer's bytes not yet taken, while `OFFERED`, `CLAIMED` or `RECALLED`.
    ///
    /// # Safety
    ///
    /// Written only by the writer holding the write side, and only while the
    /// state is `EMPTY` or `REPLIED` (no reader looks at it then), or after its
    /// CAS from `OFFERED` to `EMPTY` succeeded, or after it saw a reader give
    /// back a recalled lease (`EMPTY` or `REPLIED` after `RECALLED`). Read and
    /// advanced only by the reader whose CAS moved the state from `OFFERED` to
    /// `CLAIMED`, and only until it moves the state out of `CLAIMED` or
    /// `RECALLED`. Each store or CAS to `OFFERED` (`SeqCst`) and the claiming CAS
    /// order the previous owner's accesses before the claimer's; the reader's
    /// move to `OFFERED`, `REPLIED` or `EMPTY` and the writer's load or CAS that
    /// sees it order the reader's accesses before the writer's.
    lease: UnsafeCell<Lease>,
}

// SAFETY: the lease is the only field that is not `Sync`; the state machine above
// gives every access to it a single owner at a time (see `Slot::lease`).
unsafe impl Sync for Slot {}

/// Where a lent buffer is: a raw view of a reader's `&mut [u8]`.
#[derive(Clone, Copy, Debug)]
struct BufView {
    /// Start of the reader's buffer.
    ptr: *mut u8,
    /// Its length: 0 for a draining read ([`Fast::consume`]), which lends an
    /// empty buffer so that the writer offers its bytes.
    len: usize,
}

/// A reader's buffer, lent to the writer while the reader waits: the reverse
/// of a [`Lease`]. It lives on the lending reader's stack.
///
/// # Safety
///
/// The reader publishes its `Lend` by moving the state from `EMPTY` or
/// `REPLIED` to the `Lend`'s address (CAS), and from then on may not return,
/// nor touch its buffer, until it has either taken the `Lend` back (CAS from
/// its address to the state it replaced) or seen `result` answered (a count,
/// or `DECLINED`: the writer offered its bytes instead of copying). A writer that holds the write side may
/// claim the `Lend` (CAS from its address to `FILLING`); it then copies into
/// the buffer and stores `result`, and touches neither the `Lend` nor the
/// buffer after that store. A reader whose take-back CAS fails therefore waits
/// for `result`, with no deadline and whatever closes; the reader's unwind
/// guard ([`LendGuard`]) does the same when a panic unwinds. Only one reader at
/// a time may lend (it holds [`Fast::lender`] from before it publishes until
/// after it has its answer), so the one doorbell [`Bell::Filled`] has at most
/// one sleeper and its ring cannot wake the wrong reader.
#[repr(align(8))]
struct Lend {
    /// The lent buffer. Accessed by the writer that claimed the `Lend` (the
    /// copy) and by the reader once the `Lend` is back or answered; the state
    /// and `result` order the two (under loom this cell is what checks it).
    buf: UnsafeCell<BufView>,
    /// How many bytes the writer copied, or `PENDING`.
    result: AtomicUsize,
}

impl Lend {
    /// A lend of `buf`, not yet answered.
    fn new(buf: &mut [u8]) -> Self {
        Self {
            buf: UnsafeCell::new(BufView {
                ptr: buf.as_mut_ptr(),
                len: buf.len(),
            }),
            result: AtomicUsize::new(PENDING),
        }
    }

    /// The writer's copy of the first bytes of `bytes` into the lent buffer;
    /// returns how many it copied.
    ///
    /// # Safety
    ///
    /// The caller's CAS moved the state from this `Lend`'s address to `FILLING`
    /// and it has not answered yet (see the type's `# Safety`).
    unsafe fn fill(&self, bytes: &[u8]) -> usize {
        self.buf.with_mut(|view| {
            // SAFETY: the caller owns the lend until it answers, and the reader
            // waits for that answer before it touches its buffer again; the
            // reader's buffer is an exclusive borrow, so it cannot overlap the
            // writer's shared `bytes`; `n` fits both.
            unsafe {
                let n = (*view).len.min(bytes.len());
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), (*view).ptr, n);
                n
            }
        })
    }

    /// The writer's copy of the first bytes of the gather `slices`, at most
    /// `max`, into the lent buffer; returns how many it copied.
    ///
    /// # Safety
    ///
    /// As for [`Lend::fill`].
    unsafe fn fill_gather(&self, slices: &[io::IoSlice<'_>], max: usize) -> usize {
        self.buf.with_mut(|view| {
            // SAFETY: the caller owns the lend until it answers (`Lend`).
            let BufView { ptr, len } = unsafe { *view };
            let len = len.min(max);
            let mut n = 0;
            for slice in slices {
                if n == len {
                    break;
                }
                let k = (len - n).min(slice.len());
                // SAFETY: as in `fill`: the reader waits for the answer
                // before it touches its buffer, which cannot overlap the
                // writer's slices; `n + k <= len`.
                unsafe { std::ptr::copy_nonoverlapping(slice.as_ptr(), ptr.add(n), k) };
                n += k;
            }
            n
        })
    }

    /// The lent buffer's length.
    ///
    /// # Safety
    ///
    /// As for [`Lend::fill`].
    unsafe fn len(&self) -> usize {
        self.buf.with(|view| {
            // SAFETY: the caller owns the lend until it answers.
            unsafe { (*view).len }
        })
    }

    /// Tells the reader how many bytes it got. The writer's last touch of the
    /// `Lend`: the reader may return as soon as it sees this.
    fn answer(&self, n: usize) {
        // ORDERING: SeqCst releases the copy to the reader and orders the
        // answer before the writer's look at the doorbell.
        self.result.store(n, Ordering::SeqCst);
    }

    /// Whether the writer answered.
    fn answered(&self) -> bool {
        // ORDERING: SeqCst acquires the writer's copy, and is the waiter's last
        // look before it parks (paired with the writer's look at the doorbell).
        self.result.load(Ordering::SeqCst) != PENDING
    }

    /// The reader's last touch of the lend, once it is back or answered (under
    /// loom, the access that proves the writer's copy happened before the read
    /// returns).
    fn end(&self) {
        self.buf.with_mut(|_| ());
    }
}

/// How a lend ended.
enum Lent {
    /// The writer copied this many bytes into the buffer (0: an empty write).
    Filled(usize),
    /// The state was no longer `EMPTY` (nothing was lent), or the lend was
    /// taken back unfilled because bytes were staged: look again.
    Lost,
    /// The writer offered its bytes instead of copying: claim them.
    Declined,
    /// The pipe closed, and the lend was taken back unfilled.
    Closed,
    /// The deadline passed, and the lend was taken back unfilled.
    TimedOut,
}

/// Takes a published lend back when dropped (a panic unwinding through a read
/// that lent its buffer): the buffer is about to be freed, so no writer may
/// copy into it afterwards, and one that is copying is waited for.
struct LendGuard<'a> {
    /// The engine whose state holds the lend.
    engine: &'a Fast,
    /// The pipe, for its doorbells.
    sh: &'a Shared,
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

/// The lock-free rendezvous engine.
pub(crate) struct Fast {
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
    lock: CachePadded<AtomicUsize>,
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

/// Frees the write side when dropped, also when a panic unwinds through a write.
struct WriteSide<'a> {
    /// The engine whose write side is held.
    engine: &'a Fast,
    /// The pipe, for its doorbells.
    sh: &'a Shared,
}

impl Drop for WriteSide<'_> {
    fn drop(&mut self) {
        self.engine.unlock(self.sh);
    }
}

/// Takes a published offer back when dropped while armed: what makes a panic
/// between publishing an offer and the end of the write safe (the writer's
/// bytes are about to be freed, so no reader may take the lease afterwards).
struct OfferGuard<'a> {
    /// The engine whose slot holds the offer.
    engine: &'a Fast,
    /// The pipe, for its doorbells.
    sh: &'a Shared,
}

impl Drop for OfferGuard<'_> {
    fn drop(&mut self) {
        // Waits for a reader that is copying, with no deadline (`Lease`).
        if self.engine.retract(self.sh).is_none() {
            // Readers took every byte: the lease is the writer's again.
            self.engine.end_lease();
            self.engine.free_replied(self.sh);
        }
    }
}

/// What a draining read does with the bytes it took: takes a prefix of the
/// slice (`Ok(n)`, `n > 0`), takes nothing more (`Ok(0)`: stop), or fails
/// having taken nothing of this slice (`Err`).
pub(crate) type Take<'a> = dyn FnMut(&[u8]) -> io::Result<usize> + 'a;

/// Hands a claimed lease back when dropped: what makes a panic in a draining
/// read's sink safe (the writer waits for the lease, and other readers for the
/// slot).
struct ClaimGuard<'a> {
    /// The engine whose lease is claimed.
    engine: &'a Fast,
    /// The pipe, for its doorbells.
    sh: &'a Shared,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        self.engine.hand_back_lease(self.sh);
    }
}

impl Fast {
    /// An idle engine.
    pub(crate) fn new() -> Self {
        Self {
            slot: CachePadded::new(Slot {
                state: AtomicUsize::new(EMPTY),
                lease: UnsafeCell::new(Lease::empty()),
            }),
            lock: CachePadded::new(AtomicUsize::new(FREE)),
            lender: CachePadded::new(AtomicBool::new(false)),
            stage: Stage::new(),
            task_writes: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// What a read on a closed pipe returns: staged bytes first, unless the
    /// read half itself closed (that discards them); then end of file or the
    /// close error. Staged bytes that a drain claim holds are waited for, up
    /// to the deadline: the drainer's sink may fail and leave them staged, so
    /// end of file must not come before the claim ends.
    #[cold]
    fn read_closed(&self, sh: &Shared, buf: &mut [u8], deadline: Deadline) -> io::Result<usize> {
        loop {
            if let Some(res) = self.closed_staged(sh, buf) {
                return res;
            }
            if self.wait_claim(sh, deadline) == Park::TimedOut {
                return Err(timed_out());
            }
        }
    }

    /// [`Fast::read_closed`] without waiting: `None` while a drain claim holds
    /// staged bytes (the caller waits for the claim to end).
    #[cold]
    fn closed_staged(&self, sh: &Shared, buf: &mut [u8]) -> Option<io::Result<usize>> {
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
    fn wait_claim(&self, sh: &Shared, deadline: Deadline) -> Park {
        let sig = &sh.signals;
        let ended = || !self.stage.claimed() || sh.read_closed();
        if spin_until(deadline.budget(SPIN), ended) {
            return Park::Rung;
        }
        let woke = sig.registered(Bell::Offer, || loop {
            if ended() {
                return Park::Rung;
            }
            match sig.park(Bell::Offer, deadline, false) {
                Park::Rung => {}
                other => return other,
            }
        });
        if sh.read_closed() {
            // A read half's close rings one waiter (`Shared::close_read`):
            // pass it on to the next.
            sig.notify_threads(Bell::Offer);
        }
        woke
    }

    /// Copies staged bytes into `buf` (not empty); returns how many (0 if
    /// another reader took them first).
    fn take_staged(&self, sh: &Shared, buf: &mut [u8]) -> usize {
        let (n, left) = self.stage.take(buf);
        self.staged_taken(sh, n, left);
        n
    }

    /// Rings after a read took `n` staged bytes and left `left` staged.
    #[inline]
    fn staged_taken(&self, sh: &Shared, n: usize, left: usize) {
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

    /// Reads from the next write; `buf` is not empty.
    pub(crate) fn read(
        &self,
        sh: &Shared,
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
                match self.take_staged(sh, buf) {
                    // A draining read's sink holds them: wait for its claim
                    // to end (nothing else is usable meanwhile).
                    0 if self.stage.claimed() => match self.wait_usable(sh, deadline) {
                        Park::Rung => continue,
                        Park::Closed => return self.read_closed(sh, buf, deadline),
                        Park::TimedOut => return Err(timed_out()),
                    },
                    0 => continue,
                    n => return Ok(n),
                }
            }
            match self.slot.state.load(Ordering::SeqCst) {
                // A writer is waiting: copy from its bytes.
                OFFERED if self.try_claim() => {
                    // An empty write is consumed without ending the read, but a
                    // stream of them must not keep a timed read past its
                    // deadline.
                    match self.copy_and_hand_back(sh, buf) {
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
                        Lent::Filled(0) if deadline.passed() => return Err(timed_out()),
                        Lent::Filled(0) | Lent::Lost | Lent::Declined => continue,
                        Lent::Filled(n) => return Ok(n),
                        Lent::Closed => return self.read_closed(sh, buf, deadline),
                        Lent::TimedOut => return Err(timed_out()),
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

    /// On a core of its own, whether a reader that found the slot free sees
    /// a writer's offer (or staged bytes, or the close) within
    /// [`LEND_AFTER`]: copying an offer out is cheaper than having the writer
    /// copy in (see `FILL_MAX`). A reader whose core is crowded does not wait:
    /// its writer cannot run until it stops, and a lend lets that writer
    /// finish without waiting.
    #[inline]
    fn offer_coming(&self, sig: &crate::sync::Signals, deadline: Deadline) -> bool {
        !core_crowded()
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
    fn wait_usable(&self, sh: &Shared, deadline: Deadline) -> Park {
        let sig = &sh.signals;
        if deadline.passed() {
            return Park::TimedOut;
        }
        if spin_until(deadline.budget(SPIN), || self.usable() || sig.is_closed()) {
            return Park::Rung;
        }
        sig.registered(Bell::Offer, || loop {
            if self.usable() {
                return Park::Rung;
            }
            match sig.park(Bell::Offer, deadline, true) {
                Park::Rung => {}
                other => return other,
            }
        })
    }

    /// Whether a reader could do something now: take staged bytes (no drain
    /// claim holds them), claim an offer, or lend.
    #[inline]
    fn usable(&self) -> bool {
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
    fn try_take_lender(&self) -> bool {
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
    fn release_lender(&self, sh: &Shared) {
        // ORDERING: SeqCst orders the release before the look at the doorbell.
        self.lender.store(false, Ordering::SeqCst);
        // Only threads lend: a task waiting for bytes has no use for this.
        sh.signals.notify_threads(Bell::Offer);
    }

    /// Lends `buf` to the next writer and waits for it to copy into it, the
    /// pipe to close or the deadline to pass. `free` is the state the caller
    /// saw: `EMPTY`, or `REPLIED` (a writer whose offer readers used up, which
    /// takes a lend in its place as its answer: see `hand_over`). The caller
    /// holds the lender's role; this call gives it back.
    fn lend(&self, sh: &Shared, free: usize, buf: &mut [u8], deadline: Deadline) -> Lent {
        let sig = &sh.signals;
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
            return Lent::Lost;
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
            woke = sig.registered(Bell::Filled, || loop {
                if lend.answered() || staged() {
                    return Park::Rung;
                }
                match sig.park(Bell::Filled, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                }
            });
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
            (Some(DECLINED), Park::Rung) => Lent::Declined,
            (Some(n), Park::Rung) => Lent::Filled(n),
            // Taken back unfilled to read staged bytes: look again.
            (None, Park::Rung) => Lent::Lost,
            // Bytes that arrived before the close or the deadline are returned,
            // never lost.
            (Some(n), _) if n > 0 => Lent::Filled(n),
            (_, Park::Closed) => Lent::Closed,
            _ => Lent::TimedOut,
        }
    }

    /// Takes a published lend back, putting back the state it replaced
    /// (`free`: `EMPTY`, or the `REPLIED` a writer may still be waiting to
    /// see); returns `None` if no writer had claimed it, or what the writer
    /// that claimed it copied, after waiting for its answer with no deadline.
    fn take_back(&self, sh: &Shared, lend: &Lend, free: usize) -> Option<usize> {
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
            return None;
        }
        // A writer is copying into our buffer: it must be done before we may
        // leave, so wait for its answer whatever closes.
        if !spin_until(SPIN, || lend.answered()) {
            sig.registered(Bell::Filled, || {
                while !lend.answered() {
                    sig.park(Bell::Filled, Deadline::never(), false);
                }
            });
        }
        Some(lend.result.load(Ordering::Relaxed))
    }

    /// Takes the current offer if there is one; returns whether this call did.
    #[inline]
    fn try_claim(&self) -> bool {
        let state = &self.slot.state;
        // ORDERING: the CAS acquires the store or CAS that made the state
        // OFFERED, which came after the lease was stored or advanced.
        state.load(Ordering::Relaxed) == OFFERED
            && state
                .compare_exchange(OFFERED, CLAIMED, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
    }

    /// Copies from the claimed lease into `buf`, then puts the rest back on offer,
    /// tells the writer that nothing is left, or gives the lease back to a writer
    /// that recalled it; returns how many bytes it copied.
    #[inline]
    fn copy_and_hand_back(&self, sh: &Shared, buf: &mut [u8]) -> usize {
        let (n, left) = self.slot.lease.with_mut(|lease| {
            // SAFETY: this reader's CAS moved the state to CLAIMED, so it owns the
            // lease, and the writer does not leave before the state moves on
            // below (`Slot::lease`, `Lease`).
            unsafe {
                let n = (*lease).copy_to(buf);
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
    fn hand_back(&self, sh: &Shared, left: usize) {
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
            Ok(_) => sig.notify(Bell::Reply),
            Err(_) => {
                // RECALLED: the writer is leaving and waits for this lease.
                // ORDERING: SeqCst, as above, releases the copy to the writer.
                state.store(if left == 0 { REPLIED } else { RETURNED }, Ordering::SeqCst);
                sig.notify(Bell::Reply);
            }
        }
    }

    /// Hands the claimed lease's bytes to `take` (see [`Take`]) until it has
    /// taken them all, stops taking, fails, or the writer recalls the lease;
    /// then hands the lease back with the rest in it. Returns how many bytes
    /// `take` took, and its error if it failed. A panic in `take` hands the
    /// lease back too ([`ClaimGuard`]), with the bytes taken before it gone.
    fn drain_claimed(&self, sh: &Shared, take: &mut Take<'_>) -> (usize, Option<io::Error>) {
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
    fn hand_back_lease(&self, sh: &Shared) {
        let left = self.slot.lease.with(|lease| {
            // SAFETY: this reader's claim owns the lease until the hand-back.
            unsafe { (*lease).len() }
        });
        self.hand_back(sh, left);
    }

    /// Hands the oldest staged write's bytes to `take` under a drain claim,
    /// with no lock held while `take` runs (see [`Stage::drain`]); returns how
    /// many it took, and its error, or `None` if another draining read holds
    /// the claim (the caller waits for it to end).
    fn drain_staged(&self, sh: &Shared, take: &mut Take<'_>) -> Option<(usize, Option<io::Error>)> {
        /// Rings, when dropped (a panicking `take` too), whoever waits for
        /// the claim to end: readers (bytes left, or a free slot to lend
        /// over) and the writers waiting for room or the drain.
        struct ClaimEnded<'a>(&'a Shared);
        impl Drop for ClaimEnded<'_> {
            fn drop(&mut self) {
                self.0.signals.notify(Bell::Stage);
                self.0.signals.notify(Bell::Offer);
            }
        }
        let rings = ClaimEnded(sh);
        let drained = self.stage.drain(take);
        match drained {
            Some((n, _, failed)) => Some((n, failed)),
            None => {
                // No claim of ours ended: ring nobody.
                std::mem::forget(rings);
                None
            }
        }
    }

    /// A read that hands the bytes of one write to `take` instead of copying
    /// them into a buffer of its own (`write_to`, `read_vectored`). Returns how
    /// many bytes `take` took (`Ok(0)` at end of file), or the close error, a
    /// timeout, or `take`'s error. It waits as a reader does, lending an empty
    /// buffer: a writer that finds it offers its bytes (or, async, stages
    /// them), which this read then drains.
    pub(crate) fn consume(
        &self,
        sh: &Shared,
        take: &mut Take<'_>,
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
                OFFERED if self.try_claim() => match self.drain_claimed(sh, take) {
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
                        Lent::Filled(_) if deadline.passed() => return Err(timed_out()),
                        Lent::Filled(_) | Lent::Lost | Lent::Declined => continue,
                        Lent::Closed => continue,
                        Lent::TimedOut => return Err(timed_out()),
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

    /// Writes the slices one after another as one write: the write side is
    /// held for all of them, so no other write comes between. Returns the
    /// bytes readers took, cut short as a write is.
    pub(crate) fn write_all_of(
        &self,
        sh: &Shared,
        slices: &[std::io::IoSlice<'_>],
        deadline: Deadline,
    ) -> io::Result<usize> {
        let _held = self.hold(sh, deadline)?;
        let mut total = 0;
        for slice in slices.iter().filter(|s| !s.is_empty()) {
            match self.hand_over(sh, slice, deadline) {
                Ok(n) if n == slice.len() => total += n,
                Ok(n) => return Ok(total + n),
                Err(e) => return partial(total, || e),
            }
        }
        Ok(total)
    }

    /// Writes all of `buf` unless the pipe closes or the deadline passes first.
    pub(crate) fn write(&self, sh: &Shared, buf: &[u8], deadline: Deadline) -> io::Result<usize> {
        let _held = self.hold(sh, deadline)?;
        self.hand_over(sh, buf, deadline)
    }

    /// Takes the write side (waiting for it, up to the deadline), unless the
    /// pipe is closed; the guard frees it on every way out, a panic included.
    #[inline]
    fn hold<'a>(&'a self, sh: &'a Shared, deadline: Deadline) -> io::Result<WriteSide<'a>> {
        if sh.signals.is_closed() {
            return Err(sh.write_close_error());
        }
        if !self.try_lock() {
            self.lock_slow(sh, deadline)?;
        }
        Ok(WriteSide { engine: self, sh })
    }

    /// Waits, holding the write side, until readers have taken every staged
    /// byte, the pipe closes or the deadline passes.
    #[cold]
    fn wait_drained(&self, sh: &Shared, deadline: Deadline) -> io::Result<()> {
        let sig = &sh.signals;
        let drained = || self.stage.is_empty();
        if !spin_until(deadline.budget(SPIN), || drained() || sig.is_closed()) {
            // The one thread on this doorbell: we hold the write side.
            let woke = sig.registered(Bell::Stage, || loop {
                if drained() {
                    return Park::Rung;
                }
                match sig.park(Bell::Stage, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                }
            });
            if woke == Park::TimedOut {
                return Err(timed_out());
            }
        }
        if sig.is_closed() {
            return Err(sh.write_close_error());
        }
        Ok(())
    }

    /// An async read: copies staged bytes or a writer's offer into `buf` (not
    /// empty), or registers the task (under `task`'s place) to be woken when
    /// there may be some. A task cannot lend its buffer (it only lives for
    /// this poll), so it never lends; `Pending` took nothing.
    pub(crate) fn poll_read(
        &self,
        sh: &Shared,
        cx: &mut Context<'_>,
        task: &TaskSlot,
        buf: &mut [u8],
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
                    n => return Poll::Ready(Ok(n)),
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
        sh: &Shared,
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
        if !self.try_lock() {
            // Register, then look again at what could end the wait: the write
            // side freed (its holder frees it, then rings) or a close.
            sig.register_task(Bell::Lock, task, cx.waker());
            if !self.try_lock() {
                if sig.is_closed() {
                    return Poll::Ready(Err(sh.write_close_error()));
                }
                return Poll::Pending;
            }
        }
        // Frees the write side (and rings the writers waiting for it) on
        // every way out.
        let _held = WriteSide { engine: self, sh };
        // ORDERING: a hint for lenders' spins (see `task_writes`).
        if !self.task_writes.load(std::sync::atomic::Ordering::Relaxed) {
            self.task_writes
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if sig.is_closed() {
            return Poll::Ready(Err(sh.write_close_error()));
        }
        let state = &self.slot.state;
        let mut ring = self.stage.lock();
        if ring.len() == 0 {
            // ORDERING: SeqCst acquires a reader's publication of its lend.
            let lent = state.load(Ordering::SeqCst);
            if lent >= LENT_MIN
                && state
                    .compare_exchange(lent, FILLING, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                // SAFETY: `lent` is the address of a `Lend` that our CAS
                // claimed: its reader waits for our answer before it returns
                // (`Lend`), so the reference is valid until then.
                let lend = unsafe { &*(lent as *const Lend) };
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
                // ORDERING: SeqCst: the slot is free before the reader hears
                // (its next read finds it usable), and both come after the
                // staged bytes, which that read then finds.
                state.store(EMPTY, Ordering::SeqCst);
                lend.answer(if closed { 0 } else { n });
                sig.notify(Bell::Filled);
                sig.notify(Bell::Offer);
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

    /// The mark a `consumed` waits for: every byte async writes have staged
    /// so far (bytes copied straight into a lent buffer were consumed when
    /// they were accepted).
    pub(crate) fn consumed_mark(&self) -> u64 {
        self.stage.lock().accepted_mark()
    }

    /// Ready once readers have taken every staged byte up to `mark` (from
    /// [`Fast::consumed_mark`]); fails with the close error if the read half
    /// closes while some of them are unread (it discards them).
    pub(crate) fn poll_consumed(
        &self,
        sh: &Shared,
        cx: &mut Context<'_>,
        task: &TaskSlot,
        mark: u64,
    ) -> Poll<io::Result<()>> {
        let mut registered = false;
        loop {
            if self.stage.lock().taken_past(mark) {
                return Poll::Ready(Ok(()));
            }
            if sh.read_closed() {
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

    /// Takes the write side if it is free; returns whether this call did.
    #[inline]
    fn try_lock(&self) -> bool {
        // ORDERING: acquires the previous writer's whole hand-off. The failure
        // ordering is SeqCst too: in `lock_slow` a failed attempt is the waiter's
        // last look before it parks, which must be ordered against the holder's
        // release and its look at the doorbell's sleepers.
        self.lock
            .compare_exchange(FREE, HELD, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Waits for the write side: as an ordinary waiter until its patience runs
    /// out (about [`STARVE`]), then as a starving one that the holder hands the
    /// write side to.
    #[cold]
    fn lock_slow(&self, sh: &Shared, deadline: Deadline) -> io::Result<()> {
        /// How an ordinary wait for the write side ended.
        enum Wait {
            /// The write side is ours.
            Got,
            /// Our patience ran out: ask for a hand-off.
            Starving,
            /// The pipe closed or the deadline passed.
            GaveUp(Park),
        }
        let sig = &sh.signals;
        // Spin until the write side looks free (or the pipe closed); the loop
        // below then tries to take it before it would park.
        spin_until(deadline.budget(SPIN), || {
            self.lock.load(Ordering::Relaxed) == FREE || sig.is_closed()
        });
        let mut patience = Patience::new(STARVE);
        let wait = sig.registered(Bell::Lock, || loop {
            if self.try_lock() {
                return Wait::Got;
            }
            if deadline.passed() {
                return Wait::GaveUp(Park::TimedOut);
            }
            if patience.exhausted() {
                return Wait::Starving;
            }
            match sig.park(Bell::Lock, deadline.earlier(patience.deadline()), true) {
                // Woken, and about to try again: if another writer takes the
                // write side first, this wake-up was lost to it.
                Park::Rung => patience.lost_one(),
                // Our patience ran out, not the caller's: the loop sees it.
                Park::TimedOut if !deadline.passed() => {}
                other => return Wait::GaveUp(other),
            }
        });
        match wait {
            // The write side is ours; `hand_over` checks for a close first.
            Wait::Got => Ok(()),
            Wait::Starving => self.lock_starving(sh, deadline),
            Wait::GaveUp(Park::Closed) => Err(sh.write_close_error()),
            Wait::GaveUp(_) => Err(timed_out()),
        }
    }

    /// Waits for the write side as a writer that has waited long: marks the
    /// write side so that its holder hands it over instead of freeing it.
    #[cold]
    fn lock_starving(&self, sh: &Shared, deadline: Deadline) -> io::Result<()> {
        let sig = &sh.signals;
        let lock = &self.lock;
        let woke = sig.registered(Bell::Handoff, || loop {
            // ORDERING: SeqCst throughout: these looks and CASes pair with the
            // holder's release and its look at this doorbell's sleepers.
            match lock.load(Ordering::SeqCst) {
                from @ (FREE | HANDOFF) => {
                    // Other starving writers keep the mark for their turn.
                    let to = if sig.sleepers(Bell::Handoff) > 1 {
                        HELD_STARVING
                    } else {
                        HELD
                    };
                    if lock
                        .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        return Park::Rung;
                    }
                }
                // Looked at only once the write side is seen taken, so that a
                // hand-off whose token we took is never left behind.
                _ if deadline.passed() => return Park::TimedOut,
                HELD => {
                    // Ask the holder for a hand-off; a failure means the state
                    // moved on: look again.
                    let _ = lock.compare_exchange(
                        HELD,
                        HELD_STARVING,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                }
                _ => match sig.park(Bell::Handoff, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                },
            }
        });
        if woke == Park::Rung {
            return Ok(());
        }
        // Giving up. A hand-off in flight may have been meant for us (we may
        // even have taken its token): pass it on to another starving writer, or
        // free the write side if none is left. (A mark we left on a held write
        // side needs nothing: its holder finds nobody to hand to and frees it.)
        // ORDERING: SeqCst; our unregistering came first, so either this look
        // sees a hand-off or the holder's look at the sleepers misses us.
        if lock.load(Ordering::SeqCst) == HANDOFF {
            self.ring_handoff(sh);
        }
        match woke {
            Park::Closed => Err(sh.write_close_error()),
            _ => Err(timed_out()),
        }
    }

    /// Rings a starving writer for the hand-off in flight, or, if they all gave
    /// up meanwhile, frees the write side instead.
    fn ring_handoff(&self, sh: &Shared) {
        let sig = &sh.signals;
        if sig.has_sleepers(Bell::Handoff) {
            sig.notify(Bell::Handoff);
        } else {
            self.cancel_handoff(sh);
        }
    }

    /// Turns a hand-off that no starving writer is registered for back into a
    /// free write side, and wakes the ordinary waiters.
    fn cancel_handoff(&self, sh: &Shared) {
        // ORDERING: SeqCst, after the caller's look at (or change of) the
        // Handoff sleepers, so that a hand-off and the last starving writer's
        // departure cannot miss each other.
        if self
            .lock
            .compare_exchange(HANDOFF, FREE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            sh.signals.notify(Bell::Lock);
        }
    }

    /// Releases the write side: frees it, or hands it to a starving writer.
    fn unlock(&self, sh: &Shared) {
        let sig = &sh.signals;
        // ORDERING: SeqCst releases the whole write to the next holder and
        // orders the change before the looks at the doorbells.
        if self
            .lock
            .compare_exchange(HELD, FREE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            sig.notify(Bell::Lock);
            return;
        }
        // HELD_STARVING: while the write side is held, the only other change
        // is a starving writer's mark HELD -> HELD_STARVING.
        match self
            .lock
            .compare_exchange(HELD_STARVING, HANDOFF, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => self.ring_handoff(sh),
            Err(other) => unreachable!("write side released in state {other}"),
        }
    }

    /// The write proper, with the write side held: copies into a reader's lent
    /// buffer if one is waiting, offers the rest (or all of `buf`) and waits
    /// until readers have taken all of it, the pipe closes or the deadline
    /// passes.
    fn hand_over(&self, sh: &Shared, buf: &[u8], deadline: Deadline) -> io::Result<usize> {
        let sig = &sh.signals;
        let state = &self.slot.state;
        if sig.is_closed() {
            return Err(sh.write_close_error());
        }
        // Bytes an async write staged go first; none are staged while we
        // hold the write side.
        if !self.stage.is_empty() {
            self.wait_drained(sh, deadline)?;
        }
        // Even an empty write meets a reader: it is a rendezvous, as in Go.
        let mut rest = buf;
        loop {
            // ORDERING: SeqCst acquires a reader's publication of its lend.
            match state.load(Ordering::SeqCst) {
                lent if lent >= LENT_MIN => {
                    // A reader lent its buffer: take it, unless it takes it back
                    // first.
                    if state
                        .compare_exchange(lent, FILLING, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        continue;
                    }
                    // SAFETY: `lent` is the address of a `Lend` that our CAS
                    // claimed: its reader waits for our answer before it
                    // returns (`Lend`), so the reference is valid until then.
                    let lend = unsafe { &*(lent as *const Lend) };
                    // SAFETY: our CAS claimed the lend and we have not answered.
                    let answer = if rest.len().min(unsafe { lend.len() }) > FILL_MAX {
                        // A large copy: offer it instead, and tell the reader
                        // to come and take it.
                        DECLINED
                    } else {
                        // SAFETY: our CAS claimed the lend and we have not
                        // answered.
                        let n = unsafe { lend.fill(rest) };
                        rest = &rest[n..];
                        if !rest.is_empty() {
                            n
                        } else {
                            // All of it fitted: the write is done, with no reply
                            // to wait for. The slot is free before the reader
                            // hears, so its next read finds it usable.
                            // ORDERING: SeqCst orders the state before the
                            // answer and the looks at the doorbells.
                            state.store(EMPTY, Ordering::SeqCst);
                            lend.answer(n);
                            sig.notify(Bell::Filled);
                            // A free slot is news only to a reader that lends.
                            sig.notify_threads(Bell::Offer);
                            return Ok(buf.len());
                        }
                    };
                    // What is left goes on offer in the same move, then the
                    // reader hears its answer.
                    // SAFETY: the state is FILLING, which only we move on.
                    unsafe { self.set_lease(rest) };
                    // ORDERING: SeqCst publishes the lease to the claiming CAS,
                    // before the reader hears its answer.
                    state.store(OFFERED, Ordering::SeqCst);
                    lend.answer(answer);
                    sig.notify(Bell::Filled);
                    break;
                }
                // Free: `EMPTY`, or a `REPLIED` whose writer has left (it
                // reached the writer as a lend put over it, then taken back).
                free @ (EMPTY | REPLIED) => {
                    // SAFETY: the slot is free (we hold the write side, and
                    // every earlier offer was used up or taken back); a reader
                    // that lends meanwhile does not look at the lease either.
                    unsafe { self.set_lease(rest) };
                    // ORDERING: SeqCst publishes the lease to the claiming CAS
                    // and orders the offer before the look at the doorbell.
                    if state
                        .compare_exchange(free, OFFERED, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        break;
                    }
                    // A reader lent its buffer first: fill it instead.
                }
                other => unreachable!("a write found the slot in state {other}"),
            }
        }
        // From here until the offer is used up or taken back, a panic must not
        // unwind past this frame with the offer up: `buf` is about to be freed.
        let guard = OfferGuard { engine: self, sh };
        sh.failpoint_after_offer();
        let reader_asleep = sig.has_sleepers(Bell::Offer);
        if reader_asleep {
            sig.notify(Bell::Offer);
        }
        // Readers used the offer up: `REPLIED`, or a lend a reader put in its
        // place (only a reader that saw `REPLIED` lends over it, so a lend here
        // means our offer was used up).
        let replied = || {
            let s = state.load(Ordering::SeqCst);
            s == REPLIED || s >= LENT_MIN
        };
        // Spin, first for a reader to take the offer, then for readers to copy
        // it, at a budget that grows with the bytes to copy. A reader we just
        // woke takes a wake-up's time to come; parking now would add a second
        // wake-up (ours) to every hand-off from here on, so we spin through it.
        let claim_budget = if reader_asleep { WAKE } else { SPIN };
        if spin_until(deadline.budget(claim_budget), || {
            state.load(Ordering::Relaxed) != OFFERED
        }) {
            spin_until(deadline.budget(copy_budget(buf.len())), replied);
        }
        if !replied() {
            let woke = sig.registered(Bell::Reply, || loop {
                if replied() {
                    return Park::Rung;
                }
                match sig.park(Bell::Reply, deadline, true) {
                    Park::Rung => {}
                    other => return other,
                }
            });
            if woke != Park::Rung {
                // Closed or timed out: take back what readers have not taken.
                std::mem::forget(guard);
                if let Some(left) = self.retract(sh) {
                    return partial(buf.len() - left, || match woke {
                        Park::TimedOut => timed_out(),
                        _ => sh.write_close_error(),
                    });
                }
                return self.finish(sh, buf.len());
            }
        }
        std::mem::forget(guard);
        self.finish(sh, buf.len())
    }

    /// Stores the lease of the offer about to be published.
    ///
    /// # Safety
    ///
    /// The caller holds the write side and the state is free (`EMPTY`,
    /// `REPLIED`, or a reader's lend over them) or `FILLING`: no reader looks at
    /// the lease in those states (`Slot::lease`).
    #[inline]
    unsafe fn set_lease(&self, bytes: &[u8]) {
        self.slot.lease.with_mut(|lease| {
            // SAFETY: the caller guarantees no reader holds the lease.
            unsafe { *lease = Lease::new(bytes) }
        });
    }

    /// Ends a write whose offer readers used up.
    #[inline]
    fn finish(&self, sh: &Shared, len: usize) -> io::Result<usize> {
        self.end_lease();
        self.free_replied(sh);
        Ok(len)
    }

    /// Frees the slot after a used-up offer: `REPLIED -> EMPTY`, unless a
    /// reader already lent its buffer over it (then it stays lent).
    #[inline]
    fn free_replied(&self, sh: &Shared) {
        // ORDERING: the SeqCst load that saw REPLIED (or the lend over it,
        // which continues the reader's release sequence) acquired the last
        // copy. SeqCst here orders the free slot before the look at the
        // readers' doorbell: a reader that found the slot busy may lend now.
        if self
            .slot
            .state
            .compare_exchange(REPLIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // Only threads lend: waking a task here would cost it a poll for
            // nothing (it waits for an offer or staged bytes).
            sh.signals.notify_threads(Bell::Offer);
        }
    }

    /// Takes the current offer back; returns how many bytes were left in it, or
    /// `None` if readers took every byte first (the state is then `REPLIED`). A
    /// reader that is copying from the offer is waited for, with no deadline:
    /// it gives the lease back instead of offering the rest again.
    fn retract(&self, sh: &Shared) -> Option<usize> {
        let sig = &sh.signals;
        let state = &self.slot.state;
        loop {
            // ORDERING: SeqCst, so the CAS acquires a reader's re-offer (and the
            // lease it advanced) and, on failure, its REPLIED.
            match state.compare_exchange(OFFERED, EMPTY, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                // Used up: REPLIED, or a lend put over it.
                Err(s) if s == REPLIED || s >= LENT_MIN => return None,
                Err(_) => {
                    // CLAIMED: a reader is copying from our bytes. Recall the
                    // lease; if the reader moved on first, look again.
                    if state
                        .compare_exchange(CLAIMED, RECALLED, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        continue;
                    }
                    // It must be done before we may leave: wait for it to give
                    // the lease back, with no deadline and whatever closes.
                    let answer = sig.registered(Bell::Reply, || loop {
                        match state.load(Ordering::SeqCst) {
                            RECALLED => {
                                sig.park(Bell::Reply, Deadline::never(), false);
                            }
                            answer => return answer,
                        }
                    });
                    if answer != RETURNED {
                        // REPLIED, or a lend a reader put over it.
                        return None;
                    }
                    // ORDERING: the load that saw RETURNED acquired the reader's
                    // hand-back; the slot is ours until we free it here.
                    state.store(EMPTY, Ordering::SeqCst);
                    break;
                }
            }
        }
        let left = self.slot.lease.with(|lease| {
            // SAFETY: the offer was taken back (our CAS, or the reader's answer
            // to the recall), so no reader holds the lease (`Slot::lease`).
            unsafe { (*lease).len() }
        });
        self.end_lease();
        // The slot is free: a reader that found it busy may lend now (only
        // threads lend).
        sig.notify_threads(Bell::Offer);
        Some(left)
    }

    /// Clears the lease once no reader can hold it (under loom, this access is
    /// what proves the reader's copy happened before the write returns).
    #[inline]
    fn end_lease(&self) {
        self.slot.lease.with_mut(|lease| {
            // SAFETY: the offer was taken back or used up, so no reader holds the
            // lease (`Slot::lease`).
            unsafe { *lease = Lease::empty() }
        });
    }
}
