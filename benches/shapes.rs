//! Shapes where pipes outnumber cores: many gopipes at once, each with its own
//! threads, so that the threads have to take turns on the cores.
//!
//! `benches/pipe.rs` measures one writer and one reader on two idle cores. The
//! shapes here are the ones where waiting sides cannot simply spin until the
//! other side turns up, because the other side is not running:
//!
//! - `pairs/S/P`: P independent pipes (P in 1, 8, 64), each with one writer
//!   thread and one reader thread (reader buffer = S bytes); every writer makes
//!   `iters` writes of S bytes (S in 1 KiB, 64 KiB), all P pairs at once;
//! - `chain/S/K`: K pipes in a row (K in 2, 8, 64): a source thread writes into
//!   pipe 1, K-1 relay threads each read pipe i with an S-byte buffer and
//!   `write_all` what they read into pipe i+1, and a sink thread reads pipe K;
//! - `pinned/gopipe/S` (Linux only): `pairs` with P = 1 and both threads pinned
//!   to core 0, at 1 KiB and 64 KiB, beside `pinned/park-unpark-roundtrip`, a
//!   park/unpark round trip between two threads on core 0, the yardstick of a
//!   hand-off that has to go through the scheduler.
//!
//! Every case reports the time per write of one source: wall time from the
//! moment all threads are released together until the last reader (or the
//! sink) has its last byte, divided by `iters`. Threads are created before the
//! start and joined after it, outside the time. Criterion's throughput is the
//! bytes moved per iteration (P × S for `pairs`, S for `chain`).
//!
//! Every case first moves a short stream whose bytes are all checked (outside
//! the measurement); measured runs check one byte of every read, the total, and
//! the end of the stream. Each pair uses a pattern of its own, so bytes that
//! cross from one pipe into another are caught too. A watchdog ends the process
//! (exit code 3, naming the case and how far every reader got) when no reader
//! has moved for `GOPIPE_BENCH_STALL_SECS` seconds (default 60), so a lost
//! wake-up shows as a report rather than as a bench that never ends.
//!
//! Run: `cargo bench -p gopipe-benches --bench shapes` (or with a filter, e.g.
//! `-- pairs/1KiB/`). Quick profile: `GOPIPE_BENCH_QUICK=1`. Beside Go's
//! `io.Pipe` in the same shapes: `benches/compare_shapes.sh [--quick]`.

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
#[cfg(target_os = "linux")]
use gopipe_benches::pin_to_core0;
use gopipe_benches::{human, Progress, Watch};

/// Write sizes (and reader buffers) of every shape.
const SIZES: [usize; 2] = [1 << 10, 64 << 10];
/// Numbers of independent pairs.
const PAIRS: [usize; 3] = [1, 8, 64];
/// Lengths of the chains, in pipes.
const CHAINS: [usize; 3] = [2, 8, 64];
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

/// Pins the calling thread to core 0 when `pin` (Linux only; elsewhere the
/// pinned cases are not built).
fn pin_if(pin: bool) {
    #[cfg(target_os = "linux")]
    if pin {
        pin_to_core0();
    }
    #[cfg(not(target_os = "linux"))]
    assert!(!pin, "pinning is implemented on Linux only");
}

