//! A port of the conformance suite of golang.org/x/net/nettest (`TestConn`),
//! which Go's `net.Pipe` passes, to [`gopipe::duplex`], with Go's sizes and
//! timings, and to [`gopipe::buffered_duplex`] with one byte of buffer and
//! with 64 KiB (the suite is for every `net.Conn`); plus Go's `TestPipeCloseError` (src/net/pipe_test.go). Written
//! here from the suite's description: each subtest gets a fresh pair, runs
//! under a time bound (Go's watchdog is a minute), and closes both ends at the
//! end as the suite's `stop` does.
//!
//! Go's zero time (`neverTimeout`) is `None`; its `aLongTimeAgo` is an
//! instant in the past. Go's `chunkedCopy` (io.CopyBuffer with a 1024-byte
//! buffer, no ReaderFrom/WriterTo) is [`chunked_copy`].

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, Rng, BOUND_SECS};
use gopipe::{buffered_duplex, duplex, is_closed_pipe, Conn};

/// An instant well in the past (Go's `aLongTimeAgo`).
fn a_long_time_ago() -> Instant {
    let now = Instant::now();
    now.checked_sub(Duration::from_secs(3600)).unwrap_or(now)
}

/// Go's `chunkedCopy`: copies `r` to `w` through a 1024-byte buffer until
/// `r`'s end or an error; returns the error, if any.
fn chunked_copy(w: &mut dyn Write, r: &mut dyn Read) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => w.write_all(&buf[..n])?,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// An endless source of pseudo-random bytes (Go's `rand.Reader` stand-in).
struct RandReader(Rng);

impl Read for RandReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let bytes = self.0.bytes(buf.len());
        buf.copy_from_slice(&bytes);
        Ok(buf.len())
    }
}

/// Whether `err` is a timeout (Go's `Timeout()`).
fn is_timeout(err: &io::Error) -> bool {
    err.kind() == ErrorKind::TimedOut
}

/// Runs a subtest on a fresh pair under the time bound, then closes both
/// ends (Go's `stop`).
fn conn_test(name: &str, body: fn(&Conn, &Conn)) {
    bounded(name, BOUND_SECS, move || {
        let (c1, c2) = duplex();
        body(&c1, &c2);
        c1.close();
        c2.close();
    });
    // The suite is for every net.Conn, a socket's too: a buffered connection
    // passes it as well, with the least buffer and a socket's.
    for cap in [1, 64 << 10] {
        bounded(
            &format!("{name}, buffered_duplex({cap})"),
            BOUND_SECS,
            move || {
                let (c1, c2) = buffered_duplex(cap);
                body(&c1, &c2);
                c1.close();
                c2.close();
            },
        );
    }
}

/// Go's `testRoundtrip`: clears the deadlines, writes "Hello, world!" and
/// reads it back from an echoing peer.
fn roundtrip(c: &Conn) {
    c.set_deadline(None).expect("set_deadline(None)");
    let msg = b"Hello, world!";
    (&*c).write_all(msg).expect("roundtrip write");
    let mut got = [0u8; 13];
    (&*c).read_exact(&mut got).expect("roundtrip read");
    assert_eq!(&got, msg);
}

/// Go's `resyncConn`: after a storm of cut reads and writes, writes one 0xff
/// and reads until a read ends with the first 0xff it holds, so that the
/// echoing peer's stream is in step again.
fn resync(c: &Conn) {
    c.set_deadline(None).expect("set_deadline(None)");
    let writer = {
        let c = c.clone();
        thread::spawn(move || (&c).write_all(&[0xff]))
    };
    let mut buf = [0u8; 1024];
    loop {
        let n = (&*c).read(&mut buf).expect("resync read");
        if n > 0 && buf[..n].iter().position(|&b| b == 0xff) == Some(n - 1) {
            break;
        }
    }
    writer.join().unwrap().expect("resync write must succeed");
}

/// Starts an echo on `c` (Go: `go chunkedCopy(c2, c2)`), which ends when the
/// pair closes.
fn echo(c: &Conn) -> thread::JoinHandle<()> {
    let c = c.clone();
    thread::spawn(move || {
        let _ = chunked_copy(&mut &c, &mut &c);
    })
}

