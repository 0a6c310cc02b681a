//! The floor: the least work an in-memory async pipe can do in tokio, written
//! only to measure what the speed targets ask of any design.
//!
//! One `std::sync::Mutex` over a 64 KiB byte ring, the waiting reader's and
//! writer's wakers, and tokio's cooperative budget (one `poll_proceed` a poll,
//! as `tokio::io::simplex` and gopipe's async halves take part in it). Nothing
//! else: one writer and one reader, no message boundaries (a read takes bytes
//! of any number of writes), no errors to pass on, no lent buffers, no
//! threads on the other side, no deadlines, no tracing. It is the shape of
//! `simplex` with everything a product needs taken out, so a pipe that keeps
//! gopipe's semantics cannot be expected to beat it; the benches print it
//! beside the peers as a bound, never as a peer to choose.
//!
//! ```
//! use gopipe_benches::floor;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! rt.block_on(async {
//!     let (mut r, mut w) = floor::pipe();
//!     w.write_all(b"hello").await.unwrap();
//!     w.shutdown().await.unwrap();
//!     let mut got = Vec::new();
//!     r.read_to_end(&mut got).await.unwrap();
//!     assert_eq!(got, b"hello");
//! });
//! ```

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The ring's size: the same 64 KiB as the peers' buffers and gopipe's stage.
pub const CAP: usize = 64 << 10;

/// One direction's state, under the mutex.
///
/// Invariant: `len <= CAP` and the bytes not yet read are `buf[head..]`
/// followed by `buf[..]` from the start, `len` of them in all (the ring wraps
/// at `CAP`); `buf` is empty until the first write (allocated then).
struct Ring {
    buf: Vec<u8>,
    head: usize,
    len: usize,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The writer shut down or was dropped: reads return 0 once empty.
    write_closed: bool,
    /// The reader was dropped: writes fail with `BrokenPipe`.
    read_closed: bool,
}

impl Ring {
    /// An empty ring, open both ways, with no storage yet.
    fn new() -> Self {
        Ring {
            buf: Vec::new(),
            head: 0,
            len: 0,
            reader: None,
            writer: None,
            write_closed: false,
            read_closed: false,
        }
    }

    /// Copies as much of `data` as fits (the ring is not full); returns how
    /// many bytes.
    fn push(&mut self, data: &[u8]) -> usize {
        if self.buf.is_empty() {
            self.buf = vec![0; CAP];
        }
        let n = data.len().min(CAP - self.len);
        let at = (self.head + self.len) % CAP;
        let first = n.min(CAP - at);
        self.buf[at..at + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
        self.len += n;
        n
    }

    /// Moves as many unread bytes as `out` has room for into it (the ring
    /// is not empty).
    fn take(&mut self, out: &mut ReadBuf<'_>) {
        let n = self.len.min(out.remaining());
        let first = n.min(CAP - self.head);
        out.put_slice(&self.buf[self.head..self.head + first]);
        out.put_slice(&self.buf[..n - first]);
        self.head = (self.head + n) % CAP;
        self.len -= n;
    }
}

/// Shared by the two ends.
type Shared = Arc<Mutex<Ring>>;

fn lock(s: &Shared) -> MutexGuard<'_, Ring> {
    lock_any(s)
}

