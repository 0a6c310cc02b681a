//! Read and write timeouts: setting them, what a timed-out operation reports,
//! that nothing is lost or duplicated when one fires, and that clones share
//! them.
//!
//! Only lower bounds on elapsed time are asserted (an operation must not time
//! out early); how late it fires on a busy machine is not a property of the
//! pipe. Every test runs on both engines.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::{assert_timed_out, on_engines, pattern, Rng};

/// A timeout short enough to keep the suite fast.
const SHORT: Duration = Duration::from_millis(30);

#[test]
fn zero_timeout_is_rejected() {
    on_engines("zero_timeout_is_rejected", |engine, make| {
        let (r, w) = make();
        r.set_read_timeout(Some(SHORT)).unwrap();
        w.set_write_timeout(Some(SHORT)).unwrap();
        let err = r.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{engine}: reader");
        let err = w.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{engine}: writer");
        // The rejected call changed nothing.
        assert_eq!(r.read_timeout(), Some(SHORT), "{engine}: reader kept");
        assert_eq!(w.write_timeout(), Some(SHORT), "{engine}: writer kept");
    });
}

#[test]
fn getters_report_what_was_set() {
    on_engines("getters_report_what_was_set", |engine, make| {
        let (r, w) = make();
        assert_eq!(r.read_timeout(), None, "{engine}: default");
        assert_eq!(w.write_timeout(), None, "{engine}: default");
        let t = Duration::from_millis(1234);
        r.set_read_timeout(Some(t)).unwrap();
        w.set_write_timeout(Some(t * 2)).unwrap();
        assert_eq!(r.read_timeout(), Some(t), "{engine}");
        assert_eq!(w.write_timeout(), Some(t * 2), "{engine}");
        // The halves' timeouts are separate.
        r.set_read_timeout(None).unwrap();
        assert_eq!(
            w.write_timeout(),
            Some(t * 2),
            "{engine}: writer's untouched"
        );
        // A very long timeout is accepted (it just never fires here).
        w.set_write_timeout(Some(Duration::MAX)).unwrap();
        assert!(w.write_timeout().is_some(), "{engine}: huge timeout");
    });
}

#[test]
fn read_times_out_and_loses_nothing() {
    on_engines("read_times_out_and_loses_nothing", |engine, make| {
        let (mut r, mut w) = make();
        r.set_read_timeout(Some(SHORT)).unwrap();
        let start = Instant::now();
        assert_timed_out(&r.read(&mut [0; 8]), &format!("{engine}: no writer"));
        assert!(start.elapsed() >= SHORT, "{engine}: timed out early");
        // Again: a timeout leaves the pipe usable and the next one fires too.
        assert_timed_out(&r.read(&mut [0; 8]), &format!("{engine}: second"));

        // A later write is read whole by a read that has the same timeout
        // (it arrives before the timeout, the writer being already waiting),
        // or, failing that, by a read with no timeout.
        let t = thread::spawn(move || w.write(b"after the timeout"));
        let mut buf = [0; 32];
        let n = loop {
            match r.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::TimedOut => continue,
                Err(e) => panic!("{engine}: {e}"),
            }
        };
        assert_eq!(&buf[..n], b"after the timeout", "{engine}: nothing lost");
        assert_eq!(t.join().unwrap().unwrap(), 17, "{engine}");
    });
}

#[test]
fn write_times_out_and_leaves_nothing_behind() {
    on_engines(
        "write_times_out_and_leaves_nothing_behind",
        |engine, make| {
            let (mut r, mut w) = make();
            w.set_write_timeout(Some(SHORT)).unwrap();
            let start = Instant::now();
            assert_timed_out(&w.write(b"stale"), &format!("{engine}: no reader"));
            assert!(start.elapsed() >= SHORT, "{engine}: timed out early");

            // The timed-out write's bytes were withdrawn: a reader finds nothing.
            r.set_read_timeout(Some(SHORT)).unwrap();
            assert_timed_out(&r.read(&mut [0; 8]), &format!("{engine}: stale offer"));

            // The next write goes through whole, and the reader sees only it.
            w.set_write_timeout(None).unwrap();
            r.set_read_timeout(None).unwrap();
            let t = thread::spawn(move || w.write(b"fresh"));
            let mut buf = [0; 16];
            let n = r.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"fresh", "{engine}");
            assert_eq!(t.join().unwrap().unwrap(), 5, "{engine}");
        },
    );
}

