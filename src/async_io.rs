//! The async halves: `tokio::io` and `futures_io` traits on the same
//! [`PipeReader`] and [`PipeWriter`] the blocking code uses.
//!
//! Both sets of impls are thin: the engine's `poll_read` and `poll_write`
//! (which takes a gather) do the work, flush is ready at once and shutdown
//! closes the write half (see `engine/rendezvous/poll.rs` and
//! `engine/stage.rs`). The tokio impls also take part in tokio's cooperative
//! budget, so a pipe that is always ready cannot starve the other branches of
//! a `select!` loop.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::conn::Conn;
#[cfg(feature = "tokio")]
use crate::engine::Dst;
#[cfg(feature = "futures-io")]
use crate::engine::Fill;
use crate::pipe::{PipeReader, PipeWriter};

/// A `ReadBuf`'s unfilled part as where a read puts its bytes: `put_slice`
/// copies into it (initialising only the bytes it writes) and advances it.
#[cfg(feature = "tokio")]
struct TokioDst<'a, 'b>(&'a mut tokio::io::ReadBuf<'b>);

#[cfg(feature = "tokio")]
impl Dst for TokioDst<'_, '_> {
    #[inline]
    fn room(&self) -> usize {
        self.0.remaining()
    }

    #[inline]
    fn put(&mut self, src: &[u8]) {
        // Where the bytes go: just after the filled part. A large copy at an
        // unlucky distance goes in pieces (see `engine::copy`).
        let dst = self.0.filled().as_ptr_range().end;
        let piece = crate::engine::copy::piece_len(dst, src.as_ptr(), src.len());
        for part in src.chunks(piece) {
            self.0.put_slice(part);
        }
    }
}

/// Polls a read into tokio's `ReadBuf`, charging the task's budget for it.
/// Inlined, as `tokio_write` is.
#[cfg(feature = "tokio")]
#[inline]
fn tokio_read(
    r: &PipeReader,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
    // Straight into the unfilled part, initialised or not: never zeroed.
    match r.shared().poll_read(cx, r.task_slot(), &mut TokioDst(buf)) {
        Poll::Ready(Ok(_)) => {
            coop.made_progress();
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(e)) => {
            coop.made_progress();
            Poll::Ready(Err(e))
        }
        Poll::Pending => Poll::Pending,
    }
}

/// Polls a write of the gather `bufs`, charging the task's budget for it.
/// Inlined, as the `AsyncWrite` methods that call it are: a write is then one
/// call into the engine from the caller's `write_all`, not three.
#[cfg(feature = "tokio")]
#[inline]
fn tokio_write(
    w: &PipeWriter,
    cx: &mut Context<'_>,
    bufs: &[io::IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
    let res = std::task::ready!(w.shared().poll_write(cx, w.task_slot(), bufs));
    coop.made_progress();
    Poll::Ready(res)
}

/// Polls a write of the gather `bufs` (futures-io: no budget).
#[cfg(feature = "futures-io")]
#[inline]
fn futures_write(
    w: &PipeWriter,
    cx: &mut Context<'_>,
    bufs: &[io::IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    w.shared().poll_write(cx, w.task_slot(), bufs)
}

/// Implements tokio's `AsyncRead` for a reader type.
macro_rules! tokio_reader {
    ($ty:ty) => {
        #[cfg(feature = "tokio")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
        impl tokio::io::AsyncRead for $ty {
            /// Reads the bytes of one write (or part of them), as
            /// [`Read::read`](std::io::Read::read) does, without blocking
            /// (it may spin up to 2 us for a writing thread's next write):
            /// `Pending` consumed nothing (cancel safe). Not bound by the read
            /// timeout: use the runtime's timers.
            #[inline]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                tokio_read(self.read_side(), cx, buf)
            }
        }
    };
}

/// Implements tokio's `AsyncWrite` for a writer type.
macro_rules! tokio_writer {
    ($ty:ty) => {
        #[cfg(feature = "tokio")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
        impl tokio::io::AsyncWrite for $ty {
            /// Accepts `buf` (see [`PipeWriter`]'s async section): `Ready(Ok(n))`
            /// once `n` bytes went into a waiting reader's buffer or the pipe's
            /// stage; `Pending` accepted nothing (cancel safe). With a thread
            /// reading, it may spin a few microseconds for that thread's lent
            /// buffer or for room (see docs/async.md). Not bound
            /// by the write timeout.
            #[inline]
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                tokio_write(self.write_side(), cx, &[io::IoSlice::new(buf)])
            }

            /// Accepts the gather `bufs` as one write: at most 64 KiB in all is
            /// accepted whole or not at all, never interleaved with another
            /// writer's bytes; of a larger gather, at most 64 KiB of its
            /// prefix.
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                tokio_write(self.write_side(), cx, bufs)
            }

            /// True: a gather is one write.
            fn is_write_vectored(&self) -> bool {
                true
            }

            /// Ready at once, as a socket's flush is: accepted bytes are in
            /// the pipe already. To wait until readers have taken them (Go's
            /// "Write returns once the reader consumed it"), use
            /// [`PipeWriter::consumed`].
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Closes the write half at once (for every clone), as
            /// [`PipeWriter::close`] does: readers get every accepted byte,
            /// then end of file.
            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.write_side().shared().poll_shutdown()
            }
        }
    };
}

