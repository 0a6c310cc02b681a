//! The behaviours checked by Go's tests of `io.Pipe`, rewritten for gopipe.
//!
//! Source of the behaviours:
//!   - `src/io/pipe_test.go` in https://github.com/golang/go
//!
//! Copyright & License of the original tests:
//!   - Copyright (c) 2009 The Go Authors
//!   - BSD-style licence: https://golang.org/LICENSE
//!
//! The test code here is our own; only the scenarios follow Go's. Where Go and
//! Rust differ, the Rust mapping of the crate applies: Go's `(0, io.EOF)` is
//! `Ok(0)`, a write Go reports as `(n, err)` with `n > 0` is `Ok(n)`, Go's `nil`
//! close error is a plain `close()`, and Go's sleeps before a close ("to make
//! it more likely the other side is blocked") are a signal that the other
//! thread is about to block. Every test runs on both engines.

mod common;

use std::error::Error;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;

use common::{assert_close_error, assert_closed_pipe, on_engines, pattern};
use gopipe::{CloseError, PipeReader, PipeWriter};

/// TestPipe1: one write, one read.
#[test]
fn pipe1_single_write_and_read() {
    on_engines("pipe1", |engine, make| {
        let (mut r, mut w) = make();
        let (done_tx, done_rx) = mpsc::channel();
        thread::spawn(move || {
            let res = w.write(b"hello, world");
            done_tx.send((res.map_err(|e| e.to_string()), w)).unwrap();
        });
        let mut buf = [0; 64];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello, world", "{engine}");
        let (res, w) = done_rx.recv().unwrap();
        assert_eq!(res, Ok(12), "{engine}: write");
        r.close();
        w.close();
    });
}

/// TestPipe2: a sequence of writes, each seen by exactly one read.
#[test]
fn pipe2_sequence_of_writes() {
    on_engines("pipe2", |engine, make| {
        let (r, mut w) = make();
        let (count_tx, count_rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut r = r;
            let mut buf = [0; 64];
            loop {
                let n = r.read(&mut buf).expect("read");
                count_tx.send(n).unwrap();
                if n == 0 {
                    break;
                }
            }
        });
        let data = [0u8; 64];
        for i in 0..5 {
            let len = 5 + i * 10;
            assert_eq!(w.write(&data[..len]).unwrap(), len, "{engine}: write {i}");
            assert_eq!(count_rx.recv().unwrap(), len, "{engine}: read {i}");
        }
        w.close();
        assert_eq!(count_rx.recv().unwrap(), 0, "{engine}: final read");
        reader.join().unwrap();
    });
}

/// TestPipe3: one large write taken by reads of growing size; only the last
/// two reads are short (the one byte left, then end of file).
#[test]
fn pipe3_large_write_growing_reads() {
    on_engines("pipe3", |engine, make| {
        let (mut r, w) = make();
        let data = pattern(128);
        let sent = data.clone();
        let writer = thread::spawn(move || {
            let mut w = w;
            let res = w.write(&sent);
            w.close();
            res
        });
        let mut rdat = vec![0; 1024];
        let mut total = 0;
        let mut n = 1;
        while n <= 256 {
            let got = r.read(&mut rdat[total..total + n]).unwrap();
            let want = match n {
                128 => 1,
                256 => 0,
                _ => n,
            };
            assert_eq!(got, want, "{engine}: read of {n}");
            total += got;
            n *= 2;
        }
        assert_eq!(writer.join().unwrap().unwrap(), 128, "{engine}: write");
        assert_eq!(total, 128, "{engine}: total");
        assert_eq!(rdat[..128], data[..], "{engine}: bytes");
    });
}

/// How the other half is closed in the `*_close` table tests.
#[derive(Clone, Copy, Debug)]
enum CloseWith {
    /// `Close()`, or `CloseWithError(nil)`.
    Nothing,
    /// `CloseWithError(io.ErrShortWrite)`.
    ShortWrite,
}

/// Go's `io.ErrShortWrite`, as an `io::Error`.
fn short_write() -> io::Error {
    io::Error::new(ErrorKind::WriteZero, "short write")
}

/// The table: (close from another thread, how).
const TABLE: [(bool, CloseWith); 4] = [
    (true, CloseWith::Nothing),
    (true, CloseWith::ShortWrite),
    (false, CloseWith::Nothing),
    (false, CloseWith::ShortWrite),
];

/// Closes `w` as `how` says.
fn close_writer(w: &PipeWriter, how: CloseWith) {
    match how {
        CloseWith::Nothing => w.close(),
        CloseWith::ShortWrite => w.close_with_error(short_write()),
    }
}

