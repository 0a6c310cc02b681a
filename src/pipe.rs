//! The public handles: [`pipe`], [`PipeReader`] and [`PipeWriter`].

use std::fmt;
use std::io::{self, Read, Write};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::engine::PipeState;
use crate::error::Cause;
use crate::sync::{arc_in_place, Arc, Ordering, TaskSlot};

/// Creates a synchronous, unbuffered in-memory pipe.
///
/// Whatever is written to the [`PipeWriter`] can be read from the [`PipeReader`].
/// The pipe has no buffer of its own: a write hands its slice to a reader, the
/// reader copies it once into its own buffer, and the write returns only when
/// readers have taken all of it. This is Go's `io.Pipe`, with std's `Read` and
/// `Write`.
///
/// # Behavior
///
/// - A write blocks until readers have consumed all of its bytes, possibly
///   over several reads; a read blocks until a write offers bytes. A read
///   returns bytes of one write only, never of two.
/// - Writes never interleave: a write holds the write side for its whole length.
///   Reads may run concurrently; every byte is delivered exactly once.
/// - An empty write is a rendezvous: it returns once a reader has taken it. It
///   never makes a read return `Ok(0)`. A read into an empty buffer returns
///   `Ok(0)` at once.
/// - Once the writer is closed ([`PipeWriter::close`] or dropping its last
///   clone), reads return `Ok(0)` (end of file).
/// - Closing wakes every blocked read and write on both halves and may be
///   repeated; the first close of each half decides its error. It never waits
///   for a reader or a writer; it can wait, briefly, for a close of the same
///   pipe that another thread started first, so that once any close returns
///   the pipe is closed (as Go's `sync.Once` inside `io.Pipe` does).
/// - A write that the pipe cuts short (a close, or its timeout) returns `Ok(n)`
///   with exactly the bytes readers took, or the error if they took none. After
///   a close the next write reports the error; after a timeout the next write
///   starts afresh with a new deadline.
///
/// Writes and reads happen-before each other as a channel's send and receive
/// do: everything the writing thread did before a write is visible to the thread
/// whose read returns its bytes, and everything that thread did before its read
/// returned is visible to the writer once the write returns.
///
/// # Capacity
///
/// None. The bytes stay in the writer's buffer until a reader copies them, so
/// a pipe costs the same whatever is written through it, and a writer can never
/// get ahead of its readers.
///
/// # Errors
///
/// Reads and writes fail with an [`io::Error`]:
///
/// - of kind [`BrokenPipe`](io::ErrorKind::BrokenPipe) and message
///   `io: read/write on closed pipe` ([`ClosedPipe`](crate::ClosedPipe), see
///   [`is_closed_pipe`](crate::is_closed_pipe)) when the caller's own half is
///   closed, or, for writes, when the reader closed without an error;
/// - carrying the peer's error ([`CloseError`](crate::CloseError)) when the
///   peer closed with [`close_with_error`](PipeWriter::close_with_error);
/// - of kind [`TimedOut`](io::ErrorKind::TimedOut) when the half's timeout
///   passes first ([`PipeReader::set_read_timeout`],
///   [`PipeWriter::set_write_timeout`]).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::thread;
///
/// let (mut reader, mut writer) = gopipe::pipe();
///
/// let producer = thread::spawn(move || {
///     writer.write_all(b"hello, world")?;
///     // Dropping the writer closes it: the reader sees end of file.
///     Ok::<_, std::io::Error>(())
/// });
///
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "hello, world");
/// producer.join().unwrap()?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[must_use = "a pipe does nothing unless its halves are used; dropping them closes it"]
pub fn pipe() -> (PipeReader, PipeWriter) {
    halves(PipeState::new)
}

