//! An in-memory network: [`listen`] gives a [`Listener`] whose [`Dialer`]s
//! connect to it, each connection a [`buffered_duplex`] pair. Go's
//! `bufconn.Listen`, for servers written against a listener (an accept loop,
//! hyper, tonic) tested without sockets.
//!
//! The listener's state is one lock ([`Shared`]): the backlog of server ends
//! not yet accepted, the closed flag, the threads asleep in `accept` (on a
//! condition variable) and the tasks' wakers. It is written against the
//! crate's sync facade, so that loom checks this code (`loom-tests/tests/net.rs`).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::conn::{buffered_duplex, Conn};
use crate::sync::{spin_until, Arc, AtomicBool, Condvar, Mutex, Ordering};

/// How many dialled connections a listener from [`listen`] holds before
/// [`accept`](Listener::accept) takes them: 1024, tokio's default for its
/// `TcpListener::bind` (Linux's `somaxconn` is 4096). A dial past it fails at
/// once ([`Dialer::dial`]); [`listen_with_backlog`] chooses another bound.
///
/// # Examples
///
/// ```
/// let listener = gopipe::listen(0);
/// let dialer = listener.dialer();
/// let conns: Vec<_> = (0..gopipe::DEFAULT_BACKLOG)
///     .map(|_| dialer.dial())
///     .collect::<Result<_, _>>()?;
/// assert_eq!(conns.len(), 1024);
/// assert!(dialer.dial().is_err()); // the backlog is full
/// # Ok::<_, std::io::Error>(())
/// ```
pub const DEFAULT_BACKLOG: usize = 1024;

/// Creates an in-memory listener whose connections are
/// [`buffered_duplex(capacity)`](buffered_duplex) pairs (`capacity == 0`:
/// unbuffered, [`duplex`](crate::duplex) pairs), with a backlog of
/// [`DEFAULT_BACKLOG`] connections. Go's `bufconn.Listen`.
///
/// Clients connect through a [`Dialer`] ([`Listener::dialer`]): a dial
/// returns the client's end at once, as a TCP connect does once the kernel
/// has completed the handshake, and the server's end waits in the
/// listener's backlog until [`accept`](Listener::accept) (a thread) or
/// [`accept_async`](Listener::accept_async) (a task) takes it, oldest first.
/// Since the client's end exists before the server accepts, a client may
/// write first: up to `capacity` bytes are buffered, as in a socket's send
/// buffer, and a larger write waits for the server to read.
///
/// # Examples
///
/// A thread-per-connection echo server, dialled by a client thread:
///
/// ```
/// use std::io::{Read, Write};
///
/// let listener = gopipe::listen(4096);
/// let dialer = listener.dialer();
/// std::thread::scope(|s| -> std::io::Result<()> {
///     s.spawn(|| {
///         // Ends when the listener is closed below: accept then fails.
///         while let Ok(conn) = listener.accept() {
///             std::thread::spawn(move || std::io::copy(&mut &conn, &mut &conn));
///         }
///     });
///     let mut conn = dialer.dial()?;
///     conn.write_all(b"ping")?;
///     let mut echo = [0; 4];
///     conn.read_exact(&mut echo)?;
///     assert_eq!(&echo, b"ping");
///     listener.close();
///     Ok(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[must_use = "a listener does nothing unless dialled and accepted from; dropping it closes it"]
pub fn listen(capacity: usize) -> Listener {
    listen_with_backlog(capacity, DEFAULT_BACKLOG)
}

/// [`listen`] with a backlog of `backlog` connections: a dial that finds
/// `backlog` connections not yet accepted fails at once.
///
/// # Panics
///
/// If `backlog` is 0: no dial could ever succeed.
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
///
/// let listener = gopipe::listen_with_backlog(0, 2);
/// let dialer = listener.dialer();
/// let (_a, _b) = (dialer.dial()?, dialer.dial()?);
/// assert_eq!(dialer.dial().unwrap_err().kind(), ErrorKind::WouldBlock);
/// let _accepted = listener.accept()?; // makes room for one more
/// let _c = dialer.dial()?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[must_use = "a listener does nothing unless dialled and accepted from; dropping it closes it"]
pub fn listen_with_backlog(capacity: usize, backlog: usize) -> Listener {
    assert!(
        backlog > 0,
        "gopipe::listen_with_backlog: the backlog must hold at least one connection"
    );
    Listener {
        shared: Arc::new(Shared {
            capacity,
            backlog,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                sleepers: 0,
                wakers: Vec::new(),
            }),
            arrived: Condvar::new(),
            something: AtomicBool::new(false),
        }),
    }
}