/// Closes `r` as `how` says.
fn close_reader(r: &PipeReader, how: CloseWith) {
    match how {
        CloseWith::Nothing => r.close(),
        CloseWith::ShortWrite => r.close_with_error(short_write()),
    }
}

/// TestPipeReadClose: a read after (sync) or during (async) the writer's close
/// gets end of file, or the writer's error.
#[test]
fn pipe_read_close() {
    on_engines("pipe_read_close", |engine, make| {
        for (is_async, how) in TABLE {
            let ctx = format!("{engine}: async={is_async} {how:?}");
            let (mut r, w) = make();
            let closer = if is_async {
                let (about_to_read_tx, about_to_read_rx) = mpsc::channel::<()>();
                let t = thread::spawn(move || {
                    about_to_read_rx.recv().unwrap();
                    close_writer(&w, how);
                });
                about_to_read_tx.send(()).unwrap();
                Some(t)
            } else {
                close_writer(&w, how);
                None
            };
            let res = r.read(&mut [0; 64]);
            if let Some(t) = closer {
                t.join().unwrap();
            }
            match how {
                CloseWith::Nothing => assert_eq!(res.unwrap(), 0, "{ctx}"),
                CloseWith::ShortWrite => {
                    assert_close_error(&res, ErrorKind::WriteZero, "short write", &ctx)
                }
            }
            r.close();
        }
    });
}

/// TestPipeReadClose2: closing the reader during a read ends that read with
/// the closed-pipe error.
#[test]
fn pipe_read_close2() {
    on_engines("pipe_read_close2", |engine, make| {
        let (r, _w) = make();
        let closer = r.clone();
        let (about_to_read_tx, about_to_read_rx) = mpsc::channel::<()>();
        let t = thread::spawn(move || {
            about_to_read_rx.recv().unwrap();
            closer.close();
        });
        about_to_read_tx.send(()).unwrap();
        let res = (&r).read(&mut [0; 64]);
        t.join().unwrap();
        assert_closed_pipe(&res, engine);
    });
}

/// TestPipeWriteClose: a write after or during the reader's close gets the
/// closed-pipe error, or the reader's error, and wrote nothing.
#[test]
fn pipe_write_close() {
    on_engines("pipe_write_close", |engine, make| {
        for (is_async, how) in TABLE {
            let ctx = format!("{engine}: async={is_async} {how:?}");
            let (r, mut w) = make();
            let closer = if is_async {
                let (about_to_write_tx, about_to_write_rx) = mpsc::channel::<()>();
                let t = thread::spawn(move || {
                    about_to_write_rx.recv().unwrap();
                    close_reader(&r, how);
                });
                about_to_write_tx.send(()).unwrap();
                Some(t)
            } else {
                close_reader(&r, how);
                None
            };
            let res = w.write(b"hello, world");
            if let Some(t) = closer {
                t.join().unwrap();
            }
            match how {
                CloseWith::Nothing => assert_closed_pipe(&res, &ctx),
                CloseWith::ShortWrite => {
                    assert_close_error(&res, ErrorKind::WriteZero, "short write", &ctx)
                }
            }
            w.close();
        }
    });
}

/// TestPipeWriteClose2: closing the writer during a write ends that write
/// with the closed-pipe error.
#[test]
fn pipe_write_close2() {
    on_engines("pipe_write_close2", |engine, make| {
        let (_r, w) = make();
        let closer = w.clone();
        let (about_to_write_tx, about_to_write_rx) = mpsc::channel::<()>();
        let t = thread::spawn(move || {
            about_to_write_rx.recv().unwrap();
            closer.close();
        });
        about_to_write_tx.send(()).unwrap();
        let res = (&w).write(&[0; 64]);
        t.join().unwrap();
        assert_closed_pipe(&res, engine);
    });
}

/// TestWriteEmpty and TestWriteNil: an empty write followed by a close; the
/// reader's attempt to fill two bytes ends at end of file. Rust has no nil
/// slice; the closest is an empty `Vec`, which points at no allocation.
#[test]
fn write_empty_and_write_nil() {
    on_engines("write_empty_and_write_nil", |engine, make| {
        for (name, empty) in [("empty", &[][..]), ("unallocated", &Vec::new()[..])] {
            let (mut r, mut w) = make();
            let empty = empty.to_vec();
            let t = thread::spawn(move || {
                let res = w.write(&empty);
                w.close();
                res
            });
            let mut b = [0; 2];
            let err = r.read_exact(&mut b).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{engine}: {name}");
            assert_eq!(t.join().unwrap().unwrap(), 0, "{engine}: {name} write");
            r.close();
        }
    });
}

