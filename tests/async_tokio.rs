//! The async halves under tokio: every rule of the async side, between tasks,
//! and between a task and a thread. Each test runs under a time bound, so a lost
//! wake-up fails it instead of hanging the suite.

mod common;

use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{bounded, BOUND_SECS};
use gopipe::{is_closed_pipe, PipeReader, PipeWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The blocking calls, apart: with tokio's extension traits in scope too, a
/// method call on a half would be ambiguous.
mod blocking {
    use std::io::{Read, Result, Write};

    use gopipe::{PipeReader, PipeWriter};

    pub(crate) fn read(r: &PipeReader, buf: &mut [u8]) -> Result<usize> {
        (&*r).read(buf)
    }

    pub(crate) fn read_exact(r: &PipeReader, buf: &mut [u8]) -> Result<()> {
        (&*r).read_exact(buf)
    }

    pub(crate) fn read_to_end(r: &PipeReader, buf: &mut Vec<u8>) -> Result<usize> {
        (&*r).read_to_end(buf)
    }

    pub(crate) fn read_n(r: &PipeReader, n: u64) -> Result<Vec<u8>> {
        let mut got = Vec::new();
        r.take(n).read_to_end(&mut got)?;
        Ok(got)
    }

    pub(crate) fn write_all(w: &PipeWriter, buf: &[u8]) -> Result<()> {
        (&*w).write_all(buf)
    }
}

/// The stage's capacity (64 KiB), as documented.
const STAGE: usize = 64 << 10;

/// Runs `fut` on a two-worker runtime under the test bound.
fn run<F, T>(name: &str, fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    bounded(name, BOUND_SECS, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    })
}

/// A pattern that tells every byte's position (mod 251).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Polls `poll_write` once with a waker that does nothing.
fn poll_write_once(w: &PipeWriter, buf: &[u8]) -> Poll<std::io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(&mut &*w).poll_write(&mut cx, buf)
}

/// Polls `poll_flush` once with a waker that does nothing.
fn poll_flush_once(w: &PipeWriter) -> Poll<std::io::Result<()>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(&mut &*w).poll_flush(&mut cx)
}

/// Polls `poll_consumed` once with a waker that does nothing.
fn poll_consumed_once(w: &PipeWriter) -> Poll<std::io::Result<()>> {
    let mut cx = Context::from_waker(Waker::noop());
    w.poll_consumed(&mut cx)
}

