//! The async halves (gopipe's `tokio` feature) in the shapes of `shapes.rs`,
//! with tasks instead of threads, and the two bridges between a thread and a
//! task.
//!
//! Task shapes, on a tokio multi-thread runtime with 2 workers:
//!
//! - `async-pairs`: P independent pipes (P in 1, 8, 64, 1024), each with one
//!   writer task and one reader task (reader buffer = S bytes); every writer
//!   makes `iters` writes of S bytes (S in 1 KiB, 64 KiB), all P pairs at once;
//! - `async-chain`: K pipes in a row (K in 2, 8, 64): a source task writes into
//!   pipe 1, K-1 relay tasks each read pipe i with an S-byte buffer and
//!   `write_all` what they read into pipe i+1, and a sink task reads pipe K.
//!
//! and the same on a tokio `current_thread` runtime (every task on one
//! thread), streaming only: `async-pairs-ct` (P in 1, 64) and
//! `async-chain-ct` (K = 8), at both sizes.
//!
//! Every writer (source and relays) runs in one of two modes: `consumed`,
//! `write_all` then `consumed().await` after every write (the write is done
//! once the reader took its bytes: Go's `io.Pipe` `Write`), or `stream`,
//! `write_all` alone (`shutdown` at the end in both modes). The peers are
//! `tokio::io::simplex(64 KiB)` and `tokio::io::duplex(64 KiB)`; they have no
//! `consumed`, so they run in `stream` mode only. Beside them runs the floor
//! (`benches/floor.rs`: one mutex, a 64 KiB byte ring, two wakers and tokio's
//! budget, with none of a pipe's semantics), a bound on what any design
//! reaches in these shapes, not a peer. Function ids: `gopipe-consumed/S`
//! (multi-thread groups only), `gopipe-stream/S`, `simplex/S`, `duplex/S`,
//! `floor/S`, with P or K as the parameter.
//!
//! Bridges (`async-bridge`), a thread on one side and a task on the other
//! (reader buffers of 64 KiB, writes of S in 1 KiB, 64 KiB, 1 MiB):
//!
//! - `s2a-gopipe`: a writer thread (`std::io::Write`) into a reader task;
//! - `s2a-gopipe-bufwriter`: the same, the thread writing through a
//!   `std::io::BufWriter` of 64 KiB (flushed before the start and at the end);
//! - `a2s-gopipe`: a writer task (`AsyncWriteExt::write_all`, no flush,
//!   `shutdown` at the end) into a reader thread (`std::io::Read`);
//! - `s2a-duplex-bridge` and `a2s-duplex-bridge`: the same over
//!   `tokio::io::duplex(64 KiB)`, with `tokio_util::io::SyncIoBridge` (on the
//!   runtime's `Handle`) on the thread's side;
//! - `memcpy`: one thread copying the same bytes through a 64 KiB buffer.
//!
//! Every case reports the time per write of one source: wall time from the
//! moment all tasks (and threads) are released together until the last reader
//! has its last byte, divided by `iters`. Tasks are spawned before the start
//! and joined after it, outside the time; every writer also makes one priming
//! write before the start, which its reader reads (and relays pass on), so
//! that buffers allocated at first use (gopipe's 64 KiB stage, the peers'
//! buffers) and their page faults are not in the time. Criterion's throughput
//! is the bytes moved per iteration (P × S for `async-pairs`, S for the
//! others).
//!
//! Every case first moves a short stream whose bytes are all checked (outside
//! the measurement); measured runs check one byte of every read, the total and
//! the end of the stream. A watchdog ends the process (exit code 3, naming the
//! case and how far every reader got) when no reader has moved for
//! `GOPIPE_BENCH_STALL_SECS` seconds (default 60): a lost wake-up shows as a
//! report, not as a bench that never ends.
//!
//! Run: `cargo bench -p gopipe-benches --bench async_shapes` (or with a filter,
//! e.g. `-- async-pairs/gopipe-consumed/1KiB/` or `-- async-chain-ct/`).
//! Quick profile: `GOPIPE_BENCH_QUICK=1`. Beside Go's `io.Pipe` in the same
//! shapes, with the targets: `benches/compare_async.sh [--quick]`.

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use gopipe_benches::{human, Progress, Watch};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::sync::Barrier;

