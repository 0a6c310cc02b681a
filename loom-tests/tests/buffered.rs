//! Loom models of buffered pipes (issue 25, `gopipe::buffered_pipe`): every
//! write stages into the pipe's buffer (a capacity of 2 bytes here, so that
//! writes fill it), blocking writers wait for room with the write side
//! held (a write that fits the room goes in whole without it), reads join
//! writes, and closes wake whoever waits.
#![cfg(gopipe_loom)]

use std::io::{ErrorKind, Read, Write};
use std::task::Poll;

use gopipe::PipeWriter;
use loom::thread;
use loom_tests::{
    assert_closed_pipe, model, model_with_bound, poll_write, read_to_end, task, ReadEnd,
};

/// A blocking write of `abcd` into a 2-byte buffer nobody reads, while the
/// read half closes: the write, waiting for room, must be woken by the
/// close (a wait that ignores the close sleeps for ever: a loom deadlock);
/// it reports the 2 bytes it got in, or the closed-pipe error if the close
/// came first, and the next write fails.
#[test]
fn blocked_buffered_write_racing_read_close() {
    model("blocked_buffered_write_racing_read_close", || {
        let (reader, writer) = gopipe::buffered_pipe(2);
        let w = thread::spawn(move || {
            let first = (&writer).write(b"abcd");
            let second = (&writer).write(b"e");
            (first, second)
        });
        reader.close();
        let (first, second) = w.join().unwrap();
        match first {
            Ok(n) => assert_eq!(n, 2, "the buffer's worth, then the close"),
            Err(e) => assert_closed_pipe(&e),
        }
        assert_closed_pipe(&second.unwrap_err());
    });
}

/// A reader with a 2-byte buffer reads to end of file while a writer
/// writes `abc` into a 2-byte buffer (it waits for room once) and then
/// drops its half: every byte arrives once, in order, and end of file comes
/// after the last one (reads may join writes, never lose or repeat bytes).
#[test]
fn buffered_reader_drains_while_writer_refills_and_closes() {
    model(
        "buffered_reader_drains_while_writer_refills_and_closes",
        || {
            let (reader, writer) = gopipe::buffered_pipe(2);
            let w = thread::spawn(move || {
                let n = (&writer).write(b"abc");
                drop(writer);
                n
            });
            let (got, end) = read_to_end(&reader, 2);
            assert!(matches!(end, ReadEnd::Eof), "{end:?}");
            assert_eq!(got, b"abc");
            assert_eq!(w.join().unwrap().unwrap(), 3);
        },
    );
}

/// On a 2-byte buffered pipe, three at once: a thread writes `first`
/// through a clone of the writer and drops it, a reader reads to end of file
/// with a `chunk`-byte buffer, and this thread writes `second` with `write`
/// (given the writer; it returns the count) and drops its half. Checks that
/// each write reported all of its bytes and that the reader got end of file
/// after both writes, each whole: `first` then `second`, or `second` then
/// `first`, never interleaved.
fn two_writers(
    first: &'static [u8],
    second: &'static [u8],
    chunk: usize,
    write: impl FnOnce(&PipeWriter, &[u8]) -> usize,
) {
    let (reader, writer) = gopipe::buffered_pipe(2);
    let other = writer.clone();
    let t = thread::spawn(move || {
        let n = (&other).write(first);
        drop(other);
        n
    });
    let r = thread::spawn(move || read_to_end(&reader, chunk));
    assert_eq!(write(&writer, second), second.len());
    drop(writer);
    assert_eq!(t.join().unwrap().unwrap(), first.len());
    let (got, end) = r.join().unwrap();
    assert!(matches!(end, ReadEnd::Eof), "{end:?}");
    assert!(
        got == [first, second].concat() || got == [second, first].concat(),
        "the writes interleaved: {:?}",
        String::from_utf8_lossy(&got)
    );
}

/// A blocking writer writes `abc` into a 2-byte buffer (it must wait for
/// room half way, holding the write side), while a task writes `xy` through
/// another clone; a reader reads everything: the two writes never
/// interleave (`abcxy` or `xyabc`), every byte once.
#[test]
fn task_and_thread_writer_on_one_full_buffer() {
    model_with_bound("task_and_thread_writer_on_one_full_buffer", 2, || {
        two_writers(b"abc", b"xy", 4, |writer, bytes| {
            task(|cx| poll_write(writer, cx, bytes)).unwrap()
        });
    });
}

