//! Closing: every way to close either half, before an operation and while one
//! is blocked; the errors each side then gets and how to inspect them; first
//! close wins; dropping clones; writes cut short by a close.
//!
//! Every test runs on both engines (`gopipe::pipe` and the reference engine).

mod common;

use std::error::Error;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::sync::mpsc;
use std::thread;

use common::{assert_close_error, assert_closed_pipe, on_engines, MakePipe, Outcome};
use gopipe::{is_closed_pipe, CloseError, ClosedPipe, PipeReader, PipeWriter};

/// An error type of the test's own, to check that it comes back unchanged.
#[derive(Debug)]
struct Custom(u32);

impl fmt::Display for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "custom failure {}", self.0)
    }
}

impl Error for Custom {}

/// A custom error with a source, to check that `CloseError` passes it on.
#[derive(Debug)]
struct Wrapper(io::Error);

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wrapper")
    }
}

impl Error for Wrapper {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// Which half is closed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Reader,
    Writer,
}

/// How it is closed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    /// `close()`.
    Close,
    /// `close_with_error(io::Error)` of kind `InvalidData`.
    IoError,
    /// `close_with_error(Custom(7))`.
    Custom,
    /// `close_with_error("plain message")`.
    Str,
    /// `close_with_error(ClosedPipe)`.
    WithClosedPipe,
    /// Dropping the last clone.
    Drop,
}

const HOWS: [How; 6] = [
    How::Close,
    How::IoError,
    How::Custom,
    How::Str,
    How::WithClosedPipe,
    How::Drop,
];

/// The error `how` closes with, as the peer sees it; `None` for a plain close.
fn peer_error(how: How) -> Option<Outcome> {
    match how {
        How::Close | How::Drop => None,
        How::IoError => Some(Outcome::err(ErrorKind::InvalidData, "bad data")),
        How::Custom => Some(Outcome::err(ErrorKind::Other, "custom failure 7")),
        How::Str => Some(Outcome::err(ErrorKind::Other, "plain message")),
        How::WithClosedPipe => Some(Outcome::closed_pipe()),
    }
}

fn close_reader(r: PipeReader, how: How) {
    match how {
        How::Close => r.close(),
        How::IoError => r.close_with_error(io::Error::new(ErrorKind::InvalidData, "bad data")),
        How::Custom => r.close_with_error(Custom(7)),
        How::Str => r.close_with_error("plain message"),
        How::WithClosedPipe => r.close_with_error(ClosedPipe),
        How::Drop => drop(r),
    }
}

fn close_writer(w: PipeWriter, how: How) {
    match how {
        How::Close => w.close(),
        How::IoError => w.close_with_error(io::Error::new(ErrorKind::InvalidData, "bad data")),
        How::Custom => w.close_with_error(Custom(7)),
        How::Str => w.close_with_error("plain message"),
        How::WithClosedPipe => w.close_with_error(ClosedPipe),
        How::Drop => drop(w),
    }
}

/// What a read returns once `side` was closed by `how`.
fn read_outcome(side: Side, how: How) -> Outcome {
    match side {
        // A reader that closed its own half gets the closed-pipe error.
        Side::Reader => Outcome::closed_pipe(),
        // The writer's plain close is end of file; its error comes across.
        Side::Writer => peer_error(how).unwrap_or(Outcome::Ok(0)),
    }
}

/// What a write returns once `side` was closed by `how`.
fn write_outcome(side: Side, how: How) -> Outcome {
    match side {
        Side::Writer => Outcome::closed_pipe(),
        Side::Reader => peer_error(how).unwrap_or_else(Outcome::closed_pipe),
    }
}

/// Checks `res` against `want`, with the extra checks its kind allows.
#[track_caller]
fn check(res: &io::Result<usize>, want: &Outcome, ctx: &str) {
    assert_eq!(&Outcome::of(res), want, "{ctx}");
    match want {
        Outcome::Err(_, msg) if msg == common::CLOSED_PIPE_MSG => assert_closed_pipe(res, ctx),
        Outcome::Err(kind, msg) => assert_close_error(res, *kind, msg, ctx),
        Outcome::Ok(_) => {}
    }
}