/// The listening end of an in-memory network ([`listen`]): accepts the
/// connections its [`Dialer`]s make.
///
/// `Listener` is `Send` and `Sync`: threads and tasks, in any mix, may
/// accept through one `&Listener` (or an `Arc<Listener>`), each connection
/// going to exactly one of them. It is not `Clone`: dropping it closes it
/// ([`close`](Listener::close)), whatever [`Dialer`]s are still alive (a
/// dialer never keeps a listener open; it only keeps the listener's small
/// shared state allocated, so that its dials fail with
/// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused)).
///
/// # Waiting
///
/// A thread blocked in [`accept`](Listener::accept) sleeps on a condition
/// variable; each dial wakes one such thread. A task waiting in
/// [`poll_accept`](Listener::poll_accept) (or [`accept_async`](Listener::accept_async),
/// or the `Incoming` stream with the `stream` feature) leaves its waker
/// with the listener, one per task (a task polling again with the same
/// waker is listed once); each dial wakes every task waiting, and the first
/// to poll takes the connection while the others wait again. So a poll
/// that was abandoned (its future dropped while `Pending`) takes no
/// connection and keeps none from the tasks still waiting: waiting is
/// cancel safe. Wakers are woken and dropped outside the listener's lock.
///
/// # From Go
///
/// | Go (`bufconn`, `net`)            | gopipe                                  |
/// |----------------------------------|-----------------------------------------|
/// | `lis := bufconn.Listen(size)`    | `let lis = gopipe::listen(size);`       |
/// | `lis.Dial()`                     | `dialer.dial()` ([`Listener::dialer`] first) |
/// | `lis.DialContext(ctx)`           | `dialer.dial()`: it never blocks        |
/// | `lis.Accept()`                   | [`lis.accept()`](Listener::accept), or [`lis.accept_async().await`](Listener::accept_async) in a task |
/// | `lis.Close()`                    | [`lis.close()`](Listener::close), or drop it |
/// | `net.ErrClosed` from `Accept`    | kind [`NotConnected`](io::ErrorKind::NotConnected) |
/// | `grpc.WithContextDialer(...)`    | a connector calling `dialer.dial()`     |
/// | `srv.Serve(lis)`                 | serve `lis.into_incoming()`, a `Stream` (feature `stream`) |
///
/// Go's `bufconn` makes a `Dial` wait for an `Accept`; here a dial returns
/// at once and waits in the backlog, as a TCP connect does.
///
/// # Examples
///
/// A server on a thread, clients as tokio tasks:
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let listener = gopipe::listen(1024);
/// let dialer = listener.dialer();
/// let server = std::thread::spawn(move || -> std::io::Result<()> {
///     use std::io::{BufRead, BufReader, Write};
///     for _ in 0..3 {
///         let conn = listener.accept()?;
///         let mut line = String::new();
///         BufReader::new(&conn).read_line(&mut line)?;
///         (&conn).write_all(line.to_uppercase().as_bytes())?;
///     }
///     Ok(())
/// });
///
/// let mut clients = Vec::new();
/// for name in ["ann\n", "bob\n", "cy\n"] {
///     let dialer = dialer.clone();
///     clients.push(tokio::spawn(async move {
///         use tokio::io::{AsyncReadExt, AsyncWriteExt};
///         let mut conn = dialer.dial()?;
///         conn.write_all(name.as_bytes()).await?;
///         let mut reply = vec![0; name.len()];
///         conn.read_exact(&mut reply).await?;
///         assert_eq!(reply, name.to_uppercase().as_bytes());
///         Ok::<_, std::io::Error>(())
///     }));
/// }
/// for client in clients {
///     client.await.unwrap()?;
/// }
/// server.join().unwrap()?;
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct Listener {
    /// The state shared with the dialers.
    shared: Arc<Shared>,
}

