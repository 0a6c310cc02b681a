//! [`duplex`] and [`Conn`]: Go's `net.Pipe`, two pipes joined into a pair of
//! in-memory connections.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::error::Cause;
use crate::pipe::{buffered_pipe, pipe, PipeReader, PipeWriter};

/// Creates a pair of connected in-memory connections: what one writes, the
/// other reads. Go's `net.Pipe`.
///
/// Each direction is a [`pipe`]: unbuffered (a write returns once the peer
/// has read all of it), a write is never interleaved with another, and a
/// write reports exactly the bytes the peer read.
///
/// # Behavior
///
/// - After [`close`](Conn::close) on one end, its own reads and writes fail
///   with the closed-pipe error ([`ClosedPipe`](crate::ClosedPipe)); the
///   peer's reads return `Ok(0)` (end of file) and its writes fail with the
///   closed-pipe error. Dropping the last clone of an end closes it.
/// - [`close_with_error`](Conn::close_with_error) makes the peer's reads and
///   writes fail with the given error instead (beyond Go).
/// - [`shutdown`](Conn::shutdown) closes one direction, as on a `TcpStream`.
/// - Deadlines ([`set_deadline`](Conn::set_deadline) and its read and write
///   forms) are absolute and apply to calls already blocked; timeouts
///   ([`set_read_timeout`](Conn::set_read_timeout)) apply from the start of
///   each call; a call gives up at whichever comes first.
///
/// # Examples
///
/// A line protocol tested without sockets:
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
///
/// let (client, server) = gopipe::duplex();
/// let srv = std::thread::spawn(move || -> std::io::Result<()> {
///     let mut lines = BufReader::new(&server);
///     let mut line = String::new();
///     while lines.read_line(&mut line)? > 0 {
///         (&server).write_all(line.to_uppercase().as_bytes())?;
///         line.clear();
///     }
///     Ok(()) // the client closed: end of file
/// });
///
/// (&client).write_all(b"hello\n")?;
/// let mut reply = String::new();
/// BufReader::new(&client).read_line(&mut reply)?;
/// assert_eq!(reply, "HELLO\n");
/// drop(client);
/// srv.join().unwrap()?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[must_use = "a connection does nothing unless its ends are used; dropping them closes it"]
pub fn duplex() -> (Conn, Conn) {
    let (a_rx, a_tx) = pipe();
    let (b_rx, b_tx) = pipe();
    (Conn { rx: a_rx, tx: b_tx }, Conn { rx: b_rx, tx: a_tx })
}

/// Creates a pair of connected in-memory connections whose directions each
/// buffer up to `capacity` bytes, as a socket pair's send buffers do: Go's
/// `net.Pipe` without its deadlocks.
///
/// Each direction is a [`buffered_pipe`] of `capacity` bytes: a write returns
/// once its bytes are in the buffer, so a protocol where both ends write
/// before they read (TLS 1.3 session tickets, SSH's version exchange) runs
/// between two blocking threads; a read returns whatever is buffered,
/// joining writes. A blocking write larger than the buffer lets the peer
/// read what the buffer cannot hold in one read, as [`duplex`] does, so an echo or
/// a request/response peer works with any `capacity` (Go's nettest suite
/// passes with one byte). Everything else is as for [`duplex`]: deadlines that
/// apply to calls already blocked, timeouts, [`shutdown`](Conn::shutdown)
/// (the peer reads the rest, then end of file, while the other direction
/// goes on), close errors, clones, and the async traits with the features.
/// `capacity == 0` is [`duplex`].
///
/// # Examples
///
/// Both ends write first, then read: with [`duplex`] both writes would wait
/// for a reader for ever.
///
/// ```
/// use std::io::{Read, Write};
///
/// let (client, server) = gopipe::buffered_duplex(64 << 10);
/// let srv = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
///     (&server).write_all(b"SSH-2.0-server\r\n")?;
///     let mut hello = vec![0; 16];
///     (&server).read_exact(&mut hello)?;
///     Ok(hello)
/// });
/// (&client).write_all(b"SSH-2.0-client\r\n")?;
/// let mut hello = vec![0; 16];
/// (&client).read_exact(&mut hello)?;
/// assert_eq!(hello, b"SSH-2.0-server\r\n");
/// assert_eq!(srv.join().unwrap()?, b"SSH-2.0-client\r\n");
/// # Ok::<_, std::io::Error>(())
/// ```
#[must_use = "a connection does nothing unless its ends are used; dropping them closes it"]
pub fn buffered_duplex(capacity: usize) -> (Conn, Conn) {
    let (a_rx, a_tx) = buffered_pipe(capacity);
    let (b_rx, b_tx) = buffered_pipe(capacity);
    (Conn { rx: a_rx, tx: b_tx }, Conn { rx: b_rx, tx: a_tx })
}