/// Locks `m`. A panic under the floors' locks can only come from a bug in
/// this file; carry on with the state as it is, as the benches' other locks
/// do.
fn lock_any<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `cx`'s waker in `slot` (not cloning it again when it is the same).
fn keep(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The write end of [`pipe`].
pub struct FloorWriter(Shared);

/// The read end of [`pipe`].
pub struct FloorReader(Shared);

/// A new one-way floor pipe: (read end, write end).
///
/// ```
/// let (_r, _w) = gopipe_benches::floor::pipe();
/// ```
pub fn pipe() -> (FloorReader, FloorWriter) {
    let s = Arc::new(Mutex::new(Ring::new()));
    (FloorReader(Arc::clone(&s)), FloorWriter(s))
}

impl FloorWriter {
    fn write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut g = lock(&self.0);
        let r = &mut *g;
        if r.read_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if r.len == CAP {
            keep(&mut r.writer, cx);
            return Poll::Pending;
        }
        let n = r.push(data);
        if let Some(w) = r.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn close(&self) {
        let mut g = lock(&self.0);
        g.write_closed = true;
        if let Some(w) = g.reader.take() {
            w.wake();
        }
    }
}

impl FloorReader {
    fn read(&self, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut g = lock(&self.0);
        let r = &mut *g;
        if r.len == 0 {
            if !r.write_closed {
                keep(&mut r.reader, cx);
                return Poll::Pending;
            }
            return Poll::Ready(Ok(()));
        }
        r.take(out);
        if let Some(w) = r.writer.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FloorWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let r = self.write(cx, data);
        if r.is_ready() {
            coop.made_progress();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for FloorWriter {
    fn drop(&mut self) {
        self.close();
    }
}

impl AsyncRead for FloorReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let r = self.read(cx, out);
        if r.is_ready() {
            coop.made_progress();
        }
        r
    }
}

impl Drop for FloorReader {
    fn drop(&mut self) {
        let mut g = lock(&self.0);
        g.read_closed = true;
        if let Some(w) = g.writer.take() {
            w.wake();
        }
    }
}

/// One end of [`duplex`]: reads one floor pipe, writes the other.
pub struct FloorIo {
    r: FloorReader,
    w: FloorWriter,
}

/// A connected pair of two-way floor streams, one [`pipe`] each way.
///
/// ```
/// let (_a, _b) = gopipe_benches::floor::duplex();
/// ```
pub fn duplex() -> (FloorIo, FloorIo) {
    let (ar, bw) = pipe();
    let (br, aw) = pipe();
    (FloorIo { r: ar, w: aw }, FloorIo { r: br, w: bw })
}

impl AsyncRead for FloorIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.r).poll_read(cx, out)
    }
}

impl AsyncWrite for FloorIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.w).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.w).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.w).poll_shutdown(cx)
    }
}

/// The floor for threads: the least a buffered byte pipe between two threads
/// can do, written only to measure what the speed targets ask of any design.
///
/// A 64 KiB ring with one writer and one reader, each position counted on
/// its own cache line, and nothing else: no lock, no sleeping (both sides
/// spin, yielding now and then, so it needs a core for each), no clones, no
/// deadlines, no close errors, no wakers. The benches print it beside the
/// peers as a bound on cross-core hand-off, never as a peer to choose.
///
/// [`spsc::pipe_fenced`] is the same ring with each side's count stored
/// `SeqCst` (an `xchg`, which waits for the side's copy to reach the other
/// core first). That is the least any pipe with gopipe's close rules does a
/// write: a close that a reader saw before it saw no byte must make a
/// racing write fail, and a write that a reader may see must have looked for
/// the close after publishing its bytes, a store then a load that only a
/// `SeqCst` pair (or a fence) keeps in order. The difference between the two
/// floors is what those rules cost on the machine at hand.
///
/// ```
/// use std::io::{Read, Write};
/// use gopipe_benches::floor::spsc;
///
/// let (mut r, mut w) = spsc::pipe();
/// let t = std::thread::spawn(move || {
///     w.write_all(b"hello").unwrap();
/// });
/// let mut got = Vec::new();
/// r.read_to_end(&mut got).unwrap();
/// t.join().unwrap();
/// assert_eq!(got, b"hello");
/// ```
pub mod spsc {
    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use crossbeam_utils::{Backoff, CachePadded};

    use super::CAP;

    /// The ring.
    ///
    /// Invariant: `written - read <= CAP`; the bytes at stream positions
    /// `read..written` (position `p` at `buf[p % CAP]`) are the unread ones,
    /// written only by the writer before it published `written`, and read
    /// only by the reader; the rest belong to the writer.
    struct Ring {
        /// `CAP` bytes, owned through the raw pointer (freed in `Drop`).
        buf: *mut u8,
        /// Bytes ever written: stored by the writer only.
        written: CachePadded<AtomicUsize>,
        /// Bytes ever read: stored by the reader only.
        read: CachePadded<AtomicUsize>,
        /// The writer is gone.
        closed: AtomicBool,
        /// Whether each side stores its count `SeqCst` ([`pipe_fenced`]),
        /// else `Release`.
        fenced: bool,
    }

    // SAFETY: the ring owns `buf` and hands each byte to one side at a time
    // (see the invariant on `Ring`), which the atomics order.
    unsafe impl Send for Ring {}
    // SAFETY: as for `Send`.
    unsafe impl Sync for Ring {}

