//! The state both halves share, and the engines that move bytes across.
//!
//! Implementation description (for maintainers; not part of the docs):
//!
//! A pipe is one [`Shared`]: the two close-error slots, the done channel and
//! doorbells ([`Signals`]), each half's clone count and timeout, and an engine.
//! An engine runs Go's protocol: a writer takes the write side for its whole
//! write and lends its slice to one reader at a time as a [`Lease`]; the reader
//! copies what fits into its buffer and hands the lease back. In the reference
//! engine it answers with how many bytes it took and the writer offers the rest
//! again; in the fast engine the reader advances the lease and puts the rest
//! back on offer itself, so the writer hears from readers once per write. The
//! fast engine is also symmetric: a reader that arrives first lends its buffer
//! (a `Lend`, see `fast.rs`) and a small write is copied straight into it.
//! Closing stores the half's error first, then closes the done channel, which
//! every blocking step waits on too (except the writer's wait for a reader that
//! holds its lease to hand it back: that one cannot give up).
//!
//! - `fast` (the shipping engine) runs the hand-off on atomics and spins briefly
//!   before it parks on a doorbell;
//! - `reference` (internal feature `__reference-engine`, never under loom) is the design's
//!   literal mechanism, two zero-capacity crossbeam channels and `select!`, kept
//!   as the executable specification the fast engine is tested against.

