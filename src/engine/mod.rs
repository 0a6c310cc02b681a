//! The state both halves share, and the engines that move bytes across.
//!
//! Implementation description (for maintainers; not part of the docs):
//!
//! A pipe is one [`PipeState`]: the two close-error slots, the done channel and
//! doorbells ([`Signals`]), each half's clone count and timeout, and an engine.
//! An engine runs Go's protocol: a writer takes the write side for its whole
//! write and lends its slice to one reader at a time as a [`Lease`]; the reader
//! copies what fits into its buffer and hands the lease back. In the reference
//! engine it answers with how many bytes it took and the writer offers the rest
//! again; in the shipping engine the reader advances the lease and puts the
//! rest back on offer itself, so the writer hears from readers once per write.
//! The shipping engine is also symmetric: a reader that arrives first lends its
//! buffer (a `Lend`, see `rendezvous/state.rs`) and a small write is copied
//! straight into it.
//! Closing stores the half's error first, then closes the done channel, which
//! every blocking step waits on too (except the writer's wait for a reader that
//! holds its lease to hand it back: that one cannot give up).
//!
//! - `rendezvous` (the shipping engine, a folder by role) runs the hand-off on
//!   atomics and spins briefly before it parks on a doorbell;
//! - `stage` is the async writers' bounded buffer;
//! - `zero_copy` holds `write_to`, `read_from` and the vectored calls;
//! - `reference` (internal feature `__reference-engine`, never under loom) is
//!   the design's literal mechanism, two zero-capacity crossbeam channels and
//!   `select!`, kept as the executable specification the shipping engine is
//!   tested against.

pub(crate) mod copy;
#[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
pub(crate) mod reference;
pub(crate) mod rendezvous;
pub(crate) mod stage;
mod zero_copy;

use std::io;
use std::time::Duration;

use crate::error::{self, Cause};
use crate::sync::{
    AbsDeadline, AtomicU64, AtomicUsize, Deadline, ErrorSlot, Ordering, Signals, TaskSlot,
};

/// A writer's slice, lent to one reader at a time.
///
/// # Safety
///
/// A `Lease` is a raw view of a writer's `&[u8]`. It is valid from the moment the
/// writer publishes it until the writer returns from `write`, and the writer
/// upholds that as follows (in both engines): once a reader has taken the lease,
/// the writer waits unconditionally (neither close nor a timeout lets it leave)
/// until that reader hands it back (by answering how many bytes it took, by
/// offering the rest again, or by giving a recalled lease back), and a reader
/// touches the bytes only before it hands the lease back. An offer nobody took
/// is retracted before the writer leaves, so no reader can take it afterwards.
/// This holds on every way out of a write, including a panic unwinding through
/// it (the engines' unwind guards retract the offer and wait for a copy in
/// progress). The bytes are only ever read, never written
/// through; a reader may advance the lease past the bytes it took.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lease {
    /// Start of the writer's bytes.
    ptr: *const u8,
    /// How many bytes the writer offers.
    len: usize,
}

// SAFETY: a `Lease` is only a pointer into a `&[u8]` (which is `Send` and `Sync`)
// whose lifetime the protocol guarantees (see the type's `# Safety`); sending it
// to the reader's thread is exactly what it is for.
unsafe impl Send for Lease {}

impl Lease {
    /// An empty lease that points at nothing.
    pub(crate) const fn empty() -> Self {
        Self {
            ptr: std::ptr::null(),
            len: 0,
        }
    }

    /// A lease of `bytes`.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// How many bytes are on offer.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Moves the start of the lease past the first `n` bytes (`n <= len`).
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        // Arithmetic only: the pointer stays within (or one past) the slice.
        self.ptr = self.ptr.wrapping_add(n);
        self.len -= n;
    }

    /// The offered bytes.
    ///
    /// # Safety
    ///
    /// The lease must be live (see the type's `# Safety`), and the slice is
    /// only used until it is handed back.
    pub(crate) unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees the writer's `len` bytes at `ptr` stay
        // borrowed (shared) while it uses the slice.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Copies as many offered bytes as `dst` has room for into it; returns
    /// how many.
    ///
    /// # Safety
    ///
    /// The lease must be live: taken by this reader and not yet handed back to
    /// the writer (see the type's `# Safety`).
    pub(crate) unsafe fn copy_into<D: Dst + ?Sized>(&self, dst: &mut D) -> usize {
        let n = self.len.min(dst.room());
        if n > 0 {
            // SAFETY: the caller guarantees the writer's `len` bytes at `ptr`
            // stay borrowed until the lease is handed back; `n <= len`.
            dst.put(unsafe { std::slice::from_raw_parts(self.ptr, n) });
        }
        n
    }
}

