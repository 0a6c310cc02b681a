//! Issue 25: buffered pipes and connections (`buffered_pipe`,
//! `buffered_duplex`), which behave like a socket's send buffer for threads
//! and tasks alike. One test per rule of the constructors' docs; every wait
//! that a bug could make endless has a bound.

mod common;

use std::future::Future;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    assert_close_error, assert_closed_pipe, assert_timed_out, bounded, pattern, wait_asleep,
    within, BOUND_SECS,
};
use gopipe::{buffered_duplex, buffered_pipe, PipeReader, PipeWriter};

/// A bound on a call that must return at once (or at a short timeout).
const PROMPT: Duration = Duration::from_secs(5);

/// Polls one async write of `bytes` with a waker that does nothing.
fn poll_write(w: &PipeWriter, bytes: &[u8]) -> Poll<io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    tokio::io::AsyncWrite::poll_write(Pin::new(&mut &*w), &mut cx, bytes)
}

/// Reads exactly `n` bytes (or fails).
fn read_n(r: &PipeReader, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    (&*r).read_exact(&mut got).expect("read_exact");
    got
}

/// Writes return once their bytes are in the buffer, with no reader at all,
/// and a read returns whatever is buffered at once, joining writes.
#[test]
fn writes_return_once_buffered_and_reads_join_them() {
    bounded("buffered_join", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(16);
        assert_eq!((&writer).write(b"ab").unwrap(), 2);
        assert_eq!((&writer).write(b"cd").unwrap(), 2);
        assert_eq!((&writer).write(b"efg").unwrap(), 3);
        let mut buf = [0u8; 16];
        assert_eq!(
            (&reader).read(&mut buf).unwrap(),
            7,
            "one read, three writes"
        );
        assert_eq!(&buf[..7], b"abcdefg");
        // A short buffer takes a prefix; the rest stays for the next read.
        (&writer).write_all(b"hijkl").unwrap();
        assert_eq!((&reader).read(&mut buf[..2]).unwrap(), 2);
        assert_eq!(&buf[..2], b"hi");
        assert_eq!((&reader).read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"jkl");
    });
}

/// A write larger than the room left blocks until readers make room, and
/// returns `Ok(len)` once every byte is in; a reader thread lending its
/// buffer gets the next write's bytes straight.
#[test]
fn a_write_waits_for_room_then_returns_whole() {
    bounded("buffered_room", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(8);
        let data = pattern(100);
        let expected = data.clone();
        let w = thread::spawn(move || (&writer).write(&data));
        let got = read_n(&reader, 100);
        assert_eq!(got, expected);
        assert_eq!(w.join().unwrap().unwrap(), 100);
        // Reader first: it waits (lending its buffer) for the next write.
        let (reader, writer) = buffered_pipe(8);
        let r = thread::spawn(move || {
            let mut buf = [0u8; 4];
            let n = (&reader).read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        (&writer).write_all(b"xy").unwrap();
        assert_eq!(r.join().unwrap(), b"xy");
    });
}

/// On a `buffered_pipe(capacity)`, `writers` threads at once, each on its
/// own clone, each writing `rounds` times a block of `len(id)` bytes of its
/// id (every write must report all of its bytes); returns every byte a reader
/// got, to end of file, once all the writers are done.
fn write_blocks_at_once(
    capacity: usize,
    writers: u8,
    rounds: usize,
    len: fn(u8) -> usize,
) -> Vec<u8> {
    let (reader, writer) = buffered_pipe(capacity);
    let threads: Vec<_> = (0..writers)
        .map(|id| {
            let w = writer.clone();
            thread::spawn(move || {
                let block = vec![id; len(id)];
                for _ in 0..rounds {
                    assert_eq!((&w).write(&block).unwrap(), block.len());
                }
            })
        })
        .collect();
    drop(writer);
    let mut all = Vec::new();
    (&reader).read_to_end(&mut all).unwrap();
    for t in threads {
        t.join().unwrap();
    }
    all
}

/// Concurrent writers never interleave inside one write, however small the
/// buffer: each write holds the write side until all its bytes are in.
#[test]
fn concurrent_writes_never_interleave() {
    bounded("buffered_no_interleave", BOUND_SECS, || {
        const LEN: usize = 10_000;
        const WRITERS: u8 = 4;
        const ROUNDS: usize = 20;
        let all = write_blocks_at_once(1000, WRITERS, ROUNDS, |_| LEN);
        assert_eq!(all.len(), LEN * ROUNDS * usize::from(WRITERS));
        for (i, block) in all.chunks(LEN).enumerate() {
            assert!(
                block.iter().all(|&b| b == block[0]),
                "write {i} was interleaved with another"
            );
        }
    });
}

/// Writes that fit the room whole (they go in without the write side) never
/// land inside a larger write that holds the write side while it waits for
/// room: small and large writers on one small buffer, each write a block of
/// its writer's id, every block whole in the stream.
#[test]
fn small_writes_never_land_inside_a_held_write() {
    bounded("buffered_small_inside_held", BOUND_SECS, || {
        const WRITERS: u8 = 4;
        const ROUNDS: usize = 200;
        // Writers 0 and 1 write 3,000 bytes (three times the buffer: they
        // wait for room half way), 2 and 3 write 100 (they fit whole).
        let len = |id: u8| if id < 2 { 3000 } else { 100 };
        let all = write_blocks_at_once(1000, WRITERS, ROUNDS, len);
        let mut at = 0;
        let mut blocks = 0;
        while at < all.len() {
            let id = all[at];
            let n = len(id);
            assert!(
                at + n <= all.len() && all[at..at + n].iter().all(|&b| b == id),
                "the write of {id} at byte {at} was interleaved with another"
            );
            at += n;
            blocks += 1;
        }
        assert_eq!(blocks, ROUNDS * usize::from(WRITERS));
    });
}

/// A timeout cuts a blocked write with the exact count accepted; the next
/// write, with the buffer still full, times out having accepted nothing;
/// the reader gets exactly the accepted bytes.
#[test]
fn a_timeout_cuts_a_write_with_its_exact_count() {
    bounded("buffered_timeout", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(10);
        writer
            .set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let start = Instant::now();
        assert_eq!((&writer).write(&pattern(25)).unwrap(), 10);
        assert!(start.elapsed() < PROMPT);
        assert_timed_out(&(&writer).write(b"more"), "a full buffer");
        // An absolute deadline cuts the same way.
        writer.set_write_timeout(None).unwrap();
        writer
            .set_write_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        assert_timed_out(&(&writer).write(b"more"), "a passed deadline");
        drop(writer);
        let mut got = Vec::new();
        (&reader).read_to_end(&mut got).unwrap();
        assert_eq!(got, pattern(10));
    });
}