/// Polls `poll_read` once with a waker that does nothing.
fn poll_read_once(r: &PipeReader, buf: &mut [u8]) -> Poll<std::io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut rb = ReadBuf::new(buf);
    match Pin::new(&mut &*r).poll_read(&mut cx, &mut rb) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Polls `poll_read` until it is ready (a thread on the other side may be
/// late), yielding between polls; the caller's bound ends a wait that never
/// ends.
fn read_polling(r: &PipeReader, buf: &mut [u8]) -> usize {
    loop {
        if let Poll::Ready(res) = poll_read_once(r, buf) {
            return res.unwrap();
        }
        thread::yield_now();
    }
}

/// A blocking writer thread feeding an async reader task: every byte, in
/// order, then end of file.
#[test]
fn sync_writer_to_async_reader() {
    let data = pattern(3 << 20, 1);
    let expect = data.clone();
    let got = run("sync_writer_to_async_reader", async move {
        let (mut r, w) = gopipe::pipe();
        let t = thread::spawn(move || {
            for chunk in data.chunks(100_000) {
                blocking::write_all(&w, chunk).unwrap();
            }
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        t.join().unwrap();
        got
    });
    assert!(got == expect, "the async reader got other bytes");
}

/// An async writer task feeding a blocking reader thread, with writes of every
/// size around the stage's capacity: every byte, in order.
#[test]
fn async_writer_to_sync_reader() {
    let sizes = [1, 7, 4096, STAGE - 1, STAGE, STAGE + 1, 200_000];
    let data: Vec<Vec<u8>> = sizes.iter().map(|&n| pattern(n, n as u8)).collect();
    let expect: Vec<u8> = data.concat();
    let got = run("async_writer_to_sync_reader", async move {
        let (r, mut w) = gopipe::pipe();
        let t = thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0; 3000];
            loop {
                match blocking::read(&r, &mut buf).unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        for d in &data {
            w.write_all(d).await.unwrap();
        }
        w.shutdown().await.unwrap();
        tokio::task::spawn_blocking(move || t.join().unwrap())
            .await
            .unwrap()
    });
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "the sync reader got other bytes");
}

/// Task to task, several writer clones writing whole messages of at most the
/// stage's size: no message is interleaved with another, none is lost or
/// duplicated.
#[test]
fn async_to_async_messages_never_interleave() {
    const WRITERS: u8 = 4;
    const MESSAGES: usize = 200;
    run("async_to_async_messages_never_interleave", async move {
        let (mut r, w) = gopipe::pipe();
        let mut tasks = Vec::new();
        for id in 0..WRITERS {
            let mut w = w.clone();
            tasks.push(tokio::spawn(async move {
                for m in 0..MESSAGES {
                    // A header byte with the writer's id, then a body of that
                    // id, of a length that varies.
                    let len = 1 + (m * 977 + id as usize * 131) % 3000;
                    let mut msg = vec![id; len + 3];
                    msg[0] = 0xff;
                    msg[1..3].copy_from_slice(&(len as u16).to_le_bytes());
                    // `write` of at most the stage's size is all or nothing.
                    let n = w.write(&msg).await.unwrap();
                    assert_eq!(n, msg.len(), "a small async write is accepted whole");
                }
            }));
        }
        drop(w);
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let mut counts = [0usize; WRITERS as usize];
        let mut at = 0;
        while at < got.len() {
            assert_eq!(got[at], 0xff, "a message starts at {at}");
            let len = u16::from_le_bytes([got[at + 1], got[at + 2]]) as usize;
            let body = &got[at + 3..at + 3 + len];
            let id = body[0];
            assert!(body.iter().all(|&b| b == id), "message at {at} interleaved");
            counts[id as usize] += 1;
            at += 3 + len;
        }
        assert_eq!(counts, [MESSAGES; WRITERS as usize]);
    });
}

/// A write of at most the stage's capacity is accepted whole or not at all; a
/// larger one as much as fits; `Pending` took nothing.
#[test]
fn poll_write_is_all_or_nothing_up_to_the_stage() {
    bounded("poll_write_all_or_nothing", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        let first = pattern(30_000, 3);
        assert!(matches!(
            poll_write_once(&w, &first),
            Poll::Ready(Ok(30_000))
        ));
        let second = pattern(40_000, 4);
        // 40 000 bytes do not fit beside 30 000: nothing is taken.
        assert!(poll_write_once(&w, &second).is_pending());
        let mut buf = vec![0; 30_000];
        blocking::read_exact(&r, &mut buf).unwrap();
        assert!(buf == first);
        assert!(matches!(
            poll_write_once(&w, &second),
            Poll::Ready(Ok(40_000))
        ));
        // Larger than the stage: as much as fits.
        let big = pattern(100_000, 5);
        assert!(matches!(poll_write_once(&w, &big), Poll::Ready(Ok(25_536))));
        assert!(poll_write_once(&w, &big).is_pending(), "the stage is full");
        // Reads take bytes of one staged write at a time, as from an offer.
        let mut buf = vec![0; 70_000];
        assert_eq!(blocking::read(&r, &mut buf).unwrap(), 40_000);
        assert!(buf[..40_000] == second[..]);
        assert_eq!(blocking::read(&r, &mut buf).unwrap(), 25_536);
        assert!(buf[..25_536] == big[..25_536]);
        assert!(matches!(poll_write_once(&w, &big), Poll::Ready(Ok(STAGE))));
        let mut buf = vec![0; STAGE];
        blocking::read_exact(&r, &mut buf).unwrap();
        assert!(buf[..] == big[..STAGE]);
        // An empty write is ready at once and accepts nothing.
        assert!(matches!(poll_write_once(&w, b""), Poll::Ready(Ok(0))));
    });
}

/// `flush` is ready at once, as a socket's is, staged bytes or not; the
/// consumed wait is what waits for readers: `write_all` then `consumed` is Go's
/// "Write returns once the reader consumed it".
#[test]
fn flush_is_at_once_and_consumed_waits_for_the_reader() {
    bounded("flush_at_once_consumed_waits", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        assert!(
            matches!(poll_consumed_once(&w), Poll::Ready(Ok(()))),
            "nothing staged"
        );
        assert!(matches!(poll_write_once(&w, b"hello"), Poll::Ready(Ok(5))));
        assert!(
            matches!(poll_flush_once(&w), Poll::Ready(Ok(()))),
            "a flush does not wait for the reader"
        );
        assert!(
            poll_consumed_once(&w).is_pending(),
            "the bytes are still staged"
        );
        let mut buf = [0; 3];
        blocking::read_exact(&r, &mut buf).unwrap();
        assert!(
            poll_consumed_once(&w).is_pending(),
            "two bytes still staged"
        );
        blocking::read_exact(&r, &mut buf[..2]).unwrap();
        assert_eq!(&buf[..2], b"lo");
        assert!(matches!(poll_consumed_once(&w), Poll::Ready(Ok(()))));
    });
}

/// A `consumed` that waits is woken by the read that takes the last byte.
#[test]
fn pending_consumed_is_woken_by_the_reader() {
    run("pending_consumed_is_woken_by_the_reader", async {
        let (r, mut w) = gopipe::pipe();
        w.write_all(b"payload").await.unwrap();
        let reader = thread::spawn(move || {
            let mut buf = [0; 7];
            blocking::read_exact(&r, &mut buf).unwrap();
            assert_eq!(&buf, b"payload");
            r
        });
        w.consumed().await.unwrap();
        drop(tokio::task::spawn_blocking(move || reader.join().unwrap()).await);
    });
}