pub(crate) mod fast;
#[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
pub(crate) mod reference;
pub(crate) mod stage;

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
    /// The lease must be live (as for [`Lease::copy_to`]), and the slice is
    /// only used until it is handed back.
    pub(crate) unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees the writer's `len` bytes at `ptr` stay
        // borrowed (shared) while it uses the slice.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Copies as many offered bytes as fit into `buf`; returns how many.
    ///
    /// # Safety
    ///
    /// The lease must be live: taken by this reader and not yet handed back to
    /// the writer (see the type's `# Safety`).
    pub(crate) unsafe fn copy_to(&self, buf: &mut [u8]) -> usize {
        let n = self.len.min(buf.len());
        if n > 0 {
            // SAFETY: the caller guarantees the writer's `len` bytes at `ptr` stay
            // borrowed until the lease is handed back; `buf` is a distinct `&mut` (the
            // writer only holds a shared borrow of its bytes, so they cannot
            // overlap a reader's exclusive buffer), and `n` fits both.
            unsafe { std::ptr::copy_nonoverlapping(self.ptr, buf.as_mut_ptr(), n) };
        }
        n
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
// The fast engine is inline on purpose (no indirection on the shipping path);
// the small reference engine only exists in the crate's own test builds.
#[allow(clippy::large_enum_variant)]
enum Engine {
    /// The shipping engine.
    Fast(fast::Fast),
    /// The crossbeam-channel reference.
    #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
    Reference(reference::Reference),
}

/// Everything the halves of one pipe share.
pub(crate) struct Shared {
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

impl Shared {
    /// A new open pipe on the shipping engine.
    pub(crate) fn new() -> Self {
        Self::with_engine(Engine::Fast(fast::Fast::new()))
    }

    /// A new open pipe on the reference engine.
    #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
    pub(crate) fn new_reference() -> Self {
        Self::with_engine(Engine::Reference(reference::Reference::new()))
    }

    /// A new open pipe on `engine`, with one reader and one writer.
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
            Engine::Fast(e) => e.read(self, buf, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.read(self, buf, deadline),
        }
    }

    /// Writes all of `buf` unless closed or timed out: see `PipeWriter`'s `Write`.
    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.write_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Fast(e) => e.write(self, buf, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.write(self, buf, deadline),
        }
    }

    /// The fast engine, for the async halves: the reference engine is the
    /// specification of the blocking protocol only.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    fn fast(&self) -> &fast::Fast {
        match &self.engine {
            Engine::Fast(e) => e,
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(_) => panic!("the reference engine has no async halves"),
        }
    }

    /// Polls a read into `buf`: see the async `PipeReader` impls.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    pub(crate) fn poll_read(
        &self,
        cx: &mut std::task::Context<'_>,
        task: &TaskSlot,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        if buf.is_empty() {
            return std::task::Poll::Ready(Ok(0));
        }
        self.fast().poll_read(self, cx, task, buf)
    }

    /// Polls a write of the gather `bufs`: see the async `PipeWriter` impls.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    pub(crate) fn poll_write(
        &self,
        cx: &mut std::task::Context<'_>,
        task: &TaskSlot,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        self.fast().poll_write(self, cx, task, bufs)
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
            Engine::Fast(e) => e.consumed_mark(),
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
            Engine::Fast(e) => e.poll_consumed(self, cx, task, mark),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(_) => std::task::Poll::Ready(Ok(())),
        }
    }

    /// Gives back a place in the task lists (see `sync::TaskSlot`).
    pub(crate) fn release_task_slot(&self, task: &TaskSlot) {
        self.signals.release_task_slot(task);
    }

    /// How many task wakers the pipe holds (see `PipeWriter`'s hidden
    /// `__task_wakers_held`).
    pub(crate) fn task_wakers_held(&self) -> usize {
        self.signals.task_wakers_held()
    }

    /// A read that hands the bytes of one write to `take` (see `fast::Take`):
    /// how many it took, `Ok(0)` at end of file.
    pub(crate) fn consume(&self, take: &mut fast::Take<'_>) -> io::Result<usize> {
        let deadline = self.read_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Fast(e) => e.consume(self, take, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.consume(self, take, deadline),
        }
    }

    /// Drains the pipe into `w` until end of file: see `PipeReader::write_to`.
    pub(crate) fn write_to(&self, w: &mut dyn io::Write) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let got = {
                let mut take = |bytes: &[u8]| -> io::Result<usize> {
                    loop {
                        match w.write(bytes) {
                            Ok(0) => {
                                return Err(io::Error::new(
                                    io::ErrorKind::WriteZero,
                                    "failed to write whole buffer",
                                ))
                            }
                            Ok(n) => {
                                let n = n.min(bytes.len());
                                total += n as u64;
                                return Ok(n);
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                };
                self.consume(&mut take)
            };
            match got {
                Ok(0) => return Ok(total),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads into `bufs` in order, from one write: see `PipeReader`'s
    /// `read_vectored`.
    pub(crate) fn read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        if nonempty.next().is_none() {
            return Ok(0);
        }
        if nonempty.next().is_none() {
            let buf = bufs
                .iter_mut()
                .find(|b| !b.is_empty())
                .expect("one is not empty");
            return self.read(buf);
        }
        let (mut at, mut off) = (0, 0);
        let mut take = |bytes: &[u8]| -> io::Result<usize> {
            let mut taken = 0;
            while taken < bytes.len() && at < bufs.len() {
                let dst = &mut bufs[at][off..];
                let k = dst.len().min(bytes.len() - taken);
                dst[..k].copy_from_slice(&bytes[taken..taken + k]);
                taken += k;
                off += k;
                if off == bufs[at].len() {
                    at += 1;
                    off = 0;
                }
            }
            Ok(taken)
        };
        self.consume(&mut take)
    }

    /// Moves bytes from `r` into the pipe until `r`'s end: see
    /// `PipeWriter::read_from`.
    pub(crate) fn read_from(&self, r: &mut dyn io::Read) -> io::Result<u64> {
        /// The largest buffer of its own a `read_from` uses.
        const OWN: usize = 64 << 10;
        let mut total = 0u64;
        let mut own: Vec<u8> = Vec::new();
        loop {
            // A passed deadline or a close ends the call before `r` reads
            // bytes that could not be delivered.
            let ready = if self.signals.is_closed() {
                Err(self.write_close_error())
            } else {
                self.deadline_check(self.write_deadline())
            };
            if let Err(e) = ready {
                return if total > 0 { Ok(total) } else { Err(e) };
            }
            // `r` reads into a buffer of our own, never into a reader's lent
            // buffer: a reader must be free to leave (its deadline, a close)
            // whatever `r` does.
            if own.is_empty() {
                own = vec![0; OWN];
            }
            let n = loop {
                match r.read(&mut own) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Ok(n) if n > own.len() => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the source's read returned more bytes than its buffer holds",
                        ))
                    }
                    other => break other?,
                }
            };
            if n == 0 {
                return Ok(total);
            }
            // One write per read of the source. One cut short (a close or
            // the timeout) ends the call with exactly what readers got; the
            // error itself comes from the next call (a close stays, a
            // timeout if it recurs). With nothing delivered, the error now.
            match self.write(&own[..n]) {
                Ok(k) if k == n => total += n as u64,
                Ok(k) => return Ok(total + k as u64),
                Err(_) if total > 0 => return Ok(total),
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes `bufs` as one write: see `PipeWriter`'s `write_vectored`.
    pub(crate) fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        /// Gathered writes up to this size are copied into one buffer on the
        /// stack and offered as one slice: a copy that costs less than the
        /// rendezvous it saves.
        const GATHER: usize = 4 << 10;
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        let Some(first) = nonempty.next() else {
            return self.write(&[]);
        };
        if nonempty.next().is_none() {
            return self.write(first);
        }
        let total = bufs
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.len()));
        if total <= GATHER {
            // Not zeroed first: only the `total` bytes copied in are read.
            let mut gathered = std::mem::MaybeUninit::<[u8; GATHER]>::uninit();
            let base = gathered.as_mut_ptr().cast::<u8>();
            let mut at = 0;
            for b in bufs {
                // SAFETY: `at + b.len() <= total <= GATHER`, so the copy stays
                // inside the array; a caller's slice cannot overlap our stack
                // buffer.
                unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), base.add(at), b.len()) };
                at += b.len();
            }
            // SAFETY: the first `total` bytes were just written (`at == total`).
            let gathered = unsafe { std::slice::from_raw_parts(base, total) };
            return self.write(gathered);
        }
        let deadline = self.write_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Fast(e) => e.write_all_of(self, bufs, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.write_all_of(self, bufs, deadline),
        }
    }

    /// Closes the read half with `cause` (if it is the first close of that half)
    /// and closes the done channel.
    pub(crate) fn close_read(&self, cause: Cause) {
        // The error is stored before done closes, so whoever sees done sees it.
        let first = self.rerr.set_first(cause);
        if !self.signals.close() && first {
            // Done closed earlier (the write half): a task may have started
            // waiting since for this half's close (a flush does), and a
            // thread for a drain claim to end (it then passes the ring on).
            self.signals.wake_all_tasks();
            self.signals.notify_threads(crate::sync::Bell::Offer);
        }
    }

    /// Closes the write half with `cause` (if it is the first close of that half)
    /// and closes the done channel.
    pub(crate) fn close_write(&self, cause: Cause) {
        let first = self.werr.set_first(cause);
        if !self.signals.close() && first {
            self.signals.wake_all_tasks();
        }
    }

    /// What a read on the closed pipe returns.
    pub(crate) fn read_close_result(&self) -> io::Result<usize> {
        error::read_close_result(self.rerr.load().as_deref(), self.werr.load().as_deref())
    }

    /// What a write on the closed pipe fails with.
    pub(crate) fn write_close_error(&self) -> io::Error {
        error::write_close_error(self.rerr.load().as_deref(), self.werr.load().as_deref())
    }

    /// Whether the read half has been closed (by any clone, or by dropping).
    pub(crate) fn read_closed(&self) -> bool {
        self.rerr.load().is_some()
    }

    /// Whether the write half has been closed.
    pub(crate) fn write_closed(&self) -> bool {
        self.werr.load().is_some()
    }
}

