//! Buffered pipes (issue 25): `gopipe::buffered_pipe(64 KiB)` and
//! `gopipe::buffered_duplex(64 KiB)` against what a Rust user would pick
//! instead, in four parts, each printed as a table and its targets as MET or
//! MISSED with both numbers:
//!
//! - `threads`: a writer thread streams `S`-byte writes (1 KiB, 64 KiB) to a
//!   reader thread with a 64 KiB buffer, through `buffered_pipe(64 KiB)`, the
//!   unbuffered `pipe()` (for scale), an OS pipe (`std::io::pipe`),
//!   `UnixStream::pair`, `std::sync::mpsc::sync_channel` and crossbeam's
//!   `bounded` of `Vec<u8>` (64 KiB of slots: `64 KiB / S` messages, each
//!   copied into the reader's buffer), and one `memcpy` of the same bytes on
//!   one thread;
//! - `tasks`: a writer task streams to a reader task (64 KiB buffer) through
//!   `buffered_pipe(64 KiB)`, `tokio::io::simplex(64 KiB)` and
//!   `tokio::io::duplex(64 KiB)`, on a current_thread and a 2-worker runtime,
//!   beside the floor under gopipe's rules (`floor::rules`: simplex's mutex
//!   ring with no waker's code run under a lock), printed as a bound;
//! - `bridges`: a writer thread into a reader task (`s2a`) and a writer task
//!   into a reader thread (`a2s`) through `buffered_pipe(64 KiB)` and through
//!   `tokio::io::duplex(64 KiB)` + tokio-util's `SyncIoBridge` (runtime: one
//!   worker, so the two sides have a core each), beside the threads' floor
//!   (`floor::spsc`, printed as a bound) and one mutex ring between the
//!   thread and the task (`floor::rules`);
//! - `rustls`: a 16 MiB transfer (16 KiB writes) from a synchronous rustls
//!   client to its server, each on a thread, over `buffered_duplex(64 KiB)`,
//!   the unbuffered `duplex()` and loopback TCP (`TCP_NODELAY`); the
//!   handshake is done before the clock starts.
//!
//! Every case first moves a short stream whose bytes are all checked; the
//! measured runs check the count and one byte of every read. Each case is
//! calibrated to take about `TARGET` a run; then `rounds` rounds run every
//! case once each, in an order that rotates from round to round (so that a
//! noisy spell on the shared machine hits every case alike), and the report
//! gives each case's median over the rounds with its min..max.
//!
//! Run: `cargo bench -p gopipe-benches --bench buffered` (add `-- --quick`
//! for fewer, shorter rounds; `-- threads` etc. to run some parts only:
//! `threads`, `tasks` (or `tasks-ct`, `tasks-mt`), `bridges`, `rustls`), or
//! `benches/compare_buffered.sh [--quick] [PART...]`. The tables also give
//! the median CPU time of the whole process a write (both sides, spinning
//! included), which a loaded machine disturbs less than the wall time.
//!
//! For profiles (callgrind, perf): `GOPIPE_BUFFERED_CASE=SUBSTRING` runs only
//! the cases whose name holds it, `GOPIPE_BUFFERED_ITERS=N` one round of `N`
//! writes without checks or calibration (the targets then print as missed).
//! The rounds, calibration and report are the benches' shared ones
//! (`benches/rounds.rs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use gopipe_benches::rounds::{self, measure, row, Case, Report, Settings};
use gopipe_benches::{floor, human, runtimes, timed};
use tokio::runtime::Runtime;

/// The buffer of every buffered case and every reader.
const BUF: usize = 64 << 10;

/// The byte at position `i` of a stream of `s`-byte writes.
fn pattern(s: usize, i: usize) -> u8 {
    ((i % s) % 251) as u8
}

/// One write's worth of the stream.
fn payload(s: usize) -> Vec<u8> {
    (0..s).map(|i| pattern(s, i)).collect()
}