/// `consumed` waits only for the bytes accepted before its first poll: bytes
/// written after do not delay it.
#[test]
fn consumed_does_not_wait_for_later_bytes() {
    bounded("consumed_does_not_wait_for_later_bytes", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        assert!(matches!(poll_write_once(&w, b"first"), Poll::Ready(Ok(5))));
        let mut consumed = Box::pin(w.consumed());
        let counted = Arc::new(Counted::default());
        let waker = Waker::from(Arc::clone(&counted));
        let mut cx = Context::from_waker(&waker);
        assert!(consumed.as_mut().poll(&mut cx).is_pending());
        // A later write, by another clone: not waited for.
        let w2 = w.clone();
        assert!(matches!(
            poll_write_once(&w2, b"second"),
            Poll::Ready(Ok(6))
        ));
        let mut buf = [0; 5];
        blocking::read_exact(&r, &mut buf).unwrap();
        assert_eq!(&buf, b"first");
        assert!(counted.0.load(Ordering::SeqCst) > 0, "never woken");
        assert!(matches!(
            consumed.as_mut().poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
        // The stateless poll looks at every byte accepted so far.
        assert!(poll_consumed_once(&w).is_pending());
        blocking::read_exact(&r, &mut [0; 6]).unwrap();
        assert!(matches!(poll_consumed_once(&w), Poll::Ready(Ok(()))));
    });
}

/// After a shutdown with bytes staged, `consumed` waits for readers to take
/// them; shutdown itself returns at once and readers then get end of file.
#[test]
fn consumed_after_shutdown_waits_for_the_staged_bytes() {
    run("consumed_after_shutdown", async {
        let (mut r, mut w) = gopipe::pipe();
        w.write_all(b"last words").await.unwrap();
        w.shutdown().await.unwrap();
        let consumer = tokio::spawn(async move {
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.map(|_| got)
        });
        w.consumed().await.unwrap();
        assert_eq!(consumer.await.unwrap().unwrap(), b"last words");
    });
}

/// A task's waker that counts its wake-ups.
#[derive(Default)]
struct Counted(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counted {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A `consumed` waiting for staged bytes is woken when the read half closes,
/// also when the write half had closed first (then the read half's close is
/// not the pipe's first; it must still wake it).
#[test]
fn pending_consumed_is_woken_by_a_later_read_close() {
    bounded("pending_consumed_woken_by_later_close", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        assert!(matches!(poll_write_once(&w, b"staged"), Poll::Ready(Ok(6))));
        w.clone().close();
        let counted = Arc::new(Counted::default());
        let waker = Waker::from(Arc::clone(&counted));
        let mut cx = Context::from_waker(&waker);
        assert!(w.poll_consumed(&mut cx).is_pending());
        drop(r);
        assert!(
            counted.0.load(Ordering::SeqCst) > 0,
            "the consumed wait was never woken"
        );
        match poll_consumed_once(&w) {
            Poll::Ready(Err(e)) => assert!(is_closed_pipe(&e), "{e}"),
            other => panic!("the consumed wait gave {other:?}"),
        }
    });
}

/// `consumed` fails with the close error if the read half closes while bytes
/// are staged (they are discarded); so does the next write. Flush still
/// succeeds: it never waits for the reader.
#[test]
fn consumed_fails_when_the_reader_closes() {
    run("consumed_fails_when_the_reader_closes", async {
        let (r, mut w) = gopipe::pipe();
        w.write_all(b"never read").await.unwrap();
        w.flush().await.unwrap();
        let wait = tokio::spawn(async move {
            let res = w.consumed().await;
            (w, res)
        });
        tokio::task::yield_now().await;
        r.close_with_error(std::io::Error::new(ErrorKind::InvalidData, "rejected"));
        let (mut w, res) = wait.await.unwrap();
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "rejected");
        let err = w.write(b"x").await.unwrap_err();
        assert_eq!(err.to_string(), "rejected");
        // The read half's own reads fail with the closed-pipe error, staged
        // bytes or not.
        let mut r2 = r;
        assert!(is_closed_pipe(&r2.read(&mut [0; 4]).await.unwrap_err()));
    });
}

/// Every writer-side close keeps the staged bytes for the readers: shutdown,
/// drop, `close`, `close_with_error` (then the error after the bytes).
#[test]
fn staged_bytes_survive_every_writer_close() {
    run("staged_bytes_survive_every_writer_close", async {
        for how in ["shutdown", "drop", "close", "close_with_error"] {
            let (mut r, mut w) = gopipe::pipe();
            assert_eq!(w.write(b"staged bytes").await.unwrap(), 12);
            match how {
                // Shutdown closes the write half at once, as a socket's does.
                "shutdown" => w.shutdown().await.unwrap(),
                "drop" => drop(w),
                "close" => w.close(),
                _ => w.close_with_error(std::io::Error::other("late")),
            }
            let mut got = Vec::new();
            let res = r.read_to_end(&mut got).await;
            assert_eq!(got, b"staged bytes", "{how}");
            match how {
                "close_with_error" => assert_eq!(res.unwrap_err().to_string(), "late"),
                _ => assert_eq!(res.unwrap(), 12, "{how}"),
            }
            // A blocking reader sees the same.
        }
        // And a blocking reader, after the writer was dropped.
        let (r, mut w) = gopipe::pipe();
        w.write_all(b"for a thread").await.unwrap();
        drop(w);
        let got = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            blocking::read_to_end(&r, &mut got).unwrap();
            got
        })
        .await
        .unwrap();
        assert_eq!(got, b"for a thread");
    });
}