/// BasicIO: 1 MiB one way through 1024-byte chunks; end of file after close.
#[test]
fn basic_io() {
    conn_test("basic_io", |c1, c2| {
        let want = Rng::new(0).bytes(1 << 20);
        let sender = {
            let (c1, want) = (c1.clone(), want.clone());
            thread::spawn(move || {
                chunked_copy(&mut &c1, &mut &want[..]).expect("unexpected c1.Write error");
                c1.close();
            })
        };
        let mut got = Vec::new();
        chunked_copy(&mut got, &mut &*c2).expect("unexpected c2.Read error");
        c2.close();
        sender.join().unwrap();
        assert!(got == want, "transmitted data differs");
    });
}

/// PingPong: two ends bounce a counter in 8-byte messages up to 1000.
#[test]
fn ping_pong() {
    conn_test("ping_pong", |c1, c2| {
        let ponger = |c: Conn| {
            thread::spawn(move || {
                let mut buf = [0u8; 8];
                let mut prev = 0u64;
                loop {
                    match (&c).read_exact(&mut buf) {
                        Ok(()) => {}
                        Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                        Err(e) => panic!("unexpected read error: {e}"),
                    }
                    let v = u64::from_le_bytes(buf);
                    buf = (v + 1).to_le_bytes();
                    assert!(
                        prev == 0 || prev + 2 == v,
                        "mismatching value: {prev} then {v}"
                    );
                    prev = v;
                    if v == 1000 {
                        break;
                    }
                    (&c).write_all(&buf).expect("unexpected write error");
                }
                c.close();
            })
        };
        let a = ponger(c1.clone());
        let b = ponger(c2.clone());
        (&*c1).write_all(&[0; 8]).expect("start the chain");
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// RacyRead: reads racing their deadline while the caller mutates the
/// buffer as soon as each read returns (a read must not touch its buffer
/// after it returned).
#[test]
fn racy_read() {
    conn_test("racy_read", |c1, c2| {
        let source = {
            let c2 = c2.clone();
            thread::spawn(move || {
                let _ = chunked_copy(&mut &c2, &mut RandReader(Rng::new(1)));
            })
        };
        c1.set_read_deadline(Some(Instant::now() + Duration::from_millis(1)))
            .unwrap();
        thread::scope(|s| {
            for i in 0..10 {
                s.spawn(move || {
                    let mut b1 = [0u8; 1024];
                    let b2 = [i as u8; 1024];
                    for _ in 0..100 {
                        let res = (&*c1).read(&mut b1);
                        b1.copy_from_slice(&b2); // mutate b1 to trigger potential race
                        if let Err(e) = res {
                            assert!(is_timeout(&e), "unexpected read error: {e}");
                            c1.set_read_deadline(Some(Instant::now() + Duration::from_millis(1)))
                                .unwrap();
                        }
                    }
                });
            }
        });
        c1.close();
        c2.close();
        source.join().unwrap();
    });
}

/// RacyWrite: writes racing their deadline while the caller mutates the
/// buffer as soon as each write returns.
#[test]
fn racy_write() {
    conn_test("racy_write", |c1, c2| {
        let sink = {
            let c2 = c2.clone();
            thread::spawn(move || {
                let _ = chunked_copy(&mut io::sink(), &mut &c2);
            })
        };
        c1.set_write_deadline(Some(Instant::now() + Duration::from_millis(1)))
            .unwrap();
        thread::scope(|s| {
            for i in 0..10 {
                s.spawn(move || {
                    let mut b1 = [0u8; 1024];
                    let b2 = [i as u8; 1024];
                    for _ in 0..100 {
                        let res = (&*c1).write(&b1);
                        b1.copy_from_slice(&b2); // mutate b1 to trigger potential race
                        if let Err(e) = res {
                            assert!(is_timeout(&e), "unexpected write error: {e}");
                            c1.set_write_deadline(Some(Instant::now() + Duration::from_millis(1)))
                                .unwrap();
                        }
                    }
                });
            }
        });
        c1.close();
        c2.close();
        sink.join().unwrap();
    });
}

/// ReadTimeout: a read past its deadline times out; the conn still writes.
#[test]
fn read_timeout() {
    conn_test("read_timeout", |c1, c2| {
        let sink = {
            let c2 = c2.clone();
            thread::spawn(move || {
                let _ = chunked_copy(&mut io::sink(), &mut &c2);
            })
        };
        c1.set_read_deadline(Some(a_long_time_ago())).unwrap();
        let err = (&*c1).read(&mut [0; 1024]).unwrap_err();
        assert!(is_timeout(&err), "got {err}, want a timeout");
        let n = (&*c1).write(&[0; 1024]).expect("unexpected write error");
        assert_eq!(n, 1024);
        c1.close();
        c2.close();
        sink.join().unwrap();
    });
}

/// WriteTimeout: a write past its deadline times out; the conn still reads.
#[test]
fn write_timeout() {
    conn_test("write_timeout", |c1, c2| {
        let source = {
            let c2 = c2.clone();
            thread::spawn(move || {
                let _ = chunked_copy(&mut &c2, &mut RandReader(Rng::new(2)));
            })
        };
        c1.set_write_deadline(Some(a_long_time_ago())).unwrap();
        let err = (&*c1).write(&[0; 1024]).unwrap_err();
        assert!(is_timeout(&err), "got {err}, want a timeout");
        let n = (&*c1).read(&mut [0; 1024]).expect("unexpected read error");
        assert!(n > 0);
        c1.close();
        c2.close();
        source.join().unwrap();
    });
}

/// PastTimeout: a deadline in the past fails reads and writes at once having
/// moved nothing, although the peer is ready; clearing it makes the conn
/// work again.
#[test]
fn past_timeout() {
    conn_test("past_timeout", |c1, c2| {
        let echoer = echo(c2);
        roundtrip(c1);
        c1.set_deadline(Some(a_long_time_ago())).unwrap();
        let err = (&*c1).write(&[0; 1024]).unwrap_err();
        assert!(
            is_timeout(&err),
            "write: got {err}, want a timeout (and n == 0)"
        );
        let err = (&*c1).read(&mut [0; 1024]).unwrap_err();
        assert!(
            is_timeout(&err),
            "read: got {err}, want a timeout (and n == 0)"
        );
        roundtrip(c1);
        c1.close();
        c2.close();
        echoer.join().unwrap();
    });
}

/// PresentTimeout: deadlines set in the past while a read and a write are
/// blocked wake them: both time out, and not before the deadline was set.
#[test]
fn present_timeout() {
    conn_test("present_timeout", |c1, _c2| {
        let set = AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                // Go's timing: the calls below block first.
                thread::sleep(Duration::from_millis(100));
                set.store(true, Ordering::SeqCst);
                c1.set_read_deadline(Some(a_long_time_ago())).unwrap();
                c1.set_write_deadline(Some(a_long_time_ago())).unwrap();
            });
            s.spawn(|| {
                let err = (&*c1).read(&mut [0; 1024]).unwrap_err();
                assert!(is_timeout(&err), "got {err}, want a timeout");
                assert!(
                    set.load(Ordering::SeqCst),
                    "read timed out before the deadline was set"
                );
            });
            s.spawn(|| {
                let err = loop {
                    if let Err(e) = (&*c1).write(&[0; 1024]) {
                        break e;
                    }
                };
                assert!(is_timeout(&err), "got {err}, want a timeout");
                assert!(
                    set.load(Ordering::SeqCst),
                    "write timed out before the deadline was set"
                );
            });
        });
    });
}