/// Checks one read of `buf` at stream position `got`: every byte when
/// `check`, else the first.
fn check_read(buf: &[u8], got: usize, s: usize, check: bool) {
    if check {
        for (k, &b) in buf.iter().enumerate() {
            assert_eq!(b, pattern(s, got + k), "byte {} wrong", got + k);
        }
    } else {
        assert_eq!(buf[0], pattern(s, got), "byte {got} wrong");
    }
}

/// Reads `total` bytes of `s`-byte writes with a 64 KiB buffer, then expects
/// end of file when `eof`.
fn drain(mut src: impl Read, total: usize, s: usize, check: bool, eof: bool) {
    let mut buf = vec![0u8; BUF];
    let mut got = 0;
    while got < total {
        let n = src.read(&mut buf).expect("read");
        assert!(n > 0, "early end of stream at {got} of {total}");
        check_read(&buf[..n], got, s, check);
        got += n;
    }
    assert_eq!(got, total, "more bytes than written");
    if eof {
        assert_eq!(
            src.read(&mut buf).expect("read at end"),
            0,
            "bytes after the end"
        );
    }
}

// ----------------------------------------------------------------- threads

/// A `Read`/`Write` pair streamed from a writer thread to a reader thread.
fn stream_case<'a, R, W>(name: &str, s: usize, make: fn() -> (R, W)) -> Case<'a>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    Case::new(name, move |iters, check| {
        let (rx, mut tx) = make();
        let data = payload(s);
        let total = s * iters as usize;
        timed(
            move || {
                for _ in 0..iters {
                    tx.write_all(&data).expect("write");
                }
                drop(tx);
            },
            move || drain(rx, total, s, check, true),
        )
    })
}

/// Adapts a channel's receive function to `Read`: each message is copied into
/// the reader's buffer (as many as fit, one read returning at most one).
struct ChunkReader<F: FnMut() -> Option<Vec<u8>>> {
    /// Receives the next message, `None` at the end.
    recv: F,
    /// The message being read.
    chunk: Vec<u8>,
    /// How much of `chunk` was read.
    pos: usize,
}

