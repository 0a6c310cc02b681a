//! Throughput of gopipe against every pipe a Rust user might pick instead.
//!
//! One writer thread writes `iters` writes of `S` bytes; one reader thread reads
//! them with a buffer of `R` bytes. Criterion reports the time per write and the
//! throughput in bytes. Every case first moves a short stream whose bytes are
//! checked in full (outside the measurement); the measured runs check the byte
//! count and one byte of every read.
//!
//! Groups:
//! - `S/R` (for example `1KiB/1KiB`): every case on the same grid;
//! - `cross-core`: one cache-line round trip between two threads, the floor of
//!   any synchronous hand-off on this machine at this moment;
//! - `one-core`: gopipe and a park/unpark round trip with both threads pinned
//!   to one core (Linux only), where spinning must not collapse.
//!
//! Run: `cargo bench -p gopipe-benches --bench pipe` (or with a filter: `-- 1KiB/`). The quick
//! profile used by `benches/compare.sh`: `GOPIPE_BENCH_QUICK=1`.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
#[cfg(target_os = "linux")]
use gopipe_benches::pin_to_core0;
use gopipe_benches::{human, timed};

/// Write sizes of the grid.
const SIZES: [usize; 5] = [64, 1 << 10, 16 << 10, 64 << 10, 1 << 20];

/// The byte at position `i` of the stream.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// One write's worth of the stream, starting at stream position 0 (every write
/// of size `s` carries the same bytes, so the reader can check any read).
fn payload(s: usize) -> Vec<u8> {
    (0..s).map(pattern).collect()
}

/// A way of moving bytes from a writer thread to a reader thread.
trait Case: Sync {
    /// The case's name in the report.
    fn name(&self) -> &'static str;
    /// Moves `iters` writes of `s` bytes, read with an `r`-byte buffer, and
    /// returns how long it took. When `check`, every byte is verified.
    fn run(&self, iters: u64, s: usize, r: usize, check: bool) -> Duration;
}

/// The reader side shared by every `Read`-shaped case: reads `total` bytes with
/// an `r`-byte buffer; checks every byte when `check`, else one byte per read.
fn drain(mut src: impl Read, total: usize, s: usize, r: usize, check: bool) {
    let mut buf = vec![0u8; r];
    let mut got = 0;
    while got < total {
        let n = src.read(&mut buf).expect("read");
        assert!(n > 0, "early end of stream at {got} of {total}");
        if check {
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, pattern((got + k) % s), "byte {} wrong", got + k);
            }
        } else {
            assert_eq!(buf[0], pattern(got % s), "byte {got} wrong");
        }
        got += n;
    }
    assert_eq!(got, total);
}

/// A `Read`/`Write` pair made by a function.
struct Stream<W, R> {
    /// Report name.
    name: &'static str,
    /// Makes a fresh pair.
    make: fn() -> (R, W),
}

impl<W: Write + Send, R: Read + Send> Case for Stream<W, R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&self, iters: u64, s: usize, r: usize, check: bool) -> Duration {
        let (rx, mut tx) = (self.make)();
        let data = payload(s);
        let total = s * iters as usize;
        timed(
            move || {
                for _ in 0..iters {
                    tx.write_all(&data).expect("write");
                }
                drop(tx);
            },
            move || drain(rx, total, s, r, check),
        )
    }
}

/// The sending side of a channel case.
type SendFn = Box<dyn FnMut(Vec<u8>) + Send>;
/// The receiving side of a channel case; `None` at the end.
type RecvFn = Box<dyn FnMut() -> Option<Vec<u8>> + Send>;

/// A channel of `Vec<u8>`: each write is copied into a new vector, and the
/// reader copies out of it through an `r`-byte buffer as a `Read` would.
struct VecChannel {
    /// Report name.
    name: &'static str,
    /// Makes a fresh channel as a send function and a receive function.
    make: fn() -> (SendFn, RecvFn),
}

/// Adapts a receive function to `Read`.
struct ChunkReader {
    /// Receives the next chunk, `None` at the end.
    recv: RecvFn,
    /// The chunk being read.
    chunk: Vec<u8>,
    /// How much of `chunk` was read.
    pos: usize,
}

impl Read for ChunkReader {
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

impl Case for VecChannel {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&self, iters: u64, s: usize, r: usize, check: bool) -> Duration {
        let (mut send, recv) = (self.make)();
        let data = payload(s);
        let total = s * iters as usize;
        let reader = ChunkReader {
            recv,
            chunk: Vec::new(),
            pos: 0,
        };
        timed(
            move || {
                for _ in 0..iters {
                    send(data.to_vec());
                }
            },
            move || drain(reader, total, s, r, check),
        )
    }
}

/// The limit: one thread copying the same bytes through an `r`-byte buffer.
struct Memcpy;

impl Case for Memcpy {
    fn name(&self) -> &'static str {
        "memcpy"
    }

    fn run(&self, iters: u64, s: usize, r: usize, check: bool) -> Duration {
        let data = payload(s);
        let mut buf = vec![0u8; r];
        let start = Instant::now();
        for _ in 0..iters {
            for chunk in data.chunks(r) {
                buf[..chunk.len()].copy_from_slice(chunk);
                std::hint::black_box(&mut buf);
            }
        }
        let elapsed = start.elapsed();
        if check {
            assert_eq!(buf[0], pattern(((s - 1) / r) * r));
        }
        elapsed
    }
}

/// A `std::sync::mpsc` channel of vectors, `bound` slots (or unbounded).
fn mpsc_case(bound: Option<usize>) -> (SendFn, RecvFn) {
    match bound {
        Some(n) => {
            let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(n);
            (
                Box::new(move |v| tx.send(v).expect("send")),
                Box::new(move || rx.recv().ok()),
            )
        }
        None => {
            let (tx, rx) = mpsc::channel::<Vec<u8>>();
            (
                Box::new(move |v| tx.send(v).expect("send")),
                Box::new(move || rx.recv().ok()),
            )
        }
    }
}

