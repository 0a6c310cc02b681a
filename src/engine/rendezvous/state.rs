//! The rendezvous slot's states, and the two loans they hand around: a
//! writer's [`Lease`] (on offer, claimed by one reader at a time) and a
//! reader's [`Lend`] (its buffer, filled by one writer). This file owns the
//! state word's values and who may move it; the paths that move it are in
//! `read.rs`, `drain.rs`, `write.rs` and `poll.rs`.
//!
//! Who moves the state word, from what to what (a reader is any read that
//! holds the role the row needs; the writer holds the write side, except a
//! buffered pipe's write that goes in whole without it, which claims a lend
//! and answers it under the stage's lock: see below):
//!
//! | state | the writer | a reader |
//! |---|---|---|
//! | `EMPTY` | stores the lease, then CAS to `OFFERED` | CAS to its `Lend`'s address (it holds the lender's role) |
//! | `OFFERED` | CAS to `EMPTY` (takes the offer back) | CAS to `CLAIMED` (claims it) |
//! | `CLAIMED` | CAS to `RECALLED` (wants the lease back) | the claimer: CAS to `OFFERED` (bytes left) or `REPLIED` (none) |
//! | `RECALLED` | waits | the claimer: stores `RETURNED` (bytes left) or `REPLIED` (none) |
//! | `REPLIED` | CAS to `EMPTY` (its offer used up); a later writer offers over one whose writer left | CAS to its `Lend`'s address (the writer takes that as its answer) |
//! | `RETURNED` | stores `EMPTY` (the recalled lease is back) | - |
//! | a `Lend`'s address | CAS to `FILLING` (claims the lend) | the lender: CAS back to the state it replaced (takes it back) |
//! | `FILLING` | stores `EMPTY` (all of it fitted) or `OFFERED` (the rest offered), then answers the lend | the lender waits for the answer |
//!
//! Only the writer that holds the write side (`lock`) moves the state from
//! `EMPTY` (or a `REPLIED` whose writer has left) to `OFFERED`, out of
//! `REPLIED`, `FILLING` and `RETURNED`, back from `OFFERED` to `EMPTY`, from
//! `CLAIMED` to `RECALLED` and from `LENT` to `FILLING`. A buffered pipe's
//! writer offers only while it holds the write side, to put on offer the
//! rest of a write that filled the buffer with more left than the buffer
//! holds (`offer_rest`): readers take the
//! staged bytes first (a claimer that finds bytes staged hands the offer
//! back untouched: `try_claim`), and nothing is staged meanwhile. Its
//! writers claim a lend (`LENT` to `FILLING`, then out of
//! `FILLING`) with or without the write side (`Rendezvous::accept`): the claim
//! is a compare-and-swap made under the stage's lock, so one writer wins it
//! and owns the lend until it answers, and a writer that finds `FILLING`
//! stages behind the winner's bytes. Only a reader moves it
//! from `EMPTY` or `REPLIED` to `LENT` and back, from `OFFERED` to `CLAIMED`,
//! and out of `CLAIMED` and `RECALLED` (each contested move with a
//! compare-and-swap, so the two sides always agree on who owns the lease or the
//! lent buffer). A reader that wins the claim owns the lease until it moves the
//! state on; a writer that sees `CLAIMED` waits for that whatever else happens.
//! A writer that claims a lend owns the lent buffer until it answers; a reader
//! that fails to take its lend back waits for that answer whatever else
//! happens. Those are the invariants [`Lease`] and [`Lend`] rely on.
//!

use std::io;

use crate::engine::Lease;
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// No offer: the writer may store a new lease.
pub(super) const EMPTY: usize = 0;
/// A lease is published and no reader has taken it yet.
pub(super) const OFFERED: usize = 1;
/// A reader took the lease and is copying from it.
pub(super) const CLAIMED: usize = 2;
/// Readers have taken every byte of the offer.
pub(super) const REPLIED: usize = 3;
/// A reader is copying from the lease and the writer wants it back: the reader
/// gives it back (`RETURNED`, or `REPLIED` if it took the last byte) instead of
/// offering the rest again.
pub(super) const RECALLED: usize = 4;
/// The writer took a reader's lent buffer and is copying into it.
pub(super) const FILLING: usize = 5;
/// A reader gave a recalled lease back with bytes left in it: the writer takes
/// it from here (`EMPTY`). Unlike `EMPTY`, no reader lends over it, so the
/// writer cannot mistake the lease coming back for its offer being used up.
pub(super) const RETURNED: usize = 6;
/// From this value up, the state is the address of the [`Lend`] of the reader
/// that lent its buffer (`LENT`). A `Lend` is aligned to 8 bytes, so its
/// address is never one of the tags above.
pub(super) const LENT_MIN: usize = 8;
/// A `Lend`'s result before the writer answered it.
pub(super) const PENDING: usize = usize::MAX;
/// A `Lend`'s result when the writer declined to copy into it and offered its
/// bytes instead (the reader then claims the offer like any other).
pub(super) const DECLINED: usize = usize::MAX - 1;

