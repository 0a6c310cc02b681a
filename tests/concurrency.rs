//! Several writers and readers on one pipe at once: every write arrives
//! whole, contiguous and exactly once; bytes reported written equal bytes
//! read, also when the pipe is closed in the middle of the traffic.
//!
//! Every test runs on both engines, bounded in time.

mod common;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{on_engines, Rng};

const WRITERS: usize = 4;
const WRITES_EACH: usize = 120;
const MAX_PAYLOAD: usize = 1_500;
const HEADER: usize = 8;

/// One tagged write: `id` (u32 LE), payload length (u32 LE), then the payload,
/// whose bytes are derived from the id so that a stray byte is noticed.
fn record(id: u32, payload_len: usize) -> Vec<u8> {
    let mut rec = Vec::with_capacity(HEADER + payload_len);
    rec.extend_from_slice(&id.to_le_bytes());
    rec.extend_from_slice(&(payload_len as u32).to_le_bytes());
    rec.extend((0..payload_len).map(|i| (id as usize).wrapping_mul(31).wrapping_add(i) as u8));
    rec
}

/// Parses one record at the start of `bytes`: its id and total length, after
/// checking that it is intact. Panics with `ctx` if it is not.
fn parse(bytes: &[u8], ctx: &str) -> (u32, usize) {
    assert!(bytes.len() >= HEADER, "{ctx}: truncated header");
    let id = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert!(len <= MAX_PAYLOAD, "{ctx}: bad length {len} (interleaved?)");
    assert!(bytes.len() >= HEADER + len, "{ctx}: truncated record {id}");
    assert!(
        bytes[..HEADER + len] == record(id, len)[..],
        "{ctx}: record {id} corrupted (interleaved?)"
    );
    (id, HEADER + len)
}

/// Spawns the writers; each writes its records with `write` and returns the
/// ids it sent and the bytes it wrote.
fn spawn_writers(w: &gopipe::PipeWriter, seed: u64) -> Vec<thread::JoinHandle<(Vec<u32>, usize)>> {
    let start = Arc::new(Barrier::new(WRITERS));
    (0..WRITERS)
        .map(|writer| {
            let mut w = w.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ writer as u64);
                let (mut ids, mut bytes) = (Vec::new(), 0);
                start.wait();
                for seq in 0..WRITES_EACH {
                    let id = (writer * WRITES_EACH + seq) as u32;
                    let rec = record(id, rng.range(0, MAX_PAYLOAD));
                    // Nothing closes the pipe while writers run.
                    assert_eq!(w.write(&rec).unwrap(), rec.len());
                    ids.push(id);
                    bytes += rec.len();
                }
                (ids, bytes)
            })
        })
        .collect()
}

/// Joins the writers: every id sent, and the bytes written.
fn join_writers(writers: Vec<thread::JoinHandle<(Vec<u32>, usize)>>) -> (Vec<u32>, usize) {
    let (mut ids, mut bytes) = (Vec::new(), 0);
    for t in writers {
        let (i, b) = t.join().unwrap();
        ids.extend(i);
        bytes += b;
    }
    (ids, bytes)
}

#[test]
fn concurrent_reads_each_get_one_whole_write() {
    on_engines(
        "concurrent_reads_each_get_one_whole_write",
        |engine, make| {
            let (r, w) = make();
            let writers = spawn_writers(&w, 1);
            drop(w);
            // Each reader's buffer fits any record, so each read is one write.
            let readers: Vec<_> = (0..3)
                .map(|reader| {
                    let mut r = r.clone();
                    thread::spawn(move || {
                        let mut buf = vec![0; HEADER + MAX_PAYLOAD + 100];
                        let (mut ids, mut bytes) = (Vec::new(), 0);
                        loop {
                            let n = r.read(&mut buf).unwrap();
                            if n == 0 {
                                return (ids, bytes);
                            }
                            let (id, len) = parse(&buf[..n], &format!("reader {reader}"));
                            assert_eq!(len, n, "reader {reader}: read {n} bytes of record {id}");
                            ids.push(id);
                            bytes += n;
                        }
                    })
                })
                .collect();
            drop(r);
            let (sent, written) = join_writers(writers);
            let (mut got, mut read) = (Vec::new(), 0);
            for t in readers {
                let (ids, bytes) = t.join().unwrap();
                got.extend(ids);
                read += bytes;
            }
            assert_eq!(read, written, "{engine}: bytes read vs written");
            assert_eq!(got.len(), sent.len(), "{engine}: records");
            let unique: HashSet<u32> = got.iter().copied().collect();
            assert_eq!(unique.len(), got.len(), "{engine}: a record arrived twice");
            assert_eq!(
                unique,
                sent.into_iter().collect(),
                "{engine}: records differ"
            );
        },
    );
}