/// A read that times out under `tokio::time::timeout` (its future dropped
/// while pending) consumed nothing: the next read gets every byte.
#[test]
fn cancelled_read_loses_nothing() {
    run("cancelled_read_loses_nothing", async {
        let (mut r, mut w) = gopipe::pipe();
        for _ in 0..20 {
            let mut buf = [0; 16];
            let res = tokio::time::timeout(Duration::from_millis(1), r.read(&mut buf)).await;
            assert!(res.is_err(), "nothing was written yet");
        }
        let writer = tokio::spawn(async move {
            w.write_all(b"after the timeouts").await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"after the timeouts");
        writer.await.unwrap();
    });
}

/// A write that cannot be accepted (the stage is full) and is cancelled
/// accepted nothing: the reader never sees its bytes.
#[test]
fn cancelled_write_accepts_nothing() {
    run("cancelled_write_accepts_nothing", async {
        let (mut r, mut w) = gopipe::pipe();
        w.write_all(&vec![1; STAGE]).await.unwrap();
        let res = tokio::time::timeout(Duration::from_millis(5), w.write(&[2; 100])).await;
        assert!(res.is_err(), "the stage is full: the write must wait");
        let writer = tokio::spawn(async move {
            w.write_all(&[3; 10]).await.unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), STAGE + 10);
        assert!(got[..STAGE].iter().all(|&b| b == 1));
        assert!(
            got[STAGE..].iter().all(|&b| b == 3),
            "no byte of the cancelled write"
        );
    });
}

/// Closing or dropping one half wakes the other half's pending tasks: a
/// pending read sees end of file, a pending write (the stage full) sees the
/// error.
#[test]
fn drops_wake_pending_tasks() {
    run("drops_wake_pending_tasks", async {
        let (mut r, w) = gopipe::pipe();
        let read = tokio::spawn(async move { r.read(&mut [0; 8]).await });
        tokio::task::yield_now().await;
        drop(w);
        assert_eq!(read.await.unwrap().unwrap(), 0);

        let (r, mut w) = gopipe::pipe();
        w.write_all(&vec![0; STAGE]).await.unwrap();
        let write = tokio::spawn(async move { w.write(b"more").await });
        tokio::task::yield_now().await;
        drop(r);
        assert!(is_closed_pipe(&write.await.unwrap().unwrap_err()));
    });
}

/// Many tasks waiting on one read half: each byte goes to exactly one, and
/// all of them finish when the writer closes.
#[test]
fn many_reader_tasks_share_the_bytes() {
    run("many_reader_tasks_share_the_bytes", async {
        let (r, mut w) = gopipe::pipe();
        let mut readers = Vec::new();
        for _ in 0..16 {
            let mut r = r.clone();
            readers.push(tokio::spawn(async move {
                let mut sum = 0u64;
                let mut count = 0u64;
                let mut buf = [0u8; 10];
                loop {
                    match r.read(&mut buf).await.unwrap() {
                        0 => return (sum, count),
                        n => {
                            count += n as u64;
                            sum += buf[..n].iter().map(|&b| b as u64).sum::<u64>();
                        }
                    }
                }
            }));
        }
        drop(r);
        let data = pattern(100_000, 9);
        let want_sum: u64 = data.iter().map(|&b| b as u64).sum();
        for chunk in data.chunks(1000) {
            w.write_all(chunk).await.unwrap();
        }
        drop(w);
        let (mut sum, mut count) = (0, 0);
        for t in readers {
            let (s, c) = t.await.unwrap();
            sum += s;
            count += c;
        }
        assert_eq!((sum, count), (want_sum, 100_000));
    });
}

/// Threads and tasks mixed on one pipe: blocking and async writers (clones)
/// writing whole messages, blocking and async readers: every message arrives
/// once, whole, never interleaved, and staged bytes always come before a
/// blocking write that follows them.
#[test]
fn threads_and_tasks_mixed_on_one_pipe() {
    const MESSAGES: usize = 300;
    run("threads_and_tasks_mixed_on_one_pipe", async {
        let (r, w) = gopipe::pipe();
        // Messages are 0xff, a writer id, a 2-byte length, then the body.
        fn message(id: u8, m: usize) -> Vec<u8> {
            let len = 1 + (m * 7919 + id as usize * 104_729) % 5000;
            let mut msg = vec![id; len + 4];
            msg[0] = 0xff;
            msg[1] = id;
            msg[2..4].copy_from_slice(&(len as u16).to_le_bytes());
            msg
        }
        let mut writers = Vec::new();
        for id in 0..2u8 {
            let w = w.clone();
            writers.push(thread::spawn(move || {
                for m in 0..MESSAGES {
                    blocking::write_all(&w, &message(id, m)).unwrap();
                }
            }));
        }
        let mut tasks = Vec::new();
        for id in 2..4u8 {
            let mut w = w.clone();
            tasks.push(tokio::spawn(async move {
                for m in 0..MESSAGES {
                    let msg = message(id, m);
                    assert_eq!(w.write(&msg).await.unwrap(), msg.len());
                }
            }));
        }
        drop(w);
        // One blocking reader and one async reader, each collecting what it
        // got; a read returns bytes of one message at most, so each reader's
        // pieces are tagged by where they came from.
        let collected = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
        let sync_reader = {
            let r = r.clone();
            let collected = Arc::clone(&collected);
            thread::spawn(move || {
                let mut buf = vec![0; 6000];
                loop {
                    match blocking::read(&r, &mut buf).unwrap() {
                        0 => return,
                        n => collected.lock().unwrap().push(buf[..n].to_vec()),
                    }
                }
            })
        };
        let mut r = r;
        let mut buf = vec![0; 6000];
        loop {
            match r.read(&mut buf).await.unwrap() {
                0 => break,
                n => collected.lock().unwrap().push(buf[..n].to_vec()),
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        tokio::task::spawn_blocking(move || {
            sync_reader.join().unwrap();
            for t in writers {
                t.join().unwrap();
            }
        })
        .await
        .unwrap();
        // Every piece is one whole message: a read of 6000 bytes takes a
        // message of at most 5004 whole unless it is cut by the write path,
        // so count bytes per writer instead and check the headers' lengths.
        let pieces = collected.lock().unwrap();
        let total: usize = pieces.iter().map(Vec::len).sum();
        let want: usize = (0..4u8)
            .map(|id| (0..MESSAGES).map(|m| message(id, m).len()).sum::<usize>())
            .sum();
        assert_eq!(total, want, "bytes lost or duplicated");
        for p in pieces.iter() {
            // A piece never spans two messages: after its header (if it has
            // one) every byte is the same writer's id.
            let id = if p[0] == 0xff { p[1] } else { p[0] };
            let body = if p[0] == 0xff { &p[4..] } else { &p[..] };
            assert!(body.iter().all(|&b| b == id), "a read mixed two writes");
        }
    });
}

/// An always-ready pipe does not starve the rest of a task's `select!` or the
/// other tasks of a one-thread runtime: the reads take part in tokio's budget.
#[test]
fn always_ready_reads_yield_to_other_tasks() {
    bounded("always_ready_reads_yield", BOUND_SECS, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut r, mut w) = gopipe::pipe();
            // The stage full: 65 536 one-byte reads are ready in a row.
            w.write_all(&vec![7; STAGE]).await.unwrap();
            let ran = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&ran);
            tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
            let mut reads = 0;
            let mut byte = [0u8; 1];
            while !ran.load(Ordering::SeqCst) {
                assert_eq!(r.read(&mut byte).await.unwrap(), 1);
                reads += 1;
                assert!(reads < STAGE, "the other task never ran");
            }
        });
    });
}