/// Write sizes (and reader buffers) of the task shapes.
const SIZES: [usize; 2] = [1 << 10, 64 << 10];
/// Numbers of independent pairs.
const PAIRS: [usize; 4] = [1, 8, 64, 1024];
/// Lengths of the chains, in pipes.
const CHAINS: [usize; 3] = [2, 8, 64];
/// Numbers of independent pairs on the current_thread runtime.
const PAIRS_CT: [usize; 2] = [1, 64];
/// Lengths of the chains on the current_thread runtime.
const CHAINS_CT: [usize; 1] = [8];
/// Write sizes of the bridges.
const BRIDGE_SIZES: [usize; 3] = [1 << 10, 64 << 10, 1 << 20];
/// The bridges' reader buffer, and the peers' buffer size.
const BUF: usize = 64 << 10;
/// Writes per source in the full check made before each case is measured.
const CHECK_WRITES: u64 = 4;

/// The byte at position `i` of stream number `seed`.
fn pattern(seed: usize, i: usize) -> u8 {
    ((i + 13 * seed) % 251) as u8
}

/// One write's worth of stream `seed`: every write of size `s` carries the same
/// bytes, so a reader can check any read from its position in the stream.
fn payload(seed: usize, s: usize) -> Vec<u8> {
    (0..s).map(|i| pattern(seed, i)).collect()
}

/// Checks one read of `buf` at stream position `got` of stream `seed` (writes
/// of `s` bytes): every byte when `check`, else the first.
fn check_read(buf: &[u8], got: usize, (s, seed): (usize, usize), check: bool) {
    if check {
        for (k, &b) in buf.iter().enumerate() {
            let at = got + k;
            assert_eq!(b, pattern(seed, at % s), "stream {seed}: byte {at} wrong");
        }
    } else {
        assert_eq!(
            buf[0],
            pattern(seed, got % s),
            "stream {seed}: byte {got} wrong"
        );
    }
}

// ------------------------------------------------------------- task sides

/// A write end that can wait until its readers took every byte written so
/// far: gopipe's `consumed()`. The peers have nothing of the kind and run in
/// [`Mode::Stream`] only, so theirs is never called.
trait Writer: AsyncWrite + Unpin + Send + 'static {
    /// Ready once the readers took every byte written so far.
    fn consumed(&self) -> impl Future<Output = io::Result<()>> + Send;
}

impl Writer for gopipe::PipeWriter {
    fn consumed(&self) -> impl Future<Output = io::Result<()>> + Send {
        gopipe::PipeWriter::consumed(self)
    }
}

/// The peers' write ends: stream mode only.
macro_rules! stream_only {
    ($($t:ty),*) => {$(
        impl Writer for $t {
            fn consumed(&self) -> impl Future<Output = io::Result<()>> + Send {
                async { unreachable!("consumed mode is gopipe's only") }
            }
        }
    )*};
}
stream_only!(
    tokio::io::WriteHalf<tokio::io::SimplexStream>,
    tokio::io::DuplexStream,
    gopipe_benches::floor::FloorWriter
);

/// A kind of in-memory async pipe.
trait Kind: 'static {
    /// The read end.
    type R: AsyncRead + Unpin + Send + 'static;
    /// The write end.
    type W: Writer;
    /// The name in the report.
    const NAME: &'static str;
    /// A new pipe.
    fn pipe() -> (Self::R, Self::W);
}

/// gopipe's async halves.
struct Gopipe;

impl Kind for Gopipe {
    type R = gopipe::PipeReader;
    type W = gopipe::PipeWriter;
    const NAME: &'static str = "gopipe";
    fn pipe() -> (Self::R, Self::W) {
        gopipe::pipe()
    }
}

/// `tokio::io::simplex` with a 64 KiB buffer.
struct Simplex;