/// Closes `side` of a fresh pipe with `how`, and returns the other half's
/// handles (the closed side's own handle too, unless it was dropped).
fn closed_pipe(make: MakePipe, side: Side, how: How) -> (Option<PipeReader>, Option<PipeWriter>) {
    let (r, w) = make();
    match side {
        Side::Reader if how == How::Drop => {
            close_reader(r, how);
            (None, Some(w))
        }
        Side::Reader => {
            close_reader(r.clone(), how);
            (Some(r), Some(w))
        }
        Side::Writer if how == How::Drop => {
            close_writer(w, how);
            (Some(r), None)
        }
        Side::Writer => {
            close_writer(w.clone(), how);
            (Some(r), Some(w))
        }
    }
}

#[test]
fn close_before_any_operation() {
    on_engines("close_before_any_operation", |engine, make| {
        for side in [Side::Reader, Side::Writer] {
            for how in HOWS {
                let ctx = format!("{engine}: {side:?} closed by {how:?}");
                let (r, w) = closed_pipe(make, side, how);
                if let Some(mut r) = r {
                    let want = read_outcome(side, how);
                    // The result is sticky: every read gets it.
                    for i in 0..3 {
                        check(&r.read(&mut [0; 8]), &want, &format!("{ctx}, read {i}"));
                    }
                }
                if let Some(mut w) = w {
                    let want = write_outcome(side, how);
                    for i in 0..3 {
                        check(&w.write(b"data"), &want, &format!("{ctx}, write {i}"));
                    }
                    // An empty write reports the close too.
                    check(&w.write(&[]), &want, &format!("{ctx}, empty write"));
                }
            }
        }
    });
}

/// Runs `op` on a thread that signals just before it starts, closes `side` by
/// `how` once the signal arrived, and returns the op's result.
///
/// Whether the op is already blocked when the close lands cannot be observed
/// without sleeping; usually it is, sometimes the close comes first. Both
/// orders must give the same outcome, so the test covers both.
fn close_during<T: Send + 'static>(
    op: impl FnOnce() -> T + Send + 'static,
    close: impl FnOnce(),
) -> T {
    let (started_tx, started_rx) = mpsc::channel();
    let t = thread::spawn(move || {
        started_tx.send(()).unwrap();
        op()
    });
    started_rx.recv().unwrap();
    close();
    t.join().unwrap()
}

#[test]
fn close_wakes_a_blocked_read() {
    on_engines("close_wakes_a_blocked_read", |engine, make| {
        for side in [Side::Reader, Side::Writer] {
            for how in HOWS {
                // The blocked read holds a reader, so the read half cannot be
                // closed by dropping its last clone.
                if side == Side::Reader && how == How::Drop {
                    continue;
                }
                let ctx = format!("{engine}: {side:?} closed by {how:?} during a read");
                let (r, w) = make();
                let reader = r.clone();
                let res = close_during(
                    move || {
                        let mut reader = reader;
                        reader.read(&mut [0; 8])
                    },
                    || match side {
                        Side::Reader => close_reader(r, how),
                        Side::Writer => close_writer(w, how),
                    },
                );
                check(&res, &read_outcome(side, how), &ctx);
            }
        }
    });
}

#[test]
fn close_wakes_a_blocked_write() {
    on_engines("close_wakes_a_blocked_write", |engine, make| {
        for side in [Side::Reader, Side::Writer] {
            for how in HOWS {
                if side == Side::Writer && how == How::Drop {
                    continue;
                }
                let ctx = format!("{engine}: {side:?} closed by {how:?} during a write");
                let (r, w) = make();
                let writer = w.clone();
                let res = close_during(
                    move || {
                        let mut writer = writer;
                        writer.write(b"nobody reads this")
                    },
                    || match side {
                        Side::Reader => close_reader(r, how),
                        Side::Writer => close_writer(w, how),
                    },
                );
                check(&res, &write_outcome(side, how), &ctx);
            }
        }
    });
}