/// The read half's close drops the buffered bytes, wakes a writer blocked
/// for room (its exact count), and fails every later write with the read
/// half's error.
#[test]
fn a_read_close_drops_the_buffer_and_fails_writes() {
    bounded("buffered_read_close", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(10);
        let w = thread::Builder::new()
            .name("buf-close-w".into())
            .spawn(move || {
                let first = (&writer).write(&pattern(25));
                (first, writer)
            })
            .unwrap();
        // The write filled the buffer and waits for room, asleep.
        wait_asleep(&["buf-close-w"]);
        reader.close_with_error(io::Error::new(ErrorKind::InvalidData, "bad frame"));
        let (first, writer) = within(PROMPT, move || w.join().unwrap())
            .expect("the close woke the blocked writer")
            .0;
        assert_eq!(first.unwrap(), 10, "the buffer's worth was accepted");
        assert_close_error(
            &(&writer).write(b"x"),
            ErrorKind::InvalidData,
            "bad frame",
            "a write after the read half's close",
        );
        assert_close_error(
            &poll_write(&writer, b"x").into_ready(),
            ErrorKind::InvalidData,
            "bad frame",
            "an async write after the read half's close",
        );
        assert_closed_pipe(&(&reader).read(&mut [0; 4]), "a read on the closed half");
    });
}

/// Polls that must be ready.
trait IntoReady<T> {
    /// The value of a `Ready` poll (panics on `Pending`).
    fn into_ready(self) -> T;
}

impl<T> IntoReady<T> for Poll<T> {
    fn into_ready(self) -> T {
        match self {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("Pending where Ready was due"),
        }
    }
}

/// After the write half closes, readers get every buffered byte, then end
/// of file; with `close_with_error`, the bytes, then the error.
#[test]
fn a_write_close_delivers_the_buffer_first() {
    bounded("buffered_write_close", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(64);
        (&writer).write_all(b"last words").unwrap();
        writer.close();
        let mut got = Vec::new();
        (&reader).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");
        assert_eq!((&reader).read(&mut [0; 4]).unwrap(), 0, "end of file stays");

        let (reader, writer) = buffered_pipe(64);
        (&writer).write_all(b"partial").unwrap();
        writer.close_with_error(io::Error::new(ErrorKind::ConnectionReset, "peer died"));
        let mut buf = [0u8; 64];
        assert_eq!((&reader).read(&mut buf).unwrap(), 7);
        assert_eq!(&buf[..7], b"partial");
        assert_close_error(
            &(&reader).read(&mut buf),
            ErrorKind::ConnectionReset,
            "peer died",
            "after the buffered bytes",
        );
    });
}

