//! The async halves: `tokio::io` and `futures_io` traits on the same
//! [`PipeReader`] and [`PipeWriter`] the blocking code uses.
//!
//! Both sets of impls are thin: the engine's `poll_read`, `poll_write`,
//! `poll_flush` and `poll_shutdown` do the work (see `engine/fast.rs` and
//! `engine/stage.rs`). The tokio impls also take part in tokio's cooperative
//! budget, so a pipe that is always ready cannot starve the other branches of
//! a `select!` loop.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::conn::Conn;
use crate::engine::Shared;
use crate::pipe::{PipeReader, PipeWriter};

/// Polls a read into tokio's `ReadBuf`, charging the task's budget for it.
#[cfg(feature = "tokio")]
fn tokio_read(
    sh: &Shared,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
    match sh.poll_read(cx, buf.initialize_unfilled()) {
        Poll::Ready(Ok(n)) => {
            buf.advance(n);
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

/// Polls a write, charging the task's budget for it.
#[cfg(feature = "tokio")]
fn tokio_write(sh: &Shared, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
    let res = std::task::ready!(sh.poll_write(cx, buf));
    coop.made_progress();
    Poll::Ready(res)
}

/// Implements tokio's `AsyncRead` for a reader type.
macro_rules! tokio_reader {
    ($ty:ty) => {
        #[cfg(feature = "tokio")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
        impl tokio::io::AsyncRead for $ty {
            /// Reads the bytes of one write (or part of them), as
            /// [`Read::read`](std::io::Read::read) does, without blocking:
            /// `Pending` consumed nothing (cancel safe). Not bound by the read
            /// timeout: use the runtime's timers.
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
            /// stage; `Pending` accepted nothing (cancel safe). Not bound by
            /// the write timeout.
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                tokio_write(self.write_side(), cx, buf)
            }

            /// Ready once readers have taken every byte the pipe accepted:
            /// `write_all` then `flush` is Go's "Write returns once the reader
            /// consumed it". Fails with the close error if the read half
            /// closes first.
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.write_side().poll_flush(cx)
            }

            /// Flushes, then closes the write half (for every clone), as
            /// [`PipeWriter::close`] does: readers get every accepted byte,
            /// then end of file.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.write_side().poll_shutdown(cx)
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
            /// [`Read::read`](std::io::Read::read) does, without blocking:
            /// `Pending` consumed nothing (cancel safe). Not bound by the read
            /// timeout.
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.read_side().poll_read(cx, buf)
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
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.write_side().poll_write(cx, buf)
            }

            /// Ready once readers have taken every byte the pipe accepted.
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.write_side().poll_flush(cx)
            }

            /// Flushes, then closes the write half. (The inherent
            /// [`PipeWriter::close`] shadows `AsyncWriteExt::close`: call
            /// `AsyncWriteExt::close(&mut writer)` for this one.)
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.write_side().poll_shutdown(cx)
            }
        }
    };
}

/// The pipe a type reads from (a half, or a conn's read direction).
trait ReadSide {
    /// The pipe.
    fn read_side(&self) -> &Shared;
}

/// The pipe a type writes to.
trait WriteSide {
    /// The pipe.
    fn write_side(&self) -> &Shared;
}

impl ReadSide for PipeReader {
    fn read_side(&self) -> &Shared {
        &self.shared
    }
}

impl WriteSide for PipeWriter {
    fn write_side(&self) -> &Shared {
        &self.shared
    }
}

impl ReadSide for Conn {
    fn read_side(&self) -> &Shared {
        &self.split().0.shared
    }
}

impl WriteSide for Conn {
    fn write_side(&self) -> &Shared {
        &self.split().1.shared
    }
}

impl<T: ReadSide> ReadSide for &T {
    fn read_side(&self) -> &Shared {
        (**self).read_side()
    }
}

impl<T: WriteSide> WriteSide for &T {
    fn write_side(&self) -> &Shared {
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