#[test]
fn close_wakes_every_blocked_operation() {
    on_engines("close_wakes_every_blocked_operation", |engine, make| {
        // Several writers: one offering its bytes, the others waiting for the
        // write side. The reader's close must wake all of them.
        let (r, w) = make();
        let (started_tx, started_rx) = mpsc::channel();
        let writers: Vec<_> = (0..3)
            .map(|_| {
                let mut w = w.clone();
                let started = started_tx.clone();
                thread::spawn(move || {
                    started.send(()).unwrap();
                    w.write(b"queued")
                })
            })
            .collect();
        for _ in 0..3 {
            started_rx.recv().unwrap();
        }
        r.close();
        for t in writers {
            assert_closed_pipe(&t.join().unwrap(), &format!("{engine}: queued writer"));
        }

        // Several readers blocked; the writer's close ends all their reads.
        let (r, w) = make();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let mut r = r.clone();
                let started = started_tx.clone();
                thread::spawn(move || {
                    started.send(()).unwrap();
                    r.read(&mut [0; 8])
                })
            })
            .collect();
        for _ in 0..3 {
            started_rx.recv().unwrap();
        }
        w.close_with_error("stop");
        for t in readers {
            let res = t.join().unwrap();
            assert_close_error(&res, ErrorKind::Other, "stop", &format!("{engine}: reader"));
        }
    });
}

#[test]
fn close_does_not_wait_for_a_write_in_progress() {
    on_engines(
        "close_does_not_wait_for_a_write_in_progress",
        |engine, make| {
            // This thread is the only reader and holds a clone of the writer. A
            // write is half read; if closing waited for the write to finish it
            // would wait for this very thread, for ever (the bound catches that).
            let (mut r, w) = make();
            let mut writer = w.clone();
            let t = thread::spawn(move || {
                let first = writer.write(b"0123456789");
                let second = writer.write(b"more");
                (first, second)
            });
            let mut buf = [0; 4];
            assert_eq!(r.read(&mut buf).unwrap(), 4, "{engine}");
            w.close();
            w.close(); // again: still nothing to wait for
            let (first, second) = t.join().unwrap();
            assert_eq!(
                first.unwrap(),
                4,
                "{engine}: the write reports what was read"
            );
            assert_closed_pipe(&second, &format!("{engine}: next write"));
            // The rest of the cut write is gone: the reader sees end of file.
            assert_eq!(r.read(&mut buf).unwrap(), 0, "{engine}: EOF");

            // The same from the reader's side, from the reading thread itself.
            let (r, mut w) = make();
            let reader = r.clone();
            let t = thread::spawn(move || {
                let mut reader = reader;
                let mut buf = [0; 4];
                let n = reader.read(&mut buf).unwrap();
                r.close();
                (n, reader.read(&mut buf))
            });
            assert_eq!(w.write(b"0123456789").unwrap(), 4, "{engine}: cut write");
            assert_closed_pipe(&w.write(b"x"), &format!("{engine}: write after"));
            let (n, after) = t.join().unwrap();
            assert_eq!(n, 4, "{engine}");
            assert_closed_pipe(&after, &format!("{engine}: reader's own read"));
        },
    );
}