/// Creates an in-memory pipe with a buffer of `capacity` bytes: a writer
/// runs ahead of its readers by up to `capacity` bytes, as a socket's sender
/// does by its send buffer.
///
/// The halves are the same [`PipeReader`] and [`PipeWriter`] as [`pipe`]'s,
/// with the same methods, traits, timeouts, deadlines and close rules; only
/// when a write returns and what a read may return differ.
///
/// # Behavior
///
/// - A write returns once all of its bytes are in the buffer, blocking while
///   it is full; writes never interleave: one that must wait for room holds
///   the write side for its whole length, and one that fits goes in whole at
///   once. A timeout, deadline or close cuts it short with the
///   exact count accepted (`Ok(n)`), or the error if none was.
/// - A blocking write with more left than `capacity` once the buffer is
///   full lets a reader take that rest straight from the writer's buffer,
///   all of it in one read (after the buffered bytes), as from [`pipe`],
///   and returns once readers took it. So a small `capacity` is never less
///   live than none: a peer that reads a request and then writes its reply
///   gets the whole request in one read, not a buffer's worth at a time.
/// - An async write is accepted whole or not at all when it fits in
///   `capacity` (a larger one: as much of its prefix as there is room for);
///   `Pending` accepted nothing. [`PipeWriter::consumed`] waits until
///   readers took every byte accepted before it.
/// - A read returns at once whatever is buffered, up to its length, joining
///   the bytes of several writes as a socket's reads do; it blocks only
///   while the buffer is empty. A thread that waits lends its buffer, and
///   the next write copies straight into it.
/// - Once the write half closes, reads get every buffered byte, then end of
///   file (or the close error). Once the read half closes, buffered bytes
///   are dropped and every write fails with its close error. Every blocked
///   call and waiting task wakes.
/// - An empty write returns `Ok(0)` at once.
///
/// # Capacity
///
/// `capacity` bytes at most are buffered. Memory grows with the bytes
/// buffered, not with `capacity` (1 KiB at the first write, or that write's
/// length rounded up to a power of two, doubling as needed; never zeroed),
/// and storage over 64 KiB is given back whenever the buffer empties: a
/// `buffered_pipe(1 << 30)` holding ten bytes holds 1 KiB of buffer.
/// `capacity == 0` is the unbuffered pipe: `buffered_pipe(0)` is [`pipe`].
///
/// # Examples
///
/// A producer that runs ahead of a slow consumer, and a protocol step where
/// both sides write before they read (a deadlock on [`pipe`]):
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut reader, mut writer) = gopipe::buffered_pipe(64 << 10);
/// writer.write_all(b"hello, ")?; // returns at once: the bytes are buffered
/// writer.write_all(b"world")?;
/// drop(writer); // end of file after the buffered bytes
///
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?; // one read may join both writes
/// assert_eq!(text, "hello, world");
/// # Ok::<_, std::io::Error>(())
/// ```
#[must_use = "a pipe does nothing unless its halves are used; dropping them closes it"]
pub fn buffered_pipe(capacity: usize) -> (PipeReader, PipeWriter) {
    if capacity == 0 {
        return pipe();
    }
    halves(|| PipeState::new_buffered(capacity))
}

/// Creates a pipe on the reference engine (the design's crossbeam-channel
/// mechanism). For the crate's own tests; not part of the API, and only there
/// with the internal `__reference-engine` feature.
#[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
#[doc(hidden)]
pub fn __reference_pipe() -> (PipeReader, PipeWriter) {
    halves(PipeState::new_reference)
}

/// Makes the next write on `writer`'s pipe panic right after it published its
/// offer: the loom models' handle on the unwind guard. Only in loom builds
/// (`--cfg gopipe_loom`), never in a shipping one.
#[cfg(gopipe_loom)]
#[doc(hidden)]
pub fn __loom_panic_after_next_offer(writer: &PipeWriter) {
    writer
        .shared
        .failpoints
        .panic_after_offer
        .store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The two halves of `shared`, for the crate's unit tests.
#[cfg(test)]
pub(crate) fn halves_for_tests(shared: PipeState) -> (PipeReader, PipeWriter) {
    halves(|| shared)
}

impl PipeWriter {
    /// The pipe this half writes to.
    #[inline]
    pub(crate) fn shared(&self) -> &PipeState {
        &self.shared
    }

    /// Where a task polling through this handle keeps its waker.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) fn task_slot(&self) -> &TaskSlot {
        &self.task
    }
}

impl PipeReader {
    /// The pipe this half reads from.
    #[inline]
    pub(crate) fn shared(&self) -> &PipeState {
        &self.shared
    }

    /// Where a task polling through this handle keeps its waker.
    #[cfg_attr(
        not(any(feature = "tokio", feature = "futures-io", gopipe_loom)),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) fn task_slot(&self) -> &TaskSlot {
        &self.task
    }
}

