//! The in-memory network (issue 26): a connection's whole life through
//! `gopipe::listen` against loopback TCP and against a `tokio::io::duplex`
//! pair made per connection, as time per connection.
//!
//! One round trip is one connection: the client dials, the server accepts,
//! the client writes a 1 KiB request, the server reads it and writes a 1 KiB
//! reply and closes its end, the client reads the reply and then the end of
//! the stream (so the server's close is part of the round), and drops its
//! end. The client makes the connections one after the other; a case's time
//! is from the client's first dial to the end of the last connection, over
//! the number of connections. The listener (or TCP socket, or channel) is
//! made before the clock starts, once per run.
//!
//! - `threads`: a server thread accepting in a blocking loop and answering
//!   each connection itself (an iterative server: no thread is spawned per
//!   connection, on any transport, since a thread's spawn would cost more
//!   than the whole in-memory round), a client thread dialing:
//!   `gopipe::listen(0)` and `listen(64 KiB)` (`accept`, `Dialer::dial`)
//!   against `std::net::TcpListener`/`TcpStream` on 127.0.0.1.
//! - `tasks`, on a current_thread (`ct`) and a 2-worker (`mt2`) tokio
//!   runtime: a server task in an accept loop that spawns a task per
//!   connection to answer it (a tokio server's usual shape; the spawn is in
//!   the round for every transport alike), a client task dialing:
//!   `gopipe::listen(0)` and `listen(64 KiB)` (`accept_async`), against
//!   `tokio::net::TcpListener`/`TcpStream` on 127.0.0.1 and against
//!   `tokio::io::duplex(64 KiB)` made by the client per connection, its
//!   server end handed to the accept loop through a tokio `mpsc` channel of
//!   1024 slots (gopipe's default backlog) as the "accept".
//!
//! No `TCP_NODELAY`: each side makes one write before it waits, which Nagle's
//! algorithm never holds, so the peers keep their cheapest setting.
//!
//! Targets (issue 26), printed as MET or MISSED at the end with both medians:
//! every gopipe case at least 10x as fast as loopback TCP (std for threads,
//! tokio for tasks), and no slower than the duplex pair per connection (tasks).
//!
//! Every case is checked once (every byte of both messages) before it is
//! calibrated to about 80 ms a run (`--quick`: 30 ms); then 15 rounds
//! (`--quick`: 7) run every case once in an order that rotates from round to
//! round (`benches/rounds.rs`), and each table gives the median ns per
//! connection, min..max, and the median CPU time of the whole process per
//! connection (both sides). Machine-readable lines for `compare_net.sh`:
//! `net,PART,CASE,MEDIAN_NS,MIN_NS,MAX_NS,CPU_NS` (PART: `threads`, `ct`,
//! `mt2`; CASE: `listen0`, `listen64k`, `tcp`, `duplex`).
//!
//! Bounded: the benches' watchdog (`benches/lib.rs`) ends the process when a
//! run's client completes no connection for `GOPIPE_BENCH_STALL_SECS` seconds
//! (default 60).
//!
//! Run: `cargo bench -p gopipe-benches --bench net` (15 rounds of 11 cases
//! of about 80 ms, plus the calibration; `-- --quick`
//! or `GOPIPE_BENCH_QUICK=1` for fewer, shorter rounds; `-- threads`, `-- ct`,
//! `-- mt2` or `-- tasks` for some parts), or `benches/compare_net.sh
//! [--quick]`, which adds hyper over the listener against loopback TCP. For
//! profiles: `GOPIPE_NET_CASE=WORDS` runs only the cases whose "title: name"
//! holds every comma-separated word, `GOPIPE_NET_ITERS=N` one round of `N`
//! connections.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use gopipe_benches::rounds::{self, measure, row, Case, Report, Settings, Stat};
use gopipe_benches::{runtimes, timed, Progress, Watch};

/// The request's and the reply's size.
const MSG: usize = 1 << 10;
/// The buffer of `listen(64 KiB)` and of the duplex pair.
const CAP: usize = 64 << 10;

/// A message's bytes: the request's, or the reply's (every byte flipped).
const fn message(reply: bool) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    let mut i = 0;
    while i < MSG {
        m[i] = (i % 251) as u8 ^ if reply { 0xff } else { 0 };
        i += 1;
    }
    m
}