#[test]
fn partially_read_write_then_close_returns_the_count() {
    on_engines(
        "partially_read_write_then_close_returns_the_count",
        |engine, make| {
            for side in [Side::Reader, Side::Writer] {
                for how in HOWS {
                    // The writing thread holds a writer, so the write half cannot be
                    // closed by dropping (see `dropping_a_writer_clone_mid_write`).
                    if side == Side::Writer && how == How::Drop {
                        continue;
                    }
                    let ctx = format!("{engine}: {side:?} closed by {how:?} mid-write");
                    let (r, w) = make();
                    let writer = w.clone();
                    let t = thread::spawn(move || {
                        let mut writer = writer;
                        let first = writer.write(b"0123456789");
                        let second = writer.write(b"next");
                        (first, second)
                    });
                    let mut reader = r.clone();
                    let mut buf = [0; 4];
                    // Once 4 bytes arrived the write is in progress for sure.
                    assert_eq!(reader.read(&mut buf).unwrap(), 4, "{ctx}");
                    assert_eq!(&buf, b"0123", "{ctx}");
                    match side {
                        Side::Reader => {
                            drop((reader, w));
                            close_reader(r, how);
                        }
                        Side::Writer => {
                            drop(r);
                            close_writer(w, how);
                            let res = reader.read(&mut buf);
                            check(
                                &res,
                                &read_outcome(side, how),
                                &format!("{ctx}: read after"),
                            );
                        }
                    }
                    let (first, second) = t.join().unwrap();
                    assert_eq!(first.unwrap(), 4, "{ctx}: exactly the bytes read");
                    check(
                        &second,
                        &write_outcome(side, how),
                        &format!("{ctx}: next write"),
                    );
                }
            }
        },
    );
}

#[test]
fn dropping_a_writer_clone_mid_write() {
    on_engines("dropping_a_writer_clone_mid_write", |engine, make| {
        // Dropping a clone that is not the last one cuts nothing short.
        let (mut r, w) = make();
        let writer = w.clone();
        let t = thread::spawn(move || {
            let mut writer = writer;
            writer.write(b"0123456789")
            // the last writer drops here
        });
        let mut buf = [0; 16];
        assert_eq!(r.read(&mut buf[..4]).unwrap(), 4, "{engine}");
        drop(w);
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"456789", "{engine}: the rest of the write");
        assert_eq!(t.join().unwrap().unwrap(), 10, "{engine}: whole write");
        assert_eq!(
            r.read(&mut buf).unwrap(),
            0,
            "{engine}: EOF after the last drop"
        );
    });
}

#[test]
fn close_errors_keep_kind_message_and_original() {
    on_engines(
        "close_errors_keep_kind_message_and_original",
        |engine, make| {
            // An io::Error keeps its kind; the original is recoverable.
            let (mut r, w) = make();
            w.close_with_error(io::Error::new(ErrorKind::ConnectionReset, "peer reset"));
            let err = r.read(&mut [0; 4]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{engine}");
            assert_eq!(err.to_string(), "peer reset", "{engine}");
            let cause = CloseError::from_io(&err).expect("a CloseError");
            assert_eq!(cause.kind(), ErrorKind::ConnectionReset, "{engine}");
            let original = cause
                .get_ref()
                .downcast_ref::<io::Error>()
                .expect("io::Error");
            assert_eq!(original.kind(), ErrorKind::ConnectionReset, "{engine}");
            assert_eq!(original.to_string(), "peer reset", "{engine}");
            assert!(cause.downcast_ref::<io::Error>().is_some(), "{engine}");
            assert!(cause.downcast_ref::<Custom>().is_none(), "{engine}");
            // The payload is reachable the std way too.
            let via_std = err.get_ref().and_then(|e| e.downcast_ref::<CloseError>());
            assert!(via_std.is_some(), "{engine}: get_ref + downcast_ref");

            // A non-io error has kind Other and downcasts to its own type.
            let (r, mut w) = make();
            r.close_with_error(Custom(42));
            let err = w.write(b"x").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Other, "{engine}");
            assert_eq!(err.to_string(), "custom failure 42", "{engine}");
            let cause = CloseError::from_io(&err).expect("a CloseError");
            assert_eq!(
                cause.downcast_ref::<Custom>().map(|c| c.0),
                Some(42),
                "{engine}"
            );
            assert!(cause.downcast_ref::<io::Error>().is_none(), "{engine}");
            assert!(!is_closed_pipe(&err), "{engine}");
            // Every failing call gets its own io::Error with the same payload.
            let again = w.write(b"x").unwrap_err();
            let cause2 = CloseError::from_io(&again).expect("a CloseError");
            assert_eq!(
                cause2.downcast_ref::<Custom>().map(|c| c.0),
                Some(42),
                "{engine}"
            );

            // Strings become errors of kind Other with that message.
            let (mut r, w) = make();
            w.close_with_error(String::from("owned message"));
            let err = r.read(&mut [0; 4]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Other, "{engine}");
            assert_eq!(err.to_string(), "owned message", "{engine}");

            // CloseError is transparent: its source is the original's source.
            let (mut r, w) = make();
            w.close_with_error(Wrapper(io::Error::new(ErrorKind::NotFound, "inner cause")));
            let err = r.read(&mut [0; 4]).unwrap_err();
            assert_eq!(err.to_string(), "wrapper", "{engine}");
            let cause = CloseError::from_io(&err).expect("a CloseError");
            let source = cause.source().expect("the wrapper's source");
            assert_eq!(source.to_string(), "inner cause", "{engine}");
            assert!(
                format!("{cause:?}").contains("CloseError"),
                "{engine}: Debug"
            );

            // The closed-pipe error carries no CloseError.
            let (r, mut w) = make();
            r.close();
            let err = w.write(b"x").unwrap_err();
            assert!(CloseError::from_io(&err).is_none(), "{engine}");
            assert!(
                err.get_ref()
                    .unwrap()
                    .downcast_ref::<ClosedPipe>()
                    .is_some(),
                "{engine}"
            );
            // And is_closed_pipe tells it apart from lookalikes.
            assert!(!is_closed_pipe(&io::Error::new(
                ErrorKind::BrokenPipe,
                ClosedPipe.to_string()
            )));
            assert!(!is_closed_pipe(&io::Error::from(ErrorKind::BrokenPipe)));
            assert!(is_closed_pipe(&io::Error::from(ClosedPipe)));
        },
    );
}

