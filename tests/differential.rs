//! Differential tests: the same scripted scenarios run on the fast engine and
//! on the reference engine, and on a sequential model of the semantics; all
//! three must report the same results (counts, bytes, error kinds and
//! messages).
//!
//! A script is one list of operations for a writer thread and one for a reader
//! thread. The scripts only use operations whose results do not depend on how
//! the two threads are scheduled: a single writer and a single reader, no
//! timeouts, and both lists end up closing their half, so that nothing waits
//! for ever. What a read returns is then fixed by the writes before it, and
//! what a write returns by the reads before the reader's first close.

mod common;

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::thread;

use common::{bounded, engines, MakePipe, Outcome, Rng, BOUND_SECS};
use gopipe::{ClosedPipe, PipeReader, PipeWriter};

/// How a half is closed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    /// `close()`.
    Plain,
    /// `close_with_error(io::Error)` of kind `InvalidData`, message `bad <n>`.
    Io(u8),
    /// `close_with_error(Custom(n))`, message `custom <n>`.
    Custom(u8),
    /// `close_with_error(ClosedPipe)`.
    WithClosedPipe,
    /// Dropping the (only) handle; always the last operation of its list.
    Drop,
}

/// An error type of the test's own.
#[derive(Debug)]
struct Custom(u8);

impl fmt::Display for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "custom {}", self.0)
    }
}

impl std::error::Error for Custom {}

impl How {
    /// What the other half's operations get after this close, when this is
    /// the first close of the half; `None` for the plain-close result (end
    /// of file for reads, the closed-pipe error for writes).
    fn peer_error(self) -> Option<Outcome> {
        match self {
            How::Plain | How::Drop => None,
            How::Io(n) => Some(Outcome::err(ErrorKind::InvalidData, &format!("bad {n}"))),
            How::Custom(n) => Some(Outcome::err(ErrorKind::Other, &format!("custom {n}"))),
            How::WithClosedPipe => Some(Outcome::closed_pipe()),
        }
    }
}

/// A writer operation.
#[derive(Clone, Debug)]
enum WOp {
    /// `write` of these bytes.
    Write(Vec<u8>),
    /// Close the write half.
    Close(How),
}

/// A reader operation.
#[derive(Clone, Debug)]
enum ROp {
    /// `read` into a buffer of this size.
    Read(usize),
    /// Close the read half.
    Close(How),
}

/// One scenario.
#[derive(Clone, Debug)]
struct Script {
    writer: Vec<WOp>,
    reader: Vec<ROp>,
}

/// The results of a run: one per write, and one (with its bytes) per read.
#[derive(Debug, PartialEq)]
struct Trace {
    writes: Vec<Outcome>,
    reads: Vec<(Outcome, Vec<u8>)>,
}

fn close_writer(w: &mut Option<PipeWriter>, how: How) {
    let handle = w.as_ref().expect("no operation after a drop");
    match how {
        How::Plain => handle.close(),
        How::Io(n) => {
            handle.close_with_error(io::Error::new(ErrorKind::InvalidData, format!("bad {n}")))
        }
        How::Custom(n) => handle.close_with_error(Custom(n)),
        How::WithClosedPipe => handle.close_with_error(ClosedPipe),
        How::Drop => *w = None,
    }
}

fn close_reader(r: &mut Option<PipeReader>, how: How) {
    let handle = r.as_ref().expect("no operation after a drop");
    match how {
        How::Plain => handle.close(),
        How::Io(n) => {
            handle.close_with_error(io::Error::new(ErrorKind::InvalidData, format!("bad {n}")))
        }
        How::Custom(n) => handle.close_with_error(Custom(n)),
        How::WithClosedPipe => handle.close_with_error(ClosedPipe),
        How::Drop => *r = None,
    }
}

/// Runs `script` on a pipe from `make`.
fn run(make: MakePipe, script: &Script) -> Trace {
    let (r, w) = make();
    let ops = script.writer.clone();
    let writer = thread::spawn(move || {
        let mut w = Some(w);
        let mut out = Vec::new();
        for op in ops {
            match op {
                WOp::Write(bytes) => {
                    let res = w.as_mut().expect("write after drop").write(&bytes);
                    out.push(Outcome::of(&res));
                }
                WOp::Close(how) => close_writer(&mut w, how),
            }
        }
        out
    });
    let mut r = Some(r);
    let mut reads = Vec::new();
    for op in &script.reader {
        match *op {
            ROp::Read(size) => {
                let mut buf = vec![0; size];
                let res = r.as_mut().expect("read after drop").read(&mut buf);
                let bytes = buf[..*res.as_ref().unwrap_or(&0)].to_vec();
                reads.push((Outcome::of(&res), bytes));
            }
            ROp::Close(how) => close_reader(&mut r, how),
        }
    }
    let writes = writer.join().expect("writer thread");
    Trace { writes, reads }
}

