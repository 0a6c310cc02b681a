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

/// Shared by the two ends.
type Shared = Arc<Mutex<Ring>>;

fn lock(s: &Shared) -> MutexGuard<'_, Ring> {
    // A panic under this lock can only come from a bug in this file; carry on
    // with the state as it is, as the benches' other locks do.
    s.lock().unwrap_or_else(|e| e.into_inner())
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
    let s = Arc::new(Mutex::new(Ring {
        buf: Vec::new(),
        head: 0,
        len: 0,
        reader: None,
        writer: None,
        write_closed: false,
        read_closed: false,
    }));
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
        if r.buf.is_empty() {
            r.buf = vec![0; CAP];
        }
        let n = data.len().min(CAP - r.len);
        let at = (r.head + r.len) % CAP;
        let first = n.min(CAP - at);
        r.buf[at..at + first].copy_from_slice(&data[..first]);
        r.buf[..n - first].copy_from_slice(&data[first..n]);
        r.len += n;
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
        let n = r.len.min(out.remaining());
        let first = n.min(CAP - r.head);
        out.put_slice(&r.buf[r.head..r.head + first]);
        out.put_slice(&r.buf[..n - first]);
        r.head = (r.head + n) % CAP;
        r.len -= n;
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