#[test]
fn writes_stay_contiguous_over_small_reads() {
    on_engines("writes_stay_contiguous_over_small_reads", |engine, make| {
        // One reader with small random buffers: the stream it sees must be a
        // sequence of whole records, whatever the writers' timing.
        let (mut r, w) = make();
        let writers = spawn_writers(&w, 2);
        drop(w);
        let mut rng = Rng::new(3);
        let mut stream = Vec::new();
        let mut buf = [0; 700];
        loop {
            let size = rng.range(1, buf.len());
            let n = r.read(&mut buf[..size]).unwrap();
            if n == 0 {
                break;
            }
            stream.extend_from_slice(&buf[..n]);
        }
        let (sent, written) = join_writers(writers);
        assert_eq!(stream.len(), written, "{engine}: bytes read vs written");
        let mut seen = HashSet::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let (id, len) = parse(rest, engine);
            assert!(seen.insert(id), "{engine}: record {id} twice");
            rest = &rest[len..];
        }
        assert_eq!(seen, sent.into_iter().collect(), "{engine}: records differ");
    });
}

#[test]
fn concurrent_small_reads_get_every_byte_once() {
    on_engines(
        "concurrent_small_reads_get_every_byte_once",
        |engine, make| {
            // Writes of distinct 4-byte words; readers read 4 bytes at a time, so
            // each read gets exactly one word, and every word arrives once.
            let (r, w) = make();
            let words_per_writer = 100u32;
            let writers: Vec<_> = (0..3u32)
                .map(|writer| {
                    let mut w = w.clone();
                    thread::spawn(move || {
                        // Several words per write, so that one write feeds several
                        // readers at once.
                        let words: Vec<u8> = (0..words_per_writer)
                            .flat_map(|i| (writer * words_per_writer + i).to_le_bytes())
                            .collect();
                        for chunk in words.chunks(4 * 7) {
                            assert_eq!(w.write(chunk).unwrap(), chunk.len());
                        }
                    })
                })
                .collect();
            drop(w);
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let mut r = r.clone();
                    thread::spawn(move || {
                        let mut words = Vec::new();
                        let mut buf = [0; 4];
                        loop {
                            match r.read(&mut buf).unwrap() {
                                0 => return words,
                                4 => words.push(u32::from_le_bytes(buf)),
                                n => panic!("read {n} bytes, not one word"),
                            }
                        }
                    })
                })
                .collect();
            drop(r);
            for t in writers {
                t.join().unwrap();
            }
            let mut got: Vec<u32> = readers
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            got.sort_unstable();
            let want: Vec<u32> = (0..3 * words_per_writer).collect();
            assert_eq!(got, want, "{engine}: every word exactly once");
        },
    );
}

/// Who closes the pipe in the middle of the traffic.
#[derive(Clone, Copy, Debug)]
enum Closer {
    /// A reader calls `close()` on the read half.
    ReaderClose,
    /// A reader calls `close_with_error` on the read half.
    ReaderError,
    /// A reader, holding a writer clone, closes the write half.
    WriterClose,
}

#[test]
fn closing_mid_traffic_loses_nothing() {
    on_engines("closing_mid_traffic_loses_nothing", |engine, make| {
        for closer in [
            Closer::ReaderClose,
            Closer::ReaderError,
            Closer::WriterClose,
        ] {
            for seed in 0..4u64 {
                let ctx = format!("{engine}: {closer:?} seed {seed}");
                run_close_mid_traffic(make, closer, seed, &ctx);
            }
        }
    });
}