/// Writes through `&PipeWriter` and reads through `&PipeReader`, as with the
/// blocking traits.
#[test]
fn shared_references_are_async_halves_too() {
    run("shared_references_are_async_halves_too", async {
        let (r, w) = gopipe::pipe();
        let w = Arc::new(w);
        let w2 = Arc::clone(&w);
        let t = tokio::spawn(async move {
            (&*w2).write_all(b"by reference").await.unwrap();
            (&*w2).flush().await.unwrap();
        });
        let mut buf = [0; 12];
        (&r).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"by reference");
        t.await.unwrap();
        drop(w);
    });
}

/// A blocking write that comes after staged bytes waits for them to drain,
/// so a reader gets the staged bytes first.
#[test]
fn staged_bytes_come_before_a_later_blocking_write() {
    bounded("staged_bytes_first", BOUND_SECS, || {
        for _ in 0..200 {
            let (r, w) = gopipe::pipe();
            assert!(matches!(poll_write_once(&w, b"first "), Poll::Ready(Ok(6))));
            let t = thread::spawn(move || {
                blocking::write_all(&w, b"second").unwrap();
            });
            let got = blocking::read_n(&r, 12).unwrap();
            assert_eq!(got, b"first second");
            t.join().unwrap();
        }
    });
}

/// An async reader on a pipe whose write half closed with bytes staged gets
/// them, and a read half closed by its own side discards them.
#[test]
fn read_half_close_discards_staged_bytes() {
    bounded("read_half_close_discards", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        assert!(matches!(poll_write_once(&w, b"abc"), Poll::Ready(Ok(3))));
        r.close();
        match poll_read_once(&r, &mut [0; 8]) {
            Poll::Ready(Err(e)) => assert!(is_closed_pipe(&e), "{e}"),
            other => panic!("a read on a closed read half gave {other:?}"),
        }
        assert!(matches!(poll_consumed_once(&w), Poll::Ready(Err(_))));
    });
}