#[test]
fn closed_pipe_error_values() {
    assert_eq!(ClosedPipe.to_string(), common::CLOSED_PIPE_MSG);
    let err = io::Error::from(ClosedPipe);
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(err.to_string(), common::CLOSED_PIPE_MSG);
}

#[test]
fn close_with_closed_pipe_is_a_plain_close() {
    on_engines("close_with_closed_pipe_is_a_plain_close", |engine, make| {
        // Reader: exactly like close(), whether given ClosedPipe itself or an
        // io::Error made from it.
        let (r, mut w) = make();
        r.close_with_error(ClosedPipe);
        assert_closed_pipe(&w.write(b"x"), &format!("{engine}: ClosedPipe"));
        let (r, mut w) = make();
        r.close_with_error(io::Error::from(ClosedPipe));
        assert_closed_pipe(&w.write(b"x"), &format!("{engine}: io::Error(ClosedPipe)"));

        // Writer: no CloseError is stored; reads report the closed-pipe error
        // itself (as Go's CloseWithError(ErrClosedPipe) does).
        let (mut r, w) = make();
        w.close_with_error(ClosedPipe);
        assert_closed_pipe(&r.read(&mut [0; 4]), &format!("{engine}: writer"));
    });
}

#[test]
fn first_close_wins() {
    on_engines("first_close_wins", |engine, make| {
        let bad = || io::Error::new(ErrorKind::InvalidData, "first");
        let later = || io::Error::new(ErrorKind::TimedOut, "second");

        // Writer: close then close_with_error: still end of file.
        let (mut r, w) = make();
        w.close();
        w.close_with_error(later());
        assert_eq!(
            r.read(&mut [0; 4]).unwrap(),
            0,
            "{engine}: close, then error"
        );

        // close_with_error twice: the first error stays.
        let (mut r, w) = make();
        w.close_with_error(bad());
        w.close_with_error(later());
        w.close();
        let res = r.read(&mut [0; 4]);
        assert_close_error(
            &res,
            ErrorKind::InvalidData,
            "first",
            &format!("{engine}: w twice"),
        );

        // close_with_error, then dropping the last clone.
        let (mut r, w) = make();
        let w2 = w.clone();
        w2.close_with_error(bad());
        drop(w2);
        drop(w);
        let res = r.read(&mut [0; 4]);
        assert_close_error(
            &res,
            ErrorKind::InvalidData,
            "first",
            &format!("{engine}: w drop"),
        );

        // The same on the reader's side.
        let (r, mut w) = make();
        r.close();
        r.close_with_error(later());
        assert_closed_pipe(&w.write(b"x"), &format!("{engine}: r close, then error"));

        let (r, mut w) = make();
        r.close_with_error(bad());
        r.clone().close_with_error(later());
        r.close();
        let res = w.write(b"x");
        assert_close_error(
            &res,
            ErrorKind::InvalidData,
            "first",
            &format!("{engine}: r twice"),
        );

        let (r, mut w) = make();
        r.close_with_error(bad());
        drop(r);
        let res = w.write(b"x");
        assert_close_error(
            &res,
            ErrorKind::InvalidData,
            "first",
            &format!("{engine}: r drop"),
        );
    });
}