impl<F: FnMut() -> Option<Vec<u8>>> Read for ChunkReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.chunk.len() {
            match (self.recv)() {
                Some(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A channel of `Vec<u8>` with `BUF / s` slots: the writer sends a copy of
/// each write, the reader copies each message into its buffer.
fn channel_case<'a>(name: &str, s: usize, crossbeam: bool) -> Case<'a> {
    let slots = (BUF / s).max(1);
    Case::new(name, move |iters, check| {
        let data = payload(s);
        let total = s * iters as usize;
        if crossbeam {
            let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(slots);
            let reader = ChunkReader {
                recv: move || rx.recv().ok(),
                chunk: Vec::new(),
                pos: 0,
            };
            timed(
                move || {
                    for _ in 0..iters {
                        tx.send(data.to_vec()).expect("send");
                    }
                },
                move || drain(reader, total, s, check, true),
            )
        } else {
            let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(slots);
            let reader = ChunkReader {
                recv: move || rx.recv().ok(),
                chunk: Vec::new(),
                pos: 0,
            };
            timed(
                move || {
                    for _ in 0..iters {
                        tx.send(data.to_vec()).expect("send");
                    }
                },
                move || drain(reader, total, s, check, true),
            )
        }
    })
}

/// One thread copying each write once into a 64 KiB buffer.
fn memcpy_case<'a>(s: usize) -> Case<'a> {
    Case::new("memcpy (one copy, one thread)", move |iters, check| {
        let data = payload(s);
        let mut buf = vec![0u8; BUF];
        let start = Instant::now();
        let mut at = 0;
        for _ in 0..iters {
            if at + s > BUF {
                at = 0;
            }
            buf[at..at + s].copy_from_slice(&data);
            std::hint::black_box(&mut buf);
            at += s;
        }
        let elapsed = start.elapsed();
        if check {
            check_read(&buf[..s], 0, s, true);
        }
        elapsed
    })
}

/// The `threads` part.
fn threads(settings: Settings, report: &mut Report) {
    for s in [1usize << 10, 64 << 10] {
        let title = format!(
            "threads: {} writes, reader buffer 64 KiB, ns per write",
            human(s)
        );
        let cases = vec![
            stream_case("buffered_pipe(64KiB)", s, || gopipe::buffered_pipe(BUF)),
            stream_case("pipe() (unbuffered)", s, gopipe::pipe),
            stream_case("std::io::pipe (OS pipe)", s, || {
                std::io::pipe().expect("os pipe")
            }),
            stream_case("UnixStream::pair", s, || {
                UnixStream::pair().expect("socket pair")
            }),
            channel_case("mpsc::sync_channel(64KiB/S)", s, false),
            channel_case("crossbeam bounded(64KiB/S)", s, true),
            memcpy_case(s),
            stream_case("floor: SPSC ring, no semantics", s, floor::spsc::pipe),
            // The same ring with the SeqCst publishes gopipe's close rules
            // need (see `floor::spsc::pipe_fenced`).
            stream_case("floor, SeqCst publishes", s, floor::spsc::pipe_fenced),
        ];
        let min_iters = if s >= 64 << 10 { 16 } else { 1024 };
        let st = measure(&title, &cases, settings, min_iters, 1 << 24);
        for (case, st) in cases.iter().zip(&st) {
            row(&case.name, st);
        }
        let ours = &st[0];
        let cell = format!("threads {}", human(s));
        if s == 1 << 10 {
            report.faster(&cell, ours, "OS pipe", &st[2], 6.0);
            report.faster(&cell, ours, "UnixStream::pair", &st[3], 6.0);
            report.faster(&cell, ours, "mpsc::sync_channel", &st[4], 2.0);
            report.faster(&cell, ours, "crossbeam bounded", &st[5], 2.0);
            report.within(&cell, ours, "one memcpy", &st[6], 8.0);
        } else {
            report.faster(&cell, ours, "one memcpy", &st[6], 0.5);
        }
        // The two floors against the peers of the targets they bound.
        for (name, floor) in [("floor", &st[7]), ("floor, SeqCst", &st[8])] {
            if s == 1 << 10 {
                report.bound(&cell, name, floor, "OS pipe", &st[2], true);
            }
            report.bound(&cell, name, floor, "one memcpy", &st[6], s != 1 << 10);
        }
    }
}

// ------------------------------------------------------------------- tasks

/// The async sides, apart from the blocking ones so that the `Read`/`Write`
/// traits and tokio's extension traits are never in scope together.
mod tasks {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::runtime::Runtime;

    use super::{check_read, payload, BUF};

    /// Writes `iters` copies of `data`, then shuts down.
    pub(super) async fn source(mut tx: impl AsyncWrite + Unpin, data: &[u8], iters: u64) {
        for _ in 0..iters {
            tx.write_all(data).await.expect("write");
        }
        tx.shutdown().await.expect("shutdown");
    }

    /// Reads `total` bytes with a 64 KiB buffer, then expects end of file.
    pub(super) async fn drain(mut rx: impl AsyncRead + Unpin, total: usize, s: usize, check: bool) {
        let mut buf = vec![0u8; BUF];
        let mut got = 0;
        while got < total {
            let n = rx.read(&mut buf).await.expect("read");
            assert!(n > 0, "early end of stream at {got} of {total}");
            check_read(&buf[..n], got, s, check);
            got += n;
        }
        assert_eq!(got, total, "more bytes than written");
        assert_eq!(
            rx.read(&mut buf).await.expect("read at end"),
            0,
            "bytes after the end"
        );
    }

    /// A writer task and a reader task over a fresh pair from `make`, on `rt`.
    pub(super) fn pair<R, W>(
        rt: &Runtime,
        make: fn() -> (R, W),
        s: usize,
        iters: u64,
        check: bool,
    ) -> Duration
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (rx, tx) = make();
        let data = Arc::new(payload(s));
        let total = s * iters as usize;
        rt.block_on(async move {
            let start = Instant::now();
            let w = tokio::spawn(async move { source(tx, &data, iters).await });
            let r = tokio::spawn(drain(rx, total, s, check));
            w.await.expect("writer panicked");
            r.await.expect("reader panicked");
            start.elapsed()
        })
    }

    /// `tokio::io::simplex(64 KiB)`.
    pub(super) fn simplex() -> (
        tokio::io::ReadHalf<tokio::io::SimplexStream>,
        tokio::io::WriteHalf<tokio::io::SimplexStream>,
    ) {
        tokio::io::simplex(BUF)
    }

    /// `tokio::io::duplex(64 KiB)`, used one way: (reader, writer).
    pub(super) fn duplex() -> (tokio::io::DuplexStream, tokio::io::DuplexStream) {
        let (w, r) = tokio::io::duplex(BUF);
        (r, w)
    }
}

/// The `tasks` part.
fn tasks_part(settings: Settings, report: &mut Report, ct: bool, mt: bool) {
    for (short, rt) in runtimes(false) {
        if !(if short == "ct" { ct } else { mt }) {
            continue;
        }
        let rt_name = if short == "ct" {
            "current_thread"
        } else {
            "2 workers"
        };
        for s in [1usize << 10, 64 << 10] {
            let title = format!(
                "tasks, {rt_name}: {} writes, reader buffer 64 KiB, ns per write",
                human(s)
            );
            let rt = &rt;
            let cases = vec![
                Case::new("buffered_pipe(64KiB)", move |iters, check| {
                    tasks::pair(rt, || gopipe::buffered_pipe(BUF), s, iters, check)
                }),
                Case::new("tokio::io::simplex(64KiB)", move |iters, check| {
                    tasks::pair(rt, tasks::simplex, s, iters, check)
                }),
                Case::new("tokio::io::duplex(64KiB)", move |iters, check| {
                    tasks::pair(rt, tasks::duplex, s, iters, check)
                }),
                Case::new("pipe() (unbuffered)", move |iters, check| {
                    tasks::pair(rt, gopipe::pipe, s, iters, check)
                }),
                // simplex's mutex ring under gopipe's rule that no waker's
                // code runs under a lock: the least such a pipe does.
                Case::new("floor: mutex ring, wakers unlocked", move |iters, check| {
                    tasks::pair(rt, floor::rules::pipe, s, iters, check)
                }),
            ];
            let min_iters = if s >= 64 << 10 { 16 } else { 1024 };
            let st = measure(&title, &cases, settings, min_iters, 1 << 24);
            for (case, st) in cases.iter().zip(&st) {
                row(&case.name, st);
            }
            let cell = format!("tasks {rt_name} {}", human(s));
            report.within(&cell, &st[0], "simplex", &st[1], 1.0);
            report.within(&cell, &st[0], "duplex", &st[2], 1.0);
            report.bound(
                &cell,
                "floor, wakers unlocked",
                &st[4],
                "simplex",
                &st[1],
                false,
            );
        }
    }
}

// ----------------------------------------------------------------- bridges

/// Thread to task (`s2a`: the thread writes) or task to thread (`a2s`).
fn bridge<R, W>(
    rt: &Runtime,
    s2a: bool,
    make: fn() -> (R, W),
    s: usize,
    iters: u64,
    check: bool,
) -> Duration
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio_util::io::SyncIoBridge;
    let (rx, tx) = make();
    let data = Arc::new(payload(s));
    let total = s * iters as usize;
    let handle = rt.handle().clone();
    let start = Instant::now();
    if s2a {
        let reader = rt.spawn(tasks::drain(rx, total, s, check));
        let writer = thread::spawn(move || {
            let mut tx = SyncIoBridge::new_with_handle(tx, handle);
            for _ in 0..iters {
                tx.write_all(&data).expect("write");
            }
            tx.shutdown().expect("shutdown");
        });
        writer.join().expect("writer panicked");
        rt.block_on(reader).expect("reader panicked");
    } else {
        let writer = rt.spawn(async move { tasks::source(tx, &data, iters).await });
        let reader = thread::spawn(move || {
            let rx = SyncIoBridge::new_with_handle(rx, handle);
            drain(rx, total, s, check, true);
        });
        reader.join().expect("reader panicked");
        rt.block_on(writer).expect("writer panicked");
    }
    start.elapsed()
}

/// A pipe whose ends are both blocking and async, its thread-side end used
/// directly (not through `SyncIoBridge`): gopipe's, or the floor's.
fn bridge_direct<R, W>(
    rt: &Runtime,
    s2a: bool,
    make: fn() -> (R, W),
    s: usize,
    iters: u64,
    check: bool,
) -> Duration
where
    R: Read + tokio::io::AsyncRead + Unpin + Send + 'static,
    W: Write + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (rx, mut tx) = make();
    let data = Arc::new(payload(s));
    let total = s * iters as usize;
    let start = Instant::now();
    if s2a {
        let reader = rt.spawn(tasks::drain(rx, total, s, check));
        let writer = thread::spawn(move || {
            for _ in 0..iters {
                tx.write_all(&data).expect("write");
            }
            drop(tx);
        });
        writer.join().expect("writer panicked");
        rt.block_on(reader).expect("reader panicked");
    } else {
        let writer = rt.spawn(async move { tasks::source(tx, &data, iters).await });
        let reader = thread::spawn(move || drain(rx, total, s, check, true));
        reader.join().expect("reader panicked");
        rt.block_on(writer).expect("writer panicked");
    }
    start.elapsed()
}

