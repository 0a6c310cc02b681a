//! Replays the fuzz corpus and a seeded sweep of random scripts through the
//! script interpreter the `pipe_script` fuzz target uses
//! (`tests/script/mod.rs`), on both engines; and shows that the interpreter's
//! checker rejects logs that break the pipe's rules.
//!
//! - `corpus_replays_clean`: every file of `tests/corpus/` (inputs the fuzzer
//!   found interesting, minimized) decoded and run.
//! - `random_sweep`: `GOPIPE_SWEEP` scripts (default 5000) decoded from bytes of
//!   a hand-written SplitMix64 generator, seeded by `GOPIPE_SWEEP_SEED`.
//! - `checker_*`: a real run's log, altered the way a broken pipe would alter
//!   it, must fail the check.

mod script;

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use script::{
    check, execute, payload, run, Ctor, ErrorChoice, Log, Op, Outcome, Record, Rng, Script, Side,
    Summary, WATCHDOG,
};

/// The engines every script runs on.
const ENGINES: [(&str, Ctor); 2] = [
    ("fast", gopipe::pipe),
    ("reference", gopipe::__reference_pipe),
];

/// Runs `script` on every engine, adding to `total`; on a failure, panics
/// naming `what` (the interpreter has already printed the script and its log).
fn run_everywhere(script: &Script, what: &str, total: &mut Summary) {
    for (engine, make) in ENGINES {
        match catch_unwind(AssertUnwindSafe(|| run(script, make))) {
            Ok(summary) => total.add(&summary),
            Err(_) => panic!("{what} failed on the {engine} engine"),
        }
    }
}

/// Every corpus file runs clean on both engines.
#[test]
fn corpus_replays_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "the corpus has only {} files",
        files.len()
    );
    let mut total = Summary::default();
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        let what = format!("corpus file {}", file.display());
        run_everywhere(&Script::decode(&data), &what, &mut total);
    }
    assert!(
        total.bytes > 0 && total.eofs > 0,
        "the corpus moved nothing: {total:?}"
    );
}

/// Input bytes for [`Script::decode`], mostly I/O operations: plain random
/// bytes close the pipe within a few operations, which leaves little traffic.
fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut data = vec![rng.bytes(1)[0]];
    for _ in 0..1 + rng.below(32) {
        let thread = (rng.below(16) as u8) << 4;
        let (code, args) = match rng.below(100) {
            0..=71 => ([0, 1, 2, 3, 4, 5, 12, 13, 14, 15][rng.below(10)], 1),
            72..=77 => (6, 0),  // clone
            78..=80 => (7, 0),  // drop
            81..=83 => (8, 0),  // close
            84..=87 => (9, 1),  // close with error
            88..=95 => (10, 1), // timeout
            _ => (11, 0),       // inspect
        };
        data.push(thread | code);
        if args == 1 && code < 6 || code > 11 {
            // A size: small, often empty, now and then up to 64 KiB (two
            // bytes).
            match rng.below(25) {
                0 => data.extend([0xF8 + rng.below(8) as u8, rng.bytes(1)[0]]),
                1..=3 => data.push(0),
                _ => data.push(rng.below(0xF8) as u8),
            }
        } else if args == 1 {
            data.push(rng.bytes(1)[0]);
        }
    }
    data
}

