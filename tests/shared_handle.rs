//! Many tasks waiting through one shared handle (`Arc<PipeReader>`,
//! `Arc<PipeWriter>`): on an idle pipe they all stay asleep (no task is polled
//! again until what it waits for happens), each is woken when it does, and
//! the pipe holds at most one waker per task a bell. Issue 24: with more tasks
//! than the pipe used to keep wakers for, each registration pushed the
//! oldest kept waker out and woke it, that task registered again and pushed
//! the next one out, and an idle runtime polled ~180,000 times in 300 ms.
//!
//! Each test counts every poll of every task's operation, waits (on the
//! counter, not a sleep) until every task has returned `Pending` once, then
//! watches an idle window of [`WINDOW`] (the sleep is the observation, not a
//! synchronisation) in which no task may be polled more than once, and then
//! lets the pipe move and checks that every task gets what it waited for.
//! The shipping engine only: the reference engine has no async halves.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{bounded, BOUND_SECS};
use gopipe::{PipeReader, PipeWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// The idle window watched.
const WINDOW: Duration = Duration::from_millis(300);

/// The stage's capacity (64 KiB), as documented.
const STAGE: usize = 64 << 10;

/// How many displaced wakers a pipe holds before its first flush (the
/// crate's `FLUSH_MIN`): with fewer tasks sharing a handle, none is ever
/// woken early.
const FLUSH_MIN: usize = 64;

/// Polls a task may see while the flushes learn how many tasks wait.
const LEARNING: usize = 8;

/// The size of each writer task's message: at most the stage, so each is
/// accepted whole, and more than the room a full stage leaves.
const MESSAGE: usize = 40 << 10;

/// Polls counted over every task, and how many tasks have returned `Pending`
/// at least once (the last of them notifies `all_waiting`).
struct Polls {
    /// Polls of the tasks' operations.
    polls: AtomicUsize,
    /// Tasks that returned `Pending` at least once.
    waited: AtomicUsize,
    /// How many tasks there are.
    tasks: usize,
    /// Notified once every task has returned `Pending` at least once.
    all_waiting: Notify,
}

impl Polls {
    fn new(tasks: usize) -> Arc<Self> {
        Arc::new(Self {
            polls: AtomicUsize::new(0),
            waited: AtomicUsize::new(0),
            tasks,
            all_waiting: Notify::new(),
        })
    }

    /// Polls `poll` until it is ready, counting each poll, and counting the
    /// task as waiting at its first `Pending`.
    async fn counted<T>(&self, mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
        let mut waited = false;
        std::future::poll_fn(|cx| {
            self.polls.fetch_add(1, Ordering::SeqCst);
            let out = poll(cx);
            if out.is_pending() && !waited {
                waited = true;
                if self.waited.fetch_add(1, Ordering::SeqCst) + 1 == self.tasks {
                    self.all_waiting.notify_one();
                }
            }
            out
        })
        .await
    }

    /// Watches an idle window and returns how many polls it saw.
    async fn window(&self) -> usize {
        let before = self.polls.load(Ordering::SeqCst);
        tokio::time::sleep(WINDOW).await;
        self.polls.load(Ordering::SeqCst) - before
    }

    /// Asserts that the tasks stay asleep over an idle window (at most one
    /// poll each) once every task has returned `Pending`, and that `w`'s
    /// pipe holds at most one waker per task. With [`FLUSH_MIN`] tasks or
    /// more, the pipe's flushes of displaced wakers learn how many tasks wait
    /// first, waking some of them a few times: a first window allows that
    /// (at most [`LEARNING`] polls a task), the next must be idle.
    async fn assert_idle(&self, name: &str, w: &PipeWriter) {
        let tasks = self.tasks;
        self.all_waiting.notified().await;
        let mut idle = self.window().await;
        if tasks >= FLUSH_MIN {
            assert!(
                idle <= LEARNING * tasks,
                "{name}: {idle} polls in the first idle {WINDOW:?} (at most {} expected)",
                LEARNING * tasks
            );
            idle = self.window().await;
        }
        assert!(
            idle <= tasks,
            "{name}: {idle} polls in an idle {WINDOW:?} (at most {tasks} expected)"
        );
        let held = w.__task_wakers_held();
        assert!(
            held <= tasks,
            "{name}: {held} wakers held for {tasks} waiting tasks"
        );
    }
}

/// Runs `fut` on a two-worker runtime.
fn block_on<T>(fut: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

/// `tasks` tasks read 8-byte messages through one `Arc<PipeReader>` of an
/// idle pipe: none is polled in the idle window (each at most once, for a
/// spurious wake-up), the pipe holds at most one waker per task, then each
/// gets one message of the `tasks` written, and the wakers are all given
/// back at the next ring.
fn readers_on_one_handle(tasks: usize) {
    let name = format!("readers_on_one_handle({tasks})");
    bounded(&name.clone(), BOUND_SECS, move || {
        block_on(readers_body(&name, tasks))
    });
}

async fn readers_body(name: &str, tasks: usize) {
    let (r, w) = gopipe::pipe();
    let r = Arc::new(r);
    let polls = Polls::new(tasks);
    let mut readers = Vec::new();
    for _ in 0..tasks {
        let r = Arc::clone(&r);
        let polls = Arc::clone(&polls);
        readers.push(tokio::spawn(async move {
            let mut got = [0u8; 8];
            let mut filled = 0;
            while filled < got.len() {
                filled += polls
                    .counted(|cx| {
                        let mut buf = ReadBuf::new(&mut got[filled..]);
                        let reader: &PipeReader = &r;
                        Pin::new(&mut &*reader)
                            .poll_read(cx, &mut buf)
                            .map_ok(|()| buf.filled().len())
                    })
                    .await
                    .unwrap();
            }
            u64::from_le_bytes(got)
        }));
    }
    polls.assert_idle(name, &w).await;
    for i in 0..tasks as u64 {
        tokio::io::AsyncWriteExt::write_all(&mut &w, &i.to_le_bytes())
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for t in readers {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..tasks as u64).collect::<Vec<_>>(), "{name}");
    // A task that registered after the last write's ring and found its
    // message on the look that follows (the rule every wait follows) returns
    // with its waker still held, until the bell rings again or the handle
    // drops: one more write rings it, with no task polling any more.
    tokio::io::AsyncWriteExt::write_all(&mut &w, b"ring")
        .await
        .unwrap();
    assert_eq!(
        w.__task_wakers_held(),
        0,
        "{name}: wakers left after the ring"
    );
}

/// `tasks` tasks write 40 KiB messages through one `Arc<PipeWriter>` into a
/// full stage, with no reader: none is polled in the idle window, then a
/// reader drains the pipe and every message arrives whole.
fn writers_on_one_handle(tasks: usize) {
    let name = format!("writers_on_one_handle({tasks})");
    bounded(&name.clone(), BOUND_SECS, move || {
        block_on(writers_body(&name, tasks))
    });
}

async fn writers_body(name: &str, tasks: usize) {
    let (mut r, w) = gopipe::pipe();
    let w = Arc::new(w);
    // Fill the stage.
    let fill = vec![0xffu8; STAGE];
    let polls = Polls::new(tasks);
    std::future::poll_fn(|cx| Pin::new(&mut &*w).poll_write(cx, &fill))
        .await
        .map(|n| assert_eq!(n, STAGE, "{name}: the stage takes a whole write"))
        .unwrap();
    let mut writers = Vec::new();
    for t in 0..tasks {
        let w = Arc::clone(&w);
        let polls = Arc::clone(&polls);
        writers.push(tokio::spawn(async move {
            // The task's number in every two bytes.
            let message = (t as u16).to_le_bytes().repeat(MESSAGE / 2);
            polls
                .counted(|cx| {
                    let writer: &PipeWriter = &w;
                    Pin::new(&mut &*writer).poll_write(cx, &message)
                })
                .await
        }));
    }
    polls.assert_idle(name, &w).await;
    let total = STAGE + tasks * MESSAGE;
    let mut got = vec![0u8; total];
    let drain = async {
        r.read_exact(&mut got).await.unwrap();
        r
    };
    let (r, written) = tokio::join!(drain, async {
        let mut written = Vec::new();
        for t in writers {
            written.push(t.await.unwrap().unwrap());
        }
        written
    });
    assert!(written.iter().all(|&n| n == MESSAGE), "{name}: {written:?}");
    assert!(got[..STAGE].iter().all(|&b| b == 0xff), "{name}: the fill");
    let mut seen: Vec<u16> = got[STAGE..]
        .chunks(MESSAGE)
        .map(|m| {
            assert!(
                m.chunks(2).all(|pair| pair == &m[..2]),
                "{name}: a message cut"
            );
            u16::from_le_bytes([m[0], m[1]])
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..tasks as u16).collect::<Vec<_>>(), "{name}");
    drop(r);
    assert_eq!(
        w.__task_wakers_held(),
        0,
        "{name}: wakers left after the ring"
    );
}

/// Six tasks on one reader handle (one more than the pipe used to keep
/// wakers for) stay asleep on an idle pipe.
#[test]
fn six_readers_on_one_handle_sleep_while_idle() {
    readers_on_one_handle(6);
}

/// Sixteen tasks on one reader handle stay asleep on an idle pipe.
#[test]
fn sixteen_readers_on_one_handle_sleep_while_idle() {
    readers_on_one_handle(16);
}

/// Seven tasks on one writer handle, waiting for room, stay asleep.
#[test]
fn seven_writers_on_one_handle_sleep_while_idle() {
    writers_on_one_handle(7);
}

/// Sixteen tasks on one writer handle, waiting for room, stay asleep.
#[test]
fn sixteen_writers_on_one_handle_sleep_while_idle() {
    writers_on_one_handle(16);
}

/// Three hundred tasks on one reader handle, more than the displaced wakers
/// a bell holds before its first flush: the flushes learn how many tasks
/// wait, and then they stay asleep on an idle pipe too.
#[test]
fn three_hundred_readers_on_one_handle_sleep_while_idle() {
    readers_on_one_handle(300);
}

/// Three hundred tasks on one writer handle, waiting for room, stay asleep
/// once the flushes have learnt their number.
#[test]
fn three_hundred_writers_on_one_handle_sleep_while_idle() {
    writers_on_one_handle(300);
}

/// A waker that counts its wake-ups, one per (pretend) task.
struct Counting(AtomicUsize);

impl std::task::Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Reads through one shared `&PipeReader` of an idle pipe, each polled once
/// by a task of its own and then dropped (cancelled), as a server's
/// per-request tasks with a timeout do: the wakers the pipe holds stay
/// bounded (issue 24: "memory stays bounded by the tasks actually
/// waiting"), not one per task that ever polled. Every waker the pipe let go
/// of was woken first (a task that still waited would look again), and a
/// task that waits after all of them still gets its byte.
#[test]
fn cancelled_reads_through_one_handle_hold_a_bounded_number_of_wakers() {
    /// Tasks that poll once and go away.
    const GONE: usize = 10_000;
    /// A generous bound on what the pipe may hold for them: a few times the
    /// 64 displaced wakers of its first flush.
    const HELD_MAX: usize = 4 * 64 + 1;
    bounded("cancelled_reads_through_one_handle", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        let reader: &PipeReader = &r;
        // Kept alive, so that every waker is a distinct task's.
        let wakers: Vec<Arc<Counting>> = (0..GONE)
            .map(|_| Arc::new(Counting(AtomicUsize::new(0))))
            .collect();
        let mut most = 0;
        for counting in &wakers {
            let waker = std::task::Waker::from(Arc::clone(counting));
            let mut cx = Context::from_waker(&waker);
            let mut byte = [0u8; 1];
            let mut buf = ReadBuf::new(&mut byte);
            let polled = Pin::new(&mut &*reader).poll_read(&mut cx, &mut buf);
            assert!(polled.is_pending(), "an idle pipe's read completed");
            most = most.max(w.__task_wakers_held());
        }
        assert!(
            most <= HELD_MAX,
            "{most} wakers held at most for {GONE} reads polled once and dropped \
                 (at most {HELD_MAX} expected)"
        );
        // What the pipe let go of, it woke first; what it holds, the
        // close below wakes: no task that still waited is forgotten.
        let unwoken = |wakers: &[Arc<Counting>]| {
            wakers
                .iter()
                .filter(|c| c.0.load(Ordering::SeqCst) == 0)
                .count()
        };
        let held = w.__task_wakers_held();
        assert!(
            unwoken(&wakers) <= held,
            "{} tasks never woken, {held} wakers held",
            unwoken(&wakers)
        );
        drop(w);
        assert_eq!(unwoken(&wakers), 0, "tasks never woken after the close");
        drop(r);
    });
}
