//! What a `Pending` poll costs with many tasks waiting on one pipe: the
//! waker lists must not grow with cancelled operations, and a registration
//! must cost the same with 100,000 tasks waiting as with one.
//!
//! For each count N of waiting tasks (each polled once through a clone of
//! the read half of its own, and left pending), it times two more kinds of
//! `Pending` poll on the same pipe, each through one more clone:
//! - `same waker`: a task polling again with the waker it registered (a
//!   re-poll, or a `select!` loop);
//! - `new waker`: a fresh waker at every poll (an operation cancelled and
//!   started again by another task through the same handle).
//!
//! Prints the median of 15 batches of 2,000 polls per cell, in ns per poll.
//! Run: `cargo bench -p gopipe-benches --bench wakers` (`GOPIPE_BENCH_QUICK=1`
//! for fewer batches).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use tokio::io::{AsyncRead, ReadBuf};

/// A waker that does nothing when woken (it only has to be distinct).
struct Quiet;

impl Wake for Quiet {
    fn wake(self: Arc<Self>) {}
}

/// Polls one read through `r` with `waker`; asserts it is pending.
fn poll_pending(r: &gopipe::PipeReader, waker: &Waker) {
    let mut cx = Context::from_waker(waker);
    let mut buf = [0u8; 8];
    let mut rb = ReadBuf::new(&mut buf);
    let res = Pin::new(&mut &*r).poll_read(&mut cx, &mut rb);
    assert!(
        matches!(res, Poll::Pending),
        "a read on an idle pipe was ready"
    );
}

/// Median of `batches` timings of `polls` calls of `f`, in ns per call.
fn median_ns(batches: usize, polls: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..polls {
                f();
            }
            start.elapsed().as_nanos() as f64 / polls as f64
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn main() {
    let quick = std::env::var_os("GOPIPE_BENCH_QUICK").is_some();
    let batches = if quick { 5 } else { 15 };
    const POLLS: usize = 2_000;
    println!("waiting tasks   same waker (ns/poll)   new waker (ns/poll)");
    for waiting in [1usize, 10_000, 100_000] {
        let (r, _w) = gopipe::pipe();
        // N tasks, each pending on a clone of its own.
        let clones: Vec<gopipe::PipeReader> = (0..waiting).map(|_| r.clone()).collect();
        let wakers: Vec<Waker> = (0..waiting).map(|_| Waker::from(Arc::new(Quiet))).collect();
        for (c, w) in clones.iter().zip(&wakers) {
            poll_pending(c, w);
        }
        let same = Waker::from(Arc::new(Quiet));
        let mine = r.clone();
        let same_ns = median_ns(batches, POLLS, || poll_pending(&mine, &same));
        let theirs = r.clone();
        let new_ns = median_ns(batches, POLLS, || {
            let fresh = Waker::from(Arc::new(Quiet));
            poll_pending(&theirs, &fresh)
        });
        println!("{waiting:>15}   {same_ns:>20.0}   {new_ns:>19.0}");
    }
}