/// Connects to a [`Listener`]: [`dial`](Dialer::dial) makes a connection
/// and returns its client end. Made by [`Listener::dialer`].
///
/// `Dialer` is `Clone`, `Send`, `Sync` and `'static`, so that it can go
/// wherever clients run (a connector of an HTTP or gRPC client, any number
/// of threads and tasks). It does not keep the listener open: once the
/// listener is closed or dropped, dials fail with
/// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused).
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
///
/// let listener = gopipe::listen(0);
/// let dialer = listener.dialer();
/// let _client = dialer.dial()?;
/// drop(listener);
/// assert_eq!(dialer.dial().unwrap_err().kind(), ErrorKind::ConnectionRefused);
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Dialer {
    /// The state shared with the listener.
    shared: Arc<Shared>,
}

/// What a listener and its dialers share.
///
/// Invariants (under `state`'s lock):
/// - `queue.len() <= backlog`;
/// - once `closed` is set it stays set, and `queue` and `wakers` are empty
///   (the close takes them; a dial or a registration after it finds
///   `closed` and adds nothing);
/// - `sleepers` counts the threads inside [`Shared::accept`] between their
///   look at an empty queue and their return from the condition variable;
/// - `something` is `!queue.is_empty() || closed`, stored with every change
///   of either (a hint read without the lock, never trusted without it).
///
/// So every connection pushed while the listener is open is either taken by
/// exactly one accept or reset by the close, and every waiter that saw an
/// empty, open queue is woken by the next dial or by the close: a dial pushes
/// and then, out of the lock, wakes one sleeping thread and every listed
/// task; a task lists its waker under the lock in the same critical section
/// as its last look at the queue.
struct Shared {
    /// Each connection's buffer per direction (0: unbuffered).
    capacity: usize,
    /// The most connections waiting for an accept.
    backlog: usize,
    /// The backlog, the closed flag and the waiters.
    state: Mutex<State>,
    /// Where threads blocked in `accept` sleep: notified once per dial that
    /// finds one asleep, and for all of them by the close.
    arrived: Condvar,
    /// Whether the queue holds a connection or the listener is closed, as
    /// of the last change under `state`'s lock: what a blocking accept spins
    /// on before it sleeps (a hint; the lock decides).
    something: AtomicBool,
}

/// The listener's state, behind [`Shared::state`] (see its invariants).
struct State {
    /// The server ends not yet accepted, oldest first.
    queue: VecDeque<Conn>,
    /// Whether the listener is closed.
    closed: bool,
    /// Threads asleep (or about to be) on `arrived`.
    sleepers: usize,
    /// The tasks waiting, one waker per task (no two `will_wake` each other).
    wakers: Vec<Waker>,
}

/// How long a blocking accept that finds no connection spins before it
/// sleeps (the engine's spin before a park is as long).
const ACCEPT_SPIN: std::time::Duration = std::time::Duration::from_micros(10);

/// The error of a dial on a closed listener.
fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "gopipe: connection refused: the listener is closed",
    )
}

/// The error of an accept on a closed listener.
fn accept_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "gopipe: accept on a closed listener",
    )
}

/// The error a dialled end sees when the listener closed before accepting it.
fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "gopipe: connection reset: the listener closed before accepting it",
    )
}