/// Makes the next read on `reader`'s pipe that lends its buffer panic right
/// after it lent it: the loom models' handle on the read's unwind guard. Only
/// in loom builds (`--cfg gopipe_loom`), never in a shipping one.
#[cfg(gopipe_loom)]
#[doc(hidden)]
pub fn __loom_panic_after_next_lend(reader: &PipeReader) {
    reader
        .shared
        .failpoints
        .panic_after_lend
        .store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The two halves of the pipe `make` builds, which starts with one reader
/// and one writer.
#[inline(always)]
fn halves(make: impl FnOnce() -> PipeState) -> (PipeReader, PipeWriter) {
    let shared = arc_in_place(make);
    (
        PipeReader {
            shared: shared.clone(),
            task: TaskSlot::new(),
        },
        PipeWriter {
            shared,
            task: TaskSlot::new(),
            consumed_task: TaskSlot::new(),
        },
    )
}

/// The reading half of a [`pipe`].
///
/// Clones share the one read half: they take turns on the writes, closing any
/// of them closes the half, and they share its timeout. Dropping the last clone
/// closes the half like [`close`](PipeReader::close); dropping any other clone
/// does not.
///
/// `PipeReader` is `Send` and `Sync`, and `&PipeReader` implements [`Read`] too,
/// so an `Arc<PipeReader>` can be read from.
///
/// # Async
///
/// With the `tokio` feature, `PipeReader` and `&PipeReader` implement
/// `tokio::io::AsyncRead`; with `futures-io`, `futures_io::AsyncRead`. The same
/// pipe mixes freely: a task may read what a thread writes and the reverse,
/// and clones of one half may be used both ways at once. An async read gives
/// the same results as [`read`](Read::read) (`Ok(0)` at end of file, the same
/// errors and payloads), returns bytes of one write only, and copies them
/// straight from the writing thread's slice or from the bytes an async write
/// staged. Async reads are not bound by the
/// [read timeout](PipeReader::set_read_timeout): use the runtime's timers
/// (`tokio::time::timeout`), which cancel safety makes safe. With tokio, each
/// read takes part in the task's cooperative budget, so a pipe that is always
/// ready cannot starve the other branches of a `select!`.
///
/// A thread that feeds a task many small writes waits for the task at each
/// of them (a blocking write returns once readers took it): wrap its writer
/// in a [`std::io::BufWriter`] so the task gets big writes, and flush it
/// where the task must see the bytes.
///
/// With both [`Read`] and an async extension trait (`AsyncReadExt`) in scope,
/// a method both define, such as `read`, is ambiguous on a half: call it
/// through the trait (`std::io::Read::read(&mut reader, buf)`), or keep the
/// blocking and the async code in separate modules.
///
/// # Cancel safety
///
/// A read that returned `Pending` consumed nothing: dropping its future (a
/// timeout, the losing branch of a `select!`) loses no byte.
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (mut reader, mut writer) = gopipe::pipe();
/// // Nothing written yet: the read times out, having consumed nothing.
/// let mut buf = [0; 5];
/// let timed = tokio::time::timeout(Duration::from_millis(10), reader.read(&mut buf));
/// assert!(timed.await.is_err());
///
/// writer.write_all(b"hello").await?;
/// reader.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let (reader, mut writer) = gopipe::pipe();
/// let t = std::thread::spawn(move || writer.write_all(b"abc"));
///
/// let mut buf = [0; 3];
/// (&reader).read_exact(&mut buf)?;
/// assert_eq!(&buf, b"abc");
/// t.join().unwrap()?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct PipeReader {
    /// The pipe; this handle counts in `shared.readers`.
    shared: Arc<PipeState>,
    /// Where a task polling through this handle keeps its waker.
    task: TaskSlot,
}

/// The writing half of a [`pipe`].
///
/// Clones share the one write half: their writes never interleave, closing any
/// of them closes the half, and they share its timeout. Dropping the last clone
/// closes the half like [`close`](PipeWriter::close), so readers see end of
/// file; dropping any other clone does not.
///
/// `PipeWriter` is `Send` and `Sync`, and `&PipeWriter` implements [`Write`] too.
/// [`flush`](Write::flush) does nothing: a write has returned only once readers
/// took every byte of it.
///
/// # Async
///
/// With the `tokio` feature, `PipeWriter` and `&PipeWriter` implement
/// `tokio::io::AsyncWrite`; with `futures-io`, `futures_io::AsyncWrite`. A task
/// cannot lend its buffer for longer than one poll, so an async write copies
/// its bytes once, either straight into the buffer of a thread that is waiting
/// in [`read`](Read::read), or, when no thread waits (a task reads, or nobody
/// yet), into the pipe's own buffer, the *stage*: at most 64 KiB, allocated
/// at the pipe's first async write that needs it (a pipe used only by threads
/// never allocates).
///
/// - `poll_write` returns `Ready(Ok(n))` once `n` bytes were accepted. A write
///   of at most 64 KiB is accepted whole or not at all, so async writers of
///   whole messages never interleave; of a larger one, at most 64 KiB of its
///   prefix (what fits). An empty write returns `Ready(Ok(0))` at once (a
///   blocking empty write waits for a reader, as in Go).
/// - `poll_write_vectored` takes a gather as one write on the same terms (at
///   most 64 KiB in all, whole or not at all; of a larger gather, 64 KiB of
///   its prefix), straight into a waiting thread's buffer or the stage;
///   `is_write_vectored` is true.
/// - So async writes are buffered up to 64 KiB, like a socket's send buffer,
///   while blocking writes stay unbuffered. `poll_flush` is ready at once, as
///   a socket's is (protocol stacks rely on that); to wait until readers have
///   taken what was written, Go's "Write returns once the reader consumed
///   it", await [`consumed`](PipeWriter::consumed) after the write. It fails
///   with the read half's close error if the read half closes first (the
///   staged bytes are then discarded).
/// - `poll_shutdown` (tokio) and `poll_close` (futures) close the write half
///   at once, as [`close`](PipeWriter::close) does. Bytes accepted before any
///   writer-side close (this one, `close`, `close_with_error`, dropping the
///   last clone) reach readers before the end of file or the error.
/// - A blocking write that follows staged bytes waits for readers to take
///   them first: the bytes of one half stay in the order they were written.
/// - Async writes are not bound by the
///   [write timeout](PipeWriter::set_write_timeout); with tokio, they take part
///   in the task's cooperative budget.
///
/// The inherent [`close`](PipeWriter::close) shadows futures'
/// `AsyncWriteExt::close`: call `AsyncWriteExt::close(&mut writer)` for the
/// trait's. With both [`Write`] and an async extension trait in scope,
/// `write`, `write_all` and `flush` are ambiguous on a half: call them through
/// the trait, or keep the blocking and the async code apart.
///
/// # Cancel safety
///
/// A write that returned `Pending` accepted nothing: dropping its future loses
/// nothing and sends nothing. A dropped `consumed` changes nothing. (A `write_all` cut short may have
/// had some of its earlier `poll_write`s accepted, as with any writer.)
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::io::Read;
/// use tokio::io::AsyncWriteExt;
///
/// let (reader, mut writer) = gopipe::pipe();
/// // A blocking consumer on a thread of its own...
/// let consumer = std::thread::spawn(move || {
///     let mut text = String::new();
///     (&reader).read_to_string(&mut text).map(|_| text)
/// });
/// // ...fed by a task.
/// writer.write_all(b"from a task").await?;
/// writer.consumed().await?; // returns once the thread has the bytes
/// writer.shutdown().await?; // end of file
/// let text = tokio::task::spawn_blocking(move || consumer.join().unwrap()).await??;
/// assert_eq!(text, "from a task");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut reader, writer) = gopipe::pipe();
/// let w2 = writer.clone();
/// let t = std::thread::spawn(move || {
///     (&writer).write_all(b"one ")?;
///     (&w2).write_all(b"two")
///     // both clones drop here: the write half closes
/// });
///
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "one two");
/// t.join().unwrap()?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct PipeWriter {
    /// The pipe; this handle counts in `shared.writers`.
    shared: Arc<PipeState>,
    /// Where a task polling through this handle keeps its waker.
    task: TaskSlot,
    /// Where a task waiting in this handle's [`PipeWriter::consumed`] keeps
    /// its waker: a place apart from `task`'s, so that a wait for readers
    /// and a write through the same handle in two tasks do not push each
    /// other's waker out; taken at the first `Pending` wait, kept until the
    /// handle drops (no place to take and give back per call).
    consumed_task: TaskSlot,
}