/// Where a read puts the bytes it takes: a plain buffer ([`Fill`]), or with
/// tokio the unfilled part of a `ReadBuf`, which may be uninitialised and is
/// never zeroed (the read copies straight into it).
pub(crate) trait Dst {
    /// How many more bytes fit.
    fn room(&self) -> usize;
    /// Copies `src` in after the bytes put before; `src.len() <= room()`.
    fn put(&mut self, src: &[u8]);
}

/// A plain buffer filled from its start.
pub(crate) struct Fill<'a> {
    /// The buffer.
    buf: &'a mut [u8],
    /// How many bytes were put.
    filled: usize,
}

impl<'a> Fill<'a> {
    /// An empty fill of `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, filled: 0 }
    }
}

impl Dst for Fill<'_> {
    #[inline]
    fn room(&self) -> usize {
        self.buf.len() - self.filled
    }

    #[inline]
    fn put(&mut self, src: &[u8]) {
        copy::copy_slice(&mut self.buf[self.filled..self.filled + src.len()], src);
        self.filled += src.len();
    }
}

/// A half's timeout, shared by its clones: nanoseconds, `0` for none.
pub(crate) struct Timeout(AtomicU64);

impl Timeout {
    /// No timeout.
    fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Sets the timeout, rejecting a zero duration as std's sockets do.
    pub(crate) fn set(&self, timeout: Option<Duration>) -> io::Result<()> {
        let nanos = match timeout {
            None => 0,
            Some(t) if t.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            // Saturate: a timeout of centuries never expires either way.
            Some(t) => u64::try_from(t.as_nanos()).unwrap_or(u64::MAX),
        };
        self.0.store(nanos, Ordering::Relaxed);
        Ok(())
    }