impl Kind for Simplex {
    type R = tokio::io::ReadHalf<tokio::io::SimplexStream>;
    type W = tokio::io::WriteHalf<tokio::io::SimplexStream>;
    const NAME: &'static str = "simplex";
    fn pipe() -> (Self::R, Self::W) {
        tokio::io::simplex(BUF)
    }
}

/// `tokio::io::duplex` with 64 KiB buffers, used one way.
struct Duplex;

impl Kind for Duplex {
    type R = tokio::io::DuplexStream;
    type W = tokio::io::DuplexStream;
    const NAME: &'static str = "duplex";
    fn pipe() -> (Self::R, Self::W) {
        let (w, r) = tokio::io::duplex(BUF);
        (r, w)
    }
}

/// The floor (`benches/floor.rs`): a bound on what any pipe can reach in
/// these shapes, not a peer.
struct Floor;

impl Kind for Floor {
    type R = gopipe_benches::floor::FloorReader;
    type W = gopipe_benches::floor::FloorWriter;
    const NAME: &'static str = "floor";
    fn pipe() -> (Self::R, Self::W) {
        gopipe_benches::floor::pipe()
    }
}

/// Whether writers wait for their readers after every write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `consumed().await` after every `write_all`: Go's `Write` semantics
    /// (it returns once the reader took the bytes), gopipe only.
    Consumed,
    /// Neither flush nor wait; `shutdown` at the end.
    Stream,
}

impl Mode {
    /// The suffix in the report.
    fn name(self) -> &'static str {
        match self {
            Mode::Consumed => "consumed",
            Mode::Stream => "stream",
        }
    }
}

/// Writes `data` `iters` times into `tx`, waiting after each until the
/// readers took it in [`Mode::Consumed`].
async fn write_n(tx: &mut impl Writer, data: &[u8], iters: u64, mode: Mode) {
    for _ in 0..iters {
        tx.write_all(data).await.expect("write");
        if mode == Mode::Consumed {
            tx.consumed().await.expect("consumed");
        }
    }
}

/// Writes `data` `iters` times into `tx`, with no wait: [`write_n`] in
/// [`Mode::Stream`], for the bridges' boxed write ends.
async fn write_stream(tx: &mut (impl AsyncWrite + Unpin), data: &[u8], iters: u64) {
    for _ in 0..iters {
        tx.write_all(data).await.expect("write");
    }
}

/// [`write_n`], then shuts `tx` down.
async fn source(tx: &mut impl Writer, data: &[u8], iters: u64, mode: Mode) {
    write_n(tx, data, iters, mode).await;
    tx.shutdown().await.expect("shutdown");
}

/// Reads the priming write (exactly `s` bytes, checked in full) that every
/// writer makes before the start, so that buffers a pipe allocates at first
/// use (gopipe's stage, the peers' buffers) are not in the time.
async fn prime(rx: &mut (impl AsyncRead + Unpin), buf: &mut [u8], (s, seed): (usize, usize)) {
    let mut got = 0;
    while got < s {
        let want = buf.len().min(s - got);
        let n = rx.read(&mut buf[..want]).await.expect("priming read");
        assert!(n > 0, "stream {seed}: early end in the priming write");
        check_read(&buf[..n], got, (s, seed), true);
        got += n;
    }
}

/// Reads `total` bytes of stream `seed` (writes of `s` bytes) from `rx` into
/// `buf`, checking them (see [`check_read`]) and publishing the count in
/// `progress`. Returns the moment the last byte arrived; then checks that the
/// stream ends there.
async fn drain(
    rx: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
    total: usize,
    shape: (usize, usize),
    check: bool,
    progress: &Progress,
) -> Instant {
    let mut got = 0;
    while got < total {
        let n = rx.read(buf).await.expect("read");
        assert!(n > 0, "early end of stream {} at {got} of {total}", shape.1);
        check_read(&buf[..n], got, shape, check);
        got += n;
        progress.0.store(got, Ordering::Relaxed);
    }
    let end = Instant::now();
    assert_eq!(
        rx.read(buf).await.expect("read at end"),
        0,
        "stream {}: bytes after the end",
        shape.1
    );
    end
}