/// The `bridges` part.
fn bridges(settings: Settings, report: &mut Report) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let rt = &rt;
    let s = 1 << 10;
    for s2a in [true, false] {
        let dir = if s2a {
            "thread -> task"
        } else {
            "task -> thread"
        };
        let title = format!("bridges, {dir}: 1KiB writes, reader buffer 64 KiB, ns per write");
        let cases = vec![
            Case::new("buffered_pipe(64KiB)", move |iters, check| {
                bridge_direct(rt, s2a, || gopipe::buffered_pipe(BUF), s, iters, check)
            }),
            Case::new("duplex(64KiB) + SyncIoBridge", move |iters, check| {
                bridge(rt, s2a, tasks::duplex, s, iters, check)
            }),
            // Thread to thread, both spinning: what a cross-core hand-off of
            // 1 KiB writes costs at the least (see `floor::spsc`).
            stream_case("floor: SPSC ring, thread -> thread", s, floor::spsc::pipe),
            // One mutex ring between the thread and the task, wakers out of
            // the lock (see `floor::rules`): the shape gopipe's buffered pipe
            // has, with nothing else (its task never spins for the thread).
            Case::new("mutex ring, wakers unlocked", move |iters, check| {
                bridge_direct(rt, s2a, floor::rules::pipe, s, iters, check)
            }),
        ];
        let st = measure(&title, &cases, settings, 1024, 1 << 24);
        for (case, st) in cases.iter().zip(&st) {
            row(&case.name, st);
        }
        report.faster(
            &format!("bridge {dir} 1KiB"),
            &st[0],
            "duplex + SyncIoBridge",
            &st[1],
            2.0,
        );
        report.bound(
            &format!("bridge {dir} 1KiB"),
            "floor, SPSC ring thread -> thread",
            &st[2],
            "duplex + SyncIoBridge",
            &st[1],
            true,
        );
    }
}