    impl Drop for Ring {
        fn drop(&mut self) {
            // SAFETY: `buf` came from `Box::into_raw` of a `CAP`-byte slice in
            // `pipe`, and is freed once, here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.buf, CAP)) });
        }
    }

    /// The reading end.
    pub struct Reader(Arc<Ring>);
    /// The writing end; dropping it ends the stream.
    pub struct Writer(Arc<Ring>);

    /// A new ring of 64 KiB.
    pub fn pipe() -> (Reader, Writer) {
        ring(false)
    }

    /// A new ring of 64 KiB whose counts are stored `SeqCst` (see the
    /// module's docs: the floor under gopipe's close rules).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use gopipe_benches::floor::spsc;
    ///
    /// let (mut r, mut w) = spsc::pipe_fenced();
    /// w.write_all(b"hi").unwrap();
    /// drop(w);
    /// let mut got = Vec::new();
    /// r.read_to_end(&mut got).unwrap();
    /// assert_eq!(got, b"hi");
    /// ```
    pub fn pipe_fenced() -> (Reader, Writer) {
        ring(true)
    }

    /// A new ring, `fenced` or not.
    fn ring(fenced: bool) -> (Reader, Writer) {
        let buf = Box::into_raw(vec![0u8; CAP].into_boxed_slice()).cast::<u8>();
        let ring = Arc::new(Ring {
            buf,
            written: CachePadded::new(AtomicUsize::new(0)),
            read: CachePadded::new(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
            fenced,
        });
        (Reader(ring.clone()), Writer(ring))
    }

    /// How a side stores its count: `SeqCst` on a fenced ring.
    fn publish(ring: &Ring) -> Ordering {
        if ring.fenced {
            Ordering::SeqCst
        } else {
            Ordering::Release
        }
    }

    /// Copies `n` bytes between the ring at stream position `pos` and `at`,
    /// wrapping at the ring's end: into the ring if `into`, else out of it.
    ///
    /// # Safety
    ///
    /// The `n` ring bytes from `pos` belong to the caller's side (see
    /// `Ring`), `n <= CAP`, and `at` is valid for `n` bytes.
    unsafe fn copy(ring: &Ring, pos: usize, at: *mut u8, n: usize, into: bool) {
        let start = pos % CAP;
        let first = n.min(CAP - start);
        // SAFETY: both pieces lie within the ring (`start + first <= CAP`,
        // the rest from its start, `n <= CAP`) and within `at`'s `n` bytes.
        unsafe {
            if into {
                std::ptr::copy_nonoverlapping(at, ring.buf.add(start), first);
                std::ptr::copy_nonoverlapping(at.add(first), ring.buf, n - first);
            } else {
                std::ptr::copy_nonoverlapping(ring.buf.add(start), at, first);
                std::ptr::copy_nonoverlapping(ring.buf, at.add(first), n - first);
            }
        }
    }

    impl io::Write for Writer {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let ring = &*self.0;
            // ORDERING: Relaxed: only this side stores `written`.
            let written = ring.written.load(Ordering::Relaxed);
            let backoff = Backoff::new();
            loop {
                // ORDERING: Acquire: the reader's copies out of the room it
                // frees come before our copies into it.
                let free = CAP - (written - ring.read.load(Ordering::Acquire));
                if free > 0 {
                    let n = free.min(data.len());
                    // SAFETY: the `free` bytes after `written` are ours (the
                    // invariant on `Ring`); `data` holds `n` bytes and is only
                    // read (`into`).
                    unsafe { copy(ring, written, data.as_ptr().cast_mut(), n, true) };
                    // ORDERING: Release: publishes the bytes just copied
                    // (SeqCst on a fenced ring: see `pipe_fenced`).
                    ring.written.store(written + n, publish(ring));
                    return Ok(n);
                }
                backoff.snooze();
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Writer {
        fn drop(&mut self) {
            // ORDERING: Release: after the last `written`.
            self.0.closed.store(true, Ordering::Release);
        }
    }

    impl io::Read for Reader {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let ring = &*self.0;
            // ORDERING: Relaxed: only this side stores `read`.
            let read = ring.read.load(Ordering::Relaxed);
            let backoff = Backoff::new();
            loop {
                // ORDERING: Acquire (both): the writer's copies and its last
                // `written` before it closed.
                let closed = ring.closed.load(Ordering::Acquire);
                let ready = ring.written.load(Ordering::Acquire) - read;
                if ready > 0 && !out.is_empty() {
                    let n = ready.min(out.len());
                    // SAFETY: the `ready` bytes from `read` are published and
                    // ours to read (the invariant on `Ring`); `out` holds `n`.
                    unsafe { copy(ring, read, out.as_mut_ptr(), n, false) };
                    // ORDERING: Release: our copies out come before the
                    // writer reuses the room (SeqCst on a fenced ring).
                    ring.read.store(read + n, publish(ring));
                    return Ok(n);
                }
                if closed || out.is_empty() {
                    return Ok(0);
                }
                backoff.snooze();
            }
        }
    }
}

/// The floor for tasks under gopipe's rules: [`pipe`]'s mutex ring, with its
/// wakers kept out of every lock, written only to measure what the tasks'
/// speed targets ask of a pipe that keeps those rules.
///
/// `tokio::io::simplex` clones, stores and wakes its wakers under the
/// ring's mutex. gopipe never runs a waker's code (clone, wake or drop:
/// the executor's) under a lock, so that no executor can stall a pipe's
/// other users; this ring keeps the same rule and nothing more. Each side's
/// waker waits in a slot of its own, cloned and dropped with no lock held
/// and stored under the slot's own lock; a flag says that side waits, and
/// the other side looks at it after every change of the ring, with the
/// ring's lock released, and wakes it then. One writer and one reader, no
/// errors to pass on, no deadlines, no threads' hand-off.
///
/// The same ends are blocking `Read` and `Write` for a thread (spin for up
/// to 10 us, as gopipe's threads do, then park until woken), so the ring
/// also measures a thread and a task on one mutex ring.
///
/// ```
/// use gopipe_benches::floor::rules;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let (mut r, mut w) = rules::pipe();
///     w.write_all(b"hello").await.unwrap();
///     w.shutdown().await.unwrap();
///     let mut got = Vec::new();
///     r.read_to_end(&mut got).await.unwrap();
///     assert_eq!(got, b"hello");
/// });
/// ```
pub mod rules {
    use std::io;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{ready, Context, Poll, Wake, Waker};
    use std::time::{Duration, Instant};

    use crossbeam_utils::{Backoff, CachePadded};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use super::{lock_any, Ring, CAP};

    /// Where one side waits.
    #[derive(Default)]
    struct Waiter {
        /// The side waits (its waker is in `waker`): the other side wakes
        /// it after its next change of the ring.
        waiting: AtomicBool,
        /// Its waker, stored and taken under this slot's own lock (never
        /// cloned, woken or dropped under it).
        waker: Mutex<Option<Waker>>,
    }

    impl Waiter {
        /// Keeps `waker` (unless the slot holds one that wakes the same
        /// task) and marks the side waiting. The caller looks at the ring
        /// again afterwards: a change made before this mark is seen there,
        /// one made after it sees the mark (both go through the ring's
        /// lock).
        fn register(&self, waker: &Waker) {
            let same = lock_any(&self.waker)
                .as_ref()
                .is_some_and(|w| w.will_wake(waker));
            if !same {
                let fresh = waker.clone();
                let old = lock_any(&self.waker).replace(fresh);
                drop(old);
            }
            // ORDERING: SeqCst, as gopipe's task counts; the ring's lock,
            // taken after this by the caller's look, orders it already.
            self.waiting.store(true, Ordering::SeqCst);
        }

        /// Wakes the side if it waits, with no lock held.
        fn wake(&self) {
            // ORDERING: SeqCst: see `register`.
            if self.waiting.load(Ordering::SeqCst) && self.waiting.swap(false, Ordering::SeqCst) {
                let waker = lock_any(&self.waker).take();
                if let Some(w) = waker {
                    w.wake();
                }
            }
        }
    }

    /// Shared by the two ends.
    struct Shared {
        /// [`super::pipe`]'s ring, whose own waker slots stay empty here:
        /// the wakers wait in `reader` and `writer`, out of this lock.
        ring: CachePadded<Mutex<Ring>>,
        reader: CachePadded<Waiter>,
        writer: CachePadded<Waiter>,
    }

    /// The write end: `AsyncWrite` for a task, `Write` for a thread.
    pub struct Writer(Arc<Shared>);

    /// The read end: `AsyncRead` for a task, `Read` for a thread.
    pub struct Reader(Arc<Shared>);

    /// A new one-way ring of 64 KiB: (read end, write end).
    ///
    /// ```
    /// let (_r, _w) = gopipe_benches::floor::rules::pipe();
    /// ```
    pub fn pipe() -> (Reader, Writer) {
        let shared = Arc::new(Shared {
            ring: CachePadded::new(Mutex::new(Ring::new())),
            reader: CachePadded::new(Waiter::default()),
            writer: CachePadded::new(Waiter::default()),
        });
        (Reader(Arc::clone(&shared)), Writer(shared))
    }

    impl Writer {
        /// Writes what fits of `data` (not empty), or, if the ring is full
        /// and `waker` is given, registers it and looks once more.
        fn try_write(&self, data: &[u8], waker: Option<&Waker>) -> Poll<io::Result<usize>> {
            let s = &*self.0;
            let mut registered = waker.is_none();
            loop {
                let mut g = lock_any(&s.ring);
                let r = &mut *g;
                if r.read_closed {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                if r.len < CAP {
                    let n = r.push(data);
                    drop(g);
                    s.reader.wake();
                    return Poll::Ready(Ok(n));
                }
                drop(g);
                match waker {
                    Some(w) if !registered => s.writer.register(w),
                    _ => return Poll::Pending,
                }
                registered = true;
            }
        }

        fn close(&self) {
            lock_any(&self.0.ring).write_closed = true;
            self.0.reader.wake();
        }
    }

    impl Reader {
        /// Reads what is there into `out` (with room), or, if the ring is
        /// empty and open and `waker` is given, registers it and looks once
        /// more.
        fn try_read(&self, out: &mut ReadBuf<'_>, waker: Option<&Waker>) -> Poll<io::Result<()>> {
            let s = &*self.0;
            let mut registered = waker.is_none();
            loop {
                let mut g = lock_any(&s.ring);
                let r = &mut *g;
                if r.len > 0 {
                    r.take(out);
                    drop(g);
                    s.writer.wake();
                    return Poll::Ready(Ok(()));
                }
                if r.write_closed {
                    return Poll::Ready(Ok(()));
                }
                drop(g);
                match waker {
                    Some(w) if !registered => s.reader.register(w),
                    _ => return Poll::Pending,
                }
                registered = true;
            }
        }
    }

    /// Wakes a parked thread.
    struct Unpark(std::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    /// A thread's blocking call: `attempt` without a waker while spinning
    /// (up to 10 us, as gopipe's threads spin), then with this thread's
    /// waker, parking until woken, until it is ready.
    fn block<T>(mut attempt: impl FnMut(Option<&Waker>) -> Poll<T>) -> T {
        let start = Instant::now();
        let backoff = Backoff::new();
        while start.elapsed() < Duration::from_micros(10) {
            if let Poll::Ready(v) = attempt(None) {
                return v;
            }
            backoff.snooze();
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            if let Poll::Ready(v) = attempt(Some(&waker)) {
                return v;
            }
            std::thread::park();
        }
    }

    impl AsyncWrite for Writer {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            if data.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let coop = ready!(tokio::task::coop::poll_proceed(cx));
            let r = self.try_write(data, Some(cx.waker()));
            if r.is_ready() {
                coop.made_progress();
            }
            r
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.close();
            Poll::Ready(Ok(()))
        }
    }

    impl io::Write for Writer {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if data.is_empty() {
                return Ok(0);
            }
            block(|waker| self.try_write(data, waker))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Writer {
        fn drop(&mut self) {
            self.close();
        }
    }

    impl AsyncRead for Reader {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let coop = ready!(tokio::task::coop::poll_proceed(cx));
            let r = self.try_read(out, Some(cx.waker()));
            if r.is_ready() {
                coop.made_progress();
            }
            r
        }
    }

    impl io::Read for Reader {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if out.is_empty() {
                return Ok(0);
            }
            let mut buf = ReadBuf::new(out);
            block(|waker| self.try_read(&mut buf, waker))?;
            Ok(buf.filled().len())
        }
    }

    impl Drop for Reader {
        fn drop(&mut self) {
            lock_any(&self.0.ring).read_closed = true;
            self.0.writer.wake();
        }
    }
}
