//! [`gopipe::duplex`] (Go's `net.Pipe`) in the two shapes of issue 11, beside
//! the connections a test would otherwise use:
//!
//! - `conn-pingpong/*`: x/net/nettest's PingPong with 8-byte messages. The
//!   pinger writes a little-endian `u64`, the ponger reads it, checks that it
//!   is two more than the last one it saw, and writes it back plus one; the
//!   pinger checks the reply and writes it plus one. Time per round trip.
//! - `conn-stream/*/64KiB`: one side makes `iters` writes of 64 KiB, the other
//!   reads with a 64 KiB buffer. Time per write (wall time from the release of
//!   both sides until the reader has the last byte, divided by `iters`);
//!   criterion's throughput is 64 KiB per write.
//!
//! The contenders: `gopipe` (a [`gopipe::Conn`] pair, a thread on each side),
//! `tcp` (a loopback [`TcpStream`] pair, a thread on each side, `TCP_NODELAY`
//! for the ping-pong), and `tokio-duplex` (`tokio::io::duplex(64 KiB)`, two
//! tasks on one `current_thread` runtime). Go's `net.Pipe` runs the same
//! shapes in `benches/go/conn`, with goroutines under the default GOMAXPROCS.
//!
//! Every case is checked once before it is measured: a short ping-pong (every
//! reply is checked in measured runs too, as nettest does) and a short stream
//! whose bytes are all checked, up to its end; measured streams check the
//! first byte of every read, the total, and the end of the stream. Every
//! measured run uses a fresh connection; its threads (or tasks) are created
//! before the time starts.
//!
//! Run: `cargo bench -p gopipe-benches --bench conn` (quick profile:
//! `GOPIPE_BENCH_QUICK=1`). Beside Go's `net.Pipe`: `benches/compare_conn.sh
//! [--quick]`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use gopipe_benches::human;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::runtime::Runtime;

/// Size of one ping-pong message: a little-endian `u64`.
const MSG: usize = 8;
/// Size of a streaming write and of the streaming reader's buffer.
const CHUNK: usize = 64 << 10;
/// Buffer size of `tokio::io::duplex`, each way.
const TOKIO_BUF: usize = 64 << 10;
/// Round trips of the check made before a ping-pong case is measured.
const CHECK_ROUNDS: u64 = 1000;
/// Writes of the check made before a streaming case is measured.
const CHECK_WRITES: u64 = 8;

/// The byte at position `i` of a stream of writes of `CHUNK` bytes.
fn pattern(i: usize) -> u8 {
    ((i % CHUNK) % 251) as u8
}

/// One streaming write: every write carries the same bytes, so the reader can
/// check any read from its position in the stream.
fn payload() -> Vec<u8> {
    (0..CHUNK).map(pattern).collect()
}

/// Checks the first byte of `buf[..n]` (every byte when `all`), read at
/// position `got` of the stream.
fn check_read(buf: &[u8], got: usize, all: bool) {
    let upto = if all { buf.len() } else { 1.min(buf.len()) };
    for (k, &b) in buf[..upto].iter().enumerate() {
        assert_eq!(b, pattern(got + k), "stream: byte {} wrong", got + k);
    }
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end of stream
/// before the first byte.
fn read_msg(src: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..])? {
            0 if got == 0 => return Ok(false),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    Ok(true)
}

/// The ponger of the blocking ping-pong: answers every message with its value
/// plus one until the pinger closes, checking that each value is two more than
/// the previous one. Returns how many messages it answered.
fn ponger(mut conn: impl Read + Write) -> u64 {
    let mut buf = [0u8; MSG];
    let mut prev = None::<u64>;
    let mut answered = 0;
    while read_msg(&mut conn, &mut buf).expect("ponger read") {
        let v = u64::from_le_bytes(buf);
        if let Some(p) = prev {
            assert_eq!(v, p + 2, "ponger: value out of sequence");
        }
        prev = Some(v);
        conn.write_all(&(v + 1).to_le_bytes())
            .expect("ponger write");
        answered += 1;
    }
    answered
}

/// The pinger: `iters` round trips, checking every reply. Returns the time
/// they took.
fn pinger(conn: &mut (impl Read + Write), iters: u64) -> Duration {
    let mut buf = [0u8; MSG];
    let start = Instant::now();
    for i in 0..iters {
        conn.write_all(&(2 * i).to_le_bytes())
            .expect("pinger write");
        assert!(
            read_msg(conn, &mut buf).expect("pinger read"),
            "pinger: early end"
        );
        assert_eq!(u64::from_le_bytes(buf), 2 * i + 1, "pinger: wrong reply");
    }
    start.elapsed()
}