/// A `Conn` between a task and a thread: the task writes a request and reads
/// the reply through tokio's traits, the thread serves through std's.
#[test]
fn conn_between_a_task_and_a_thread() {
    run("conn_between_a_task_and_a_thread", async {
        let (client, server) = gopipe::duplex();
        let srv = thread::spawn(move || {
            let mut req = [0u8; 4];
            std::io::Read::read_exact(&mut &server, &mut req)?;
            req.reverse();
            std::io::Write::write_all(&mut &server, &req)?;
            // Then end of file: the client shut its write direction down.
            let mut rest = Vec::new();
            std::io::Read::read_to_end(&mut &server, &mut rest)?;
            Ok::<_, std::io::Error>(rest.len())
        });
        let mut client = client;
        client.write_all(b"ping").await.unwrap();
        client.flush().await.unwrap();
        let mut reply = [0u8; 4];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"gnip");
        // The inherent `Conn::shutdown(how)` shadows the trait method.
        AsyncWriteExt::shutdown(&mut client).await.unwrap();
        let rest = tokio::task::spawn_blocking(move || srv.join().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rest, 0);
    });
}

/// Polls `poll_write_vectored` once with a waker that does nothing.
fn poll_gather_once(w: &PipeWriter, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(&mut &*w).poll_write_vectored(&mut cx, bufs)
}

/// A gather of at most 64 KiB is accepted whole or not at all, as one write:
/// a read returns bytes of it and of no other write; a larger gather accepts
/// 64 KiB of its prefix. Every async writer type says it writes vectored.
#[test]
fn vectored_writes_are_gathered_whole() {
    bounded("vectored_writes_are_gathered_whole", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        assert!(w.is_write_vectored());
        assert!(AsyncWrite::is_write_vectored(&&w));
        let (a, _b) = gopipe::duplex();
        assert!(a.is_write_vectored());
        assert!(AsyncWrite::is_write_vectored(&&a));
        let gather = [
            std::io::IoSlice::new(b"header: 14 B\r\n"),
            std::io::IoSlice::new(b""),
            std::io::IoSlice::new(b"body of 14 B\r\n"),
        ];
        assert!(matches!(poll_gather_once(&w, &gather), Poll::Ready(Ok(28))));
        assert!(matches!(poll_write_once(&w, b"next"), Poll::Ready(Ok(4))));
        let mut buf = [0; 64];
        assert_eq!(blocking::read(&r, &mut buf).unwrap(), 28, "one write");
        assert_eq!(&buf[..28], b"header: 14 B\r\nbody of 14 B\r\n");
        assert_eq!(blocking::read(&r, &mut buf).unwrap(), 4);
        // A gather that does not fit the room left is not taken at all.
        let big = vec![1u8; STAGE - 10];
        assert!(matches!(poll_write_once(&w, &big), Poll::Ready(Ok(_))));
        assert!(
            poll_gather_once(&w, &gather).is_pending(),
            "28 B, room 10 B"
        );
        blocking::read_exact(&r, &mut vec![0; STAGE - 10]).unwrap();
        // Larger than the stage: 64 KiB of its prefix, as one write.
        let (x, y) = (vec![2u8; 40 << 10], vec![3u8; 40 << 10]);
        let gather = [std::io::IoSlice::new(&x), std::io::IoSlice::new(&y)];
        assert!(matches!(
            poll_gather_once(&w, &gather),
            Poll::Ready(Ok(STAGE))
        ));
        let mut got = vec![0; 2 * STAGE];
        assert_eq!(blocking::read(&r, &mut got).unwrap(), STAGE);
        assert!(got[..40 << 10].iter().all(|&b| b == 2));
        assert!(got[40 << 10..STAGE].iter().all(|&b| b == 3));
    });
}

/// A gather goes straight into a thread's lent buffer when one waits (the
/// rest staged in the same call), and tokio's `write_vectored` sends header
/// and body in one call.
#[test]
fn vectored_write_fills_a_waiting_thread() {
    run("vectored_write_fills_a_waiting_thread", async {
        let (r, mut w) = gopipe::pipe();
        let reader = thread::spawn(move || {
            let mut buf = [0; 10];
            let first = blocking::read(&r, &mut buf).unwrap();
            let mut rest = Vec::new();
            blocking::read_to_end(&r, &mut rest).unwrap();
            (buf[..first].to_vec(), rest)
        });
        let gather = [
            std::io::IoSlice::new(b"0123456"),
            std::io::IoSlice::new(b"789abcdef"),
        ];
        // The thread may or may not have lent its buffer yet: either way one
        // call accepts the whole gather.
        assert_eq!(w.write_vectored(&gather).await.unwrap(), 16);
        w.shutdown().await.unwrap();
        let (first, rest) = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!([first, rest].concat(), b"0123456789abcdef");
    });
}