impl PipeReader {
    /// Closes the read half: writes then fail with
    /// [`ClosedPipe`](crate::ClosedPipe) (kind
    /// [`BrokenPipe`](io::ErrorKind::BrokenPipe)), and so do reads on this half.
    ///
    /// Applies to every clone. Wakes every blocked read and write, and does
    /// nothing to the stored error if the half was already closed. It never
    /// waits for a read or a write, only (briefly) for a close of the same pipe
    /// that another thread started first. Go's `PipeReader.Close`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let (reader, mut writer) = gopipe::pipe();
    /// reader.close();
    /// assert!(gopipe::is_closed_pipe(&writer.write(b"x").unwrap_err()));
    /// ```
    pub fn close(&self) {
        self.shared.close_read(Cause::ClosedPipe);
    }

    /// Closes the read half with `err`: writes then fail with an [`io::Error`]
    /// that carries `err` ([`CloseError`](crate::CloseError)).
    ///
    /// The first close of the half wins: if it was closed already (by `close`,
    /// `close_with_error` or dropping), this call changes nothing. Reads on this
    /// half fail with [`ClosedPipe`](crate::ClosedPipe). Passing `ClosedPipe`
    /// itself is the same as [`close`](PipeReader::close). Go's
    /// `PipeReader.CloseWithError`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let (reader, mut writer) = gopipe::pipe();
    /// reader.close_with_error("checksum mismatch");
    /// reader.close_with_error("ignored: the first close wins");
    /// let err = writer.write(b"x").unwrap_err();
    /// assert_eq!(err.to_string(), "checksum mismatch");
    /// ```
    pub fn close_with_error<E>(&self, err: E)
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.shared.close_read(Cause::from_error(err.into()));
    }

    /// Sets how long a read may block; `None` (the default) blocks for ever.
    ///
    /// A read that has not received any byte when the timeout passes fails with
    /// kind [`TimedOut`](io::ErrorKind::TimedOut) and has consumed nothing (a
    /// `TcpStream` on Unix reports `WouldBlock` instead; this pipe says
    /// `TimedOut` on every platform, and std's loops do not retry it). The
    /// timeout bounds the whole read, however many empty writes it consumes or
    /// offers it loses to other readers meanwhile, and whatever other user
    /// code does: a [`write_to`](PipeReader::write_to) sink that holds staged
    /// bytes, or a [`read_from`](PipeWriter::read_from) source (which never
    /// reads into this read's buffer). The
    /// timeout is shared by every clone of this half and applies from the start
    /// of each read.
    ///
    /// # Errors
    ///
    /// `Some(Duration::ZERO)` is rejected with kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput), as by
    /// [`TcpStream::set_read_timeout`](std::net::TcpStream::set_read_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Duration;
    ///
    /// let (mut reader, _writer) = gopipe::pipe();
    /// reader.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = reader.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    ///
    /// let zero = reader.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.shared.read_timeout.set(timeout)
    }

    /// Reads the pipe to its end straight into `w`, with no buffer in between;
    /// returns how many bytes `w` took. Go's `WriterTo`.
    ///
    /// Each write's bytes go from the writer's own slice to `w.write`, so a
    /// stream is copied once (by `w`), where [`io::copy`] copies it into a
    /// buffer of its own first. std's `io::copy` cannot find this method on
    /// its own: call it instead of `io::copy(&mut reader, &mut w)` when
    /// draining a pipe into a hasher, a file or a socket.
    ///
    /// Returns `Ok(total)` at end of file; the writer's close error as `Err`,
    /// after every byte written before it; the closed-pipe error if this half
    /// was closed. If `w` fails (or takes nothing: kind
    /// [`WriteZero`](io::ErrorKind::WriteZero)), that error is returned: the
    /// bytes `w` accepted count as read, and the rest of the write stays on
    /// offer for the next read, so nothing is lost or duplicated and the
    /// writer's `write` reports exactly what readers took. A panic in `w`
    /// hands the write back the same way and propagates.
    ///
    /// The [read timeout](PipeReader::set_read_timeout) bounds each wait for a
    /// write, not `w`'s own time. `w` never runs under a lock of the pipe's:
    /// while `w.write` runs on a writer's bytes, that writer waits for at most
    /// that one call (its timeout, deadline or a close then lets it go, with
    /// exactly the bytes `w` took), and other readers wait for those bytes
    /// within their own timeouts and deadlines. While `w.write` runs on bytes
    /// that async writes staged, async writes go on staging into the room
    /// left (they never block), and other readers wait, within their bounds,
    /// until `w.write` returns; on a closed pipe they wait for it before they
    /// report end of file (the bytes `w` does not take are theirs).
    ///
    /// # Examples
    ///
    /// Hashing a stream without a buffer:
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// /// FNV-1a, as a `Write`.
    /// struct Fnv(u64);
    /// impl Write for Fnv {
    ///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    ///         for &b in buf {
    ///             self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100000001b3);
    ///         }
    ///         Ok(buf.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let (reader, mut writer) = gopipe::pipe();
    /// let producer = std::thread::spawn(move || {
    ///     for _ in 0..100 {
    ///         writer.write_all(&[7; 4096])?;
    ///     }
    ///     Ok::<_, std::io::Error>(())
    /// });
    /// let mut hash = Fnv(0xcbf29ce484222325);
    /// assert_eq!(reader.write_to(&mut hash)?, 409_600);
    /// producer.join().unwrap()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<u64> {
        /// Writes through `w`, whatever its type.
        struct Dyn<'a, W: ?Sized>(&'a mut W);
        impl<W: Write + ?Sized> Write for Dyn<'_, W> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.flush()
            }
        }
        self.shared.write_to(&mut Dyn(w))
    }

    /// Sets an absolute deadline for reads: reads blocked now or later fail
    /// with kind [`TimedOut`](io::ErrorKind::TimedOut) once it passes, having
    /// consumed nothing. `None` clears it. Go's `SetReadDeadline`.
    ///
    /// The deadline applies to reads already blocked: one set in the past
    /// wakes them at once, one moved later keeps them waiting until the new
    /// time. A read whose timeout is set too gives up at whichever comes
    /// first. Once the deadline has passed every read fails at once, until it
    /// is moved to the future or cleared. PipeState by every clone of this half;
    /// async reads ignore it (use the runtime's timers).
    ///
    /// # Errors
    ///
    /// The closed-pipe error ([`ClosedPipe`](crate::ClosedPipe)) if either
    /// half of the pipe is closed, as Go's `net.Pipe` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Instant;
    ///
    /// let (reader, _writer) = gopipe::pipe();
    /// let blocked = std::thread::scope(|s| {
    ///     let t = s.spawn(|| (&reader).read(&mut [0; 8]));
    ///     // Wakes the read blocked above (or fails the one about to block).
    ///     reader.set_read_deadline(Some(Instant::now()))?;
    ///     Ok::<_, std::io::Error>(t.join().unwrap())
    /// })?;
    /// assert_eq!(blocked.unwrap_err().kind(), ErrorKind::TimedOut);
    /// reader.set_read_deadline(None)?; // reads block again
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.shared.set_read_deadline(at)
    }

    /// The timeout set by [`set_read_timeout`](PipeReader::set_read_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (reader, _writer) = gopipe::pipe();
    /// assert_eq!(reader.read_timeout(), None);
    /// reader.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(reader.clone().read_timeout(), Some(Duration::from_secs(1)));
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> Option<Duration> {
        self.shared.read_timeout.get()
    }
}