// ------------------------------------------------------------------ rustls

/// A synchronous rustls client and server over a transport.
mod tls {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

    /// The two configurations, sharing one self-signed certificate for
    /// `localhost` made at startup.
    pub(super) struct Configs {
        pub(super) client: Arc<ClientConfig>,
        pub(super) server: Arc<ServerConfig>,
    }

    pub(super) fn configs() -> Configs {
        // ring, not rustls' default aws-lc-rs (which needs cmake to build);
        // deprecated only for lacking post-quantum key exchange, which the
        // handshake (outside the clock) is all it would change.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("self-signed certificate");
        let der = CertificateDer::from(cert.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
        let mut roots = RootCertStore::empty();
        roots.add(der.clone()).expect("root");
        let client = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .expect("server certificate");
        Configs {
            client: Arc::new(client),
            server: Arc::new(server),
        }
    }

    /// A client stream over `sock`, handshake done.
    pub(super) fn client<T: Read + Write>(
        configs: &Configs,
        mut sock: T,
    ) -> rustls::StreamOwned<ClientConnection, T> {
        let name = ServerName::try_from("localhost").expect("name");
        let mut conn = ClientConnection::new(Arc::clone(&configs.client), name).expect("client");
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).expect("client handshake");
        }
        rustls::StreamOwned::new(conn, sock)
    }

    /// A server stream over `sock`, handshake done.
    pub(super) fn server<T: Read + Write>(
        configs: &Configs,
        mut sock: T,
    ) -> rustls::StreamOwned<ServerConnection, T> {
        let mut conn = ServerConnection::new(Arc::clone(&configs.server)).expect("server");
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).expect("server handshake");
        }
        rustls::StreamOwned::new(conn, sock)
    }
}