    /// The timeout as set (saturated to about 584 years).
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// The deadline of an operation that starts now.
    #[inline]
    pub(crate) fn deadline(&self) -> Deadline {
        Deadline::after_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// Which mechanism moves the bytes.
// The shipping engine is inline on purpose (no indirection on the shipping path);
// the small reference engine only exists in the crate's own test builds.
#[allow(clippy::large_enum_variant)]
enum Engine {
    /// The shipping engine.
    Rendezvous(rendezvous::Rendezvous),
    /// The crossbeam-channel reference.
    #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
    Reference(reference::Reference),
}

/// Everything the halves of one pipe share.
pub(crate) struct PipeState {
    /// The engine.
    engine: Engine,
    /// The done channel and the doorbells.
    pub(crate) signals: Signals,
    /// What the reader's half was closed with; the first close wins.
    rerr: ErrorSlot<Cause>,
    /// What the writer's half was closed with; the first close wins.
    werr: ErrorSlot<Cause>,
    /// Live `PipeReader` clones; the last one to go closes the read half.
    pub(crate) readers: AtomicUsize,
    /// Live `PipeWriter` clones; the last one to go closes the write half.
    pub(crate) writers: AtomicUsize,
    /// The read half's timeout.
    pub(crate) read_timeout: Timeout,
    /// The write half's timeout.
    pub(crate) write_timeout: Timeout,
    /// The read half's absolute deadline.
    pub(crate) read_deadline: AbsDeadline,
    /// The write half's absolute deadline.
    pub(crate) write_deadline: AbsDeadline,
    /// Test-only fault injection (never in a shipping build).
    #[cfg(any(test, gopipe_loom))]
    pub(crate) failpoints: Failpoints,
}

/// Faults the crate's own tests and loom models inject into a pipe. Not compiled
/// into a shipping build: only under `cfg(test)` and `cfg(gopipe_loom)`.
#[cfg(any(test, gopipe_loom))]
#[derive(Default)]
pub(crate) struct Failpoints {
    /// The next write panics right after it published its offer. A std atomic,
    /// also under loom: it is set before the model's threads start, so loom
    /// need not explore it.
    pub(crate) panic_after_offer: std::sync::atomic::AtomicBool,
    /// The next read that lends its buffer panics right after publishing it.
    pub(crate) panic_after_lend: std::sync::atomic::AtomicBool,
}

#[cfg(any(test, gopipe_loom))]
impl Failpoints {
    /// Panics with `what` if `armed` is set, disarming it (each fires once).
    fn fire(armed: &std::sync::atomic::AtomicBool, what: &'static str) {
        if armed.swap(false, std::sync::atomic::Ordering::Relaxed) {
            // A `&str` payload, as `panic!("literal")` gives, which the loom
            // models' quiet panic hook recognises.
            std::panic::panic_any(what);
        }
    }
}

impl PipeState {
    /// A new open pipe on the shipping engine.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self::with_engine(Engine::Rendezvous(rendezvous::Rendezvous::new()))
    }

    /// A new open buffered pipe of `cap` bytes (not zero), on the shipping
    /// engine.
    #[inline(always)]
    pub(crate) fn new_buffered(cap: usize) -> Self {
        Self::with_engine(Engine::Rendezvous(rendezvous::Rendezvous::buffered(cap)))
    }

    /// A new open pipe on the reference engine.
    #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
    pub(crate) fn new_reference() -> Self {
        Self::with_engine(Engine::Reference(reference::Reference::new()))
    }

    /// A new open pipe on `engine`, with one reader and one writer.
    #[inline(always)]
    fn with_engine(engine: Engine) -> Self {
        Self {
            engine,
            signals: Signals::new(),
            rerr: ErrorSlot::new(),
            werr: ErrorSlot::new(),
            readers: AtomicUsize::new(1),
            writers: AtomicUsize::new(1),
            read_timeout: Timeout::new(),
            write_timeout: Timeout::new(),
            read_deadline: AbsDeadline::new(),
            write_deadline: AbsDeadline::new(),
            #[cfg(any(test, gopipe_loom))]
            failpoints: Failpoints::default(),
        }
    }

    /// Where a write has just published its offer (or, in the reference engine,
    /// handed its lease to a reader): panics there if a test asked for it.
    #[inline(always)]
    pub(crate) fn failpoint_after_offer(&self) {
        #[cfg(any(test, gopipe_loom))]
        Failpoints::fire(
            &self.failpoints.panic_after_offer,
            "gopipe failpoint: panic after the offer was published",
        );
    }

    /// Where a read has just lent its buffer: panics there if a test asked for
    /// it.
    #[inline(always)]
    pub(crate) fn failpoint_after_lend(&self) {
        #[cfg(any(test, gopipe_loom))]
        Failpoints::fire(
            &self.failpoints.panic_after_lend,
            "gopipe failpoint: panic after the buffer was lent",
        );
    }

    /// The deadline of a read that starts now: its timeout and the read
    /// half's absolute deadline, whichever comes first.
    #[inline]
    fn read_deadline(&self) -> Deadline {
        // SAFETY: the deadline is used by the read that starts now, which
        // borrows `self` throughout.
        unsafe { self.read_timeout.deadline().with_half(&self.read_deadline) }
    }

    /// The deadline of a write that starts now (see `read_deadline`).
    #[inline]
    fn write_deadline(&self) -> Deadline {
        // SAFETY: as for `read_deadline`.
        unsafe {
            self.write_timeout
                .deadline()
                .with_half(&self.write_deadline)
        }
    }

    /// Fails a call whose deadline has already passed before it moves a byte,
    /// as Go checks a deadline before it looks for a partner: a reader gets
    /// nothing although a write is on offer, a writer leaves a waiting
    /// reader's buffer alone. A closed pipe wins: its result comes first, as
    /// in Go.
    #[inline]
    fn deadline_check(&self, deadline: Deadline) -> io::Result<()> {
        if deadline.passed() && !self.signals.is_closed() {
            return Err(error::timed_out());
        }
        Ok(())
    }

    /// Sets the read half's absolute deadline: see
    /// `PipeReader::set_read_deadline`.
    pub(crate) fn set_read_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        if self.signals.is_closed() {
            return Err(error::ClosedPipe.into());
        }
        self.read_deadline.set(at);
        self.signals.deadline_moved();
        Ok(())
    }