impl PipeWriter {
    /// Closes the write half: reads then return `Ok(0)` (end of file), and
    /// writes on this half fail with [`ClosedPipe`](crate::ClosedPipe).
    ///
    /// Applies to every clone. Wakes every blocked read and write, and does
    /// nothing to the stored error if the half was already closed. It never
    /// waits for a read or a write, only (briefly) for a close of the same pipe
    /// that another thread started first. A write blocked at that moment
    /// returns what readers took of it, or the error if they took nothing. Go's
    /// `PipeWriter.Close`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// writer.close();
    /// assert_eq!(reader.read(&mut [0; 8])?, 0);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.shared.close_write(Cause::Eof);
    }

    /// Closes the write half with `err`: reads then fail with an [`io::Error`]
    /// that carries `err` ([`CloseError`](crate::CloseError)) instead of
    /// returning end of file.
    ///
    /// The first close of the half wins. Writes on this half fail with
    /// [`ClosedPipe`](crate::ClosedPipe). Go's `PipeWriter.CloseWithError`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// writer.close_with_error(std::io::Error::new(ErrorKind::InvalidData, "bad frame"));
    /// let err = reader.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidData);
    /// assert_eq!(err.to_string(), "bad frame");
    /// ```
    pub fn close_with_error<E>(&self, err: E)
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.shared.close_write(Cause::from_error(err.into()));
    }

    /// Sets how long a write may block; `None` (the default) blocks for ever.
    ///
    /// When the timeout passes, a write that readers took nothing of fails with
    /// kind [`TimedOut`](io::ErrorKind::TimedOut); one they took part of returns
    /// `Ok(n)` with exactly the bytes they took. It returns within about the
    /// timeout plus the one copy a reader may be making from it at that moment
    /// (a copy in progress is never cut), or the one `sink.write` call a
    /// [`write_to`](PipeReader::write_to) may be making on its bytes. The
    /// timeout is shared by every
    /// clone of this half and applies from the start of each write (including
    /// the wait for the write side).
    ///
    /// # Errors
    ///
    /// `Some(Duration::ZERO)` is rejected with kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Write};
    /// use std::time::Duration;
    ///
    /// let (_reader, mut writer) = gopipe::pipe();
    /// writer.set_write_timeout(Some(Duration::from_millis(10)))?;
    /// let err = writer.write(b"nobody reads this").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.shared.write_timeout.set(timeout)
    }

    /// Moves bytes from `r` into the pipe until `r`'s end of file; returns how
    /// many readers got. Go's `ReaderFrom`, with [`io::copy`]'s contract. It
    /// does not close the writer.
    ///
    /// `r` reads into a buffer of this call's own (64 KiB, allocated once per
    /// call), never into a reader's buffer, and each of `r`'s reads is then
    /// one [`write`](Write::write): it fills a waiting reader's buffer or is
    /// offered, as any write, and never interleaves with another writer's.
    /// So a reader's timeout, deadline and close hold whatever `r` does: a
    /// reader never waits for `r.read`.
    ///
    /// `Ok(n)` means that `r` reached its end of file and readers got every
    /// byte it gave, `n` of them. Anything else ends the call with its
    /// error, however many bytes went across before it:
    ///
    /// - `r`'s own error, after every byte before it was delivered;
    /// - a close, found before a read of `r` or cutting a write short: the
    ///   error a [`write`](Write::write) gets, [`ClosedPipe`](crate::ClosedPipe)
    ///   (kind [`BrokenPipe`](io::ErrorKind::BrokenPipe)) or the reader's
    ///   [`close_with_error`](PipeReader::close_with_error) error as a
    ///   [`CloseError`](crate::CloseError), kind and message included;
    /// - the write timeout or deadline passing, likewise: kind
    ///   [`TimedOut`](io::ErrorKind::TimedOut).
    ///
    /// Unlike a `write` cut short, which returns `Ok` with its count and
    /// leaves the error to the next call, `read_from` never returns `Ok` for
    /// a copy that did not finish: the `Result` alone says whether it did, as
    /// `err` does for Go's `n, err := io.Copy(w, r)`.
    ///
    /// As with [`io::copy`], the error does not say how many bytes readers
    /// got before it, and bytes `r` read that were not delivered (the rest
    /// of a cut write) are gone. A caller that needs Go's `n` as well copies
    /// with a loop of its own: each `write` returns exactly what readers
    /// took, a cut one `Ok` with its count and then the error.
    ///
    /// ```
    /// use std::io::{self, ErrorKind, Read, Write};
    ///
    /// /// Copies `source` into `writer` until its end: `Ok` with the count,
    /// /// or the error with what readers got before it (Go's `n, err`).
    /// fn copy_counted(
    ///     mut writer: &gopipe::PipeWriter,
    ///     source: &mut impl Read,
    /// ) -> Result<u64, (u64, io::Error)> {
    ///     let mut buf = vec![0; 64 << 10];
    ///     let mut written = 0;
    ///     loop {
    ///         let n = match source.read(&mut buf) {
    ///             Ok(0) => return Ok(written),
    ///             Ok(n) => n,
    ///             Err(e) if e.kind() == ErrorKind::Interrupted => continue,
    ///             Err(e) => return Err((written, e)),
    ///         };
    ///         let mut rest = &buf[..n];
    ///         while !rest.is_empty() {
    ///             match writer.write(rest) {
    ///                 Ok(k) => {
    ///                     written += k as u64;
    ///                     rest = &rest[k..];
    ///                 }
    ///                 Err(e) => return Err((written, e)),
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// let (reader, writer) = gopipe::pipe();
    /// let consumer = std::thread::spawn(move || {
    ///     let mut first = [0u8; 3];
    ///     (&reader).read_exact(&mut first).map(|()| first)
    ///     // The reader drops here: the rest of the copy is cut.
    /// });
    /// let (n, err) = copy_counted(&writer, &mut &b"hello"[..]).unwrap_err();
    /// assert_eq!(consumer.join().unwrap()?, *b"hel");
    /// assert_eq!((n, err.kind()), (3, ErrorKind::BrokenPipe));
    ///
    /// // `read_from` says only that the copy was cut, and why.
    /// let err = writer.read_from(&mut &b"hello"[..]).unwrap_err();
    /// assert!(gopipe::is_closed_pipe(&err));
    /// # Ok::<_, io::Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// let producer = std::thread::spawn(move || {
    ///     let mut source = std::io::Cursor::new(vec![1u8; 100_000]);
    ///     writer.read_from(&mut source) // the writer drops here: end of file
    /// });
    /// let mut got = Vec::new();
    /// reader.read_to_end(&mut got)?;
    /// assert_eq!(got.len(), 100_000);
    /// assert_eq!(producer.join().unwrap()?, 100_000);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn read_from<R: Read + ?Sized>(&self, r: &mut R) -> io::Result<u64> {
        /// Reads through `r`, whatever its type.
        struct Dyn<'a, R: ?Sized>(&'a mut R);
        impl<R: Read + ?Sized> Read for Dyn<'_, R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.read(buf)
            }
        }
        self.shared.read_from(&mut Dyn(r))
    }

    /// Sets an absolute deadline for writes: writes blocked now or later stop
    /// once it passes, with kind [`TimedOut`](io::ErrorKind::TimedOut) if
    /// readers took nothing, else `Ok(n)` with exactly what they took (a copy
    /// in progress is never cut). `None` clears it. Go's `SetWriteDeadline`.
    ///
    /// As for [`set_read_deadline`](PipeReader::set_read_deadline): it applies
    /// to writes already blocked, moving it later keeps them waiting, a passed
    /// deadline fails every write until it is moved or cleared, the earlier
    /// of it and the timeout applies, and async writes ignore it.
    ///
    /// # Errors
    ///
    /// The closed-pipe error if either half of the pipe is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Write};
    /// use std::time::{Duration, Instant};
    ///
    /// let (_reader, mut writer) = gopipe::pipe();
    /// writer.set_write_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = writer.write(b"nobody reads this").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.shared.set_write_deadline(at)
    }

    /// The timeout set by [`set_write_timeout`](PipeWriter::set_write_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_reader, writer) = gopipe::pipe();
    /// assert_eq!(writer.write_timeout(), None);
    /// ```
    pub fn write_timeout(&self) -> Option<Duration> {
        self.shared.write_timeout.get()
    }

    /// Waits until readers have taken every byte that async writes (from any
    /// clone of this half) had put into the pipe when this future was first
    /// polled: `write_all(..).await` then `consumed().await` is the task form
    /// of a Go `Write`, which returns once the reader consumed the bytes.
    ///
    /// Bytes written after the first poll do not delay it. It fails with the
    /// read half's close error if the read half closes while some of those
    /// bytes are unread (they are then discarded). A closed write half does
    /// not end it: after a shutdown, readers still take the bytes accepted
    /// before, and it waits for them. Blocking writes never need it (they
    /// return once readers took their bytes), and with nothing written it is
    /// ready at once. Needs no async feature: any executor can run it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it changes nothing in the pipe (it only waits;
    /// its waker stays in the handle's place for `consumed` until the next
    /// wake-up or the handle's drop, one such waker per handle). The future
    /// is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let (mut reader, mut writer) = gopipe::pipe();
    /// let consumer = tokio::spawn(async move {
    ///     let mut buf = [0; 5];
    ///     reader.read_exact(&mut buf).await.map(|_| buf)
    /// });
    /// writer.write_all(b"hello").await?; // accepted: in the pipe
    /// writer.consumed().await?; // the reader has taken it
    /// assert_eq!(&consumer.await.unwrap()?, b"hello");
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn consumed(&self) -> io::Result<()> {
        // The mark is taken at the first poll: an async fn's body starts there.
        let mark = self.shared.consumed_mark();
        std::future::poll_fn(|cx| self.shared.poll_consumed(cx, &self.consumed_task, mark)).await
    }

    /// Polls for readers to have taken every byte that async writes had put
    /// into the pipe at this poll: [`consumed`](PipeWriter::consumed) for a
    /// hand-written `poll` function. Each poll looks at the bytes accepted so
    /// far, so a task that keeps writing between polls may wait for those
    /// too; `consumed` takes its mark once. `Ready(Err(..))` with the read
    /// half's close error if it closes while some are unread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (_reader, writer) = gopipe::pipe();
    /// // Nothing was written: every byte accepted so far has been taken.
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(matches!(writer.poll_consumed(&mut cx), Poll::Ready(Ok(()))));
    /// ```
    pub fn poll_consumed(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mark = self.shared.consumed_mark();
        self.shared.poll_consumed(cx, &self.task, mark)
    }

    /// How many task wakers the pipe holds, over every bell: for the crate's
    /// tests of the bound on them. Not part of the API.
    #[doc(hidden)]
    pub fn __task_wakers_held(&self) -> usize {
        self.shared.task_wakers_held()
    }
}