/// Implements `futures_io::AsyncRead` for a reader type.
macro_rules! futures_reader {
    ($ty:ty) => {
        #[cfg(feature = "futures-io")]
        #[cfg_attr(docsrs, doc(cfg(feature = "futures-io")))]
        impl futures_io::AsyncRead for $ty {
            /// Reads the bytes of one write (or part of them), as
            /// [`Read::read`](std::io::Read::read) does, without blocking
            /// (it may spin up to 2 us for a writing thread's next write):
            /// `Pending` consumed nothing (cancel safe). Not bound by the read
            /// timeout.
            #[inline]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let r = self.read_side();
                r.shared().poll_read(cx, r.task_slot(), &mut Fill::new(buf))
            }
        }
    };
}

/// Implements `futures_io::AsyncWrite` for a writer type.
macro_rules! futures_writer {
    ($ty:ty) => {
        #[cfg(feature = "futures-io")]
        #[cfg_attr(docsrs, doc(cfg(feature = "futures-io")))]
        impl futures_io::AsyncWrite for $ty {
            /// Accepts `buf`: see the tokio impl and [`PipeWriter`]'s async
            /// section.
            #[inline]
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                futures_write(self.write_side(), cx, &[io::IoSlice::new(buf)])
            }

            /// Accepts the gather `bufs` as one write (see the tokio impl).
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                futures_write(self.write_side(), cx, bufs)
            }

            /// Ready at once, as a socket's flush is (see the tokio impl and
            /// [`PipeWriter::consumed`]).
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Closes the write half at once. (The inherent
            /// [`PipeWriter::close`] shadows `AsyncWriteExt::close`: call
            /// `AsyncWriteExt::close(&mut writer)` for this one.)
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.write_side().shared().poll_shutdown()
            }
        }
    };
}

/// The half a type reads through (a half, or a conn's read direction).
trait ReadSide {
    /// The half.
    fn read_side(&self) -> &PipeReader;
}

/// The half a type writes through.
trait WriteSide {
    /// The half.
    fn write_side(&self) -> &PipeWriter;
}

impl ReadSide for PipeReader {
    #[inline]
    fn read_side(&self) -> &PipeReader {
        self
    }
}

impl WriteSide for PipeWriter {
    #[inline]
    fn write_side(&self) -> &PipeWriter {
        self
    }
}

impl ReadSide for Conn {
    #[inline]
    fn read_side(&self) -> &PipeReader {
        self.split().0
    }
}

impl WriteSide for Conn {
    #[inline]
    fn write_side(&self) -> &PipeWriter {
        self.split().1
    }
}

impl<T: ReadSide> ReadSide for &T {
    #[inline]
    fn read_side(&self) -> &PipeReader {
        (**self).read_side()
    }
}

impl<T: WriteSide> WriteSide for &T {
    #[inline]
    fn write_side(&self) -> &PipeWriter {
        (**self).write_side()
    }
}

tokio_reader!(PipeReader);
tokio_reader!(&PipeReader);
tokio_writer!(PipeWriter);
tokio_writer!(&PipeWriter);
futures_reader!(PipeReader);
futures_reader!(&PipeReader);
futures_writer!(PipeWriter);
futures_writer!(&PipeWriter);
tokio_reader!(Conn);
tokio_reader!(&Conn);
tokio_writer!(Conn);
tokio_writer!(&Conn);
futures_reader!(Conn);
futures_reader!(&Conn);
futures_writer!(Conn);
futures_writer!(&Conn);