/// A blocking ping-pong of `iters` round trips over a fresh pair from
/// `connect`: the ponger on a thread of its own, the pinger on this one.
fn pingpong<C: Read + Write + Send>(connect: fn(bool) -> (C, C), iters: u64) -> Duration {
    let (a, b) = connect(true);
    let ready = Barrier::new(2);
    thread::scope(|scope| {
        let ready = &ready;
        let peer = scope.spawn(move || {
            ready.wait();
            ponger(b)
        });
        // Owned by this closure, so that a panic here closes it before the
        // scope waits for the ponger.
        let mut a = a;
        ready.wait();
        let elapsed = pinger(&mut a, iters);
        drop(a); // the ponger reads end of stream
        assert_eq!(peer.join().expect("ponger panicked"), iters);
        elapsed
    })
}

/// Blocking streaming of `iters` writes of `CHUNK` bytes over a fresh pair
/// from `connect`: the writer on a thread of its own, the reader (buffer of
/// `CHUNK` bytes) on this one. Checks every byte when `all`. Returns the time
/// from the release of both sides until the reader has the last byte.
fn stream<C: Read + Write + Send>(connect: fn(bool) -> (C, C), iters: u64, all: bool) -> Duration {
    let (rx, mut tx) = connect(false);
    let total = CHUNK * iters as usize;
    let data = payload();
    let mut buf = vec![0u8; CHUNK];
    let ready = Barrier::new(2);
    thread::scope(|scope| {
        let ready = &ready;
        let writer = scope.spawn(move || {
            ready.wait();
            let start = Instant::now();
            for _ in 0..iters {
                tx.write_all(&data).expect("write");
            }
            drop(tx); // the reader reads end of stream
            start
        });
        // Owned by this closure, so that a panic here closes it before the
        // scope waits for the writer.
        let mut rx = rx;
        ready.wait();
        let start = Instant::now();
        let mut got = 0;
        while got < total {
            let n = rx.read(&mut buf).expect("read");
            assert!(n > 0, "early end of stream at {got} of {total}");
            check_read(&buf[..n], got, all);
            got += n;
        }
        let end = Instant::now();
        assert_eq!(got, total, "read past the end");
        assert_eq!(
            rx.read(&mut buf).expect("read at end"),
            0,
            "bytes after the end"
        );
        let wstart = writer.join().expect("writer panicked");
        end - start.min(wstart)
    })
}

/// A `gopipe::duplex` pair.
fn gopipe_pair(_nodelay: bool) -> (gopipe::Conn, gopipe::Conn) {
    gopipe::duplex()
}

/// A loopback TCP pair, with `TCP_NODELAY` on both ends when `nodelay`.
fn tcp_pair(nodelay: bool) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let a = TcpStream::connect(listener.local_addr().expect("local addr")).expect("connect");
    let (b, _) = listener.accept().expect("accept");
    a.set_nodelay(nodelay).expect("nodelay");
    b.set_nodelay(nodelay).expect("nodelay");
    (a, b)
}

/// The ponger of the tokio ping-pong, as [`ponger`].
async fn ponger_async(mut conn: impl AsyncRead + AsyncWrite + Unpin) -> u64 {
    let mut buf = [0u8; MSG];
    let mut prev = None::<u64>;
    let mut answered = 0;
    loop {
        match conn.read_exact(&mut buf).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("ponger read: {e}"),
        }
        let v = u64::from_le_bytes(buf);
        if let Some(p) = prev {
            assert_eq!(v, p + 2, "ponger: value out of sequence");
        }
        prev = Some(v);
        conn.write_all(&(v + 1).to_le_bytes())
            .await
            .expect("ponger write");
        answered += 1;
    }
    answered
}

/// The pinger of the tokio ping-pong, as [`pinger`].
async fn pinger_async(mut conn: impl AsyncRead + AsyncWrite + Unpin, iters: u64) -> Duration {
    let mut buf = [0u8; MSG];
    let start = Instant::now();
    for i in 0..iters {
        conn.write_all(&(2 * i).to_le_bytes())
            .await
            .expect("pinger write");
        conn.read_exact(&mut buf).await.expect("pinger read");
        assert_eq!(u64::from_le_bytes(buf), 2 * i + 1, "pinger: wrong reply");
    }
    start.elapsed()
    // `conn` drops here: the ponger reads end of stream
}