/// An async write is accepted whole or not at all up to the capacity, a
/// larger one as a capacity-long prefix; `Pending` accepted nothing.
#[test]
fn async_writes_are_whole_up_to_the_capacity() {
    bounded("buffered_async_whole", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(10);
        assert!(matches!(
            poll_write(&writer, b"0123456"),
            Poll::Ready(Ok(7))
        ));
        // 4 bytes do not fit in the 3 left: nothing is taken.
        assert!(poll_write(&writer, b"abcd").is_pending());
        assert!(matches!(poll_write(&writer, b"789"), Poll::Ready(Ok(3))));
        let mut buf = [0u8; 16];
        assert_eq!((&reader).read(&mut buf).unwrap(), 10);
        assert_eq!(&buf[..10], b"0123456789");
        // Larger than the capacity: a prefix of the capacity.
        let big = pattern(25);
        assert!(matches!(poll_write(&writer, &big), Poll::Ready(Ok(10))));
        assert_eq!((&reader).read(&mut buf).unwrap(), 10);
        assert_eq!(&buf[..10], &big[..10]);
        // A gather is one write, whole too.
        let mut cx = Context::from_waker(Waker::noop());
        let parts = [IoSlice::new(b"ab"), IoSlice::new(b"cde")];
        let n = tokio::io::AsyncWrite::poll_write_vectored(Pin::new(&mut &writer), &mut cx, &parts);
        assert!(matches!(n, Poll::Ready(Ok(5))), "{n:?}");
        assert_eq!((&reader).read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"abcde");
    });
}

/// `consumed()` waits until readers took every byte accepted before it, and
/// fails if the read half closes with some unread.
#[test]
fn consumed_waits_for_readers() {
    bounded("buffered_consumed", BOUND_SECS, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (reader, writer) = buffered_pipe(1 << 20);
        (&writer).write_all(&pattern(100_000)).unwrap();
        let r = thread::spawn(move || {
            let got = read_n(&reader, 100_000);
            (got, reader)
        });
        rt.block_on(async { tokio::time::timeout(PROMPT, writer.consumed()).await })
            .expect("consumed returned once the reader took everything")
            .unwrap();
        let (got, reader) = r.join().unwrap();
        assert_eq!(got, pattern(100_000));
        // Unread bytes and a read half's close: the error.
        (&writer).write_all(b"never read").unwrap();
        let mut consumed = std::pin::pin!(writer.consumed());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(consumed.as_mut().poll(&mut cx).is_pending());
        reader.close();
        match consumed.as_mut().poll(&mut cx) {
            Poll::Ready(Err(e)) => assert!(gopipe::is_closed_pipe(&e), "{e:?}"),
            other => panic!("consumed after the read half's close: {other:?}"),
        }
    });
}

/// Half-close on a buffered connection: the peer reads the rest, then end
/// of file, while the other direction goes on.
#[test]
fn shutdown_write_lets_the_peer_read_the_rest() {
    bounded("buffered_half_close", BOUND_SECS, || {
        let (a, b) = buffered_duplex(1024);
        (&a).write_all(b"request").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut req = Vec::new();
        (&b).read_to_end(&mut req).unwrap();
        assert_eq!(req, b"request");
        (&b).write_all(b"response").unwrap();
        drop(b);
        let mut resp = Vec::new();
        (&a).read_to_end(&mut resp).unwrap();
        assert_eq!(resp, b"response");
    });
}

/// Both ends of a buffered connection write before they read (a deadlock
/// on `duplex()`), from blocking threads.
#[test]
fn both_ends_write_first() {
    bounded("buffered_both_write", BOUND_SECS, || {
        let (a, b) = buffered_duplex(64 << 10);
        let hello = pattern(40 << 10);
        let expected = hello.clone();
        let t = thread::spawn(move || {
            (&b).write_all(&hello).unwrap();
            let mut got = vec![0; 40 << 10];
            (&b).read_exact(&mut got).unwrap();
            got
        });
        (&a).write_all(&expected).unwrap();
        let mut got = vec![0; 40 << 10];
        (&a).read_exact(&mut got).unwrap();
        assert_eq!(got, expected);
        assert_eq!(t.join().unwrap(), expected);
    });
}