/// FutureTimeout: a deadline 100 ms ahead stops a blocked read and write;
/// after it the conn works again (resync, roundtrip).
#[test]
fn future_timeout() {
    conn_test("future_timeout", |c1, c2| {
        c1.set_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        thread::scope(|s| {
            s.spawn(|| {
                let err = (&*c1).read(&mut [0; 1024]).unwrap_err();
                assert!(is_timeout(&err), "got {err}, want a timeout");
            });
            s.spawn(|| {
                let err = loop {
                    if let Err(e) = (&*c1).write(&[0; 1024]) {
                        break e;
                    }
                };
                assert!(is_timeout(&err), "got {err}, want a timeout");
            });
        });
        let echoer = echo(c2);
        resync(c1);
        roundtrip(c1);
        c1.close();
        c2.close();
        echoer.join().unwrap();
    });
}

/// CloseTimeout: closing a conn with no deadline ends its blocked and later
/// reads and writes.
#[test]
fn close_timeout() {
    conn_test("close_timeout", |c1, c2| {
        let echoer = echo(c2);
        c1.set_deadline(None).unwrap();
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(100));
                c1.close();
            });
            s.spawn(|| {
                let mut buf = [0u8; 1024];
                while (&*c1).read(&mut buf).is_ok() {}
            });
            s.spawn(|| while (&*c1).write(&[0; 1024]).is_ok() {});
        });
        c2.close();
        echoer.join().unwrap();
    });
}