/// The `async-pairs` shape: `p` independent pipes of kind `K`, each with a
/// writer task making `iters` writes of `s` bytes and a reader task. Returns
/// the wall time from the release of all tasks to the last reader's last byte.
fn pairs<K: Kind>(
    rt: &Runtime,
    p: usize,
    s: usize,
    iters: u64,
    mode: Mode,
    check: bool,
) -> Duration {
    let total = s * iters as usize;
    let progress: Arc<[Progress]> = (0..p).map(|_| Progress::default()).collect();
    let _watch = Watch::start(
        format!(
            "async-pairs {}-{} P={p} S={} iters={iters}",
            K::NAME,
            mode.name(),
            human(s)
        ),
        &progress,
    );
    let gate = Arc::new(Barrier::new(2 * p + 1));
    let mut writers = Vec::with_capacity(p);
    let mut readers = Vec::with_capacity(p);
    for seed in 0..p {
        let (mut rx, mut tx) = K::pipe();
        let data = payload(seed, s);
        let gate_w = Arc::clone(&gate);
        writers.push(rt.spawn(async move {
            write_n(&mut tx, &data, 1, mode).await;
            gate_w.wait().await;
            let start = Instant::now();
            source(&mut tx, &data, iters, mode).await;
            start
        }));
        let gate_r = Arc::clone(&gate);
        let progress = Arc::clone(&progress);
        readers.push(rt.spawn(async move {
            let mut buf = vec![0u8; s];
            prime(&mut rx, &mut buf, (s, seed)).await;
            gate_r.wait().await;
            let start = Instant::now();
            let end = drain(&mut rx, &mut buf, total, (s, seed), check, &progress[seed]).await;
            (start, end)
        }));
    }
    rt.block_on(async move {
        gate.wait().await;
        let mut first = None::<Instant>;
        let mut last = None::<Instant>;
        for h in writers {
            let start = h.await.expect("writer panicked");
            first = Some(first.map_or(start, |f| f.min(start)));
        }
        for h in readers {
            let (start, end) = h.await.expect("reader panicked");
            first = Some(first.map_or(start, |f| f.min(start)));
            last = Some(last.map_or(end, |l| l.max(end)));
        }
        last.expect("no reader") - first.expect("no task")
    })
}

/// The `async-chain` shape: `k` pipes of kind `K` in a row, a source task
/// writing `iters` writes of `s` bytes into the first, `k - 1` relay tasks and
/// a sink task reading the last. Returns the wall time from the release of
/// all tasks to the sink's last byte.
fn chain<K: Kind>(
    rt: &Runtime,
    k: usize,
    s: usize,
    iters: u64,
    mode: Mode,
    check: bool,
) -> Duration {
    assert!(k >= 1);
    let total = s * iters as usize;
    // Counter j: bytes read from pipe j (by relay j + 1, or by the sink).
    let progress: Arc<[Progress]> = (0..k).map(|_| Progress::default()).collect();
    let _watch = Watch::start(
        format!(
            "async-chain {}-{} K={k} S={} iters={iters}",
            K::NAME,
            mode.name(),
            human(s)
        ),
        &progress,
    );
    let (rxs, txs): (Vec<_>, Vec<_>) = (0..k).map(|_| K::pipe()).unzip();
    let mut rxs = rxs.into_iter();
    let mut txs = txs.into_iter();
    let gate = Arc::new(Barrier::new(k + 2));
    let mut tx = txs.next().expect("first pipe");
    let data = payload(0, s);
    let gate_s = Arc::clone(&gate);
    let source_task = rt.spawn(async move {
        write_n(&mut tx, &data, 1, mode).await;
        gate_s.wait().await;
        let start = Instant::now();
        source(&mut tx, &data, iters, mode).await;
        start
    });
    let mut relays = Vec::with_capacity(k - 1);
    for (j, mut tx) in txs.enumerate() {
        let mut rx = rxs.next().expect("pipe j");
        let progress = Arc::clone(&progress);
        let gate_r = Arc::clone(&gate);
        relays.push(rt.spawn(async move {
            let mut buf = vec![0u8; s];
            prime(&mut rx, &mut buf, (s, 0)).await;
            write_n(&mut tx, &buf, 1, mode).await;
            gate_r.wait().await;
            let start = Instant::now();
            let mut got = 0;
            loop {
                let n = rx.read(&mut buf).await.expect("relay read");
                if n == 0 {
                    break;
                }
                got += n;
                progress[j].0.store(got, Ordering::Relaxed);
                tx.write_all(&buf[..n]).await.expect("relay write");
                if mode == Mode::Consumed {
                    tx.consumed().await.expect("relay consumed");
                }
            }
            assert_eq!(got, total, "relay {}: wrong byte count", j + 1);
            tx.shutdown().await.expect("relay shutdown");
            start
        }));
    }
    let mut rx = rxs.next().expect("last pipe");
    let gate_k = Arc::clone(&gate);
    let progress_k = Arc::clone(&progress);
    let sink = rt.spawn(async move {
        let mut buf = vec![0u8; s];
        prime(&mut rx, &mut buf, (s, 0)).await;
        gate_k.wait().await;
        let start = Instant::now();
        let end = drain(&mut rx, &mut buf, total, (s, 0), check, &progress_k[k - 1]).await;
        (start, end)
    });
    rt.block_on(async move {
        gate.wait().await;
        let mut first = source_task.await.expect("source panicked");
        for h in relays {
            first = first.min(h.await.expect("relay panicked"));
        }
        let (start, end) = sink.await.expect("sink panicked");
        end - first.min(start)
    })
}