/// Operations that returned `Pending` and were then dropped do not pile up
/// in the pipe: 200,000 cancelled reads of one task (one waker) leave one
/// waker held; 10,000 with a waker of their own (a task that makes a fresh
/// waker at each poll, or as many tasks) are held a bounded number at a time
/// (the flushes of displaced wakers wake and give back the rest, issue 24),
/// none is given back without a wake-up, and the ring wakes every one still
/// held and gives them all back; reads through handles that were dropped
/// leave none of theirs.
#[test]
fn cancelled_operations_do_not_pile_up() {
    bounded("cancelled_operations_do_not_pile_up", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        let one = Arc::new(Counted::default());
        let waker = Waker::from(Arc::clone(&one));
        for _ in 0..200_000 {
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0; 8];
            let mut rb = ReadBuf::new(&mut buf);
            assert!(Pin::new(&mut &r).poll_read(&mut cx, &mut rb).is_pending());
        }
        assert_eq!(w.__task_wakers_held(), 1);
        let wakers: Vec<Arc<Counted>> = (0..10_000).map(|_| Arc::default()).collect();
        for counted in &wakers {
            let waker = Waker::from(Arc::clone(counted));
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0; 8];
            let mut rb = ReadBuf::new(&mut buf);
            assert!(Pin::new(&mut &r).poll_read(&mut cx, &mut rb).is_pending());
        }
        let dropped_unwoken = wakers
            .iter()
            .filter(|c| Arc::strong_count(c) == 1 && c.0.load(Ordering::SeqCst) == 0)
            .count();
        assert_eq!(dropped_unwoken, 0, "a waiting waker given back unwoken");
        let held = w.__task_wakers_held();
        assert!(held <= 4 * 64 + 1, "{held} wakers held for 10,000 reads");
        // The ring: a write offers bytes to the readers waiting.
        assert!(matches!(poll_write_once(&w, b"x"), Poll::Ready(Ok(1))));
        assert_eq!(w.__task_wakers_held(), 0);
        assert!(wakers.iter().all(|c| c.0.load(Ordering::SeqCst) >= 1));
        assert!(wakers.iter().all(|c| Arc::strong_count(c) == 1));
        assert!(one.0.load(Ordering::SeqCst) >= 1);
        let mut buf = [0; 8];
        assert_eq!(read_polling(&r, &mut buf), 1);
        // Through clones that are dropped after their one poll, each with a
        // waker of its own: the drop gives them back.
        for counted in wakers.iter().take(10_000) {
            let r2 = r.clone();
            let waker = Waker::from(Arc::clone(counted));
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0; 8];
            let mut rb = ReadBuf::new(&mut buf);
            assert!(Pin::new(&mut &r2).poll_read(&mut cx, &mut rb).is_pending());
            assert_eq!(w.__task_wakers_held(), 1);
        }
        assert_eq!(w.__task_wakers_held(), 0);
        // Three tasks sharing a clone, each polling twice: three wakers held,
        // all given back when the clone drops.
        let r3 = r.clone();
        for _ in 0..2 {
            for counted in wakers.iter().take(3) {
                let waker = Waker::from(Arc::clone(counted));
                let mut cx = Context::from_waker(&waker);
                let mut buf = [0; 8];
                let mut rb = ReadBuf::new(&mut buf);
                assert!(Pin::new(&mut &r3).poll_read(&mut cx, &mut rb).is_pending());
            }
        }
        assert_eq!(w.__task_wakers_held(), 3);
        drop(r3);
        assert_eq!(w.__task_wakers_held(), 0);
        // Writers too: cancelled writes of one task on a full stage.
        let full = vec![0u8; STAGE];
        assert!(matches!(poll_write_once(&w, &full), Poll::Ready(Ok(STAGE))));
        for _ in 0..10_000 {
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut &w).poll_write(&mut cx, b"x").is_pending());
        }
        assert_eq!(w.__task_wakers_held(), 1);
    });
}

/// Many tasks waiting through one shared handle are all woken in the end: a
/// waker pushed out of the handle's place is kept until the bell rings.
#[test]
fn many_tasks_on_one_handle_all_get_their_message() {
    run("many_tasks_on_one_handle", async {
        const TASKS: usize = 64;
        let (r, w) = gopipe::pipe();
        let r = Arc::new(r);
        let mut readers = Vec::new();
        for _ in 0..TASKS {
            let r = Arc::clone(&r);
            readers.push(tokio::spawn(async move {
                let mut buf = [0; 8];
                (&*r).read_exact(&mut buf).await.map(|_| buf)
            }));
        }
        // Let them all register before anything is written.
        for _ in 0..TASKS {
            tokio::task::yield_now().await;
        }
        let writer = tokio::spawn(async move {
            for i in 0..TASKS as u64 {
                (&w).write_all(&i.to_le_bytes()).await?;
            }
            Ok::<_, std::io::Error>(w)
        });
        let mut seen = Vec::new();
        for t in readers {
            seen.push(u64::from_le_bytes(t.await.unwrap().unwrap()));
        }
        drop(writer.await.unwrap().unwrap());
        seen.sort_unstable();
        assert_eq!(seen, (0..TASKS as u64).collect::<Vec<_>>());
    });
}