/// ConcurrentMethods: reads, writes and deadline changes all at once; no
/// result is checked but nothing may panic or hang, and the conn works
/// afterwards. (Go's LocalAddr and RemoteAddr have no counterpart: a
/// `Debug` of the conn stands in.)
#[test]
fn concurrent_methods() {
    conn_test("concurrent_methods", |c1, c2| {
        let echoer = echo(c2);
        let past = a_long_time_ago();
        thread::scope(|s| {
            for _ in 0..100 {
                let b1 = [0u8; 1024];
                let mut b2 = [0u8; 1024];
                thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn_scoped(s, move || {
                        let _ = (&*c1).write(&b1);
                    })
                    .unwrap();
                thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn_scoped(s, move || {
                        let _ = (&*c1).read(&mut b2);
                    })
                    .unwrap();
                s.spawn(|| {
                    let _ = c1.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
                });
                s.spawn(move || {
                    let _ = c1.set_read_deadline(Some(past));
                });
                s.spawn(move || {
                    let _ = c1.set_write_deadline(Some(past));
                });
                s.spawn(|| format!("{c1:?}"));
                s.spawn(|| format!("{c2:?}"));
            }
        });
        resync(c1);
        roundtrip(c1);
        c1.close();
        c2.close();
        echoer.join().unwrap();
    });
}

/// Go's `TestPipeCloseError`: after c1 closes, its own reads, writes and
/// deadlines fail with the closed-pipe error; c2 reads end of file, and its
/// writes and deadlines fail with the closed-pipe error.
#[test]
fn pipe_close_error() {
    bounded("pipe_close_error", BOUND_SECS, || {
        let (c1, c2) = duplex();
        c1.close();
        assert!(is_closed_pipe(&(&c1).read(&mut [0; 8]).unwrap_err()));
        assert!(is_closed_pipe(&(&c1).write(b"x").unwrap_err()));
        assert!(is_closed_pipe(&c1.set_deadline(None).unwrap_err()));
        assert_eq!((&c2).read(&mut [0; 8]).unwrap(), 0, "c2 reads end of file");
        assert!(is_closed_pipe(&(&c2).write(b"x").unwrap_err()));
        assert!(is_closed_pipe(&c2.set_deadline(None).unwrap_err()));
    });
}

/// A shared flag for the deadline tests below.
type Flag = Arc<AtomicBool>;

/// A deadline moved later while a read is blocked keeps it blocked until the
/// new time; clearing it keeps it blocked until data comes; a deadline that
/// fired is re-armed by moving it.
#[test]
fn deadline_moves_apply_to_blocked_calls() {
    bounded("deadline_moves", BOUND_SECS, || {
        let (c1, c2) = duplex();
        c1.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        let extended: Flag = Arc::new(AtomicBool::new(false));
        let reader = {
            let (c1, extended) = (c1.clone(), Arc::clone(&extended));
            thread::spawn(move || {
                let res = (&c1).read(&mut [0; 8]);
                (res.map_err(|e| e.kind()), extended.load(Ordering::SeqCst))
            })
        };
        // Move it a long way out, then clear it: the read must wait for data.
        c1.set_read_deadline(Some(Instant::now() + Duration::from_secs(3600)))
            .unwrap();
        c1.set_read_deadline(None).unwrap();
        thread::sleep(Duration::from_millis(150)); // past the first deadline
        extended.store(true, Ordering::SeqCst);
        (&c2).write_all(b"data").unwrap();
        let (res, after) = reader.join().unwrap();
        assert_eq!(
            res,
            Ok(4),
            "the read outlived its first deadline and got the data"
        );
        assert!(after);

        // Fired, then re-armed by clearing.
        c1.set_read_deadline(Some(a_long_time_ago())).unwrap();
        assert_eq!(
            (&c1).read(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        c1.set_read_deadline(None).unwrap();
        let t = thread::spawn(move || (&c2).write_all(b"again"));
        let mut got = [0; 5];
        (&c1).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"again");
        t.join().unwrap().unwrap();
    });
}

/// A write cut by its deadline between the peer's reads reports exactly the
/// bytes the peer took.
#[test]
fn write_cut_by_a_deadline_reports_the_exact_count() {
    bounded("write_cut_by_deadline", BOUND_SECS, || {
        let (c1, c2) = duplex();
        let writer = {
            let c1 = c1.clone();
            thread::spawn(move || (&c1).write(&[7; 10_000]))
        };
        let mut got = [0u8; 1000];
        (&c2).read_exact(&mut got).unwrap();
        // The peer took 1000 bytes; now the deadline passes.
        c1.set_write_deadline(Some(a_long_time_ago())).unwrap();
        let n = writer.join().unwrap().unwrap();
        assert_eq!(n, 1000, "exactly what the peer read");
        c1.set_write_deadline(None).unwrap();
        // Nothing else of that write is left on offer.
        c1.close();
        assert_eq!((&c2).read(&mut got).unwrap(), 0);
    });
}

/// A passed deadline fails a call before it looks for a partner (Go's
/// pre-check): a read gets nothing although a write is on offer, a write
/// leaves a waiting reader alone; both moved nothing. A closed end's result
/// comes before the deadline's.
#[test]
fn passed_deadline_wins_over_a_ready_partner() {
    bounded("passed_deadline_wins", BOUND_SECS, || {
        for _ in 0..20 {
            let (c1, c2) = duplex();
            let writer = {
                let c2 = c2.clone();
                thread::spawn(move || (&c2).write(b"ready"))
            };
            // Let the write get on offer (or not: either way the read must
            // time out having taken nothing).
            thread::sleep(Duration::from_millis(2));
            c1.set_read_deadline(Some(a_long_time_ago())).unwrap();
            let err = (&c1).read(&mut [0; 8]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut);
            c1.set_read_deadline(None).unwrap();
            let mut got = [0; 5];
            (&c1).read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ready", "the write was left whole");
            assert_eq!(writer.join().unwrap().unwrap(), 5);

            // A write with a passed deadline, a reader waiting.
            let reader = {
                let c2 = c2.clone();
                thread::spawn(move || {
                    let mut buf = [0u8; 8];
                    (&c2).read(&mut buf).map(|n| buf[..n].to_vec())
                })
            };
            thread::sleep(Duration::from_millis(2));
            c1.set_write_deadline(Some(a_long_time_ago())).unwrap();
            let err = (&c1).write(b"late").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut);
            c1.set_write_deadline(None).unwrap();
            (&c1).write_all(b"next").unwrap();
            assert_eq!(reader.join().unwrap().unwrap(), b"next");

            // Closed wins over the deadline.
            c1.set_deadline(Some(a_long_time_ago())).unwrap();
            c1.close();
            assert!(is_closed_pipe(&(&c1).read(&mut [0; 8]).unwrap_err()));
            assert!(is_closed_pipe(&(&c1).write(b"x").unwrap_err()));
        }
    });
}