/// Reads `total` bytes of stream `seed` (writes of `s` bytes) from `src` into
/// `buf`, checking every byte when `check`, else the first byte of every read,
/// and publishing the count in `progress`. Returns the moment the last byte
/// arrived; then checks that the stream ends there.
fn drain(
    src: &mut impl Read,
    buf: &mut [u8],
    total: usize,
    (s, seed): (usize, usize),
    check: bool,
    progress: &Progress,
) -> Instant {
    let mut got = 0;
    while got < total {
        let n = src.read(buf).expect("read");
        assert!(n > 0, "early end of stream {seed} at {got} of {total}");
        if check {
            for (k, &b) in buf[..n].iter().enumerate() {
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
        got += n;
        progress.0.store(got, Ordering::Relaxed);
    }
    let end = Instant::now();
    assert_eq!(got, total, "stream {seed}: read past the end");
    assert_eq!(
        src.read(buf).expect("read at end"),
        0,
        "stream {seed}: bytes after the end"
    );
    end
}

/// The `pairs` shape: `p` independent pipes, each with its own writer and
/// reader thread, every writer making `iters` writes of `s` bytes; both threads
/// of every pair on core 0 when `pin`. Returns the wall time from the release
/// of all threads to the last reader's last byte.
fn pairs(p: usize, s: usize, iters: u64, check: bool, pin: bool) -> Duration {
    let total = s * iters as usize;
    let progress: Arc<[Progress]> = (0..p).map(|_| Progress::default()).collect();
    let _watch = Watch::start(
        format!(
            "pairs P={p} S={} iters={iters}{}",
            human(s),
            if pin { " pinned" } else { "" }
        ),
        &progress,
    );
    let ready = Barrier::new(2 * p);
    thread::scope(|scope| {
        let mut writers = Vec::with_capacity(p);
        let mut readers = Vec::with_capacity(p);
        for (seed, progress) in progress.iter().enumerate() {
            let (mut rx, mut tx) = gopipe::pipe();
            let data = payload(seed, s);
            let mut buf = vec![0u8; s];
            let ready = &ready;
            writers.push(scope.spawn(move || {
                pin_if(pin);
                ready.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    tx.write_all(&data).expect("write");
                }
                drop(tx);
                start
            }));
            readers.push(scope.spawn(move || {
                pin_if(pin);
                ready.wait();
                let start = Instant::now();
                let end = drain(&mut rx, &mut buf, total, (s, seed), check, progress);
                (start, end)
            }));
        }
        let mut first = None::<Instant>;
        let mut last = None::<Instant>;
        for h in writers {
            let start = h.join().expect("writer panicked");
            first = Some(first.map_or(start, |f| f.min(start)));
        }
        for h in readers {
            let (start, end) = h.join().expect("reader panicked");
            first = Some(first.map_or(start, |f| f.min(start)));
            last = Some(last.map_or(end, |l| l.max(end)));
        }
        last.expect("no reader") - first.expect("no thread")
    })
}

/// The `chain` shape: `k` pipes in a row, a source writing `iters` writes of
/// `s` bytes into the first, `k - 1` relays, and a sink reading the last.
/// Returns the wall time from the release of all threads to the sink's last
/// byte.
fn chain(k: usize, s: usize, iters: u64, check: bool) -> Duration {
    assert!(k >= 1);
    let total = s * iters as usize;
    // Counter j: bytes read from pipe j (by relay j + 1, or by the sink for the last).
    let progress: Arc<[Progress]> = (0..k).map(|_| Progress::default()).collect();
    let _watch = Watch::start(
        format!("chain K={k} S={} iters={iters}", human(s)),
        &progress,
    );
    let (rxs, txs): (Vec<_>, Vec<_>) = (0..k).map(|_| gopipe::pipe()).unzip();
    let mut rxs = rxs.into_iter();
    let mut txs = txs.into_iter();
    let ready = Barrier::new(k + 1);
    thread::scope(|scope| {
        let ready = &ready;
        let mut tx = txs.next().expect("first pipe");
        let data = payload(0, s);
        let source = scope.spawn(move || {
            ready.wait();
            let start = Instant::now();
            for _ in 0..iters {
                tx.write_all(&data).expect("source write");
            }
            drop(tx);
            start
        });
        let mut relays = Vec::with_capacity(k - 1);
        for (j, mut tx) in txs.enumerate() {
            let mut rx = rxs.next().expect("pipe j");
            let progress = &progress[j];
            let mut buf = vec![0u8; s];
            relays.push(scope.spawn(move || {
                ready.wait();
                let start = Instant::now();
                let mut got = 0;
                loop {
                    let n = rx.read(&mut buf).expect("relay read");
                    if n == 0 {
                        break;
                    }
                    got += n;
                    progress.0.store(got, Ordering::Relaxed);
                    tx.write_all(&buf[..n]).expect("relay write");
                }
                assert_eq!(got, total, "relay {}: wrong byte count", j + 1);
                drop(tx);
                start
            }));
        }
        let mut rx = rxs.next().expect("last pipe");
        let progress = &progress[k - 1];
        let mut buf = vec![0u8; s];
        let sink = scope.spawn(move || {
            ready.wait();
            let start = Instant::now();
            let end = drain(&mut rx, &mut buf, total, (s, 0), check, progress);
            (start, end)
        });
        let mut first = source.join().expect("source panicked");
        for h in relays {
            first = first.min(h.join().expect("relay panicked"));
        }
        let (start, end) = sink.join().expect("sink panicked");
        end - first.min(start)
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

/// The `pairs` group: P independent pairs at every size.
fn pairs_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group("pairs");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples);
    for s in SIZES {
        for p in PAIRS {
            pairs(p, s, CHECK_WRITES, true, false);
            group.throughput(Throughput::Bytes((p * s) as u64));
            group.bench_function(BenchmarkId::new(human(s), p), |b| {
                b.iter_custom(|iters| pairs(p, s, iters, false, false))
            });
        }
    }
    group.finish();
}

/// The `chain` group: K pipes in a row at every size.
fn chain_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group("chain");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples);
    for s in SIZES {
        for k in CHAINS {
            chain(k, s, CHECK_WRITES, true);
            group.throughput(Throughput::Bytes(s as u64));
            group.bench_function(BenchmarkId::new(human(s), k), |b| {
                b.iter_custom(|iters| chain(k, s, iters, false))
            });
        }
    }
    group.finish();
}