#[test]
fn partly_read_write_times_out_with_the_exact_count() {
    on_engines(
        "partly_read_write_times_out_with_the_exact_count",
        |engine, make| {
            // Long enough that the reader, already waiting, takes its 4 bytes
            // before the timeout even on a busy machine.
            let timeout = Duration::from_millis(300);
            let (mut r, mut w) = make();
            w.set_write_timeout(Some(timeout)).unwrap();
            let (ready_tx, ready_rx) = mpsc::channel();
            let t = thread::spawn(move || {
                ready_rx.recv().unwrap();
                let start = Instant::now();
                let res = w.write(b"0123456789");
                (res, start.elapsed(), w)
            });
            let reader = thread::spawn(move || {
                let mut buf = [0; 4];
                ready_tx.send(()).unwrap();
                let n = r.read(&mut buf).unwrap();
                (n, buf, r)
            });
            let (n, buf, mut r) = reader.join().unwrap();
            assert_eq!((n, &buf), (4, b"0123"), "{engine}: first read");
            let (res, elapsed, mut w) = t.join().unwrap();
            assert_eq!(res.unwrap(), 4, "{engine}: the write reports what was read");
            assert!(elapsed >= timeout, "{engine}: returned early ({elapsed:?})");

            // Nothing of the rest is left in the pipe...
            r.set_read_timeout(Some(SHORT)).unwrap();
            assert_timed_out(&r.read(&mut [0; 8]), &format!("{engine}: leftover"));
            r.set_read_timeout(None).unwrap();
            // ...and the caller can write it again.
            w.set_write_timeout(None).unwrap();
            let t = thread::spawn(move || w.write(b"456789"));
            let mut rest = [0; 16];
            let n = r.read(&mut rest).unwrap();
            assert_eq!(&rest[..n], b"456789", "{engine}: the rest");
            assert_eq!(t.join().unwrap().unwrap(), 6, "{engine}");
        },
    );
}

#[test]
fn timeouts_are_shared_by_clones() {
    on_engines("timeouts_are_shared_by_clones", |engine, make| {
        let (r, w) = make();
        let (mut r2, mut w2) = (r.clone(), w.clone());
        r.set_read_timeout(Some(SHORT)).unwrap();
        w.set_write_timeout(Some(SHORT)).unwrap();
        assert_eq!(r2.read_timeout(), Some(SHORT), "{engine}: reader clone");
        assert_eq!(w2.write_timeout(), Some(SHORT), "{engine}: writer clone");
        // And they apply to the clones' operations.
        assert_timed_out(&r2.read(&mut [0; 4]), &format!("{engine}: clone read"));
        assert_timed_out(&w2.write(b"x"), &format!("{engine}: clone write"));
        // A clone made later has it too; a clone can clear it for all.
        let r3 = r.clone();
        assert_eq!(r3.read_timeout(), Some(SHORT), "{engine}: later clone");
        r3.set_read_timeout(None).unwrap();
        assert_eq!(r.read_timeout(), None, "{engine}: cleared through a clone");
    });
}

#[test]
fn no_timeout_blocks_again() {
    on_engines("no_timeout_blocks_again", |engine, make| {
        let (mut r, w) = make();
        r.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        r.set_read_timeout(None).unwrap();
        assert_eq!(r.read_timeout(), None, "{engine}");
        let (result_tx, result_rx) = mpsc::channel();
        let t = thread::spawn(move || {
            let mut buf = [0; 8];
            let res = r.read(&mut buf).map(|n| buf[..n].to_vec());
            result_tx.send(res).unwrap();
        });
        // Well past the old timeout, the read must still be waiting.
        match result_rx.recv_timeout(Duration::from_millis(100)) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("{engine}: read returned without a writer: {other:?}"),
        }
        (&w).write_all(b"late").unwrap();
        let got = result_rx.recv().unwrap().unwrap();
        assert_eq!(got, b"late", "{engine}");
        t.join().unwrap();

        // The same for writes.
        let (r, w) = make();
        w.set_write_timeout(Some(Duration::from_millis(5))).unwrap();
        w.set_write_timeout(None).unwrap();
        let (result_tx, result_rx) = mpsc::channel();
        let t = thread::spawn(move || {
            result_tx.send((&w).write(b"late")).unwrap();
        });
        match result_rx.recv_timeout(Duration::from_millis(100)) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("{engine}: write returned without a reader: {other:?}"),
        }
        let mut buf = [0; 8];
        let n = (&r).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"late", "{engine}");
        assert_eq!(result_rx.recv().unwrap().unwrap(), 4, "{engine}");
        t.join().unwrap();
    });
}

