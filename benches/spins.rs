//! What the async polls' spins for a thread cost where no thread will answer
//! (issue 24): single polls, timed one by one, on a pipe whose other side is
//! a thread that is not coming (the bench thread itself, or one that read or
//! wrote once and then sits idle). No runtime: every poll is made by hand
//! with a no-op waker.
//!
//! Group `spins`:
//!
//! - `room/65535B` and `room/128KiB`: a task write of 65,535 bytes, and one of
//!   128 KiB (which takes a prefix of whatever room there is: 65,535 bytes
//!   here), with one byte staged, just after a thread read (the bench thread
//!   empties the stage with `Read::read` before every write, so the pipe has
//!   seen a thread reader). Neither needs more room than there is, so
//!   neither should wait for any.
//! - `lend/4096B-idle-thread`, `lend/4097B-idle-thread` and
//!   `lend/4097B-no-thread`: a task write of 4,096 or 4,097 bytes into an
//!   empty stage, after one read by a thread that then sits idle (blocked on
//!   a channel until the case ends), or on a pipe no thread ever read. Writes
//!   over 4 KiB may wait a moment for a thread reader's lent buffer; an idle
//!   thread lends none. Between two writes the bench thread empties the stage
//!   with a draining read (`read_vectored` into two buffers), which leaves the
//!   pipe's spin hints as they are: the only read the hints saw is the idle
//!   thread's (the `no-thread` case drains the same way).
//! - `read-pending/idle-thread` and `read-pending/no-thread`: a task read of
//!   an empty pipe (`Pending`), after one write by a thread that then sits
//!   idle, or on a pipe no thread ever wrote.
//!
//! Each iteration times the one poll only (its setup is outside the time), in
//! ns per poll.
//!
//! Run: `cargo bench -p gopipe-benches --bench spins` (quick profile:
//! `GOPIPE_BENCH_QUICK=1`).

use std::io::{IoSliceMut, Read, Write};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The largest write the pipe stages whole (gopipe's stage).
const STAGE_CAP: usize = 64 << 10;

/// Criterion settings (warm-up, measurement, samples): full, or quick when
/// `GOPIPE_BENCH_QUICK` is set.
fn configured() -> (Duration, Duration, usize) {
    if std::env::var_os("GOPIPE_BENCH_QUICK").is_some() {
        (Duration::from_millis(300), Duration::from_millis(1500), 20)
    } else {
        (Duration::from_secs(1), Duration::from_secs(4), 50)
    }
}

/// Polls one task write of `bytes` through `w`; returns what it accepted
/// (the bench expects every write here to be ready).
fn poll_write(w: &gopipe::PipeWriter, bytes: &[u8]) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut &*w).poll_write(&mut cx, bytes) {
        Poll::Ready(Ok(n)) => n,
        other => panic!("a task write of {} bytes: {other:?}", bytes.len()),
    }
}

/// Polls one task read through `r` into `buf`: the count, or `None` if
/// pending.
fn poll_read(r: &gopipe::PipeReader, buf: &mut [u8]) -> Option<usize> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut rb = ReadBuf::new(buf);
    match Pin::new(&mut &*r).poll_read(&mut cx, &mut rb) {
        Poll::Ready(Ok(())) => Some(rb.filled().len()),
        Poll::Ready(Err(e)) => panic!("a task read: {e}"),
        Poll::Pending => None,
    }
}

/// Takes `n` staged bytes out with a thread's plain reads (which tell the
/// pipe that a thread reads it).
fn thread_read(r: &gopipe::PipeReader, buf: &mut [u8], mut n: usize) {
    while n > 0 {
        let got = (&*r).read(buf).expect("thread read");
        assert!(got > 0 && got <= n, "read {got} of {n} staged bytes");
        n -= got;
    }
}

/// Takes `n` staged bytes out with draining reads (`read_vectored` into two
/// buffers), which leave the pipe's spin hints alone.
fn drain(r: &gopipe::PipeReader, a: &mut [u8], b: &mut [u8], mut n: usize) {
    while n > 0 {
        let got = (&*r)
            .read_vectored(&mut [IoSliceMut::new(a), IoSliceMut::new(b)])
            .expect("draining read");
        assert!(got > 0 && got <= n, "drained {got} of {n} staged bytes");
        n -= got;
    }
}