/// Deadlines on a buffered connection apply to a write already blocked for
/// room.
#[test]
fn a_deadline_reaches_a_write_blocked_for_room() {
    bounded("buffered_conn_deadline", BOUND_SECS, || {
        let (a, _b) = buffered_duplex(4);
        let a2 = a.clone();
        let w = thread::Builder::new()
            .name("buf-deadline-w".into())
            .spawn(move || (&a2).write(b"0123456789"))
            .unwrap();
        // The write blocks once the 4 bytes are in; move the deadline in.
        wait_asleep(&["buf-deadline-w"]);
        a.set_write_deadline(Some(Instant::now())).unwrap();
        let (res, took) = within(PROMPT, move || w.join().unwrap()).expect("the deadline woke it");
        assert!(took < PROMPT);
        assert_eq!(res.unwrap(), 4, "exactly the bytes accepted");
    });
}

/// `buffered_pipe(0)` is the unbuffered pipe: a write waits for a reader.
#[test]
fn capacity_zero_is_unbuffered() {
    bounded("buffered_zero", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(0);
        writer
            .set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        assert_timed_out(&(&writer).write(b"x"), "no reader, no buffer");
        let (c, d) = buffered_duplex(0);
        c.set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        assert_timed_out(&(&c).write(b"x"), "no reader, no buffer");
        drop((reader, d));
    });
}

/// Threads and tasks in any mix: a task writes and a thread reads, and a
/// thread writes and a task reads, through one buffered pipe each; every
/// byte arrives once, in order.
#[test]
fn threads_and_tasks_mix() {
    bounded("buffered_mix", BOUND_SECS, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let data = pattern(3 << 20);
        // Task -> thread.
        let (reader, mut writer) = buffered_pipe(64 << 10);
        let d = data.clone();
        let task = rt.spawn(async move {
            for chunk in d.chunks(1000) {
                tokio::io::AsyncWriteExt::write_all(&mut writer, chunk)
                    .await
                    .unwrap();
            }
        });
        let mut got = Vec::new();
        (&reader).read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
        rt.block_on(task).unwrap();
        // Thread -> task.
        let (mut reader, writer) = buffered_pipe(64 << 10);
        let d = data.clone();
        let t = thread::spawn(move || {
            for chunk in d.chunks(1000) {
                (&writer).write_all(chunk).unwrap();
            }
        });
        let got = rt.block_on(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut got)
                .await
                .unwrap();
            got
        });
        assert_eq!(got, data);
        t.join().unwrap();
    });
}

/// The zero-copy calls on a buffered pipe: `write_to` drains every buffered
/// byte into a sink (joining writes), `read_from` fills the buffer from a
/// source, and a large `write_vectored` is one write, never interleaved.
#[test]
fn zero_copy_calls_on_a_buffered_pipe() {
    bounded("buffered_zero_copy", BOUND_SECS, || {
        let data = pattern(1 << 20);
        let (reader, writer) = buffered_pipe(10_000);
        let d = data.clone();
        let w = thread::spawn(move || {
            let n = writer
                .read_from(&mut io::Cursor::new(&d[..1 << 19]))
                .unwrap();
            let parts = [
                IoSlice::new(&d[1 << 19..3 << 18]),
                IoSlice::new(&d[3 << 18..]),
            ];
            let mut sent = n as usize;
            while sent < d.len() {
                // Skip what went already.
                let mut skip = sent - (1 << 19);
                let rest: Vec<IoSlice<'_>> = parts
                    .iter()
                    .filter_map(|p| {
                        if skip >= p.len() {
                            skip -= p.len();
                            None
                        } else {
                            let s = IoSlice::new(&p[skip..]);
                            skip = 0;
                            Some(s)
                        }
                    })
                    .collect();
                sent += (&writer).write_vectored(&rest).unwrap();
            }
            n
        });
        let mut sink = Vec::new();
        assert_eq!(reader.write_to(&mut sink).unwrap(), data.len() as u64);
        assert_eq!(w.join().unwrap(), 1 << 19);
        assert_eq!(sink, data);
    });
}