/// What the client sends.
static REQUEST: [u8; MSG] = message(false);
/// What the server answers.
static REPLY: [u8; MSG] = message(true);

/// Checks a received message against `want`: every byte when `all`, else the
/// first and the last.
fn check(got: &[u8; MSG], want: &[u8; MSG], all: bool) {
    if all {
        assert!(got == want, "message corrupted");
    } else {
        assert_eq!((got[0], got[MSG - 1]), (want[0], want[MSG - 1]));
    }
}

/// A run's progress for the watchdog: one counter, the client's connections.
fn watched(label: &str) -> (Arc<[Progress]>, Watch) {
    let progress: Arc<[Progress]> = Arc::new([Progress::default()]);
    let watch = Watch::start(format!("net {label}"), &progress);
    (progress, watch)
}

/// A case and its key in the machine-readable lines.
struct Keyed<'a> {
    /// `listen0`, `listen64k`, `tcp` or `duplex`.
    key: &'static str,
    /// The case.
    case: Case<'a>,
}

/// Measures `cases` as the table `title`, prints the rows and the
/// machine-readable lines of `part`; returns the stats in case order.
fn table(part: &str, title: &str, cases: Vec<Keyed<'_>>, settings: Settings) -> Vec<Stat> {
    let (keys, cases): (Vec<_>, Vec<_>) = cases.into_iter().map(|k| (k.key, k.case)).unzip();
    let st = measure(title, &cases, settings, 16, 1 << 20);
    for (case, st) in cases.iter().zip(&st) {
        row(&case.name, st);
    }
    for (key, st) in keys.iter().zip(&st) {
        println!(
            "net,{part},{key},{:.1},{:.1},{:.1},{:.1}",
            st.median(),
            st.min(),
            st.max(),
            st.cpu_median()
        );
    }
    st
}

// ----------------------------------------------------------------- threads

/// The server's side of one connection: reads the request, answers, closes.
fn serve(mut conn: impl Read + Write, all: bool) {
    let mut buf = [0u8; MSG];
    conn.read_exact(&mut buf).expect("read request");
    check(&buf, &REQUEST, all);
    conn.write_all(&REPLY).expect("write reply");
}

/// The client's side of one connection: the request, the reply, the end.
fn call(mut conn: impl Read + Write, all: bool) {
    conn.write_all(&REQUEST).expect("write request");
    let mut buf = [0u8; MSG];
    conn.read_exact(&mut buf).expect("read reply");
    check(&buf, &REPLY, all);
    assert_eq!(
        conn.read(&mut buf).expect("read end"),
        0,
        "bytes after the reply"
    );
}

/// `iters` connections from a client on this thread to a server thread
/// accepting from `listener`; the time from both being ready until both are
/// done.
fn threads_run<L: Sync, D, S: Read + Write, C: Read + Write>(
    label: &str,
    (listener, dialer): (L, D),
    accept: fn(&L) -> S,
    dial: fn(&D) -> C,
    iters: u64,
    all: bool,
) -> Duration {
    let (progress, _watch) = watched(label);
    timed(
        || {
            for i in 0..iters {
                call(dial(&dialer), all);
                progress[0].0.store(i as usize + 1, Ordering::Relaxed);
            }
        },
        || {
            for _ in 0..iters {
                serve(accept(&listener), all);
            }
        },
    )
}

/// A gopipe listener and its dialer.
fn gopipe_bind(capacity: usize) -> (gopipe::Listener, gopipe::Dialer) {
    let listener = gopipe::listen(capacity);
    let dialer = listener.dialer();
    (listener, dialer)
}

/// A gopipe case of the `threads` part.
fn threads_gopipe<'a>(key: &'static str, name: &str, capacity: usize) -> Keyed<'a> {
    let label = format!("threads {name}");
    Keyed {
        key,
        case: Case::new(name, move |iters, all| {
            threads_run(
                &label,
                gopipe_bind(capacity),
                |l| l.accept().expect("accept"),
                |d| d.dial().expect("dial"),
                iters,
                all,
            )
        }),
    }
}

