//! The `Read`/`Write` contract of an open pipe: how writes map onto reads, when
//! a write returns, empty writes and empty reads, the `&PipeReader` /
//! `&PipeWriter` impls, `flush` and `Debug`, and random round trips.
//!
//! Every test runs on both engines (`gopipe::pipe` and the reference engine).

mod common;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{assert_timed_out, on_engines, pattern, Rng};
use gopipe::{PipeReader, PipeWriter};

#[test]
fn halves_are_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    check::<PipeReader>();
    check::<PipeWriter>();
}

#[test]
fn single_write_single_read() {
    on_engines("single_write_single_read", |engine, make| {
        let (mut r, mut w) = make();
        let t = thread::spawn(move || w.write(b"hello, world"));
        let mut buf = [0; 64];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello, world", "{engine}");
        assert_eq!(t.join().unwrap().unwrap(), 12, "{engine}: write count");
        // The writer was dropped when its thread ended: end of file.
        assert_eq!(r.read(&mut buf).unwrap(), 0, "{engine}: EOF after drop");
    });
}

#[test]
fn a_read_never_combines_two_writes() {
    on_engines("a_read_never_combines_two_writes", |engine, make| {
        // Sequential writes on one thread.
        let (mut r, mut w) = make();
        let t = thread::spawn(move || {
            assert_eq!(w.write(b"aaaaa").unwrap(), 5);
            assert_eq!(w.write(b"bbbbb").unwrap(), 5);
        });
        let mut buf = [0; 100];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"aaaaa", "{engine}: first read");
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"bbbbb", "{engine}: second read");
        t.join().unwrap();
        assert_eq!(r.read(&mut buf).unwrap(), 0, "{engine}: EOF");

        // Two writes pending at once, through two clones: still one per read.
        let (mut r, w) = make();
        let writers: Vec<_> = [b"xxxxx", b"yyyyy"]
            .into_iter()
            .map(|data| {
                let mut w = w.clone();
                thread::spawn(move || w.write(data).unwrap())
            })
            .collect();
        drop(w);
        let mut got = Vec::new();
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.push(buf[..n].to_vec());
        }
        got.sort();
        assert_eq!(got, [b"xxxxx".to_vec(), b"yyyyy".to_vec()], "{engine}");
        for t in writers {
            assert_eq!(t.join().unwrap(), 5, "{engine}: write count");
        }
    });
}

#[test]
fn one_write_over_growing_reads() {
    on_engines("one_write_over_growing_reads", |engine, make| {
        let data = pattern(1000);
        let (mut r, mut w) = make();
        let sent = data.clone();
        let t = thread::spawn(move || w.write(&sent));
        let mut got = Vec::new();
        let mut size = 1;
        while got.len() < data.len() {
            let mut buf = vec![0; size];
            let n = r.read(&mut buf).unwrap();
            // A read takes as much of the one pending write as fits.
            let want = size.min(data.len() - got.len());
            assert_eq!(n, want, "{engine}: read of {size} at {}", got.len());
            got.extend_from_slice(&buf[..n]);
            size += 1;
        }
        assert_eq!(got, data, "{engine}: bytes");
        assert_eq!(t.join().unwrap().unwrap(), 1000, "{engine}: one write");
        assert_eq!(r.read(&mut [0; 8]).unwrap(), 0, "{engine}: EOF");
    });
}

#[test]
fn write_returns_only_after_every_byte_was_read() {
    on_engines(
        "write_returns_only_after_every_byte_was_read",
        |engine, make| {
            for round in 0..50 {
                let (mut r, mut w) = make();
                // Bytes the reader has taken, recorded before each further read.
                let recorded = Arc::new(AtomicUsize::new(0));
                let (done_tx, done_rx) = mpsc::channel();
                let seen = Arc::clone(&recorded);
                let t = thread::spawn(move || {
                    let res = w.write(b"0123456789");
                    // All reads but the last were recorded before the last read
                    // began, and the last read must have happened for the write to
                    // return: so at least 9 of the 10 bytes are on record.
                    let taken = seen.load(Ordering::SeqCst);
                    done_tx.send(()).unwrap();
                    (res, taken)
                });
                let mut buf = [0; 3];
                let mut got = Vec::new();
                for (i, want) in [3, 3, 3, 1].into_iter().enumerate() {
                    // The write cannot have returned while bytes are left.
                    assert_eq!(
                        done_rx.try_recv(),
                        Err(TryRecvError::Empty),
                        "{engine} round {round}: write returned before read {i}"
                    );
                    let n = r.read(&mut buf).unwrap();
                    assert_eq!(n, want, "{engine} round {round}: read {i}");
                    got.extend_from_slice(&buf[..n]);
                    if i < 3 {
                        recorded.fetch_add(n, Ordering::SeqCst);
                    }
                }
                let (res, taken) = t.join().unwrap();
                assert_eq!(res.unwrap(), 10, "{engine} round {round}");
                assert!(taken >= 9, "{engine} round {round}: only {taken} recorded");
                assert_eq!(got, b"0123456789", "{engine} round {round}");
            }
        },
    );
}