/// A write waiting for room is woken by a read half's close, and fails.
#[test]
fn write_waiting_for_room_fails_on_read_close() {
    bounded(
        "write_waiting_for_room_fails_on_read_close",
        BOUND_SECS,
        || {
            let (r, w) = gopipe::pipe();
            let full = vec![0u8; STAGE];
            assert!(matches!(poll_write_once(&w, &full), Poll::Ready(Ok(STAGE))));
            let counted = Arc::new(Counted::default());
            let waker = Waker::from(Arc::clone(&counted));
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut &w).poll_write(&mut cx, b"x").is_pending());
            r.close();
            assert!(counted.0.load(Ordering::SeqCst) > 0, "never woken");
            match poll_write_once(&w, b"x") {
                Poll::Ready(Err(e)) => assert!(is_closed_pipe(&e), "{e}"),
                other => panic!("{other:?}"),
            }
        },
    );
}

/// A read into a `ReadBuf` over uninitialised memory copies straight into it
/// and initialises only the bytes it put there: nothing is zeroed first
/// (tokio's `read_buf` into a `BytesMut` or a `Vec`'s spare capacity hands
/// such buffers, one poll after another).
#[test]
fn reads_into_uninitialised_memory_without_zeroing_it() {
    bounded("reads_into_uninitialised_memory", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        assert!(matches!(poll_write_once(&w, b"hello"), Poll::Ready(Ok(5))));
        let mut storage = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut rb = ReadBuf::uninit(&mut storage);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            Pin::new(&mut &r).poll_read(&mut cx, &mut rb),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(rb.filled(), b"hello");
        assert_eq!(rb.initialized().len(), 5, "the rest was zeroed");
        // From a thread's offer too.
        let t = thread::spawn(move || blocking::write_all(&w, b"from a thread"));
        let mut storage = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut rb = ReadBuf::uninit(&mut storage);
        let got = loop {
            let counted = Arc::new(Counted::default());
            let waker = Waker::from(Arc::clone(&counted));
            let mut cx = Context::from_waker(&waker);
            match Pin::new(&mut &r).poll_read(&mut cx, &mut rb) {
                Poll::Ready(res) => break res,
                Poll::Pending => {
                    while counted.0.load(Ordering::SeqCst) == 0 {
                        thread::yield_now();
                    }
                }
            }
        };
        got.unwrap();
        assert_eq!(rb.filled(), b"from a thread");
        assert_eq!(rb.initialized().len(), 13);
        t.join().unwrap().unwrap();
    });
}

/// An async write spins a moment for a reading thread (for its lent buffer,
/// or for room), and no longer: with the thread gone quiet, a large write
/// still stages and a write that finds the stage full returns `Pending`; the
/// thread then gets every byte.
#[test]
fn writes_for_a_thread_reader_that_stopped_still_return() {
    bounded(
        "writes_for_a_thread_reader_that_stopped_still_return",
        BOUND_SECS,
        || {
            let (r, w) = gopipe::pipe();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let (read_tx, read_rx) = std::sync::mpsc::channel::<()>();
            let reader = thread::spawn(move || {
                // One read, so that the pipe knows a thread reads it (it
                // lends its buffer, or takes the staged bytes).
                let mut first = [0; 8];
                let n = blocking::read(&r, &mut first).unwrap();
                read_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                let mut rest = Vec::new();
                blocking::read_to_end(&r, &mut rest).unwrap();
                [&first[..n], &rest[..]].concat()
            });
            assert!(matches!(poll_write_once(&w, b"hi"), Poll::Ready(Ok(2))));
            read_rx.recv().unwrap();
            let big = pattern(STAGE, 3);
            // No lent buffer comes: staged after the spin.
            assert!(matches!(poll_write_once(&w, &big), Poll::Ready(Ok(n)) if n == STAGE));
            // The stage is full and nobody reads: Pending after the spin.
            assert!(poll_write_once(&w, b"x").is_pending());
            go_tx.send(()).unwrap();
            drop(w);
            let got = reader.join().unwrap();
            assert_eq!(got, [&b"hi"[..], &big[..]].concat());
        },
    );
}

/// An async read spins a moment for a writing thread's next write, and no
/// longer: with the thread gone quiet it returns `Pending`, and it gets the
/// thread's next write.
#[test]
fn reads_for_a_thread_writer_that_stopped_still_return() {
    bounded(
        "reads_for_a_thread_writer_that_stopped_still_return",
        BOUND_SECS,
        || {
            let (r, w) = gopipe::pipe();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let writer = thread::spawn(move || {
                blocking::write_all(&w, b"one").unwrap();
                go_rx.recv().unwrap();
                blocking::write_all(&w, b"two").unwrap();
            });
            let mut buf = [0; 8];
            // The first write: wait for it.
            let n = read_polling(&r, &mut buf);
            assert_eq!(&buf[..n], b"one");
            // The thread waits for us now: Pending after the spin.
            assert!(poll_read_once(&r, &mut buf).is_pending());
            go_tx.send(()).unwrap();
            let n = read_polling(&r, &mut buf);
            assert_eq!(&buf[..n], b"two");
            writer.join().unwrap();
        },
    );
}