/// The size of the rustls transfer and of its writes.
const TLS_TOTAL: usize = 16 << 20;
/// The client's write size.
const TLS_WRITE: usize = 16 << 10;

/// Moves `iters` transfers of 16 MiB over fresh transports from `make` (the
/// client's end, the server's end), each after its handshake; the time of
/// the transfers alone, per transfer.
fn tls_transfer<T>(
    configs: &tls::Configs,
    make: &(dyn Fn() -> (T, T) + Sync),
    iters: u64,
    check: bool,
) -> Duration
where
    T: Read + Write + Send,
{
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (c, s) = make();
        let gate = Barrier::new(2);
        let gate = &gate;
        total += thread::scope(|scope| {
            let server = scope.spawn(move || {
                let mut server = tls::server(configs, s);
                gate.wait();
                drain(&mut server, TLS_TOTAL, TLS_WRITE, check, false);
                // Tell the client every byte arrived.
                server.write_all(b"k").expect("ack");
                server.flush().expect("ack flush");
                Instant::now()
            });
            let mut client = tls::client(configs, c);
            let data = payload(TLS_WRITE);
            gate.wait();
            let start = Instant::now();
            for _ in 0..TLS_TOTAL / TLS_WRITE {
                client.write_all(&data).expect("tls write");
            }
            client.flush().expect("tls flush");
            let mut ack = [0u8; 1];
            client.read_exact(&mut ack).expect("ack");
            let end = server.join().expect("server panicked");
            end - start
        });
    }
    total
}

/// A loopback TCP connection with `TCP_NODELAY` on both ends.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let c = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (s, _) = listener.accept().expect("accept");
    c.set_nodelay(true).expect("nodelay");
    s.set_nodelay(true).expect("nodelay");
    (c, s)
}

/// The `rustls` part.
fn rustls_part(settings: Settings, report: &mut Report) {
    let title = "rustls (sync, TLS 1.3, ring): one 16 MiB transfer in 16 KiB writes, handshake excluded, ns per transfer";
    let configs = tls::configs();
    let configs = &configs;
    let cases = vec![
        Case::new("buffered_duplex(64KiB)", move |iters, check| {
            tls_transfer(configs, &|| gopipe::buffered_duplex(BUF), iters, check)
        }),
        Case::new("loopback TCP", move |iters, check| {
            tls_transfer(configs, &tcp_pair, iters, check)
        }),
    ];
    let st = measure(title, &cases, settings, 1, 1 << 10);
    for (case, st) in cases.iter().zip(&st) {
        row(&case.name, st);
    }
    report.within("rustls 16MiB", &st[0], "loopback TCP", &st[1], 0.8);
}

// -------------------------------------------------------------------- main

fn main() {
    let (settings, parts) = rounds::from_args("buffered", "GOPIPE_BUFFERED");
    let on = |p: &str| parts.is_empty() || parts.iter().any(|q| q == p);
    let mut report = Report::default();
    if on("threads") {
        threads(settings, &mut report);
    }
    if on("tasks") || on("tasks-ct") || on("tasks-mt") {
        tasks_part(
            settings,
            &mut report,
            on("tasks") || on("tasks-ct"),
            on("tasks") || on("tasks-mt"),
        );
    }
    if on("bridges") {
        bridges(settings, &mut report);
    }
    if on("rustls") {
        rustls_part(settings, &mut report);
    }
    report.print();
}
