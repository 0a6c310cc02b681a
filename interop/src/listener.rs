//! hyper over a `gopipe::listen` listener: the two pieces a pooled client
//! needs to reach an in-memory server, shared by the tests (the example
//! `hyper_over_listener` has its own copy, to be read and copied alone).
//!
//! - [`InMemory`]: a `gopipe::Conn` that also implements hyper-util's
//!   [`Connection`] trait, which `hyper_util::client::legacy::Client` requires
//!   of every connection it pools. gopipe does not implement it (that would
//!   make hyper-util a dependency of gopipe), and the orphan rule keeps a
//!   user from implementing it on `Conn`, hence the newtype; it forwards
//!   reads and writes, `write_vectored` included (gopipe's `Conn` writes a
//!   gather whole, and hyper writes head and body as one gather when the
//!   transport says it can).
//! - [`ListenerConnector`]: the client's connector, a
//!   `tower_service::Service<Uri>` that ignores the URI and dials the
//!   listener's `Dialer` (a dial never blocks, so the future is ready at
//!   once), counting its dials so that a test can see the pool reuse
//!   connections.

use std::future::{ready, Ready};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection from a `gopipe::Dialer` that hyper-util's pooled client can
/// hold: `gopipe::Conn` plus hyper-util's [`Connection`] (no proxy, no
/// HTTP/2 negotiated, no peer address). Reads, writes and shutdown go to the
/// `Conn`.
#[derive(Debug)]
pub struct InMemory(pub gopipe::Conn);

impl Connection for InMemory {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for InMemory {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for InMemory {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// hyper-util's connector for a `gopipe::listen` listener: every connection
/// the pool asks for is one `dial` of the listener's `Dialer`, whatever the
/// URI. Clones share the dial count.
#[derive(Clone, Debug)]
pub struct ListenerConnector {
    /// Where the connections go.
    dialer: gopipe::Dialer,
    /// How many dials the clones of this connector made (successful or not).
    dials: Arc<AtomicUsize>,
}

impl ListenerConnector {
    /// A connector dialling `dialer`, its count at 0.
    pub fn new(dialer: gopipe::Dialer) -> Self {
        Self {
            dialer,
            dials: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many dials this connector and its clones made so far.
    pub fn dials(&self) -> usize {
        // ORDERING: a count read after the client's requests have completed
        // (their awaits order it); Relaxed suffices for a plain counter.
        self.dials.load(Ordering::Relaxed)
    }
}

impl tower_service::Service<Uri> for ListenerConnector {
    type Response = TokioIo<InMemory>;
    type Error = io::Error;
    // A dial never blocks: the connection (or the error: refused once the
    // listener is closed, or a full backlog) is there at once.
    type Future = Ready<io::Result<TokioIo<InMemory>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        // ORDERING: a plain counter; see `dials`.
        self.dials.fetch_add(1, Ordering::Relaxed);
        ready(self.dialer.dial().map(|conn| TokioIo::new(InMemory(conn))))
    }
}