/// The results the semantics prescribe for `script`, computed sequentially.
fn model(script: &Script) -> Trace {
    // The writes before the writer's first close; later ones fail with the
    // closed-pipe error whatever the reader does.
    let first_wclose = script
        .writer
        .iter()
        .position(|op| matches!(op, WOp::Close(_)))
        .expect("scripts close the writer");
    let wclose = match script.writer[first_wclose] {
        WOp::Close(how) => how,
        WOp::Write(_) => unreachable!(),
    };
    let live: Vec<&[u8]> = script.writer[..first_wclose]
        .iter()
        .map(|op| match op {
            WOp::Write(b) => &b[..],
            WOp::Close(_) => unreachable!(),
        })
        .collect();

    // The reader takes from the live writes in order, until it closes.
    let (mut wi, mut off) = (0, 0);
    let mut rclose: Option<How> = None;
    let mut reads = Vec::new();
    for op in &script.reader {
        match *op {
            ROp::Close(how) => {
                rclose.get_or_insert(how);
            }
            ROp::Read(0) => reads.push((Outcome::Ok(0), Vec::new())),
            ROp::Read(_) if rclose.is_some() => reads.push((Outcome::closed_pipe(), Vec::new())),
            ROp::Read(size) => {
                // Empty writes are taken without ending the read.
                while wi < live.len() && live[wi].is_empty() {
                    wi += 1;
                }
                if wi < live.len() {
                    let n = size.min(live[wi].len() - off);
                    reads.push((Outcome::Ok(n), live[wi][off..off + n].to_vec()));
                    off += n;
                    if off == live[wi].len() {
                        (wi, off) = (wi + 1, 0);
                    }
                } else {
                    let res = wclose.peer_error().unwrap_or(Outcome::Ok(0));
                    reads.push((res, Vec::new()));
                }
            }
        }
    }

    // Each live write returns what the reader took of it before closing.
    let rclose = rclose.expect("scripts close the reader");
    let rerr = rclose.peer_error().unwrap_or_else(Outcome::closed_pipe);
    let mut writes = Vec::new();
    for (j, bytes) in live.iter().enumerate() {
        writes.push(if j < wi {
            Outcome::Ok(bytes.len())
        } else if j == wi && off > 0 {
            Outcome::Ok(off)
        } else {
            rerr.clone()
        });
    }
    for op in &script.writer[first_wclose..] {
        if let WOp::Write(_) = op {
            writes.push(Outcome::closed_pipe());
        }
    }
    Trace { writes, reads }
}

/// Runs every script on both engines and checks them against each other and
/// against the model.
fn check_scripts(scripts: Vec<Script>) {
    let scripts = std::sync::Arc::new(scripts);
    let mut traces = Vec::new();
    for (engine, make) in engines() {
        let scripts = std::sync::Arc::clone(&scripts);
        let name = format!("differential [{engine}]");
        let trace: Vec<Trace> = bounded(&name, BOUND_SECS, move || {
            scripts.iter().map(|s| run(make, s)).collect()
        });
        traces.push((engine, trace));
    }
    let (fast_name, fast) = &traces[0];
    let (ref_name, reference) = &traces[1];
    for (i, script) in scripts.iter().enumerate() {
        assert_eq!(
            fast[i], reference[i],
            "script {i}: {fast_name} (left) and {ref_name} (right) differ\n{script:?}"
        );
        assert_eq!(
            fast[i],
            model(script),
            "script {i}: engines (left) differ from the model (right)\n{script:?}"
        );
    }
}

/// Shorthand for the hand-written scripts.
fn w(bytes: &[u8]) -> WOp {
    WOp::Write(bytes.to_vec())
}