/// Thousands of random scripts run clean on both engines, and between them
/// reach every kind of outcome the checker knows.
#[test]
fn random_sweep() {
    let count: u64 = std::env::var("GOPIPE_SWEEP")
        .ok()
        .map(|s| s.parse().expect("GOPIPE_SWEEP is a count"))
        .unwrap_or(5000);
    let seed: u64 = std::env::var("GOPIPE_SWEEP_SEED")
        .ok()
        .map(|s| s.parse().expect("GOPIPE_SWEEP_SEED is a number"))
        .unwrap_or(0x6F70_6970_6521);
    let mut total = Summary::default();
    for i in 0..count {
        let mut rng = Rng::new(seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
        let data = random_input(&mut rng);
        let what = format!("sweep script {i} (seed {seed}, bytes {data:02x?})");
        run_everywhere(&Script::decode(&data), &what, &mut total);
    }
    eprintln!("sweep of {count} scripts: {total:?}");
    if count >= 2000 {
        let seen = [
            ("bytes", total.bytes),
            ("end of file", total.eofs),
            ("empty writes", total.empty_writes),
            ("short writes", total.short_writes),
            ("timeouts", total.timeouts),
            ("closed-pipe errors", total.closed_pipe),
            ("peer errors", total.peer_errors),
        ];
        for (what, n) in seen {
            assert!(n > 0, "the sweep never produced {what}: {total:?}");
        }
    }
}

/// One writer writes 5, 300 and 7 bytes, then closes with an `InvalidData`
/// error; one reader reads with a 512-byte buffer four times. Each read gets one
/// whole write and the fourth gets the error, whatever the timing.
fn known_script() -> Script {
    let io = |len| Op::Io { len, by_ref: false };
    Script {
        writers: vec![vec![
            io(5),
            io(300),
            io(7),
            Op::CloseWithError(ErrorChoice::InvalidData),
        ]],
        readers: vec![vec![io(512); 4]],
    }
}

/// A run of [`known_script`] on the fast engine, checked clean.
fn known_log() -> (Script, Log) {
    let script = known_script();
    let log = execute(&script, gopipe::pipe, WATCHDOG);
    let summary = check(&script, &log).expect("a clean run passes");
    assert_eq!(
        (summary.bytes, summary.reads, summary.peer_errors),
        (312, 3, 1)
    );
    (script, log)
}

/// The bytes of read `i` of reader 0.
fn read_data(log: &mut Log, i: usize) -> &mut Vec<u8> {
    match &mut log.readers[0][i].outcome {
        Outcome::Read { data, .. } => data,
        other => panic!("not a read: {other:?}"),
    }
}

/// Asserts that the check of `log` fails, with a message containing one of
/// `want`.
fn assert_rejected(script: &Script, log: &Log, want: &[&str]) {
    match check(script, log) {
        Ok(summary) => panic!("the checker accepted a broken log: {summary:?}"),
        Err(why) => assert!(
            want.iter().any(|w| why.contains(w)),
            "rejected for another reason: {why}"
        ),
    }
}

/// A byte changed in transit is caught.
#[test]
fn checker_rejects_a_changed_byte() {
    let (script, mut log) = known_log();
    read_data(&mut log, 1)[17] ^= 0x01;
    assert_rejected(&script, &log, &["do not tile"]);
}

/// A writer that reports one byte fewer than readers got is caught.
#[test]
fn checker_rejects_a_miscounted_write() {
    let (script, mut log) = known_log();
    match &mut log.writers[0][1].outcome {
        Outcome::Wrote { result, .. } => *result = Ok(299),
        other => panic!("not a write: {other:?}"),
    }
    assert_rejected(&script, &log, &["short write"]);
}

/// A byte delivered twice is caught.
#[test]
fn checker_rejects_a_duplicated_byte() {
    let (script, mut log) = known_log();
    let data = read_data(&mut log, 2);
    let last = *data.last().expect("7 bytes");
    data.push(last);
    if let Outcome::Read { result, .. } = &mut log.readers[0][2].outcome {
        *result = Ok(8);
    }
    assert_rejected(&script, &log, &["do not tile"]);
}

/// Reads that come back in another order than the writes are caught.
#[test]
fn checker_rejects_reordered_reads() {
    let (script, mut log) = known_log();
    let first = std::mem::take(read_data(&mut log, 0));
    let second = std::mem::replace(read_data(&mut log, 1), first);
    *read_data(&mut log, 0) = second;
    for (i, n) in [(0, 300), (1, 5)] {
        if let Outcome::Read { result, .. } = &mut log.readers[0][i].outcome {
            *result = Ok(n);
        }
    }
    assert_rejected(&script, &log, &["do not tile"]);
}

/// End of file where the writer closed with an error is caught.
#[test]
fn checker_rejects_eof_after_close_with_error() {
    let (script, mut log) = known_log();
    if let Outcome::Read { result, .. } = &mut log.readers[0][3].outcome {
        *result = Ok(0);
    }
    // Depending on whether the writer's last drop had started by then, the
    // end of file is either too early or the wrong close.
    let why = [
        "cannot have been its first close",
        "before the writer closed",
    ];
    assert_rejected(&script, &log, &why);
}

/// A close error with the wrong kind is caught.
#[test]
fn checker_rejects_a_wrong_error_kind() {
    let (script, mut log) = known_log();
    if let Outcome::Read { result, .. } = &mut log.readers[0][3].outcome {
        *result = Err(io::Error::other("i/o timeout"));
    }
    assert_rejected(&script, &log, &["unexpected error"]);
}

/// A stamped record for the hand-made logs below.
fn record(op: Op, index: Option<usize>, span: (u64, u64), outcome: Outcome) -> Record {
    Record {
        op,
        index,
        start: span.0,
        end: span.1,
        outcome,
    }
}

/// A read record that returned `data`.
fn read_of(len: usize, index: usize, span: (u64, u64), data: Vec<u8>) -> Record {
    let outcome = Outcome::Read {
        result: Ok(data.len()),
        data,
    };
    record(Op::Io { len, by_ref: false }, Some(index), span, outcome)
}

/// Two writers' writes whose reads interleave (W0's bytes, then all of W1's,
/// then the rest of W0's, each read over before the next began) are caught,
/// though each writer's own bytes tile.
#[test]
fn checker_rejects_interleaved_writes() {
    let write = |len| Op::Io { len, by_ref: false };
    let script = Script {
        writers: vec![vec![write(4)], vec![write(1)]],
        readers: vec![vec![write(2), write(2), write(2)]],
    };
    let drop_at = |t| record(Op::Drop, None, (t, t + 1), Outcome::Done);
    let wrote = |len, span| {
        let outcome = Outcome::Wrote {
            k: 0,
            result: Ok(len),
        };
        record(write(len), Some(0), span, outcome)
    };
    let w0 = payload(0, 0, 4);
    let w1 = payload(1, 0, 1);
    let log = Log {
        writers: vec![
            vec![wrote(4, (10, 40)), drop_at(50)],
            vec![wrote(1, (11, 41)), drop_at(52)],
        ],
        readers: vec![vec![
            read_of(2, 0, (12, 13), w0[..2].to_vec()),
            read_of(2, 1, (14, 15), w1.clone()),
            read_of(2, 2, (16, 17), w0[2..].to_vec()),
            drop_at(60),
        ]],
        main: vec![(Side::Write, drop_at(0)), (Side::Read, drop_at(2))],
    };
    assert_rejected(&script, &log, &["interleaved"]);

    // The same reads with W1's in the middle of nothing: accepted.
    let mut fine = log;
    fine.readers[0][1] = read_of(2, 1, (18, 19), w1);
    fine.readers[0].swap(1, 2);
    check(&script, &fine).expect("W0 then W1 is a legal order");
}