/// The `threads` part.
fn threads_part(settings: Settings, report: &mut Report) {
    let cases = vec![
        threads_gopipe("listen0", "gopipe listen(0)", 0),
        threads_gopipe("listen64k", "gopipe listen(64KiB)", CAP),
        Keyed {
            key: "tcp",
            case: Case::new("std::net TCP 127.0.0.1", |iters, all| {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                let addr = listener.local_addr().expect("address");
                threads_run(
                    "threads std TCP",
                    (listener, addr),
                    |l| l.accept().expect("accept").0,
                    |a| TcpStream::connect(a).expect("connect"),
                    iters,
                    all,
                )
            }),
        },
    ];
    let title = "threads: dial + accept + 1 KiB request and reply + close, ns per connection";
    let st = table("threads", title, cases, settings);
    for (i, name) in [(0, "listen(0)"), (1, "listen(64KiB)")] {
        report.faster(&format!("threads {name}"), &st[i], "std TCP", &st[2], 10.0);
    }
}

// ------------------------------------------------------------------- tasks

/// The async sides, apart from the blocking ones so that the `Read`/`Write`
/// traits and tokio's extension traits are never in scope together.
mod tasks {
    use std::future::Future;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
    use tokio::runtime::Runtime;
    use tokio::sync::mpsc;

    use super::{check, watched, CAP, MSG, REPLY, REQUEST};

    /// A network for tasks: how a run's listener is made, how its server
    /// accepts and how its client dials.
    pub(super) trait Net: Sync {
        /// Either end of a connection.
        type Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static;
        /// What the server accepts from.
        type Listener: Send + 'static;
        /// What the client dials with.
        type Dialer: Send + 'static;
        /// A fresh listener and its dialer (in the runtime).
        fn bind(&self) -> impl Future<Output = (Self::Listener, Self::Dialer)>;
        /// The next connection's server end.
        fn accept(listener: &mut Self::Listener) -> impl Future<Output = Self::Conn> + Send + '_;
        /// A new connection's client end.
        fn dial(dialer: &Self::Dialer) -> impl Future<Output = Self::Conn> + Send + '_;
    }

    /// `gopipe::listen(capacity)`, accepting with `accept_async`.
    pub(super) struct Listen(pub(super) usize);

    impl Net for Listen {
        type Conn = gopipe::Conn;
        type Listener = gopipe::Listener;
        type Dialer = gopipe::Dialer;
        async fn bind(&self) -> (gopipe::Listener, gopipe::Dialer) {
            super::gopipe_bind(self.0)
        }
        async fn accept(listener: &mut gopipe::Listener) -> gopipe::Conn {
            listener.accept_async().await.expect("accept")
        }
        async fn dial(dialer: &gopipe::Dialer) -> gopipe::Conn {
            dialer.dial().expect("dial")
        }
    }

    /// `tokio::net` on 127.0.0.1.
    pub(super) struct Tcp;