/// The earlier of a timeout and a deadline applies.
#[test]
fn timeout_and_deadline_the_earlier_wins() {
    bounded("timeout_and_deadline", BOUND_SECS, || {
        let (c1, _c2) = duplex();
        c1.set_read_timeout(Some(Duration::from_secs(3600)))
            .unwrap();
        c1.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        let start = Instant::now();
        assert_eq!(
            (&c1).read(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the deadline applied"
        );
        c1.set_read_deadline(Some(Instant::now() + Duration::from_secs(3600)))
            .unwrap();
        c1.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(
            (&c1).read(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
    });
}

/// `close_with_error` reaches the peer's reads and writes; `shutdown` closes
/// one direction; `into_split` halves close their direction when dropped.
#[test]
fn close_with_error_shutdown_and_split() {
    bounded("close_shutdown_split", BOUND_SECS, || {
        let (c1, c2) = duplex();
        c1.close_with_error(io::Error::new(ErrorKind::ConnectionReset, "reset by test"));
        let err = (&c2).read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let err = (&c2).write(b"x").unwrap_err();
        assert_eq!(err.to_string(), "reset by test");
        assert!(is_closed_pipe(&(&c1).read(&mut [0; 8]).unwrap_err()));

        let (c1, c2) = duplex();
        c1.shutdown(std::net::Shutdown::Read).unwrap();
        assert!(is_closed_pipe(&(&c2).write(b"x").unwrap_err()));
        assert!(is_closed_pipe(&(&c1).read(&mut [0; 8]).unwrap_err()));
        let t = thread::spawn(move || {
            let mut got = [0; 3];
            (&c2).read_exact(&mut got).map(|_| got)
        });
        (&c1).write_all(b"abc").unwrap();
        assert_eq!(&t.join().unwrap().unwrap(), b"abc");

        let (c1, c2) = duplex();
        let keep = c1.clone();
        let (rx, tx) = c1.into_split();
        drop(tx);
        // A clone of the conn still holds the write direction.
        let t = thread::spawn(move || (&keep).write_all(b"kept"));
        let mut got = [0; 4];
        (&c2).read_exact(&mut got).unwrap();
        t.join().unwrap().unwrap();
        // Now every handle of that direction is gone: end of file.
        assert_eq!((&c2).read(&mut got).unwrap(), 0);
        drop(rx);
        assert!(is_closed_pipe(&(&c2).write(b"x").unwrap_err()));
    });
}