/// TestWriteAfterWriterClose: the bytes written before the writer's close
/// arrive; a write after it fails with the closed-pipe error.
#[test]
fn write_after_writer_close() {
    on_engines("write_after_writer_close", |engine, make| {
        let (mut r, mut w) = make();
        let t = thread::spawn(move || {
            assert_eq!(w.write(b"hello").unwrap(), 5);
            w.close();
            w.write(b"world")
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        let after = t.join().unwrap();
        assert_eq!(got, b"hello", "{engine}");
        assert_closed_pipe(&after, &format!("{engine}: write after close"));
    });
}

/// The two error types of TestPipeCloseError.
#[derive(Debug)]
struct TestError1;
#[derive(Debug)]
struct TestError2;

impl fmt::Display for TestError1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("test error 1")
    }
}

impl fmt::Display for TestError2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("test error 2")
    }
}

impl Error for TestError1 {}
impl Error for TestError2 {}

/// Whether `res` failed with a `TestError1` from the peer.
fn is_test_error1(res: &io::Result<usize>) -> bool {
    res.as_ref()
        .err()
        .and_then(CloseError::from_io)
        .is_some_and(|c| c.downcast_ref::<TestError1>().is_some())
}

/// TestPipeCloseError: the first close error of a half is the one the other
/// half keeps seeing. (Go reads into a nil slice here; in Rust a read into an
/// empty buffer returns `Ok(0)` at once, so the read uses one byte.)
#[test]
fn pipe_close_error_first_wins() {
    on_engines("pipe_close_error_first_wins", |engine, make| {
        let (r, mut w) = make();
        r.close_with_error(TestError1);
        assert!(
            is_test_error1(&w.write(&[])),
            "{engine}: write after r error 1"
        );
        r.close_with_error(TestError2);
        assert!(
            is_test_error1(&w.write(&[])),
            "{engine}: write after r error 2"
        );

        let (mut r, w) = make();
        w.close_with_error(TestError1);
        assert!(
            is_test_error1(&r.read(&mut [0])),
            "{engine}: read after w error 1"
        );
        w.close_with_error(TestError2);
        assert!(
            is_test_error1(&r.read(&mut [0])),
            "{engine}: read after w error 2"
        );
    });
}

const INPUT: &[u8; 16] = b"0123456789abcdef";
const COUNT: usize = 8;
const READ_SIZE: usize = 2;

/// TestPipeConcurrent/Write: concurrent writes never interleave, even when the
/// reader takes each one in several small reads.
#[test]
fn pipe_concurrent_writes() {
    on_engines("pipe_concurrent_writes", |engine, make| {
        let (mut r, w) = make();
        let start = Arc::new(Barrier::new(COUNT));
        let writers: Vec<_> = (0..COUNT)
            .map(|_| {
                let w = w.clone();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    (&w).write(INPUT)
                })
            })
            .collect();
        let mut buf = vec![0; COUNT * INPUT.len()];
        for (i, chunk) in buf.chunks_mut(READ_SIZE).enumerate() {
            assert_eq!(r.read(chunk).unwrap(), READ_SIZE, "{engine}: read {i}");
        }
        for t in writers {
            assert_eq!(t.join().unwrap().unwrap(), INPUT.len(), "{engine}: write");
        }
        assert_eq!(buf, INPUT.repeat(COUNT), "{engine}: writes interleaved");
    });
}

/// TestPipeConcurrent/Read: concurrent reads each get distinct bytes; together
/// they get every byte once, in groups of the read size.
#[test]
fn pipe_concurrent_reads() {
    on_engines("pipe_concurrent_reads", |engine, make| {
        let (r, mut w) = make();
        let readers = COUNT * INPUT.len() / READ_SIZE;
        let start = Arc::new(Barrier::new(readers));
        let handles: Vec<_> = (0..readers)
            .map(|_| {
                let r = r.clone();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    let mut buf = [0; READ_SIZE];
                    let n = (&r).read(&mut buf).unwrap();
                    (n, buf)
                })
            })
            .collect();
        for i in 0..COUNT {
            assert_eq!(w.write(INPUT).unwrap(), INPUT.len(), "{engine}: write {i}");
        }
        let mut got: Vec<[u8; READ_SIZE]> = Vec::new();
        for t in handles {
            let (n, buf) = t.join().unwrap();
            assert_eq!(n, READ_SIZE, "{engine}: read size");
            got.push(buf);
        }
        got.sort_unstable();
        let mut want: Vec<[u8; READ_SIZE]> = INPUT
            .repeat(COUNT)
            .chunks(READ_SIZE)
            .map(|c| [c[0], c[1]])
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "{engine}");
    });
}