/// An error that counts its drops, to check that a pipe keeps exactly one
/// close error per half and frees it exactly once.
#[derive(Debug)]
struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("counted")
    }
}

impl Error for Counted {}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Close errors are owned by the pipe once stored: a losing close's error is
/// dropped at once, the winner's when the pipe and every error read from it
/// are gone, each exactly once (no leak, no double drop), on both halves and
/// from racing threads.
#[test]
fn close_errors_are_dropped_exactly_once() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    on_engines("close_errors_are_dropped_exactly_once", |engine, make| {
        let drops = Arc::new(AtomicUsize::new(0));
        let counted = || Counted(Arc::clone(&drops));
        {
            let (mut r, w) = make();
            w.close_with_error(counted());
            assert_eq!(drops.load(SeqCst), 0, "{engine}: the stored error dropped");
            w.close_with_error(counted());
            assert_eq!(drops.load(SeqCst), 1, "{engine}: the losing error kept");
            let err = r.read(&mut [0; 4]).unwrap_err();
            assert_eq!(err.to_string(), "counted", "{engine}");
            r.close_with_error(counted());
            drop((r, w));
            // The reader's error went with the pipe; the writer's lives on in
            // the error the read returned.
            assert_eq!(
                drops.load(SeqCst),
                2,
                "{engine}: the pipe's errors not freed once"
            );
            drop(err);
        }
        assert_eq!(drops.load(SeqCst), 3, "{engine}: each error dropped once");

        // Racing closes of both halves from several threads: one error kept
        // per half, every other dropped, all of them once in the end.
        drops.store(0, SeqCst);
        let (r, w) = make();
        let closers: Vec<_> = (0..4)
            .map(|i| {
                let (r, w) = (r.clone(), w.clone());
                let e = counted();
                thread::spawn(move || {
                    if i % 2 == 0 {
                        w.close_with_error(e);
                    } else {
                        r.close_with_error(e);
                    }
                })
            })
            .collect();
        for c in closers {
            c.join().unwrap();
        }
        assert_eq!(drops.load(SeqCst), 2, "{engine}: two losers, one per half");
        drop((r, w));
        assert_eq!(
            drops.load(SeqCst),
            4,
            "{engine}: the two kept freed with the pipe"
        );
    });
}