/// A draining read's sink reads the staged bytes it claimed, with the lock
/// released, while the writer pushes more into the free room around them:
/// every byte arrives once, in order. Small, so that Miri can run it
/// (`cargo +nightly miri test --test buffered -- sink_reads_while`, see
/// TESTING.md): its Stacked Borrows check rejected the ring's storage when
/// a push made a `&mut` to the whole of it while a sink read a part.
#[test]
fn a_sink_reads_while_a_writer_pushes() {
    bounded("buffered_sink_reads_while_pushing", BOUND_SECS, || {
        let data = pattern(600);
        let (reader, mut writer) = buffered_pipe(4096);
        writer.write_all(&data[..100]).unwrap();
        let sink = thread::spawn(move || {
            /// Takes a few bytes a call, yielding first so that pushes come
            /// while it holds the claim.
            struct Slow(Vec<u8>);
            impl Write for Slow {
                fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                    for _ in 0..20 {
                        thread::yield_now();
                    }
                    let n = b.len().min(7);
                    self.0.extend_from_slice(&b[..n]);
                    Ok(n)
                }
                fn flush(&mut self) -> io::Result<()> {
                    Ok(())
                }
            }
            let mut slow = Slow(Vec::new());
            reader.write_to(&mut slow).unwrap();
            slow.0
        });
        for chunk in data[100..].chunks(10) {
            writer.write_all(chunk).unwrap();
            thread::yield_now();
        }
        drop(writer);
        assert_eq!(sink.join().unwrap(), data);
    });
}

/// A blocking write larger than the buffer offers what the buffer cannot
/// hold once it is full: a reader gets the whole write in at most two reads
/// (the buffered bytes, then the rest straight from the writer), never a
/// buffer's worth at a time, on threads and tasks alike. (Before, a reader racing the writer's
/// refills got 4 bytes a read.)
#[test]
fn a_blocked_write_offers_its_rest_to_one_read() {
    bounded("buffered_offer_rest", BOUND_SECS, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for task_reader in [false, true] {
            for _ in 0..200 {
                let (reader, writer) = buffered_pipe(4);
                let data = pattern(100);
                let w = thread::spawn(move || (&writer).write(&data));
                let mut reads = Vec::new();
                let mut got = Vec::new();
                let mut buf = [0u8; 256];
                while got.len() < 100 {
                    let n = if task_reader {
                        rt.block_on(tokio::io::AsyncReadExt::read(&mut &reader, &mut buf))
                            .unwrap()
                    } else {
                        (&reader).read(&mut buf).unwrap()
                    };
                    assert!(n > 0, "end of file before the write's bytes");
                    reads.push(n);
                    got.extend_from_slice(&buf[..n]);
                }
                assert_eq!(w.join().unwrap().unwrap(), 100);
                assert_eq!(got, pattern(100));
                assert!(
                    reads == [100] || reads == [4, 96],
                    "task reader: {task_reader}, reads: {reads:?}"
                );
            }
        }
    });
}

/// A blocked write whose rest the buffer can hold is not offered: it is
/// staged once readers free room, and the write returns, as a socket's
/// does: into an 8-byte buffer, a 12-byte write returns after a read of 4,
/// with nobody reading the rest.
#[test]
fn a_blocked_write_returns_once_its_rest_fits() {
    bounded("buffered_rest_fits", BOUND_SECS, || {
        let (reader, writer) = buffered_pipe(8);
        let w = thread::spawn(move || (&writer).write(&pattern(12)));
        let mut buf = [0u8; 4];
        let mut got = Vec::new();
        while got.len() < 4 {
            let n = (&reader).read(&mut buf[..4 - got.len()]).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        // No more reads until the write is back.
        assert_eq!(w.join().unwrap().unwrap(), 12);
        let mut rest = Vec::new();
        while got.len() + rest.len() < 12 {
            let n = (&reader).read(&mut buf).unwrap();
            rest.extend_from_slice(&buf[..n]);
        }
        got.extend_from_slice(&rest);
        assert_eq!(got, pattern(12));
    });
}

/// A connection with a 1-byte buffer each way, and an echoing peer that
/// copies through a 1 KiB buffer (Go's nettest shape): 13-byte round trips
/// never deadlock, as on `duplex()`. Before, the echo read a byte at a
/// time while the client's write refilled the buffer, its write back then
/// found the other buffer full with the client still writing, and both
/// waited for ever.
#[test]
fn a_small_buffer_echo_never_deadlocks() {
    bounded("buffered_small_echo", BOUND_SECS, || {
        for cap in [1, 2, 5] {
            let (client, server) = buffered_duplex(cap);
            let echo = thread::spawn(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match (&server).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if (&server).write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            for round in 0..300u32 {
                let msg = format!("Hello, {round:05}!");
                (&client).write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                (&client).read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes(), "capacity {cap}, round {round}");
            }
            client.close();
            echo.join().unwrap();
        }
    });
}