impl Shared {
    /// See [`Dialer::dial`].
    fn dial(&self) -> io::Result<Conn> {
        // Made before the lock: the lock guards the queue, not allocations.
        let (client, server) = buffered_duplex(self.capacity);
        let mut state = self.state.lock();
        if state.closed {
            drop(state);
            return Err(refused());
        }
        if state.queue.len() >= self.backlog {
            drop(state);
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "gopipe: the listener's backlog is full ({} connections wait for accept)",
                    self.backlog
                ),
            ));
        }
        state.queue.push_back(server);
        self.mark_something(true);
        let wake_thread = state.sleepers != 0;
        // One accepting task, the common case: take its waker alone, so that
        // the list keeps its allocation for the next wait.
        let (one, wakers) = if state.wakers.len() == 1 {
            (state.wakers.pop(), Vec::new())
        } else {
            (None, std::mem::take(&mut state.wakers))
        };
        drop(state);
        if wake_thread {
            self.arrived.notify_one();
        }
        for waker in one.into_iter().chain(wakers) {
            waker.wake();
        }
        Ok(client)
    }

    /// Takes the oldest queued connection, under `state`'s lock, keeping
    /// `something` in step (see the type).
    fn take_queued(&self, state: &mut State) -> Option<Conn> {
        let conn = state.queue.pop_front()?;
        // Not closed: a closed listener's queue is empty (see the type).
        if state.queue.is_empty() {
            self.mark_something(false);
        }
        Some(conn)
    }

    /// Stores `something` (see the type); called under `state`'s lock with
    /// every change of the queue's emptiness or of `closed`.
    #[inline]
    fn mark_something(&self, on: bool) {
        // ORDERING: Relaxed: a hint for accept's spin, which then looks
        // under the lock (held by the caller across the change).
        self.something.store(on, Ordering::Relaxed);
    }

    /// See [`Listener::accept`].
    fn accept(&self) -> io::Result<Conn> {
        let mut state = self.state.lock();
        let mut spun = false;
        loop {
            if let Some(conn) = self.take_queued(&mut state) {
                return Ok(conn);
            }
            if state.closed {
                return Err(accept_closed());
            }
            if !spun {
                // A client is likely to dial again within a moment (a
                // thread-per-connection server between two connections):
                // wait that moment awake, out of the lock, rather than
                // sleep and be woken (what a parked thread costs).
                spun = true;
                drop(state);
                // ORDERING: Relaxed: a hint; the lock decides below.
                spin_until(ACCEPT_SPIN, || self.something.load(Ordering::Relaxed));
                state = self.state.lock();
                continue;
            }
            state.sleepers += 1;
            state = self.arrived.wait(state);
            state.sleepers -= 1;
        }
    }

    /// See [`Listener::poll_accept`].
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Conn>> {
        // The waker's clone, made out of the lock (it is the executor's
        // code), then a second look under the lock before it is listed.
        let mut fresh: Option<Waker> = None;
        loop {
            let mut state = self.state.lock();
            if let Some(conn) = self.take_queued(&mut state) {
                drop(state);
                drop(fresh);
                return Poll::Ready(Ok(conn));
            }
            if state.closed {
                drop(state);
                drop(fresh);
                return Poll::Ready(Err(accept_closed()));
            }
            if state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                drop(state);
                drop(fresh);
                return Poll::Pending;
            }
            match fresh.take() {
                Some(waker) => {
                    state.wakers.push(waker);
                    return Poll::Pending;
                }
                None => {
                    drop(state);
                    fresh = Some(cx.waker().clone());
                }
            }
        }
    }

    /// See [`Listener::close`].
    fn close(&self) {
        let mut state = self.state.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        self.mark_something(true);
        let queued = std::mem::take(&mut state.queue);
        let wakers = std::mem::take(&mut state.wakers);
        let wake_threads = state.sleepers != 0;
        drop(state);
        if wake_threads {
            self.arrived.notify_all();
        }
        for waker in wakers {
            waker.wake();
        }
        for conn in queued {
            conn.close_with_error(reset());
        }
    }
}