#[test]
fn own_close_gives_closed_pipe_whatever_the_peer_stored() {
    on_engines(
        "own_close_gives_closed_pipe_whatever_the_peer_stored",
        |engine, make| {
            for (mine, theirs) in [(How::Close, How::IoError), (How::Custom, How::Str)] {
                // The peer closes first with an error, then this half closes.
                let (r, w) = make();
                close_writer(w.clone(), theirs);
                close_reader(r.clone(), mine);
                let mut r = r;
                let ctx = format!("{engine}: reader {mine:?} after writer {theirs:?}");
                assert_closed_pipe(&r.read(&mut [0; 4]), &ctx);

                let (r, w) = make();
                close_reader(r.clone(), theirs);
                close_writer(w.clone(), mine);
                let mut w = w;
                let ctx = format!("{engine}: writer {mine:?} after reader {theirs:?}");
                assert_closed_pipe(&w.write(b"x"), &ctx);
            }
            // Reader closed with an error: its own reads still get ClosedPipe,
            // while the writer gets the error.
            let (mut r, mut w) = make();
            r.close_with_error("reader's reason");
            assert_closed_pipe(
                &r.read(&mut [0; 4]),
                &format!("{engine}: reader's own read"),
            );
            let res = w.write(b"x");
            assert_close_error(&res, ErrorKind::Other, "reader's reason", engine);
        },
    );
}

#[test]
fn operations_after_own_close() {
    on_engines("operations_after_own_close", |engine, make| {
        // Write after the writer's close, the reader still open.
        let (_r, mut w) = make();
        w.close();
        assert_closed_pipe(&w.write(b"x"), &format!("{engine}: write after close"));
        assert_closed_pipe(&w.write(&[]), &format!("{engine}: empty write after close"));
        // Through another clone too.
        let (_r, w) = make();
        let mut w2 = w.clone();
        w.close();
        assert_closed_pipe(&w2.write(b"x"), &format!("{engine}: clone's write"));

        // Read after the reader's close, the writer still open.
        let (mut r, _w) = make();
        r.close();
        assert_closed_pipe(&r.read(&mut [0; 4]), &format!("{engine}: read after close"));
        let (r, _w) = make();
        let mut r2 = r.clone();
        r.close();
        assert_closed_pipe(&r2.read(&mut [0; 4]), &format!("{engine}: clone's read"));
    });
}

#[test]
fn dropping_the_last_clone_closes() {
    on_engines("dropping_the_last_clone_closes", |engine, make| {
        // Readers: dropping one of two changes nothing.
        let (r, w) = make();
        let r2 = r.clone();
        drop(r);
        let mut w2 = w.clone();
        let t = thread::spawn(move || w2.write(b"still open"));
        let mut r2 = r2;
        let mut buf = [0; 16];
        let n = r2.read(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"still open",
            "{engine}: reader clone still reads"
        );
        assert_eq!(t.join().unwrap().unwrap(), 10, "{engine}");
        // Dropping the last one closes the half (on another thread, even).
        thread::spawn(move || drop(r2)).join().unwrap();
        let mut w = w;
        assert_closed_pipe(&w.write(b"x"), &format!("{engine}: after last reader"));

        // Writers likewise.
        let (r, w) = make();
        let w2 = w.clone();
        drop(w);
        let t = thread::spawn(move || {
            let mut w2 = w2;
            let n = w2.write(b"still open");
            (n, w2)
        });
        let mut r = r;
        let n = r.read(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"still open",
            "{engine}: writer clone still writes"
        );
        let (n, w2) = t.join().unwrap();
        assert_eq!(n.unwrap(), 10, "{engine}");
        drop(w2);
        assert_eq!(
            r.read(&mut buf).unwrap(),
            0,
            "{engine}: EOF after last writer"
        );
    });
}

#[test]
fn is_closed_pipe_recognises_only_the_closed_pipe_error() {
    on_engines(
        "is_closed_pipe_recognises_only_the_closed_pipe_error",
        |engine, make| {
            let (mut r, w) = make();
            r.close();
            let err = r.read(&mut [0; 1]).unwrap_err();
            assert!(is_closed_pipe(&err), "{engine}: own read after close");
            drop(w);

            let (mut r, w) = make();
            w.close_with_error(io::Error::new(ErrorKind::BrokenPipe, "look-alike"));
            let err = r.read(&mut [0; 1]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{engine}");
            assert!(
                !is_closed_pipe(&err),
                "{engine}: a user error of the same kind"
            );
            assert!(!is_closed_pipe(&io::Error::other("x")), "{engine}");
        },
    );
}