/// The rendezvous slot: the state word and the lease it guards.
pub(super) struct Slot {
    /// `EMPTY`, `OFFERED`, `CLAIMED`, `REPLIED`, `RECALLED`, `FILLING`,
    /// `RETURNED`, or a lending reader's `Lend`'s address (see the table).
    pub(super) state: AtomicUsize,
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
    pub(super) lease: UnsafeCell<Lease>,
}

// SAFETY: the lease is the only field that is not `Sync`; the state machine above
// gives every access to it a single owner at a time (see `Slot::lease`).
unsafe impl Sync for Slot {}

/// Where a lent buffer is: a raw view of a reader's `&mut [u8]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct BufView {
    /// Start of the reader's buffer.
    pub(super) ptr: *mut u8,
    /// Its length: 0 for a draining read (`Rendezvous::drain`), which lends an
    /// empty buffer so that the writer offers its bytes.
    pub(super) len: usize,
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
/// or `DECLINED`: the writer offered its bytes instead of copying). A writer that holds the write side (or
/// a buffered pipe's writer under the stage's lock, see the module's table) may
/// claim the `Lend` (CAS from its address to `FILLING`); it then copies into
/// the buffer and stores `result`, and touches neither the `Lend` nor the
/// buffer after that store. A reader whose take-back CAS fails therefore waits
/// for `result`, with no deadline and whatever closes; the reader's unwind
/// guard (`LendGuard`) does the same when a panic unwinds. Only one reader at
/// a time may lend (it holds `Rendezvous::lender` from before it publishes until
/// after it has its answer), so the one doorbell `Bell::Filled` has at most
/// one sleeper and its ring cannot wake the wrong reader.
///
/// The writer's `&Lend` outlives the `Lend` itself for a moment: once it
/// stores `result`, the reader may return and pop the `Lend` off its stack
/// while the writer's function (`answer_and_free`) still holds the reference
/// as an argument, unused. Rust allows that only because every field is
/// atomic or in an `UnsafeCell`: the compiler and Miri then assume nothing
/// about the memory behind a shared reference for its lifetime. A plain
/// field added here would make that reference assert the memory stays
/// allocated (Stacked Borrows reports it as deallocating a protected
/// location): keep every field atomic or in an `UnsafeCell`, or hand the
/// writer a raw pointer instead. The state word holds the `Lend`'s address as
/// an integer, so a writer's `&Lend` has exposed provenance (Miri warns of
/// the cast, and `-Zmiri-strict-provenance` stops there); the buffer's own
/// pointer keeps its provenance and is checked in full.
#[repr(align(8))]
pub(super) struct Lend {
    /// The lent buffer. Accessed by the writer that claimed the `Lend` (the
    /// copy) and by the reader once the `Lend` is back or answered; the state
    /// and `result` order the two (under loom this cell is what checks it).
    pub(super) buf: UnsafeCell<BufView>,
    /// How many bytes the writer copied, or `PENDING`.
    pub(super) result: AtomicUsize,
}

impl Lend {
    /// A lend of `buf`, not yet answered.
    pub(super) fn new(buf: &mut [u8]) -> Self {
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
    pub(super) unsafe fn fill(&self, bytes: &[u8]) -> usize {
        self.buf.with_mut(|view| {
            // SAFETY: the caller owns the lend until it answers, and the reader
            // waits for that answer before it touches its buffer again; the
            // reader's buffer is an exclusive borrow, so it cannot overlap the
            // writer's shared `bytes`; `n` fits both.
            unsafe {
                let n = (*view).len.min(bytes.len());
                crate::engine::copy::copy_raw(bytes.as_ptr(), (*view).ptr, n);
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
    pub(super) unsafe fn fill_gather(&self, slices: &[io::IoSlice<'_>], max: usize) -> usize {
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
                unsafe { crate::engine::copy::copy_raw(slice.as_ptr(), ptr.add(n), k) };
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
    pub(super) unsafe fn len(&self) -> usize {
        self.buf.with(|view| {
            // SAFETY: the caller owns the lend until it answers.
            unsafe { (*view).len }
        })
    }

    /// Tells the reader how many bytes it got. The writer's last touch of the
    /// `Lend`: the reader may return as soon as it sees this.
    pub(super) fn answer(&self, n: usize) {
        // ORDERING: SeqCst releases the copy to the reader and orders the
        // answer before the writer's look at the doorbell.
        self.result.store(n, Ordering::SeqCst);
    }

    /// Whether the writer answered.
    pub(super) fn answered(&self) -> bool {
        // ORDERING: SeqCst acquires the writer's copy, and is the waiter's last
        // look before it parks (paired with the writer's look at the doorbell).
        self.result.load(Ordering::SeqCst) != PENDING
    }

    /// The reader's last touch of the lend, once it is back or answered (under
    /// loom, the access that proves the writer's copy happened before the read
    /// returns).
    pub(super) fn end(&self) {
        self.buf.with_mut(|_| ());
    }
}

/// How a lend ended.
pub(super) enum LendOutcome {
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