/// A thread that did its one read or write and sits idle until dropped
/// (then it ends, and the drop joins it).
struct Idle {
    /// Dropped to end the thread's idle wait.
    quit: Option<mpsc::Sender<()>>,
    /// The thread.
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Idle {
    fn drop(&mut self) {
        drop(self.quit.take());
        if let Some(t) = self.thread.take() {
            t.join().expect("the idle thread panicked");
        }
    }
}

/// A thread that reads one byte of `r` (a task staged it) and then sits idle.
fn idle_reader(r: &gopipe::PipeReader, w: &gopipe::PipeWriter) -> Idle {
    assert_eq!(poll_write(w, &[1]), 1);
    let (read_tx, read_rx) = mpsc::channel();
    let (quit, quit_rx) = mpsc::channel::<()>();
    let r = r.clone();
    let thread = thread::spawn(move || {
        let mut one = [0u8; 1];
        assert_eq!((&r).read(&mut one).expect("the idle thread's read"), 1);
        read_tx.send(()).expect("bench gone");
        let _ = quit_rx.recv();
    });
    read_rx.recv().expect("the idle thread's read");
    Idle {
        quit: Some(quit),
        thread: Some(thread),
    }
}

/// A thread that writes one byte into `w` (a task reads it) and then sits
/// idle.
fn idle_writer(r: &gopipe::PipeReader, w: &gopipe::PipeWriter) -> Idle {
    let (quit, quit_rx) = mpsc::channel::<()>();
    let w = w.clone();
    let thread = thread::spawn(move || {
        (&w).write_all(&[1]).expect("the idle thread's write");
        let _ = quit_rx.recv();
    });
    let mut one = [0u8; 1];
    let deadline = Instant::now() + Duration::from_secs(60);
    while poll_read(r, &mut one) != Some(1) {
        assert!(
            Instant::now() < deadline,
            "the idle thread's write never came"
        );
        thread::yield_now();
    }
    Idle {
        quit: Some(quit),
        thread: Some(thread),
    }
}

/// The `spins` group.
fn spins(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut group = c.benchmark_group("spins");
    group
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples);

    // A write needing no more room than there is, a thread reader seen.
    for (name, size) in [("room/65535B", STAGE_CAP - 1), ("room/128KiB", 128 << 10)] {
        let (r, w) = gopipe::pipe();
        let data = vec![7u8; size];
        let mut buf = vec![0u8; STAGE_CAP];
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    assert_eq!(poll_write(&w, &[1]), 1);
                    let start = Instant::now();
                    let n = poll_write(&w, &data);
                    spent += start.elapsed();
                    assert_eq!(n, STAGE_CAP - 1, "{name}: accepted");
                    thread_read(&r, &mut buf, 1 + n);
                }
                spent
            })
        });
    }

    // A write over 4 KiB into an empty stage: after an idle thread's read,
    // or on a pipe no thread read.
    for (name, size, idle) in [
        ("lend/4096B-idle-thread", 4096, true),
        ("lend/4097B-idle-thread", 4097, true),
        ("lend/4097B-no-thread", 4097, false),
    ] {
        let (r, w) = gopipe::pipe();
        let data = vec![7u8; size];
        let (mut a, mut b2) = (vec![0u8; 2048], vec![0u8; STAGE_CAP]);
        let _idle = idle.then(|| idle_reader(&r, &w));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let n = poll_write(&w, &data);
                    spent += start.elapsed();
                    assert_eq!(n, size, "{name}: accepted");
                    drain(&r, &mut a, &mut b2, n);
                }
                spent
            })
        });
    }

    // A read that finds nothing: after an idle thread's write, or on a pipe
    // no thread wrote.
    for (name, idle) in [
        ("read-pending/idle-thread", true),
        ("read-pending/no-thread", false),
    ] {
        let (r, w) = gopipe::pipe();
        let mut buf = [0u8; 64];
        let _idle = idle.then(|| idle_writer(&r, &w));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    assert_eq!(poll_read(&r, &mut buf), None, "{name}: ready");
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// Criterion's entry points (the macro's function has no docs of its own).
mod entry {
    #![allow(missing_docs)]
    use super::spins;
    criterion::criterion_group!(benches, spins);
}

criterion_main!(entry::benches);