fn run_close_mid_traffic(make: common::MakePipe, closer: Closer, seed: u64, ctx: &str) {
    let (r, w) = make();
    let written = Arc::new(AtomicUsize::new(0));
    let read = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3u64)
        .map(|i| {
            let mut w = w.clone();
            let written = Arc::clone(&written);
            thread::spawn(move || {
                let mut rng = Rng::new(seed * 10 + i);
                let data = rng.bytes(4_000);
                loop {
                    let len = rng.range(0, data.len());
                    match w.write(&data[..len]) {
                        Ok(n) => {
                            assert!(n <= len, "Ok({n}) for a write of {len}");
                            // Short only when cut by the close.
                            written.fetch_add(n, Ordering::SeqCst);
                        }
                        Err(e) => return e,
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..3u64)
        .map(|i| {
            let mut r = r.clone();
            let w = w.clone();
            let (read, closed) = (Arc::clone(&read), Arc::clone(&closed));
            thread::spawn(move || {
                let mut rng = Rng::new(seed * 100 + i);
                let mut buf = [0; 1_000];
                loop {
                    let size = rng.range(1, buf.len());
                    let res = r.read(&mut buf[..size]);
                    let n = match res {
                        Ok(0) => return Ok(0),
                        Ok(n) => n,
                        Err(e) => return Err(e),
                    };
                    let total = read.fetch_add(n, Ordering::SeqCst) + n;
                    // Reader 0 closes once some traffic went through.
                    if i == 0 && total >= 50_000 && !closed.swap(true, Ordering::SeqCst) {
                        match closer {
                            Closer::ReaderClose => r.close(),
                            Closer::ReaderError => r.close_with_error("enough"),
                            Closer::WriterClose => w.close(),
                        }
                    }
                }
            })
        })
        .collect();
    drop((r, w));
    for t in writers {
        let err = t.join().unwrap();
        match closer {
            Closer::ReaderError => {
                assert_eq!(err.to_string(), "enough", "{ctx}: writer's error");
            }
            Closer::ReaderClose | Closer::WriterClose => {
                assert!(gopipe::is_closed_pipe(&err), "{ctx}: writer got {err:?}");
            }
        }
    }
    for t in readers {
        let res = t.join().unwrap();
        match closer {
            Closer::WriterClose => assert_eq!(res.unwrap(), 0, "{ctx}: reader"),
            Closer::ReaderClose | Closer::ReaderError => {
                let err = res.unwrap_err();
                assert_eq!(
                    err.kind(),
                    ErrorKind::BrokenPipe,
                    "{ctx}: reader got {err:?}"
                );
            }
        }
    }
    assert!(closed.load(Ordering::SeqCst), "{ctx}: never closed");
    assert_eq!(
        written.load(Ordering::SeqCst),
        read.load(Ordering::SeqCst),
        "{ctx}: bytes reported written vs bytes read"
    );
}

#[test]
fn clones_written_through_shared_references() {
    on_engines(
        "clones_written_through_shared_references",
        |engine, make| {
            // `&PipeWriter` from many threads at once, through one Arc.
            let (mut r, w) = make();
            let w = Arc::new(w);
            let writers: Vec<_> = (0..4u8)
                .map(|id| {
                    let w = Arc::clone(&w);
                    thread::spawn(move || {
                        for _ in 0..50 {
                            (&*w).write_all(&[id; 100]).unwrap();
                        }
                    })
                })
                .collect();
            drop(w);
            let mut stream = Vec::new();
            r.read_to_end(&mut stream).unwrap();
            for t in writers {
                t.join().unwrap();
            }
            assert_eq!(stream.len(), 4 * 50 * 100, "{engine}");
            // Whole writes never interleave: the stream is runs of 100 equal bytes.
            for (i, run) in stream.chunks(100).enumerate() {
                assert!(run.iter().all(|&b| b == run[0]), "{engine}: run {i} mixed");
            }
        },
    );
}