// ----------------------------------------------------------------- bridges

/// The thread sides of the bridges, kept apart from the async code so that
/// `std::io::{Read, Write}` and tokio's extension traits are never both in
/// scope.
mod blocking {
    use std::io::{Read, Write};
    use std::time::Instant;

    use super::{check_read, Progress};

    /// The blocking twin of `super::prime`.
    pub(super) fn prime(rx: &mut impl Read, buf: &mut [u8], s: usize) {
        let mut got = 0;
        while got < s {
            let want = buf.len().min(s - got);
            let n = rx.read(&mut buf[..want]).expect("priming read");
            assert!(n > 0, "early end in the priming write");
            check_read(&buf[..n], got, (s, 0), true);
            got += n;
        }
    }

    /// Writes `data` `iters` times into `tx`.
    pub(super) fn source(tx: &mut impl Write, data: &[u8], iters: u64) {
        for _ in 0..iters {
            tx.write_all(data).expect("write");
        }
    }

    /// Flushes `tx` (a `BufWriter`'s bytes into the pipe).
    pub(super) fn flush(tx: &mut impl Write) {
        tx.flush().expect("flush");
    }

    /// The blocking twin of `super::drain`.
    pub(super) fn drain(
        rx: &mut impl Read,
        buf: &mut [u8],
        total: usize,
        shape: (usize, usize),
        check: bool,
        progress: &Progress,
    ) -> Instant {
        let mut got = 0;
        while got < total {
            let n = rx.read(buf).expect("read");
            assert!(n > 0, "early end of stream at {got} of {total}");
            check_read(&buf[..n], got, shape, check);
            got += n;
            progress.0.store(got, std::sync::atomic::Ordering::Relaxed);
        }
        let end = Instant::now();
        assert_eq!(rx.read(buf).expect("read at end"), 0, "bytes after the end");
        end
    }
}

/// Which way a bridge goes, and over what.
#[derive(Clone, Copy)]
enum Bridge {
    /// A gopipe from a writer thread to a reader task.
    SyncToAsyncGopipe,
    /// The same, the thread writing through a 64 KiB `std::io::BufWriter`.
    SyncToAsyncGopipeBufWriter,
    /// duplex + SyncIoBridge from a writer thread to a reader task.
    SyncToAsyncDuplex,
    /// A gopipe from a writer task to a reader thread.
    AsyncToSyncGopipe,
    /// duplex + SyncIoBridge from a writer task to a reader thread.
    AsyncToSyncDuplex,
}