    /// Sets the write half's absolute deadline.
    pub(crate) fn set_write_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        if self.signals.is_closed() {
            return Err(error::ClosedPipe.into());
        }
        self.write_deadline.set(at);
        self.signals.deadline_moved();
        Ok(())
    }

    /// Reads into `buf`: see `PipeReader`'s `Read` impl.
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.read_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Rendezvous(e) => e.read(self, buf, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.read(self, buf, deadline),
        }
    }

    /// Writes all of `buf` unless closed or timed out: see `PipeWriter`'s `Write`.
    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_or_cut(buf).or_else(error::Cut::partial)
    }

    /// Writes all of `buf`, or returns the cut (a close or the deadline):
    /// how many bytes readers took, and why it ended.
    #[inline]
    pub(crate) fn write_or_cut(&self, buf: &[u8]) -> error::Written {
        let deadline = self.write_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Rendezvous(e) => e.write(self, buf, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.write(self, buf, deadline),
        }
    }

    /// The shipping engine, for the async halves: the reference engine is the
    /// specification of the blocking protocol only.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    #[inline]
    fn rendezvous(&self) -> &rendezvous::Rendezvous {
        match &self.engine {
            Engine::Rendezvous(e) => e,
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(_) => panic!("the reference engine has no async halves"),
        }
    }

    /// Polls a read into `buf`: see the async `PipeReader` impls.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    pub(crate) fn poll_read<D: Dst + ?Sized>(
        &self,
        cx: &mut std::task::Context<'_>,
        task: &TaskSlot,
        dst: &mut D,
    ) -> std::task::Poll<io::Result<usize>> {
        if dst.room() == 0 {
            return std::task::Poll::Ready(Ok(0));
        }
        self.rendezvous().poll_read(self, cx, task, dst)
    }

    /// Polls a write of the gather `bufs`: see the async `PipeWriter` impls.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) fn poll_write(
        &self,
        cx: &mut std::task::Context<'_>,
        task: &TaskSlot,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        self.rendezvous().poll_write(self, cx, task, bufs)
    }

    /// Polls a shutdown: closes the write half at once, as a socket's
    /// shutdown does; bytes accepted before still reach readers, then end
    /// of file.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    pub(crate) fn poll_shutdown(&self) -> std::task::Poll<io::Result<()>> {
        self.close_write(Cause::Eof);
        std::task::Poll::Ready(Ok(()))
    }

    /// The mark a `consumed` started now waits for: see
    /// `PipeWriter::consumed`.
    pub(crate) fn consumed_mark(&self) -> u64 {
        match &self.engine {
            Engine::Rendezvous(e) => e.consumed_mark(),
            // No async write stages anything there.
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(_) => 0,
        }
    }

    /// Polls for readers to have taken every staged byte up to `mark`: see
    /// `PipeWriter::consumed`.
    pub(crate) fn poll_consumed(
        &self,
        cx: &mut std::task::Context<'_>,
        task: &TaskSlot,
        mark: u64,
    ) -> std::task::Poll<io::Result<()>> {
        match &self.engine {
            Engine::Rendezvous(e) => e.poll_consumed(self, cx, task, mark),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(_) => std::task::Poll::Ready(Ok(())),
        }
    }

    /// How many task wakers the pipe holds (see `PipeWriter`'s hidden
    /// `__task_wakers_held`).
    pub(crate) fn task_wakers_held(&self) -> usize {
        self.signals.task_wakers_held()
    }

    /// Closes the read half with `cause` (if it is the first close of that half)
    /// and closes the done channel.
    pub(crate) fn close_read(&self, cause: Cause) {
        // The error is stored before done closes, so whoever sees done sees it.
        let first = store_first(&self.rerr, cause);
        if !self.signals.close() && first {
            // Done closed earlier (the write half): a task may have started
            // waiting since for this half's close (a flush does), and
            // threads for a drain claim to end (each of them stops waiting
            // on this close: wake them all).
            self.signals.wake_all_tasks();
            self.signals.notify_all_threads(crate::sync::Bell::Offer);
        }
        // A buffered pipe's unread bytes go (after the close: a read looks
        // at the read half's error before it takes any).
        match &self.engine {
            Engine::Rendezvous(e) => e.discard_buffered(),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(_) => {}
        }
    }

    /// Closes the write half with `cause` (if it is the first close of that half)
    /// and closes the done channel.
    pub(crate) fn close_write(&self, cause: Cause) {
        let first = store_first(&self.werr, cause);
        if !self.signals.close() && first {
            self.signals.wake_all_tasks();
        }
    }

    /// What a read on the closed pipe returns.
    pub(crate) fn read_close_result(&self) -> io::Result<usize> {
        self.rerr
            .with(|rerr| self.werr.with(|werr| error::read_close_result(rerr, werr)))
    }

    /// What a write on the closed pipe fails with.
    pub(crate) fn write_close_error(&self) -> io::Error {
        self.rerr
            .with(|rerr| self.werr.with(|werr| error::write_close_error(rerr, werr)))
    }

    /// Whether the read half has been closed (by any clone, or by dropping).
    pub(crate) fn read_closed(&self) -> bool {
        self.rerr.is_set()
    }

    /// Whether the write half has been closed.
    pub(crate) fn write_closed(&self) -> bool {
        self.werr.is_set()
    }
}

/// Stores `cause` in `slot` if it is the first; returns whether it was. The
/// two causes without an error of the caller's are constants: the common
/// closes allocate nothing.
fn store_first(slot: &ErrorSlot<Cause>, cause: Cause) -> bool {
    /// A writer's close.
    static EOF: Cause = Cause::Eof;
    /// A reader's close, or a close with `ClosedPipe`.
    static CLOSED_PIPE: Cause = Cause::ClosedPipe;
    match cause {
        Cause::Eof => slot.set_first_static(&EOF),
        Cause::ClosedPipe => slot.set_first_static(&CLOSED_PIPE),
        cause => slot.set_first(cause),
    }
}

#[cfg(test)]
mod tests;