/// A park/unpark round trip between two threads pinned to core 0, `iters`
/// times; both threads are spawned here (the bench's own thread stays
/// unpinned). Returns the time from the release of both threads until the
/// last round trip is back.
#[cfg(target_os = "linux")]
fn park_unpark(iters: u64) -> Duration {
    use std::sync::atomic::AtomicU64;
    let turn = AtomicU64::new(0);
    let ready = Barrier::new(2);
    // The pinger's handle, for the ponger to unpark it.
    let pinger = OnceLock::<thread::Thread>::new();
    thread::scope(|scope| {
        let (turn, ready, pinger) = (&turn, &ready, &pinger);
        let ponger = scope.spawn(move || {
            pin_to_core0();
            ready.wait();
            let pinger = pinger.wait();
            for i in 0..iters {
                while turn.load(Ordering::Acquire) != 2 * i + 1 {
                    thread::park();
                }
                turn.store(2 * i + 2, Ordering::Release);
                pinger.unpark();
            }
        });
        let other = ponger.thread().clone();
        let ping = scope.spawn(move || {
            pin_to_core0();
            pinger.set(thread::current()).expect("pinger set twice");
            ready.wait();
            let start = Instant::now();
            for i in 0..iters {
                turn.store(2 * i + 1, Ordering::Release);
                other.unpark();
                while turn.load(Ordering::Acquire) != 2 * i + 2 {
                    thread::park();
                }
            }
            start.elapsed()
        });
        let elapsed = ping.join().expect("pinger panicked");
        ponger.join().expect("ponger panicked");
        elapsed
    })
}

/// The `pinned` group: one pair with both threads on core 0 at every size, and
/// the park/unpark round trip on core 0 as the yardstick.
#[cfg(target_os = "linux")]
fn pinned_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group("pinned");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples);
    for s in SIZES {
        pairs(1, s, CHECK_WRITES, true, true);
        group.throughput(Throughput::Bytes(s as u64));
        group.bench_function(BenchmarkId::new("gopipe", human(s)), |b| {
            b.iter_custom(|iters| pairs(1, s, iters, false, true))
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("park-unpark-roundtrip", |b| b.iter_custom(park_unpark));
    group.finish();
}

/// Not built off Linux: pinning is implemented there only.
#[cfg(not(target_os = "linux"))]
fn pinned_group(_: &mut Criterion) {}

/// Criterion's entry points (the macro's function has no docs of its own).
mod entry {
    #![allow(missing_docs)]
    use super::{chain_group, pairs_group, pinned_group};
    criterion::criterion_group!(benches, pairs_group, chain_group, pinned_group);
}

criterion_main!(entry::benches);