// A panic in another thread, or one that unwinds through a read or a write
// (the engines' unwind guards hand every lease back and free the write side),
// leaves the pipe in a state that every operation handles: no invariant of the
// shared state can be seen broken, so the halves are unwind safe as
// `crossbeam_channel::Sender` and `TcpStream` are.
impl UnwindSafe for PipeReader {}
impl RefUnwindSafe for PipeReader {}
impl UnwindSafe for PipeWriter {}
impl RefUnwindSafe for PipeWriter {}

impl Clone for PipeReader {
    /// Another handle on the same read half.
    fn clone(&self) -> Self {
        self.shared.readers.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
            task: TaskSlot::new(),
        }
    }
}

impl Clone for PipeWriter {
    /// Another handle on the same write half.
    fn clone(&self) -> Self {
        self.shared.writers.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
            task: TaskSlot::new(),
            consumed_task: TaskSlot::new(),
        }
    }
}

impl Drop for PipeReader {
    /// Closes the read half if this is its last clone.
    fn drop(&mut self) {
        self.shared.signals.release_task_slot(&self.task);
        // ORDERING: AcqRel so the last clone sees every other clone's last use.
        if self.shared.readers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close_read(Cause::ClosedPipe);
        }
    }
}

impl Drop for PipeWriter {
    /// Closes the write half if this is its last clone.
    fn drop(&mut self) {
        self.shared.signals.release_task_slot(&self.task);
        self.shared.signals.release_task_slot(&self.consumed_task);
        // ORDERING: as for `PipeReader`.
        if self.shared.writers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close_write(Cause::Eof);
        }
    }
}