    impl Net for Tcp {
        type Conn = tokio::net::TcpStream;
        type Listener = tokio::net::TcpListener;
        type Dialer = SocketAddr;
        async fn bind(&self) -> (tokio::net::TcpListener, SocketAddr) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            (listener, addr)
        }
        async fn accept(listener: &mut tokio::net::TcpListener) -> tokio::net::TcpStream {
            listener.accept().await.expect("accept").0
        }
        async fn dial(addr: &SocketAddr) -> tokio::net::TcpStream {
            tokio::net::TcpStream::connect(addr).await.expect("connect")
        }
    }

    /// `tokio::io::duplex(64 KiB)` per connection, the server's end sent to
    /// the accept loop through a channel.
    pub(super) struct Duplex;

    impl Net for Duplex {
        type Conn = DuplexStream;
        type Listener = mpsc::Receiver<DuplexStream>;
        type Dialer = mpsc::Sender<DuplexStream>;
        async fn bind(&self) -> (Self::Listener, Self::Dialer) {
            let (tx, rx) = mpsc::channel(gopipe::DEFAULT_BACKLOG);
            (rx, tx)
        }
        async fn accept(listener: &mut mpsc::Receiver<DuplexStream>) -> DuplexStream {
            listener.recv().await.expect("accept")
        }
        async fn dial(dialer: &mpsc::Sender<DuplexStream>) -> DuplexStream {
            let (client, server) = tokio::io::duplex(CAP);
            dialer.send(server).await.expect("dial");
            client
        }
    }

    /// The server's task for one connection: reads the request, answers,
    /// closes.
    async fn serve(mut conn: impl AsyncRead + AsyncWrite + Unpin, all: bool) {
        let mut buf = [0u8; MSG];
        conn.read_exact(&mut buf).await.expect("read request");
        check(&buf, &REQUEST, all);
        conn.write_all(&REPLY).await.expect("write reply");
        conn.shutdown().await.expect("shutdown");
    }

    /// The client's side of one connection: the request, the reply, the end.
    async fn call(mut conn: impl AsyncRead + AsyncWrite + Unpin, all: bool) {
        conn.write_all(&REQUEST).await.expect("write request");
        let mut buf = [0u8; MSG];
        conn.read_exact(&mut buf).await.expect("read reply");
        check(&buf, &REPLY, all);
        assert_eq!(
            conn.read(&mut buf).await.expect("read end"),
            0,
            "bytes after the reply"
        );
    }

    /// `iters` connections over `net` on `rt`: an accept loop task spawning a
    /// task per connection, a client task; the client's time from its first
    /// dial to its last connection's end.
    pub(super) fn run<N: Net>(
        rt: &Runtime,
        net: &N,
        label: &str,
        iters: u64,
        all: bool,
    ) -> Duration {
        let (progress, _watch) = watched(label);
        rt.block_on(async {
            let (mut listener, dialer) = net.bind().await;
            let server = tokio::spawn(async move {
                for _ in 0..iters {
                    let conn = N::accept(&mut listener).await;
                    tokio::spawn(serve(conn, all));
                }
            });
            let client = tokio::spawn(async move {
                let start = Instant::now();
                for i in 0..iters {
                    call(N::dial(&dialer).await, all).await;
                    progress[0].0.store(i as usize + 1, Ordering::Relaxed);
                }
                start.elapsed()
            });
            let elapsed = client.await.expect("client panicked");
            server.await.expect("server panicked");
            elapsed
        })
    }
}

/// A case of the `tasks` part on `rt`.
fn tasks_case<'a, N: tasks::Net + 'a>(
    rt: &'a tokio::runtime::Runtime,
    rt_name: &str,
    key: &'static str,
    name: &str,
    net: N,
) -> Keyed<'a> {
    let label = format!("{rt_name} {name}");
    Keyed {
        key,
        case: Case::new(name, move |iters, all| {
            tasks::run(rt, &net, &label, iters, all)
        }),
    }
}

/// The `tasks` part, on the runtimes named in `which`.
fn tasks_part(settings: Settings, report: &mut Report, which: &[&str]) {
    for (rt_name, rt) in runtimes(true) {
        if !which.contains(&rt_name) {
            continue;
        }
        let rt = &rt;
        let cases = vec![
            tasks_case(rt, rt_name, "listen0", "gopipe listen(0)", tasks::Listen(0)),
            tasks_case(
                rt,
                rt_name,
                "listen64k",
                "gopipe listen(64KiB)",
                tasks::Listen(CAP),
            ),
            tasks_case(rt, rt_name, "tcp", "tokio::net TCP 127.0.0.1", tasks::Tcp),
            tasks_case(
                rt,
                rt_name,
                "duplex",
                "tokio::io::duplex(64KiB) + mpsc",
                tasks::Duplex,
            ),
        ];
        let title = format!(
            "tasks, {rt_name}: dial + accept (+ spawn) + 1 KiB request and reply + close, ns per connection"
        );
        let st = table(rt_name, &title, cases, settings);
        for (i, name) in [(0, "listen(0)"), (1, "listen(64KiB)")] {
            let cell = format!("tasks {rt_name} {name}");
            report.faster(&cell, &st[i], "tokio TCP", &st[2], 10.0);
            report.within(&cell, &st[i], "duplex + mpsc", &st[3], 1.0);
        }
    }
}

// -------------------------------------------------------------------- main

fn main() {
    let (settings, parts) = rounds::from_args("net", "GOPIPE_NET");
    let on = |p: &str| parts.is_empty() || parts.iter().any(|q| q == p);
    let mut report = Report::default();
    if on("threads") {
        threads_part(settings, &mut report);
    }
    let rts: Vec<&str> = ["ct", "mt2"]
        .into_iter()
        .filter(|rt| on("tasks") || on(rt))
        .collect();
    if !rts.is_empty() {
        tasks_part(settings, &mut report, &rts);
    }
    report.print();
}