/// One end of a [`duplex`] connection: reads what the peer writes, writes
/// what the peer reads.
///
/// A `Conn` is its two halves, a [`PipeReader`] and a [`PipeWriter`]: clones
/// share them (with their timeouts and deadlines), [`split`](Conn::split)
/// lends them, [`into_split`](Conn::into_split) hands this handle's share
/// over. Each direction closes when its last handle, conn or half, goes.
/// `Conn` is `Send` and `Sync`, and `&Conn` implements [`Read`] and [`Write`]
/// too. With the `tokio` or `futures-io` feature, `Conn` and `&Conn` also
/// implement the async traits, as the halves do (see [`PipeWriter`]'s async
/// section); the inherent [`shutdown`](Conn::shutdown) and
/// [`close`](Conn::close) shadow the extension traits' `shutdown` and `close`:
/// call `AsyncWriteExt::shutdown(&mut conn)` for the async one, which closes
/// this end's write direction at once.
///
/// # From Go
///
/// | Go `net.Pipe`                     | gopipe                                 |
/// |-----------------------------------|----------------------------------------|
/// | `c1, c2 := net.Pipe()`            | `let (c1, c2) = gopipe::duplex();`     |
/// | `c.Read(b)` / `c.Write(b)`        | `c.read(&mut b)` / `c.write(&b)`       |
/// | `io.EOF` after the peer's `Close` | `Ok(0)`                                |
/// | `io.ErrClosedPipe`                | [`ClosedPipe`](crate::ClosedPipe) (kind `BrokenPipe`) |
/// | `c.Close()`                       | [`close`](Conn::close), or drop every clone |
/// | `c.SetDeadline(t)`                | [`set_deadline(Some(t))`](Conn::set_deadline) |
/// | `c.SetDeadline(time.Time{})`      | `set_deadline(None)`                   |
/// | `os.ErrDeadlineExceeded`          | kind [`TimedOut`](io::ErrorKind::TimedOut) |
/// | `LocalAddr()` / `RemoteAddr()`    | none: there is no address              |
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut a, mut b) = gopipe::duplex();
/// let t = std::thread::spawn(move || {
///     let mut ping = [0; 4];
///     b.read_exact(&mut ping)?;
///     b.write_all(b"pong")
/// });
/// a.write_all(b"ping")?;
/// let mut pong = [0; 4];
/// a.read_exact(&mut pong)?;
/// assert_eq!(&pong, b"pong");
/// t.join().unwrap()?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Conn {
    /// Reads what the peer writes.
    rx: PipeReader,
    /// Writes what the peer reads.
    tx: PipeWriter,
}