impl Listener {
    /// A [`Dialer`] that connects to this listener.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = gopipe::listen(0);
    /// let dialer = listener.dialer();
    /// std::thread::spawn(move || dialer.dial());
    /// let _server_end = listener.accept()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn dialer(&self) -> Dialer {
        Dialer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Takes the oldest dialled connection, blocking until a dial if there is
    /// none; fails with kind [`NotConnected`](io::ErrorKind::NotConnected)
    /// once the listener is closed (also waking calls already blocked).
    /// Returns the server's end, the dialer got the other.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read, Write};
    ///
    /// let listener = gopipe::listen(64);
    /// let mut client = listener.dialer().dial()?;
    /// client.write_all(b"hi")?; // buffered: nobody accepted yet
    /// let mut server = listener.accept()?;
    /// let mut hi = [0; 2];
    /// server.read_exact(&mut hi)?;
    /// assert_eq!(&hi, b"hi");
    ///
    /// listener.close();
    /// assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::NotConnected);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<Conn> {
        self.shared.accept()
    }

    /// Polls for the oldest dialled connection: [`accept`](Listener::accept)
    /// for a task or a hand-written `poll` function. `Pending` leaves the
    /// task's waker with the listener, woken by the next dial and by the
    /// close (see [Waiting](Listener#waiting)); a `Pending` poll that is
    /// never repeated takes nothing, so abandoning it loses no connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let listener = gopipe::listen(0);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(listener.poll_accept(&mut cx).is_pending());
    /// let _client = listener.dialer().dial()?;
    /// assert!(matches!(listener.poll_accept(&mut cx), Poll::Ready(Ok(_))));
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Conn>> {
        self.shared.poll_accept(cx)
    }

    /// Waits for the oldest dialled connection, as a future:
    /// [`accept`](Listener::accept) for a task (tokio's
    /// `listener.accept().await`). Needs no async feature: any executor can
    /// run it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as tokio's `TcpListener::accept` is: dropping the future
    /// before it is ready takes no connection, and a use in `select!` loses
    /// none.
    ///
    /// # Examples
    ///
    /// A tokio task accepts, a thread dials:
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let listener = gopipe::listen(1024);
    /// let dialer = listener.dialer();
    /// let client = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
    ///     use std::io::{Read, Write};
    ///     let mut conn = dialer.dial()?;
    ///     conn.write_all(b"ping")?;
    ///     let mut pong = vec![0; 4];
    ///     conn.read_exact(&mut pong)?;
    ///     Ok(pong)
    /// });
    ///
    /// {
    ///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///     let mut conn = listener.accept_async().await?;
    ///     let mut ping = [0; 4];
    ///     conn.read_exact(&mut ping).await?;
    ///     assert_eq!(&ping, b"ping");
    ///     conn.write_all(b"pong").await?;
    /// }
    /// assert_eq!(client.join().unwrap()?, b"pong");
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn accept_async(&self) -> Accept<'_> {
        Accept { listener: self }
    }

    /// Closes the listener: every [`accept`](Listener::accept) blocked or to
    /// come fails (kind [`NotConnected`](io::ErrorKind::NotConnected)), every
    /// dial to come fails with kind
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused), and the
    /// connections still in the backlog are closed with kind
    /// [`ConnectionReset`](io::ErrorKind::ConnectionReset), which their
    /// dialled ends' reads and writes then return (as a TCP client's do when
    /// the server closes its listener before accepting). Connections already
    /// accepted are untouched. May be repeated; dropping the listener does
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    ///
    /// let listener = gopipe::listen(0);
    /// let dialer = listener.dialer();
    /// let mut queued = dialer.dial()?;
    /// listener.close();
    /// assert_eq!(queued.read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::ConnectionReset);
    /// assert_eq!(dialer.dial().unwrap_err().kind(), ErrorKind::ConnectionRefused);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.shared.close();
    }

    /// The listener as a stream of its connections, for servers that serve
    /// a `Stream` (tonic's `serve_with_incoming`, `hyper-util`-style accept
    /// loops): see [`Incoming`]. Needs the `stream` feature (which
    /// `futures-io` turns on).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use futures::StreamExt;
    ///
    /// let listener = gopipe::listen(0);
    /// let dialer = listener.dialer();
    /// let mut incoming = listener.into_incoming();
    /// let _client = dialer.dial()?;
    /// let _server_end = incoming.next().await.unwrap()?;
    /// incoming.get_ref().close();
    /// assert!(incoming.next().await.is_none()); // closed: the stream ends
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg(feature = "stream")]
    #[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
    pub fn into_incoming(self) -> Incoming {
        Incoming { listener: self }
    }
}