impl Bridge {
    /// Every bridge, in report order.
    const ALL: [Bridge; 5] = [
        Bridge::SyncToAsyncGopipe,
        Bridge::SyncToAsyncGopipeBufWriter,
        Bridge::SyncToAsyncDuplex,
        Bridge::AsyncToSyncGopipe,
        Bridge::AsyncToSyncDuplex,
    ];

    /// The name in the report.
    fn name(self) -> &'static str {
        match self {
            Bridge::SyncToAsyncGopipe => "s2a-gopipe",
            Bridge::SyncToAsyncGopipeBufWriter => "s2a-gopipe-bufwriter",
            Bridge::SyncToAsyncDuplex => "s2a-duplex-bridge",
            Bridge::AsyncToSyncGopipe => "a2s-gopipe",
            Bridge::AsyncToSyncDuplex => "a2s-duplex-bridge",
        }
    }
}

/// Waits at `gate` from a thread, through `handle`; returns the moment it
/// passed.
fn pass(gate: &Barrier, handle: &tokio::runtime::Handle) -> Instant {
    handle.block_on(gate.wait());
    Instant::now()
}

/// Moves `iters` writes of `s` bytes across bridge `b` (reader buffer 64 KiB),
/// after one priming write outside the time; returns the wall time from the
/// release of both sides to the reader's last byte.
fn bridge(rt: &Runtime, b: Bridge, s: usize, iters: u64, check: bool) -> Duration {
    use tokio_util::io::SyncIoBridge;
    let total = s * iters as usize;
    let progress: Arc<[Progress]> = Arc::new([Progress::default()]);
    let _watch = Watch::start(
        format!("async-bridge {} S={} iters={iters}", b.name(), human(s)),
        &progress,
    );
    let data = Arc::new(payload(0, s));
    let shape = (s, 0);
    let gate = Arc::new(Barrier::new(2));
    let handle = rt.handle().clone();
    let (gate_t, gate_r, gate_w) = (Arc::clone(&gate), Arc::clone(&gate), gate);
    let (data_t, data_w) = (Arc::clone(&data), data);
    let (progress_t, progress_r) = (Arc::clone(&progress), Arc::clone(&progress));
    // The reader task of s2a: primes, passes the gate, drains.
    let reader_task = |mut rx: Box<dyn AsyncRead + Unpin + Send>| {
        rt.spawn(async move {
            let mut buf = vec![0u8; BUF];
            prime(&mut rx, &mut buf, shape).await;
            gate_r.wait().await;
            let start = Instant::now();
            let end = drain(&mut rx, &mut buf, total, shape, check, &progress_r[0]).await;
            (start, end)
        })
    };
    // The writer task of a2s: primes, passes the gate, writes, shuts down.
    let writer_task = |mut tx: Box<dyn AsyncWrite + Unpin + Send>| {
        rt.spawn(async move {
            write_stream(&mut tx, &data_w, 1).await;
            gate_w.wait().await;
            let start = Instant::now();
            write_stream(&mut tx, &data_w, iters).await;
            tx.shutdown().await.expect("shutdown");
            (start, start)
        })
    };
    let (thread_side, task): (Box<dyn FnOnce() -> (Instant, Instant) + Send>, _) = match b {
        Bridge::SyncToAsyncGopipe => {
            let (rx, mut tx) = gopipe::pipe();
            let t = move || {
                blocking::source(&mut tx, &data_t, 1);
                let start = pass(&gate_t, &handle);
                blocking::source(&mut tx, &data_t, iters);
                drop(tx);
                (start, start)
            };
            (Box::new(t), reader_task(Box::new(rx)))
        }
        Bridge::SyncToAsyncGopipeBufWriter => {
            let (rx, tx) = gopipe::pipe();
            let t = move || {
                let mut tx = std::io::BufWriter::with_capacity(BUF, tx);
                blocking::source(&mut tx, &data_t, 1);
                blocking::flush(&mut tx);
                let start = pass(&gate_t, &handle);
                blocking::source(&mut tx, &data_t, iters);
                // Flushes what is left, then closes the pipe.
                drop(tx.into_inner().expect("flush at the end"));
                (start, start)
            };
            (Box::new(t), reader_task(Box::new(rx)))
        }
        Bridge::SyncToAsyncDuplex => {
            let (tx, rx) = tokio::io::duplex(BUF);
            let t = move || {
                let mut tx = SyncIoBridge::new_with_handle(tx, handle.clone());
                blocking::source(&mut tx, &data_t, 1);
                let start = pass(&gate_t, &handle);
                blocking::source(&mut tx, &data_t, iters);
                tx.shutdown().expect("shutdown");
                (start, start)
            };
            (Box::new(t), reader_task(Box::new(rx)))
        }
        Bridge::AsyncToSyncGopipe => {
            let (mut rx, tx) = gopipe::pipe();
            let t = move || {
                let mut buf = vec![0u8; BUF];
                blocking::prime(&mut rx, &mut buf, s);
                let start = pass(&gate_t, &handle);
                let end = blocking::drain(&mut rx, &mut buf, total, shape, check, &progress_t[0]);
                (start, end)
            };
            (Box::new(t), writer_task(Box::new(tx)))
        }
        Bridge::AsyncToSyncDuplex => {
            let (tx, rx) = tokio::io::duplex(BUF);
            let t = move || {
                let mut rx = SyncIoBridge::new_with_handle(rx, handle.clone());
                let mut buf = vec![0u8; BUF];
                blocking::prime(&mut rx, &mut buf, s);
                let start = pass(&gate_t, &handle);
                let end = blocking::drain(&mut rx, &mut buf, total, shape, check, &progress_t[0]);
                (start, end)
            };
            (Box::new(t), writer_task(Box::new(tx)))
        }
    };
    let (t_start, t_end) = thread::spawn(thread_side)
        .join()
        .expect("thread side panicked");
    let (a_start, a_end) = rt.block_on(task).expect("task side panicked");
    // The reader's end: the task's for s2a, the thread's for a2s.
    let end = match b {
        Bridge::SyncToAsyncGopipe
        | Bridge::SyncToAsyncGopipeBufWriter
        | Bridge::SyncToAsyncDuplex => a_end,
        Bridge::AsyncToSyncGopipe | Bridge::AsyncToSyncDuplex => t_end,
    };
    end - t_start.min(a_start)
}