/// Every case of the grid.
fn cases() -> Vec<Box<dyn Case>> {
    vec![
        Box::new(Stream {
            name: "gopipe",
            make: gopipe::pipe,
        }),
        Box::new(VecChannel {
            name: "mpsc-sync_channel(0)",
            make: || mpsc_case(Some(0)),
        }),
        Box::new(VecChannel {
            name: "mpsc-channel",
            make: || mpsc_case(None),
        }),
        Box::new(VecChannel {
            name: "crossbeam-bounded(0)",
            make: || {
                let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(0);
                (
                    Box::new(move |v| tx.send(v).expect("send")),
                    Box::new(move || rx.recv().ok()),
                )
            },
        }),
        Box::new(Stream {
            name: "std-io-pipe",
            make: || std::io::pipe().expect("os pipe"),
        }),
        Box::new(Stream {
            name: "pipe-crate",
            make: pipe::pipe,
        }),
        Box::new(Memcpy),
    ]
}

/// Criterion settings: full, or quick when `GOPIPE_BENCH_QUICK` is set.
fn configured() -> (Duration, Duration, usize) {
    if std::env::var_os("GOPIPE_BENCH_QUICK").is_some() {
        (Duration::from_millis(300), Duration::from_secs(1), 10)
    } else {
        (Duration::from_millis(500), Duration::from_secs(3), 20)
    }
}

/// The grid: every case at every write size and read buffer.
fn grid(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let cases = cases();
    for s in SIZES {
        let mut reads = vec![s.min(64 << 10), 8 << 10];
        reads.dedup();
        for r in reads {
            let mut group = c.benchmark_group(format!("{}/{}", human(s), human(r)));
            group
                .throughput(Throughput::Bytes(s as u64))
                .warm_up_time(warm)
                .measurement_time(measure)
                .sample_size(samples);
            for case in &cases {
                // Check the whole stream once before measuring.
                case.run(4, s, r, true);
                group.bench_function(BenchmarkId::from_parameter(case.name()), |b| {
                    b.iter_custom(|iters| case.run(iters, s, r, false))
                });
            }
            group.finish();
        }
    }
}

/// Both threads on one core: gopipe at 64 B and 1 KiB, against the cost of a
/// park/unpark round trip between the same two threads.
#[cfg(target_os = "linux")]
fn one_core(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group("one-core");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples);
    for s in [64usize, 1 << 10] {
        group.bench_function(BenchmarkId::new("gopipe", human(s)), |b| {
            b.iter_custom(|iters| {
                let (rx, mut tx) = gopipe::pipe();
                let data = payload(s);
                let total = s * iters as usize;
                timed(
                    move || {
                        pin_to_core0();
                        for _ in 0..iters {
                            tx.write_all(&data).expect("write");
                        }
                    },
                    move || {
                        pin_to_core0();
                        drain(rx, total, s, s, false)
                    },
                )
            })
        });
    }
    group.bench_function("park-unpark-roundtrip", |b| {
        b.iter_custom(|iters| {
            use std::sync::atomic::{AtomicU64, Ordering};
            let turn = AtomicU64::new(0);
            let pinger = thread::current();
            thread::scope(|scope| {
                let turn = &turn;
                pin_to_core0();
                let handle = scope.spawn(move || {
                    pin_to_core0();
                    for i in 0..iters {
                        while turn.load(Ordering::Acquire) != 2 * i + 1 {
                            thread::park();
                        }
                        turn.store(2 * i + 2, Ordering::Release);
                        pinger.unpark();
                    }
                });
                let other = handle.thread().clone();
                let start = Instant::now();
                for i in 0..iters {
                    turn.store(2 * i + 1, Ordering::Release);
                    other.unpark();
                    while turn.load(Ordering::Acquire) != 2 * i + 2 {
                        thread::park();
                    }
                }
                let elapsed = start.elapsed();
                handle.join().expect("ponger panicked");
                elapsed
            })
        })
    });
    group.finish();
}

#[cfg(not(target_os = "linux"))]
fn one_core(_: &mut Criterion) {}

/// The hardware's floor for any hand-off between two threads on two cores: one
/// round trip of a cache line (two threads taking turns on one atomic). A
/// synchronous pipe needs at least one per write, so this is the yardstick for
/// small writes. On a virtual machine it changes with where the host places the
/// two vCPUs, so it is measured in the same run as everything else.
fn cross_core(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group("cross-core");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples);
    group.bench_function("atomic-roundtrip", |b| {
        b.iter_custom(|iters| {
            use std::sync::atomic::{AtomicU64, Ordering};
            let turn = AtomicU64::new(0);
            let turn = &turn;
            timed(
                || {
                    for i in 0..iters {
                        turn.store(2 * i + 1, Ordering::Release);
                        while turn.load(Ordering::Acquire) != 2 * i + 2 {
                            std::hint::spin_loop();
                        }
                    }
                },
                || {
                    for i in 0..iters {
                        while turn.load(Ordering::Acquire) != 2 * i + 1 {
                            std::hint::spin_loop();
                        }
                        turn.store(2 * i + 2, Ordering::Release);
                    }
                },
            )
        })
    });
    group.finish();
}

/// Criterion's entry points (the macro's function has no docs of its own).
mod entry {
    #![allow(missing_docs)]
    use super::{cross_core, grid, one_core};
    criterion::criterion_group!(benches, cross_core, grid, one_core);
}

criterion_main!(entry::benches);