#[test]
fn write_timeout_covers_the_wait_for_the_write_side() {
    on_engines(
        "write_timeout_covers_the_wait_for_the_write_side",
        |engine, make| {
            // One writer holds the write side (blocked, nobody reads); a second
            // writer with a timeout gives up waiting for it.
            let (r, w) = make();
            let (started_tx, started_rx) = mpsc::channel();
            let holder = w.clone();
            let t = thread::spawn(move || {
                started_tx.send(()).unwrap();
                (&holder).write(b"held")
            });
            started_rx.recv().unwrap();
            w.set_write_timeout(Some(SHORT)).unwrap();
            // The holder may not have reached the pipe yet, in which case this
            // write holds the write side itself; either way nobody reads it.
            assert_timed_out(&(&w).write(b"waiting"), &format!("{engine}: second writer"));
            r.close();
            let res = t.join().unwrap();
            // The holder has the same timeout now, so it may have timed out too.
            match res {
                Err(e) if e.kind() == ErrorKind::TimedOut || gopipe::is_closed_pipe(&e) => {}
                other => panic!("{engine}: holder got {other:?}"),
            }
        },
    );
}

/// Falls behind for `d`. Not a synchronisation: nothing waits for this, one
/// side just pauses so that the other side's short timeout can fire. It
/// sleeps rather than spins so that the other side gets the core to notice.
fn fall_behind(d: Duration) {
    thread::sleep(d);
}

#[test]
fn timeouts_under_load_lose_and_repeat_nothing() {
    on_engines(
        "timeouts_under_load_lose_and_repeat_nothing",
        |engine, make| {
            // Both sides use very short timeouts and retry, and each sometimes
            // falls behind, so that timeouts fire around and during hand-offs;
            // the byte stream must still arrive intact.
            let short = Duration::from_micros(50);
            let behind = Duration::from_micros(300);
            let data = pattern(60_000);
            let (mut r, mut w) = make();
            r.set_read_timeout(Some(short)).unwrap();
            w.set_write_timeout(Some(short)).unwrap();
            let sent = data.clone();
            let t = thread::spawn(move || {
                let mut rng = Rng::new(7);
                let (mut off, mut timeouts, mut partial) = (0, 0, 0);
                while off < sent.len() {
                    if rng.one_in(6) {
                        fall_behind(behind);
                    }
                    let len = rng.range(1, 3_000).min(sent.len() - off);
                    match w.write(&sent[off..off + len]) {
                        Ok(n) => {
                            assert!(n > 0 && n <= len, "write of {len} returned Ok({n})");
                            partial += usize::from(n < len);
                            off += n;
                        }
                        Err(e) if e.kind() == ErrorKind::TimedOut => timeouts += 1,
                        Err(e) => panic!("write: {e}"),
                    }
                }
                (timeouts, partial)
            });
            let mut rng = Rng::new(8);
            let mut got = Vec::with_capacity(data.len());
            let mut buf = [0; 2_000];
            let mut read_timeouts = 0;
            while got.len() < data.len() {
                if rng.one_in(6) {
                    fall_behind(behind);
                }
                let size = rng.range(1, buf.len());
                match r.read(&mut buf[..size]) {
                    Ok(0) => panic!("{engine}: EOF after {} bytes", got.len()),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::TimedOut => read_timeouts += 1,
                    Err(e) => panic!("{engine}: read: {e}"),
                }
            }
            let (write_timeouts, partial) = t.join().unwrap();
            let stats = format!(
            "{write_timeouts} write timeouts, {partial} cut writes, {read_timeouts} read timeouts"
        );
            assert_eq!(got.len(), data.len(), "{engine}: {stats}");
            assert!(got == data, "{engine}: stream corrupted ({stats})");
            // Nothing more: the writer is gone.
            r.set_read_timeout(None).unwrap();
            assert_eq!(r.read(&mut buf).unwrap(), 0, "{engine}: EOF");
        },
    );
}

#[test]
fn huge_timeouts_work_like_none() {
    on_engines("huge_timeouts_work_like_none", |engine, make| {
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        for (name, timeout) in [("MAX", Duration::MAX), ("century", century)] {
            let ctx = format!("{engine}: {name}");
            let (mut r, w) = make();
            r.set_read_timeout(Some(timeout)).unwrap();
            w.set_write_timeout(Some(timeout)).unwrap();
            // Transfers work (no overflow computing the deadline)...
            let t = thread::spawn(move || {
                let mut w = w;
                let n = w.write(b"far away");
                (n, w)
            });
            let mut buf = [0; 16];
            let n = r.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"far away", "{ctx}");
            let (res, w) = t.join().unwrap();
            assert_eq!(res.unwrap(), 8, "{ctx}");
            // ...and a blocked read is still woken by a close.
            let (started_tx, started_rx) = mpsc::channel();
            let t = thread::spawn(move || {
                started_tx.send(()).unwrap();
                r.read(&mut [0; 4])
            });
            started_rx.recv().unwrap();
            w.close();
            assert_eq!(t.join().unwrap().unwrap(), 0, "{ctx}: EOF");
        }
    });
}