/// The yardstick: one thread copying `iters` writes of `s` bytes through a
/// 64 KiB buffer.
fn memcpy(s: usize, iters: u64) -> Duration {
    let data = payload(0, s);
    let mut buf = vec![0u8; BUF];
    let start = Instant::now();
    for _ in 0..iters {
        for chunk in data.chunks(BUF) {
            buf[..chunk.len()].copy_from_slice(chunk);
            std::hint::black_box(&mut buf);
        }
    }
    start.elapsed()
}

// --------------------------------------------------------------- criterion

/// Criterion settings (warm-up, measurement, samples): full, or quick when
/// `GOPIPE_BENCH_QUICK` is set.
fn configured() -> (Duration, Duration, usize) {
    if std::env::var_os("GOPIPE_BENCH_QUICK").is_some() {
        (Duration::from_millis(300), Duration::from_millis(1500), 10)
    } else {
        (Duration::from_secs(1), Duration::from_secs(4), 20)
    }
}

/// The runtime of the main task shapes and the bridges: multi-thread, 2
/// workers.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// The runtime of the `-ct` groups: one thread, every task on it.
fn runtime_ct() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("current_thread runtime")
}

/// A group with the configured times. Flat sampling: one iteration of the
/// larger shapes takes milliseconds, and criterion's linear sampling would
/// then run far past the measurement time.
fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples)
        .sampling_mode(SamplingMode::Flat);
    group
}

/// One task shape for one kind: (runtime, P or K, S, writes per source, mode,
/// check every byte) to the wall time of the run.
type ShapeFn = fn(&Runtime, usize, usize, u64, Mode, bool) -> Duration;