#[test]
fn empty_write_waits_for_a_reader() {
    on_engines("empty_write_waits_for_a_reader", |engine, make| {
        // Nobody reads: the empty write cannot complete, so its timeout fires.
        let (_r, mut w) = make();
        w.set_write_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        assert_timed_out(&w.write(&[]), &format!("{engine}: empty write, no reader"));
        // A read into an empty buffer does not take an empty write either.
        let (r, mut w) = make();
        w.set_write_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let t = thread::spawn(move || {
            let mut r = r;
            for _ in 0..100 {
                assert_eq!(r.read(&mut []).unwrap(), 0);
            }
            r
        });
        assert_timed_out(&w.write(&[]), &format!("{engine}: empty write, empty read"));
        let _r = t.join().unwrap();
    });
}

#[test]
fn empty_write_never_ends_a_read() {
    on_engines("empty_write_never_ends_a_read", |engine, make| {
        let (mut r, mut w) = make();
        // The reader blocks; the only reader must take the empty writes (they
        // cannot return otherwise), and its read must still return the bytes
        // of the next non-empty write.
        let t = thread::spawn(move || {
            let mut buf = [0; 16];
            let n = r.read(&mut buf)?;
            Ok::<_, io::Error>((buf[..n].to_vec(), r))
        });
        assert_eq!(w.write(&[]).unwrap(), 0, "{engine}: first empty write");
        assert_eq!(w.write(&[]).unwrap(), 0, "{engine}: second empty write");
        assert_eq!(w.write(b"abc").unwrap(), 3, "{engine}: bytes");
        let (got, mut r) = t.join().unwrap().unwrap();
        assert_eq!(got, b"abc", "{engine}: the read returned the bytes");

        // An empty write followed by a close: the read sees end of file, not
        // an early Ok(0) that would hide bytes (there are none here).
        let t = thread::spawn(move || {
            let first = w.write(&[]);
            drop(w);
            first
        });
        let mut buf = [0; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 0, "{engine}: EOF");
        assert_eq!(t.join().unwrap().unwrap(), 0, "{engine}: empty write");
    });
}

#[test]
fn read_into_empty_buffer_returns_at_once() {
    on_engines("read_into_empty_buffer_returns_at_once", |engine, make| {
        // No writer activity at all.
        let (mut r, _w) = make();
        assert_eq!(r.read(&mut []).unwrap(), 0, "{engine}: idle pipe");

        // A write is pending: the empty read takes none of it.
        let (mut r, mut w) = make();
        let t = thread::spawn(move || w.write(b"pending"));
        for _ in 0..10 {
            assert_eq!(r.read(&mut []).unwrap(), 0, "{engine}: pending write");
        }
        let mut buf = [0; 16];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pending", "{engine}: nothing was taken");
        assert_eq!(t.join().unwrap().unwrap(), 7, "{engine}");
    });
}

#[test]
fn shared_references_read_and_write() {
    on_engines("shared_references_read_and_write", |engine, make| {
        let (r, w) = make();
        let r = Arc::new(r);
        let w = Arc::new(w);
        let w2 = Arc::clone(&w);
        let t = thread::spawn(move || {
            // `Write` through `&PipeWriter`.
            let mut handle: &PipeWriter = &w2;
            handle.write_all(b"through a shared reference")?;
            handle.flush()
        });
        let mut buf = vec![0; 26];
        // `Read` through `&PipeReader`.
        let mut handle: &PipeReader = &r;
        handle.read_exact(&mut buf).unwrap();
        assert_eq!(buf, b"through a shared reference", "{engine}");
        t.join().unwrap().unwrap();

        // Generic code takes the references as readers and writers.
        fn pump(mut from: impl Read, mut to: impl Write) -> io::Result<u64> {
            io::copy(&mut from, &mut to)
        }
        let (r2, w2) = make();
        let t = thread::spawn(move || {
            let n = pump(&b"copied"[..], &w2);
            drop(w2);
            n
        });
        let mut out = Vec::new();
        assert_eq!(pump(&r2, &mut out).unwrap(), 6, "{engine}: io::copy count");
        assert_eq!(out, b"copied", "{engine}");
        assert_eq!(t.join().unwrap().unwrap(), 6, "{engine}");
    });
}

#[test]
fn flush_does_nothing() {
    on_engines("flush_does_nothing", |engine, make| {
        let (_r, mut w) = make();
        w.flush().unwrap();
        (&w).flush().unwrap();
        // It does not wait for a reader, and has nothing to report after a
        // close either.
        w.close();
        assert!(w.flush().is_ok(), "{engine}: flush after close");
        assert!((&w).flush().is_ok(), "{engine}: flush via & after close");
    });
}