impl Dialer {
    /// Connects to the listener: returns the client's end at once, and puts
    /// the server's end in the listener's backlog for
    /// [`accept`](Listener::accept). Never blocks.
    ///
    /// # Errors
    ///
    /// - kind [`ConnectionRefused`](io::ErrorKind::ConnectionRefused): the
    ///   listener is closed or dropped;
    /// - kind [`WouldBlock`](io::ErrorKind::WouldBlock): the backlog is full
    ///   ([`DEFAULT_BACKLOG`], or [`listen_with_backlog`]'s) of connections
    ///   not yet accepted, as a non-blocking connect to a Unix socket whose
    ///   backlog is full fails; a retry may succeed once the server accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let listener = gopipe::listen(0);
    /// let dialer = listener.dialer();
    /// let client = std::thread::spawn(move || -> std::io::Result<()> {
    ///     let mut conn = dialer.dial()?; // even before the server accepts
    ///     conn.write_all(b"hello")
    /// });
    /// let mut conn = listener.accept()?;
    /// let mut hello = String::new();
    /// conn.read_to_string(&mut hello)?;
    /// assert_eq!(hello, "hello");
    /// client.join().unwrap()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn dial(&self) -> io::Result<Conn> {
        self.shared.dial()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_shared(&self.shared, "Listener", f)
    }
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_shared(&self.shared, "Dialer", f)
    }
}

/// The `Debug` of a listener or dialer: its settings, how many connections
/// wait, and whether it is closed.
fn debug_shared(shared: &Shared, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (queued, closed) = {
        let state = shared.state.lock();
        (state.queue.len(), state.closed)
    };
    f.debug_struct(name)
        .field("capacity", &shared.capacity)
        .field("backlog", &shared.backlog)
        .field("queued", &queued)
        .field("closed", &closed)
        .finish()
}

/// The future of [`Listener::accept_async`]: the oldest dialled connection,
/// or the closed listener's error.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let listener = gopipe::listen(0);
/// let accept: gopipe::Accept<'_> = listener.accept_async();
/// let _client = listener.dialer().dial()?;
/// let _server_end = accept.await?;
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Accept<'a> {
    /// The listener it accepts from.
    listener: &'a Listener,
}

impl Future for Accept<'_> {
    type Output = io::Result<Conn>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.listener.poll_accept(cx)
    }
}

impl fmt::Debug for Accept<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accept")
            .field("listener", self.listener)
            .finish()
    }
}

/// A [`Listener`] as a `futures_core::Stream` of its connections
/// ([`Listener::into_incoming`]): each item is `Ok` with the next accepted
/// connection, and the stream ends (`None`) once the listener is closed,
/// through [`get_ref`](Incoming::get_ref) or by dropping the stream. Its
/// items are `io::Result`s because servers that serve a stream (tonic's
/// `serve_with_incoming`) ask for `Result` items; no `Err` is ever yielded.
/// Waiting is cancel safe, as for [`Listener::poll_accept`]. Needs the
/// `stream` feature.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use futures::StreamExt;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let listener = gopipe::listen(1024);
/// let dialer = listener.dialer();
/// let server = tokio::spawn(listener.into_incoming().for_each_concurrent(None, |conn| async {
///     let mut conn = conn.unwrap();
///     let mut byte = [0];
///     conn.read_exact(&mut byte).await.unwrap();
///     conn.write_all(&[byte[0] + 1]).await.unwrap();
/// }));
/// for i in 0..10 {
///     let mut conn = dialer.dial()?;
///     conn.write_all(&[i]).await?;
///     let mut reply = [0];
///     conn.read_exact(&mut reply).await?;
///     assert_eq!(reply[0], i + 1);
/// }
/// server.abort(); // drops the stream, which closes the listener
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct Incoming {
    /// The listener it accepts from.
    listener: Listener,
}

#[cfg(feature = "stream")]
impl Incoming {
    /// The listener, to [`close`](Listener::close) it or make a
    /// [`dialer`](Listener::dialer).
    ///
    /// # Examples
    ///
    /// ```
    /// let incoming = gopipe::listen(0).into_incoming();
    /// let dialer = incoming.get_ref().dialer();
    /// let _client = dialer.dial()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &Listener {
        &self.listener
    }

    /// The listener back, with every connection still in its backlog.
    ///
    /// # Examples
    ///
    /// ```
    /// let incoming = gopipe::listen(0).into_incoming();
    /// let _client = incoming.get_ref().dialer().dial()?;
    /// let listener = incoming.into_inner();
    /// let _server_end = listener.accept()?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> Listener {
        self.listener
    }
}

#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
impl futures_core::Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.listener.poll_accept(cx) {
            Poll::Ready(Ok(conn)) => Poll::Ready(Some(Ok(conn))),
            // The only error is the close's: the stream ends.
            Poll::Ready(Err(_)) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