impl Conn {
    /// Closes this end: its reads and writes then fail with the closed-pipe
    /// error, the peer reads end of file and its writes fail with the
    /// closed-pipe error. Applies to every clone, wakes every blocked call on
    /// both ends, and may be repeated. Go's `Close`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (a, mut b) = gopipe::duplex();
    /// a.close();
    /// assert_eq!(b.read(&mut [0; 4])?, 0);
    /// assert!(gopipe::is_closed_pipe(&b.write(b"x").unwrap_err()));
    /// assert!(gopipe::is_closed_pipe(&(&a).read(&mut [0; 4]).unwrap_err()));
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.rx.close();
        self.tx.close();
    }

    /// Closes this end with `err`: the peer's reads and writes fail with an
    /// [`io::Error`] carrying `err` ([`CloseError`](crate::CloseError)); this
    /// end's own calls fail with the closed-pipe error. The first close of
    /// each direction wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (a, mut b) = gopipe::duplex();
    /// a.close_with_error("protocol violation");
    /// assert_eq!(b.read(&mut [0; 4]).unwrap_err().to_string(), "protocol violation");
    /// ```
    pub fn close_with_error<E>(&self, err: E)
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let cause = Cause::from_error(err.into());
        self.rx.shared().close_read(cause.clone());
        self.tx.shared().close_write(cause);
    }

    /// Closes one direction or both, as [`TcpStream::shutdown`] does:
    /// `Write` makes the peer read end of file (own writes then fail, own
    /// reads go on); `Read` makes the peer's writes fail (own reads then fail,
    /// own writes go on); `Both` is [`close`](Conn::close).
    ///
    /// [`TcpStream::shutdown`]: std::net::TcpStream::shutdown
    ///
    /// # Errors
    ///
    /// None: shutting down a closed direction does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::net::Shutdown;
    ///
    /// let (a, b) = gopipe::duplex();
    /// a.shutdown(Shutdown::Write)?;
    /// assert_eq!((&b).read(&mut [0; 4])?, 0); // end of file
    /// let t = std::thread::spawn(move || (&b).write_all(b"still open"));
    /// let mut got = [0; 10];
    /// (&a).read_exact(&mut got)?; // a's reads go on
    /// t.join().unwrap()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match how {
            Shutdown::Read => self.rx.close(),
            Shutdown::Write => self.tx.close(),
            Shutdown::Both => self.close(),
        }
        Ok(())
    }

    /// Sets the read and write deadlines together. Go's `SetDeadline`.
    ///
    /// # Errors
    ///
    /// The closed-pipe error if this end or its peer is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, _b) = gopipe::duplex();
    /// a.set_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// assert_eq!((&a).read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::TimedOut);
    /// a.set_deadline(None)?; // cleared: calls block again
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.check_open()?;
        self.rx.shared().set_read_deadline(at)?;
        self.tx.shared().set_write_deadline(at)
    }

    /// Sets the read deadline: see [`PipeReader::set_read_deadline`]. Go's
    /// `SetReadDeadline`.
    ///
    /// # Errors
    ///
    /// The closed-pipe error if this end or its peer is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Instant;
    ///
    /// let (a, _b) = gopipe::duplex();
    /// a.set_read_deadline(Some(Instant::now()))?; // already passed
    /// assert_eq!((&a).read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.check_open()?;
        self.rx.shared().set_read_deadline(at)
    }

    /// Sets the write deadline: see [`PipeWriter::set_write_deadline`]. Go's
    /// `SetWriteDeadline`.
    ///
    /// # Errors
    ///
    /// The closed-pipe error if this end or its peer is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Write};
    /// use std::time::Instant;
    ///
    /// let (a, _b) = gopipe::duplex();
    /// a.set_write_deadline(Some(Instant::now()))?;
    /// assert_eq!((&a).write(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.check_open()?;
        self.tx.shared().set_write_deadline(at)
    }

    /// Sets how long each read may block: see
    /// [`PipeReader::set_read_timeout`].
    ///
    /// # Errors
    ///
    /// `Some(Duration::ZERO)` is rejected with kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Duration;
    ///
    /// let (a, _b) = gopipe::duplex();
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// assert_eq!((&a).read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.rx.set_read_timeout(timeout)
    }

    /// Sets how long each write may block: see
    /// [`PipeWriter::set_write_timeout`].
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
    /// let (a, _b) = gopipe::duplex();
    /// a.set_write_timeout(Some(Duration::from_millis(10)))?;
    /// assert_eq!((&a).write(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tx.set_write_timeout(timeout)
    }

    /// Lends this end's halves: the reader of what the peer writes and the
    /// writer of what it reads (a deadline or timeout set through them is the
    /// conn's).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (a, b) = gopipe::duplex();
    /// let (rx, tx) = a.split();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| (&b).write_all(b"to a"));
    ///     let mut got = [0; 4];
    ///     (&*rx).read_exact(&mut got)?;
    ///     let _ = tx; // writes to b go through `tx`
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn split(&self) -> (&PipeReader, &PipeWriter) {
        (&self.rx, &self.tx)
    }

    /// Hands this handle's share of each half over: each direction then
    /// closes when its last handle (a conn clone or a half) goes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (a, b) = gopipe::duplex();
    /// let (mut rx, tx) = a.into_split();
    /// drop(tx); // a's write direction closes: b reads end of file
    /// assert_eq!((&b).read(&mut [0; 4])?, 0);
    /// let t = std::thread::spawn(move || (&b).write_all(b"still flowing"));
    /// let mut got = String::new();
    /// rx.read_to_string(&mut got)?;
    /// assert_eq!(got, "still flowing");
    /// t.join().unwrap()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn into_split(self) -> (PipeReader, PipeWriter) {
        (self.rx, self.tx)
    }

    /// Waits until the peer has read every byte this end's async writes had
    /// put into the connection when the future was first polled: see
    /// [`PipeWriter::consumed`], which this is for the write direction.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let (mut a, mut b) = gopipe::duplex();
    /// let peer = tokio::spawn(async move {
    ///     let mut buf = [0; 4];
    ///     b.read_exact(&mut buf).await.map(|_| buf)
    /// });
    /// a.write_all(b"ping").await?;
    /// a.consumed().await?; // the peer has read it
    /// assert_eq!(&peer.await.unwrap()?, b"ping");
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn consumed(&self) -> io::Result<()> {
        self.tx.consumed().await
    }

    /// Polls for the peer to have read every byte this end's async writes
    /// had put into the connection at this poll: see
    /// [`PipeWriter::poll_consumed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (a, _b) = gopipe::duplex();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(matches!(a.poll_consumed(&mut cx), Poll::Ready(Ok(()))));
    /// ```
    pub fn poll_consumed(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.tx.poll_consumed(cx)
    }

    /// The closed-pipe error if this end or its peer has closed a direction.
    fn check_open(&self) -> io::Result<()> {
        if self.rx.shared().signals.is_closed() || self.tx.shared().signals.is_closed() {
            return Err(crate::error::ClosedPipe.into());
        }
        Ok(())
    }
}

// As for the halves: every operation leaves the shared state whole.
impl UnwindSafe for Conn {}
impl RefUnwindSafe for Conn {}

impl Read for Conn {
    /// Reads the bytes of one of the peer's writes, or part of them.
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.rx).read(buf)
    }

    /// Fills `bufs` in order from one of the peer's writes.
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&self.rx).read_vectored(bufs)
    }
}

impl Read for &Conn {
    /// Reads the bytes of one of the peer's writes, or part of them.
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.rx).read(buf)
    }

    /// Fills `bufs` in order from one of the peer's writes.
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&self.rx).read_vectored(bufs)
    }
}

impl Write for Conn {
    /// Hands `buf` to the peer and returns once it read all of it.
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.tx).write(buf)
    }

    /// Writes all of `bufs` as one write.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&self.tx).write_vectored(bufs)
    }

    /// Does nothing: a write has returned only once the peer read it.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Conn {
    /// Hands `buf` to the peer and returns once it read all of it.
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.tx).write(buf)
    }

    /// Writes all of `bufs` as one write.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&self.tx).write_vectored(bufs)
    }

    /// Does nothing: a write has returned only once the peer read it.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("rx", &self.rx)
            .field("tx", &self.tx)
            .finish()
    }
}