/// The kinds and modes of the task shapes: gopipe in both modes (streaming
/// only when `consumed` is false), the peers and the floor in stream mode
/// only (they have no `consumed`).
fn variants(pairs_shape: bool, consumed: bool) -> Vec<(String, ShapeFn, Mode)> {
    let pick = |g: ShapeFn, c: ShapeFn| if pairs_shape { g } else { c };
    let mut v = Vec::with_capacity(5);
    if consumed {
        v.push((
            format!("{}-{}", Gopipe::NAME, Mode::Consumed.name()),
            pick(pairs::<Gopipe>, chain::<Gopipe>),
            Mode::Consumed,
        ));
    }
    v.push((
        format!("{}-{}", Gopipe::NAME, Mode::Stream.name()),
        pick(pairs::<Gopipe>, chain::<Gopipe>),
        Mode::Stream,
    ));
    v.push((
        Simplex::NAME.to_string(),
        pick(pairs::<Simplex>, chain::<Simplex>),
        Mode::Stream,
    ));
    v.push((
        Duplex::NAME.to_string(),
        pick(pairs::<Duplex>, chain::<Duplex>),
        Mode::Stream,
    ));
    v.push((
        Floor::NAME.to_string(),
        pick(pairs::<Floor>, chain::<Floor>),
        Mode::Stream,
    ));
    v
}

/// Benches one task shape (`pairs_shape`: pairs, else chains) in group
/// `name` on `rt`, at every size in [`SIZES`] and every count in `counts`:
/// every variant, each checked in full once before it is measured.
fn shape_group(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    pairs_shape: bool,
    counts: &[usize],
    consumed: bool,
) {
    let mut group = group(c, name);
    for s in SIZES {
        for &n in counts {
            let bytes = if pairs_shape { n * s } else { s };
            group.throughput(Throughput::Bytes(bytes as u64));
            for (id, run, mode) in variants(pairs_shape, consumed) {
                run(rt, n, s, CHECK_WRITES, mode, true);
                group.bench_function(BenchmarkId::new(format!("{id}/{}", human(s)), n), |b| {
                    b.iter_custom(|iters| run(rt, n, s, iters, mode, false))
                });
            }
        }
    }
    group.finish();
}

/// The `async-pairs` group: P independent pairs at every size, every variant,
/// on the 2-worker runtime.
fn pairs_group(c: &mut Criterion) {
    shape_group(c, &runtime(), "async-pairs", true, &PAIRS, true);
}

/// The `async-chain` group: K pipes in a row at every size, every variant, on
/// the 2-worker runtime.
fn chain_group(c: &mut Criterion) {
    shape_group(c, &runtime(), "async-chain", false, &CHAINS, true);
}

/// The `async-pairs-ct` group: [`PAIRS_CT`] pairs, streaming, on a
/// current_thread runtime.
fn pairs_ct_group(c: &mut Criterion) {
    shape_group(c, &runtime_ct(), "async-pairs-ct", true, &PAIRS_CT, false);
}

/// The `async-chain-ct` group: chains of [`CHAINS_CT`] pipes, streaming, on a
/// current_thread runtime.
fn chain_ct_group(c: &mut Criterion) {
    shape_group(c, &runtime_ct(), "async-chain-ct", false, &CHAINS_CT, false);
}

/// The `async-bridge` group: both bridges over gopipe and over duplex +
/// SyncIoBridge, and memcpy, at every bridge size.
fn bridge_group(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "async-bridge");
    for s in BRIDGE_SIZES {
        group.throughput(Throughput::Bytes(s as u64));
        for b in Bridge::ALL {
            bridge(&rt, b, s, CHECK_WRITES, true);
            group.bench_function(BenchmarkId::new(b.name(), human(s)), |bch| {
                bch.iter_custom(|iters| bridge(&rt, b, s, iters, false))
            });
        }
        group.bench_function(BenchmarkId::new("memcpy", human(s)), |bch| {
            bch.iter_custom(|iters| memcpy(s, iters))
        });
    }
    group.finish();
}

/// Criterion's entry points (the macro's function has no docs of its own).
mod entry {
    #![allow(missing_docs)]
    use super::{bridge_group, chain_ct_group, chain_group, pairs_ct_group, pairs_group};
    criterion::criterion_group!(
        benches,
        pairs_group,
        chain_group,
        pairs_ct_group,
        chain_ct_group,
        bridge_group
    );
}

criterion_main!(entry::benches);