#[test]
fn debug_output_names_the_half_and_its_state() {
    on_engines(
        "debug_output_names_the_half_and_its_state",
        |engine, make| {
            let (r, w) = make();
            let rd = format!("{r:?}");
            let wd = format!("{w:?}");
            assert!(rd.starts_with("PipeReader"), "{engine}: {rd}");
            assert!(wd.starts_with("PipeWriter"), "{engine}: {wd}");
            assert!(rd.contains("closed: false"), "{engine}: {rd}");
            assert!(wd.contains("closed: false"), "{engine}: {wd}");

            r.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            w.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
            r.close();
            w.close();
            let rd = format!("{r:?}");
            let wd = format!("{w:?}");
            assert!(rd.contains("closed: true"), "{engine}: {rd}");
            assert!(wd.contains("closed: true"), "{engine}: {wd}");
            assert!(rd.contains("50ms"), "{engine}: timeout shown in {rd}");
            assert!(wd.contains("3s"), "{engine}: timeout shown in {wd}");
            // The alternate form works too.
            assert!(format!("{r:#?}").contains("PipeReader"), "{engine}");
        },
    );
}

#[test]
fn write_all_read_to_end_random_round_trips() {
    on_engines(
        "write_all_read_to_end_random_round_trips",
        |engine, make| {
            for seed in 0..8u64 {
                let mut rng = Rng::new(seed);
                let len = rng.range(0, 200_000);
                let data = rng.bytes(len);
                let (mut r, mut w) = make();
                let sent = data.clone();
                let t = thread::spawn(move || {
                    let mut rest = &sent[..];
                    while !rest.is_empty() {
                        let take = rng.range(0, 40_000).min(rest.len());
                        w.write_all(&rest[..take])?;
                        rest = &rest[take..];
                    }
                    Ok::<_, io::Error>(())
                });
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                t.join().unwrap().unwrap();
                assert_eq!(got.len(), data.len(), "{engine} seed {seed}: length");
                assert!(got == data, "{engine} seed {seed}: bytes differ");
            }
        },
    );
}

#[test]
fn random_writes_random_reads_exact_counts() {
    on_engines("random_writes_random_reads_exact_counts", |engine, make| {
        for seed in 100..120u64 {
            let mut rng = Rng::new(seed);
            let len = rng.range(0, 30_000);
            let data = rng.bytes(len);
            // Write sizes, some of them empty writes.
            let mut chunks = Vec::new();
            let mut off = 0;
            while off < data.len() {
                let len = if rng.one_in(6) {
                    0
                } else {
                    rng.range(1, 5_000).min(data.len() - off)
                };
                chunks.push(len);
                off += len;
            }
            let (mut r, mut w) = make();
            let (sent, sizes) = (data.clone(), chunks.clone());
            let t = thread::spawn(move || {
                let mut off = 0;
                for len in sizes {
                    // No close, no timeout: every write goes through whole.
                    assert_eq!(w.write(&sent[off..off + len]).unwrap(), len);
                    off += len;
                }
            });
            // Where each non-empty write ends in the byte stream.
            let ends: Vec<usize> = chunks
                .iter()
                .filter(|&&len| len > 0)
                .scan(0, |end, &len| {
                    *end += len;
                    Some(*end)
                })
                .collect();
            let mut pos = 0;
            let mut buf = vec![0; 8_000];
            for &end in &ends {
                while pos < end {
                    let size = rng.range(1, 8_000);
                    let n = r.read(&mut buf[..size]).unwrap();
                    // One write per read, as much of it as fits.
                    let want = size.min(end - pos);
                    assert_eq!(n, want, "{engine} seed {seed}: read of {size} at {pos}");
                    assert!(
                        buf[..n] == data[pos..pos + n],
                        "{engine} seed {seed}: bytes at {pos}"
                    );
                    pos += n;
                }
            }
            assert_eq!(r.read(&mut buf).unwrap(), 0, "{engine} seed {seed}: EOF");
            t.join().unwrap();
        }
    });
}

#[test]
fn many_writers_one_reader_barrier_start() {
    on_engines("many_writers_one_reader_barrier_start", |engine, make| {
        // Writers released together; the reader's buffer fits any write, so
        // each read is one whole write.
        let (mut r, w) = make();
        let start = Arc::new(Barrier::new(4));
        let writers: Vec<_> = (0..4u8)
            .map(|id| {
                let mut w = w.clone();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    for _ in 0..20 {
                        assert_eq!(w.write(&[id; 33]).unwrap(), 33);
                    }
                })
            })
            .collect();
        drop(w);
        let mut counts = [0; 4];
        let mut buf = [0; 64];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert_eq!(n, 33, "{engine}: one whole write per read");
            let id = buf[0];
            assert!(buf[..n].iter().all(|&b| b == id), "{engine}: interleaved");
            counts[usize::from(id)] += 1;
        }
        assert_eq!(counts, [20; 4], "{engine}: writes seen per writer");
        for t in writers {
            t.join().unwrap();
        }
    });
}