/// A fresh `tokio::io::duplex` pair.
fn tokio_pair() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(TOKIO_BUF)
}

/// The tokio ping-pong: pinger and ponger as two tasks on `rt`.
fn pingpong_tokio(rt: &Runtime, iters: u64) -> Duration {
    let (a, b) = tokio_pair();
    rt.block_on(async move {
        let peer = tokio::spawn(ponger_async(b));
        let elapsed = tokio::spawn(pinger_async(a, iters))
            .await
            .expect("pinger panicked");
        assert_eq!(peer.await.expect("ponger panicked"), iters);
        elapsed
    })
}

/// The tokio streaming: writer and reader as two tasks on `rt`, as [`stream`].
fn stream_tokio(rt: &Runtime, iters: u64, all: bool) -> Duration {
    let (mut rx, mut tx) = tokio_pair();
    let total = CHUNK * iters as usize;
    rt.block_on(async move {
        let writer = tokio::spawn(async move {
            let data = payload();
            let start = Instant::now();
            for _ in 0..iters {
                tx.write_all(&data).await.expect("write");
            }
            drop(tx);
            start
        });
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            let start = Instant::now();
            let mut got = 0;
            while got < total {
                let n = rx.read(&mut buf).await.expect("read");
                assert!(n > 0, "early end of stream at {got} of {total}");
                check_read(&buf[..n], got, all);
                got += n;
            }
            let end = Instant::now();
            assert_eq!(got, total, "read past the end");
            let n = rx.read(&mut buf).await.expect("read at end");
            assert_eq!(n, 0, "bytes after the end");
            (start, end)
        });
        let wstart = writer.await.expect("writer panicked");
        let (start, end) = reader.await.expect("reader panicked");
        end - start.min(wstart)
    })
}

/// Criterion settings (warm-up, measurement, samples): full, or quick when
/// `GOPIPE_BENCH_QUICK` is set.
fn configured() -> (Duration, Duration, usize) {
    if std::env::var_os("GOPIPE_BENCH_QUICK").is_some() {
        (Duration::from_millis(500), Duration::from_secs(2), 10)
    } else {
        (Duration::from_secs(1), Duration::from_secs(5), 20)
    }
}

/// The current-thread runtime of the tokio cases.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// The `conn-pingpong` group: time per round trip of 8-byte messages.
fn pingpong_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let rt = runtime();
    let mut group = c.benchmark_group("conn-pingpong");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples)
        .throughput(Throughput::Elements(1));

    pingpong(gopipe_pair, CHECK_ROUNDS);
    group.bench_function("gopipe", |b| {
        b.iter_custom(|iters| pingpong(gopipe_pair, iters))
    });
    pingpong(tcp_pair, CHECK_ROUNDS);
    group.bench_function("tcp", |b| b.iter_custom(|iters| pingpong(tcp_pair, iters)));
    pingpong_tokio(&rt, CHECK_ROUNDS);
    group.bench_function("tokio-duplex", |b| {
        b.iter_custom(|iters| pingpong_tokio(&rt, iters))
    });
    group.finish();
}

/// The `conn-stream` group: time per 64 KiB write, and throughput.
fn stream_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let rt = runtime();
    let mut group = c.benchmark_group("conn-stream");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples)
        .throughput(Throughput::Bytes(CHUNK as u64));
    let size = human(CHUNK);

    stream(gopipe_pair, CHECK_WRITES, true);
    group.bench_function(BenchmarkId::new("gopipe", &size), |b| {
        b.iter_custom(|iters| stream(gopipe_pair, iters, false))
    });
    stream(tcp_pair, CHECK_WRITES, true);
    group.bench_function(BenchmarkId::new("tcp", &size), |b| {
        b.iter_custom(|iters| stream(tcp_pair, iters, false))
    });
    stream_tokio(&rt, CHECK_WRITES, true);
    group.bench_function(BenchmarkId::new("tokio-duplex", &size), |b| {
        b.iter_custom(|iters| stream_tokio(&rt, iters, false))
    });
    group.finish();
}

/// Criterion's entry points (the macro's function has no docs of its own).
mod entry {
    #![allow(missing_docs)]
    use super::{pingpong_group, stream_group};
    criterion::criterion_group!(benches, pingpong_group, stream_group);
}

criterion_main!(entry::benches);