#[test]
fn hand_written_scenarios() {
    use How::*;
    use ROp::Read;
    let scripts = vec![
        // Plain transfer, then EOF, then the writer's end repeats.
        Script {
            writer: vec![w(b"hello"), WOp::Close(Plain)],
            reader: vec![Read(16), Read(16), Read(16), ROp::Close(Plain)],
        },
        // One write over several reads, with an empty read in the middle.
        Script {
            writer: vec![w(b"0123456789"), WOp::Close(Drop)],
            reader: vec![
                Read(3),
                Read(0),
                Read(3),
                Read(3),
                Read(3),
                Read(3),
                ROp::Close(Drop),
            ],
        },
        // Two writes are never combined by one read.
        Script {
            writer: vec![w(b"aaaaa"), w(b"bbbbb"), WOp::Close(Plain)],
            reader: vec![Read(100), Read(100), Read(100), ROp::Close(Plain)],
        },
        // Empty writes are invisible to reads.
        Script {
            writer: vec![
                w(b""),
                w(b"x"),
                w(b""),
                w(b""),
                w(b"yz"),
                w(b""),
                WOp::Close(Plain),
            ],
            reader: vec![Read(8), Read(8), Read(8), ROp::Close(Plain)],
        },
        // The reader closes mid-write: the write reports what was read.
        Script {
            writer: vec![w(b"0123456789"), w(b"more"), w(b""), WOp::Close(Plain)],
            reader: vec![Read(4), ROp::Close(Plain), Read(4)],
        },
        // ... with an error, which the following writes get.
        Script {
            writer: vec![w(b"0123456789"), w(b"more"), WOp::Close(Plain), w(b"late")],
            reader: vec![Read(4), ROp::Close(Io(1)), ROp::Close(Custom(2)), Read(4)],
        },
        // The reader closes exactly at a write boundary.
        Script {
            writer: vec![w(b"abcd"), w(b"efgh"), WOp::Close(Plain)],
            reader: vec![Read(4), ROp::Close(Custom(3))],
        },
        // The writer closes with an error: reads get it, again and again; a
        // second close changes nothing; writes after it get ClosedPipe.
        Script {
            writer: vec![
                w(b"data"),
                WOp::Close(Io(4)),
                WOp::Close(Plain),
                w(b"after"),
                w(b""),
            ],
            reader: vec![
                Read(2),
                Read(2),
                Read(2),
                Read(2),
                ROp::Close(Plain),
                Read(2),
            ],
        },
        // close_with_error(ClosedPipe) on either side.
        Script {
            writer: vec![w(b"q"), WOp::Close(WithClosedPipe)],
            reader: vec![Read(1), Read(1), ROp::Close(Plain)],
        },
        Script {
            writer: vec![w(b"qq"), w(b"rr"), WOp::Close(Plain)],
            reader: vec![Read(1), ROp::Close(WithClosedPipe)],
        },
        // The reader closes before anything happens.
        Script {
            writer: vec![w(b"never"), w(b""), WOp::Close(Custom(5))],
            reader: vec![ROp::Close(Io(6)), Read(3)],
        },
        // The writer closes before anything happens.
        Script {
            writer: vec![WOp::Close(Custom(7)), w(b"never")],
            reader: vec![Read(3), Read(0), ROp::Close(Drop)],
        },
    ];
    check_scripts(scripts);
}

/// A random close, never `Drop` unless `last`.
fn random_how(rng: &mut Rng, last: bool) -> How {
    match rng.range(0, if last { 4 } else { 3 }) {
        0 => How::Plain,
        1 => How::Io(rng.range(0, 9) as u8),
        2 => How::Custom(rng.range(0, 9) as u8),
        3 => How::WithClosedPipe,
        _ => How::Drop,
    }
}

/// A random script that keeps to the deterministic operations (see the
/// module docs).
fn random_script(rng: &mut Rng) -> Script {
    let mut writer = Vec::new();
    for _ in 0..rng.range(0, 6) {
        let len = if rng.one_in(4) { 0 } else { rng.range(1, 24) };
        writer.push(WOp::Write(rng.bytes(len)));
    }
    writer.push(WOp::Close(random_how(rng, false)));
    for _ in 0..rng.range(0, 2) {
        let len = rng.range(0, 4);
        writer.push(WOp::Write(rng.bytes(len)));
    }
    if rng.one_in(3) {
        writer.push(WOp::Close(random_how(rng, true)));
    }

    let mut reader = Vec::new();
    let reads = rng.range(0, 10);
    // Half of the scripts close the reader after all their reads, the others
    // somewhere in between.
    let close_at = if rng.one_in(2) {
        reads
    } else {
        rng.range(0, reads)
    };
    for i in 0..=reads {
        if i == close_at {
            reader.push(ROp::Close(random_how(rng, false)));
        }
        if i < reads {
            let size = if rng.one_in(8) { 0 } else { rng.range(1, 16) };
            reader.push(ROp::Read(size));
        }
    }
    if rng.one_in(3) {
        reader.push(ROp::Close(random_how(rng, true)));
    }
    Script { writer, reader }
}

#[test]
fn random_scenarios() {
    let mut rng = Rng::new(0x5eed);
    let scripts = (0..300).map(|_| random_script(&mut rng)).collect();
    check_scripts(scripts);
}

#[test]
fn the_model_can_fail() {
    // A check of the checker: a trace that breaks a rule differs from the
    // model's. Here a read that combined two writes.
    let script = Script {
        writer: vec![w(b"ab"), w(b"cd"), WOp::Close(How::Plain)],
        reader: vec![ROp::Read(4), ROp::Close(How::Plain)],
    };
    let combined = Trace {
        writes: vec![Outcome::Ok(2), Outcome::Ok(2)],
        reads: vec![(Outcome::Ok(4), b"abcd".to_vec())],
    };
    assert_ne!(model(&script), combined);
}