/// Half-close with bytes buffered: a task writes `ab` and shuts the write
/// half down at once, while a blocking reader reads to end of file: it gets
/// `ab`, then end of file, never end of file first.
#[test]
fn half_close_with_bytes_buffered() {
    model("half_close_with_bytes_buffered", || {
        let (reader, writer) = gopipe::buffered_pipe(4);
        let r = thread::spawn(move || read_to_end(&reader, 4));
        let accepted = task(|cx| match poll_write(&writer, cx, b"ab") {
            Poll::Ready(res) => Poll::Ready(res),
            Poll::Pending => Poll::Pending,
        });
        assert_eq!(accepted.unwrap(), 2);
        writer.close();
        let (got, end) = r.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
        // The write half is closed: a write fails.
        let err = (&writer).write(b"c").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

/// Two blocking writers on one 2-byte buffer: one writes `abc` (it waits for
/// room half way, holding the write side), the other `xy`, which fits the
/// room whole and so goes in without the write side if no write holds it;
/// a reader reads everything: the writes never interleave (`abcxy` or
/// `xyabc`), every byte once.
#[test]
fn two_thread_writers_on_one_full_buffer() {
    model_with_bound("two_thread_writers_on_one_full_buffer", 2, || {
        two_writers(b"abc", b"xy", 4, |writer, bytes| {
            { writer }.write(bytes).unwrap()
        });
    });
}

/// Two writers that both go in without the write side (one byte each into a
/// 2-byte buffer) while a blocking reader lends its buffer: at most one of
/// them claims the lend (under the stage's lock), the other stages behind
/// it, and the reader gets both bytes, each once, then end of file.
#[test]
fn two_unheld_writers_racing_a_lending_reader() {
    model_with_bound("two_unheld_writers_racing_a_lending_reader", 2, || {
        two_writers(b"a", b"b", 2, |writer, bytes| {
            { writer }.write(bytes).unwrap()
        });
    });
}

/// A blocking write of `abc` into a 1-byte buffer stages `a` and offers
/// `bc`, more than the buffer holds: a reader gets the whole write in at
/// most two reads, `a` from the buffer and then `bc` straight from the
/// writer's offer (or all three through its lent buffer), never a byte at a
/// time, and never `bc` before `a`. That is what keeps a small buffer as
/// live as the unbuffered pipe: an echoing peer whose own writes wait takes
/// the rest of a write in one read, as it would from `pipe()`.
#[test]
fn blocked_buffered_write_offers_its_rest() {
    model("blocked_buffered_write_offers_its_rest", || {
        let (reader, writer) = gopipe::buffered_pipe(1);
        let w = thread::spawn(move || {
            let n = (&writer).write(b"abc");
            drop(writer);
            n
        });
        let mut reads = Vec::new();
        let mut buf = [0u8; 4];
        loop {
            let n = (&reader).read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            reads.push(buf[..n].to_vec());
        }
        assert_eq!(w.join().unwrap().unwrap(), 3);
        assert!(
            reads == [b"abc".to_vec()] || reads == [b"a".to_vec(), b"bc".to_vec()],
            "reads: {reads:?}"
        );
    });
}

/// A blocking write of `abc` into a 2-byte buffer stages `ab` and waits for
/// room for `c` (the buffer can hold it: no offer); a reader takes 2 bytes
/// with a `chunk`-byte buffer and then waits for the write to return before
/// it reads again: the write stages `c` in the room those reads made and
/// returns `Ok(3)` with nobody reading it (as a socket's write returns once
/// its bytes are in the buffer). A take that frees room without ringing the
/// waiting writer leaves it asleep (a loom deadlock).
fn write_returns_once_its_rest_fits(chunk: usize) {
    let (reader, writer) = gopipe::buffered_pipe(2);
    let w = thread::spawn(move || {
        let n = (&writer).write(b"abc");
        drop(writer);
        n
    });
    let (mut got, end) = loom_tests::read_until(&reader, chunk, 2);
    assert!(matches!(end, ReadEnd::Enough), "{end:?}");
    assert_eq!(w.join().unwrap().unwrap(), 3);
    let (rest, end) = read_to_end(&reader, 2);
    assert!(matches!(end, ReadEnd::Eof), "{end:?}");
    got.extend_from_slice(&rest);
    assert_eq!(got, b"abc");
}

/// [`write_returns_once_its_rest_fits`] with 2-byte reads: a take of 2
/// staged bytes copies under a drain claim, with the stage's lock released
/// (the engine's `UNLOCKED_TAKE` is 2 under loom), and the claim's end
/// rings the writer.
#[test]
fn blocked_buffered_write_returns_once_its_rest_fits() {
    model("blocked_buffered_write_returns_once_its_rest_fits", || {
        write_returns_once_its_rest_fits(2);
    });
}

/// [`write_returns_once_its_rest_fits`] with 1-byte reads: each take copies
/// under the stage's lock, and rings the writer itself.
#[test]
fn blocked_buffered_write_returns_once_small_reads_make_room() {
    model(
        "blocked_buffered_write_returns_once_small_reads_make_room",
        || write_returns_once_its_rest_fits(1),
    );
}

/// A blocking write of `abc` into a 1-byte buffer nobody reads stages `a`
/// and offers `bc` (more than the buffer holds), while the read half
/// closes: the write, waiting for a reader to take its offer, must be woken
/// by the close (a wait blind to the done channel sleeps for ever) and
/// reports the byte it got in (`Ok(1)`), or `ClosedPipe` if the close came
/// first.
#[test]
fn blocked_write_with_rest_on_offer_racing_read_close() {
    model("blocked_write_with_rest_on_offer_racing_read_close", || {
        let (reader, writer) = gopipe::buffered_pipe(1);
        let w = thread::spawn(move || (&writer).write(b"abc"));
        reader.close();
        match w.join().unwrap() {
            Ok(n) => assert_eq!(n, 1, "the buffer's worth, then the close"),
            Err(e) => assert_closed_pipe(&e),
        }
    });
}