impl Read for PipeReader {
    /// Reads the bytes of one write, or part of them; see [`pipe`].
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.read(buf)
    }

    /// Fills `bufs` in order from one write (never two): see
    /// [`PipeReader`]'s `read_vectored` on `&PipeReader`.
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.shared.read_vectored(bufs)
    }
}

impl Read for &PipeReader {
    /// Reads the bytes of one write, or part of them; see [`pipe`].
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.read(buf)
    }

    /// Fills `bufs` in order from one write (never two), copying straight
    /// from the writer's slice: a write larger than the first buffer spills
    /// into the next ones in the same call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{IoSliceMut, Read, Write};
    ///
    /// let (reader, mut writer) = gopipe::pipe();
    /// let t = std::thread::spawn(move || writer.write_all(b"headerbody"));
    /// let (mut head, mut body) = ([0; 6], [0; 16]);
    /// let n = (&reader).read_vectored(&mut [IoSliceMut::new(&mut head), IoSliceMut::new(&mut body)])?;
    /// assert_eq!(n, 10);
    /// assert_eq!((&head, &body[..4]), (b"header", &b"body"[..]));
    /// t.join().unwrap()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.shared.read_vectored(bufs)
    }
}

impl Write for PipeWriter {
    /// Hands `buf` to readers and returns once they took all of it; see [`pipe`].
    ///
    /// A write cut short by a close, its timeout or its deadline returns at
    /// once, plus the one copy a reader may be making from it, or the one
    /// `sink.write` call a [`write_to`](PipeReader::write_to) may be making
    /// on its bytes (a call in progress is never cut): `Ok(n)` with exactly
    /// the bytes readers took, or the error if they took none.
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.write(buf)
    }

    /// Writes all of `bufs` as one write: see `write_vectored` on
    /// `&PipeWriter`.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.shared.write_vectored(bufs)
    }

    /// Does nothing: the pipe holds no bytes.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &PipeWriter {
    /// Hands `buf` to readers and returns once they took all of it; see [`pipe`]
    /// and `write` on [`PipeWriter`] (a cut write's bound and count).
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.write(buf)
    }

    /// Writes all of `bufs` as one write, never interleaved with another
    /// writer's, and returns the total (or, cut short by a close or the
    /// timeout, exactly what readers took). Small gathers (up to 4 KiB in
    /// all) are copied into one buffer on the stack and cost one rendezvous;
    /// larger ones hand the slices over one after another with the write
    /// side held throughout. A read may take bytes across slice boundaries.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{IoSlice, Read, Write};
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// let t = std::thread::spawn(move || {
    ///     (&writer).write_vectored(&[IoSlice::new(b"len=4;"), IoSlice::new(b"body")])
    /// });
    /// let mut buf = [0; 32];
    /// assert_eq!(reader.read(&mut buf)?, 10); // one write: one read takes it all
    /// assert_eq!(&buf[..10], b"len=4;body");
    /// assert_eq!(t.join().unwrap()?, 10);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.shared.write_vectored(bufs)
    }

    /// Does nothing: the pipe holds no bytes.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeReader")
            .field("closed", &self.shared.read_closed())
            .field("read_timeout", &self.read_timeout())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeWriter")
            .field("closed", &self.shared.write_closed())
            .field("write_timeout", &self.write_timeout())
            .finish_non_exhaustive()
    }
}