#[cfg(test)]
mod tests {
    //! The unwind guards, through the test-only failpoint: a write that panics
    //! right after it published its offer.

    use std::io::{Read, Write};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::Ordering as StdOrdering;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use super::Shared;
    use crate::pipe::{halves_for_tests, PipeReader, PipeWriter};

    /// Runs `f` on its own thread; fails the test if it has not finished after
    /// 60 s (a hang) instead of blocking the suite.
    fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        let t = thread::spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
                Ok(out) => out,
                Err(payload) => std::panic::resume_unwind(payload),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after 60 s: a hang"),
        }
    }

    /// Arms the failpoint: the next write on this pipe panics after its offer.
    fn arm(writer: &PipeWriter) {
        writer
            .shared()
            .failpoints
            .panic_after_offer
            .store(true, StdOrdering::Relaxed);
    }

    /// Reads until end of file.
    fn read_all(mut reader: PipeReader) -> Vec<u8> {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).expect("read to end of file");
        got
    }

    /// The shipping engine: a write that panics after publishing its offer
    /// (with no reader around to take it) takes the offer back before its
    /// buffer is freed and frees the write side: a reader that comes later gets
    /// none of those bytes, and another writer then writes normally.
    #[test]
    fn fast_write_panicking_after_its_offer_takes_it_back() {
        bounded(|| {
            let (reader, writer) = halves_for_tests(Shared::new());
            arm(&writer);
            let doomed = b"doomed bytes".to_vec();
            let panicked = catch_unwind(AssertUnwindSafe(|| (&writer).write(&doomed)));
            assert!(panicked.is_err(), "the failpoint must panic");
            drop(doomed); // the lent buffer is gone: no reader may see it now

            let other = writer.clone();
            let t = thread::spawn(move || {
                let n = (&other)
                    .write(b"kept")
                    .expect("the write side is free again");
                drop(other);
                n
            });
            drop(writer);
            assert_eq!(read_all(reader), b"kept");
            assert_eq!(t.join().unwrap(), 4);
        });
    }

    /// The shipping engine, with a reader blocked in `read` when the write
    /// panics: whatever the reader got is a prefix of the panicking write (a
    /// copy in progress is waited for, never cut), and the pipe goes on. (A
    /// write that finds the reader's buffer lent fills it and publishes no
    /// offer, so then nothing panics.)
    #[test]
    fn fast_write_panicking_under_a_waiting_reader() {
        bounded(|| {
            for _ in 0..200 {
                let (reader, writer) = halves_for_tests(Shared::new());
                arm(&writer);
                let r = thread::spawn(move || read_all(reader));
                let doomed = b"0123456789".to_vec();
                let first = catch_unwind(AssertUnwindSafe(|| (&writer).write(&doomed)));
                // A write that found the reader's buffer lent copied into it and
                // never published an offer: no failpoint, and all of it went.
                if let Ok(res) = first {
                    assert_eq!(res.unwrap(), 10);
                }
                writer
                    .shared()
                    .failpoints
                    .panic_after_offer
                    .store(false, StdOrdering::Relaxed);
                drop(doomed);
                assert_eq!((&writer).write(b"after").unwrap(), 5);
                drop(writer);
                let got = r.join().unwrap();
                let cut = got.len() - 5;
                assert_eq!(&got[cut..], b"after", "{got:?}");
                assert_eq!(&got[..cut], &b"0123456789"[..cut], "{got:?}");
            }
        });
    }

    /// The shipping engine: a read that panics right after lending its buffer
    /// takes the lend back before its buffer is freed (or waits for a writer
    /// that is copying into it), and gives up the lender's role: a later write
    /// goes to a later read, whole.
    #[test]
    fn fast_read_panicking_after_its_lend_takes_it_back() {
        bounded(|| {
            for round in 0..200 {
                let (reader, writer) = halves_for_tests(Shared::new());
                reader
                    .shared()
                    .failpoints
                    .panic_after_lend
                    .store(true, StdOrdering::Relaxed);
                let w = thread::spawn(move || {
                    let n = (&writer).write(b"payload").unwrap();
                    drop(writer);
                    n
                });
                let mut doomed = vec![0u8; 64];
                let first = catch_unwind(AssertUnwindSafe(|| (&reader).read(&mut doomed)));
                // The failpoint fires only in a read that lends: a read that
                // found the write on offer returns normally. Whatever a writer
                // copied into a lent buffer before the guard took it back is
                // lost with the panicking read (it never returned), but no
                // writer may copy into the buffer from then on.
                let copied_before = match first {
                    Ok(res) => res.expect("a read that did not lend"),
                    Err(_) => doomed.iter().take_while(|&&b| b != 0).count(),
                };
                // Disarmed, if that read did not lend.
                reader
                    .shared()
                    .failpoints
                    .panic_after_lend
                    .store(false, StdOrdering::Relaxed);
                let before = doomed.clone();
                drop(doomed);
                let got = read_all(reader);
                let n = w.join().unwrap();
                assert_eq!(n, 7, "round {round}");
                assert_eq!(&before[..copied_before], &b"payload"[..copied_before]);
                assert_eq!(
                    copied_before + got.len(),
                    7,
                    "round {round}: {before:?} {got:?}"
                );
                assert_eq!(&b"payload"[copied_before..], &got[..], "round {round}");
            }
        });
    }

    /// The reference engine: the lease is handed over by a rendezvous, so the
    /// reader has it when the write panics; the guard waits for its answer and
    /// puts the write side's token back, and another write then goes through.
    #[cfg(feature = "__reference-engine")]
    #[test]
    fn reference_write_panicking_after_its_offer_waits_and_frees_the_write_side() {
        bounded(|| {
            let (reader, writer) = halves_for_tests(Shared::new_reference());
            arm(&writer);
            let r = thread::spawn(move || read_all(reader));
            let doomed = b"doomed".to_vec();
            let panicked = catch_unwind(AssertUnwindSafe(|| (&writer).write(&doomed)));
            assert!(panicked.is_err());
            drop(doomed);
            assert_eq!((&writer).write(b"kept").unwrap(), 4);
            drop(writer);
            assert_eq!(r.join().unwrap(), b"doomedkept");
        });
    }
}
