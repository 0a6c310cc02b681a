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
/// The reference engine has no async halves: it runs the script with its async
/// operations made blocking.
fn run_everywhere(script: &Script, what: &str, total: &mut Summary) {
    let blocking = script.sync_only();
    for (engine, make) in ENGINES {
        let script = if engine == "reference" {
            &blocking
        } else {
            script
        };
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

/// A size argument: small, often empty, now and then up to about 64 KiB
/// (two bytes).
fn push_size(rng: &mut Rng, data: &mut Vec<u8>) {
    match rng.below(25) {
        0 => data.extend([0xF8 + rng.below(8) as u8, rng.bytes(1)[0]]),
        1..=3 => data.push(0),
        _ => data.push(rng.below(0xF8) as u8),
    }
}

/// Input bytes for [`Script::decode`], mostly I/O operations: plain random
/// bytes close the pipe within a few operations, which leaves little traffic.
/// Two scripts in five are async ones (bit 4 of the header), whose codes 12
/// to 15 are async reads and writes, flushes and shutdowns.
fn random_input(rng: &mut Rng) -> Vec<u8> {
    let header = rng.bytes(1)[0] & !0x10;
    let asynchronous = rng.below(5) < 2;
    let mut data = vec![if asynchronous { header | 0x10 } else { header }];
    for _ in 0..1 + rng.below(32) {
        let thread = (rng.below(16) as u8) << 4;
        let (code, args) = match rng.below(100) {
            0..=71 if asynchronous => match rng.below(12) {
                0..=4 => (rng.below(6) as u8, 1),
                5..=9 => (12 + rng.below(2) as u8, 2), // async I/O
                _ => (14, 3),                          // flush
            },
            0..=71 => ([0, 1, 2, 3, 4, 5, 12, 13, 14, 15][rng.below(10)], 1),
            72..=77 => (6, 0),             // clone
            78..=80 => (7, 0),             // drop
            81..=82 => (8, 0),             // close
            83 if asynchronous => (15, 4), // shutdown
            83 => (8, 0),
            84..=87 => (9, 1),  // close with error
            88..=95 => (10, 1), // timeout
            _ => (11, 0),       // inspect
        };
        data.push(thread | code);
        match args {
            // Blocking I/O: a size.
            1 if !(6..=11).contains(&code) => push_size(rng, &mut data),
            // Async I/O: a polls byte, then a size.
            2 => {
                data.push(rng.bytes(1)[0]);
                push_size(rng, &mut data);
            }
            // A flush's polls byte, or a close's or timeout's choice.
            1 | 3 => data.push(rng.bytes(1)[0]),
            _ => {}
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
            ("async bytes", total.async_bytes),
            ("dropped futures", total.dropped),
            ("flushes", total.flushes),
            (
                "staged bytes read after the write half closed",
                total.late_reads,
            ),
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

/// An async write of `len` bytes as writer op `index` (write number `k`),
/// reporting `n`.
fn async_wrote(len: usize, k: usize, index: usize, span: (u64, u64), n: usize) -> Record {
    let op = Op::AsyncIo {
        len,
        by_ref: false,
        polls: 0,
    };
    record(op, Some(index), span, Outcome::Wrote { k, result: Ok(n) })
}

/// A drop at the end of a thread's list, at stamp `t`.
fn drop_at(t: u64) -> Record {
    record(Op::Drop, None, (t, t + 1), Outcome::Done)
}

/// A read record that returned end of file.
fn eof_of(len: usize, index: usize, span: (u64, u64)) -> Record {
    let outcome = Outcome::Read {
        result: Ok(0),
        data: Vec::new(),
    };
    record(Op::Io { len, by_ref: false }, Some(index), span, outcome)
}

/// One writer makes three async writes (5, 300 and 7 bytes), flushes and
/// shuts down; one reader reads with a 512-byte buffer four times. Staged
/// writes keep their boundaries, so each read gets one whole write, the
/// flushes wait for all of them, and the fourth read gets end of file.
#[test]
fn async_script_runs_clean() {
    let awrite = |len| Op::AsyncIo {
        len,
        by_ref: false,
        polls: 0,
    };
    let script = Script {
        writers: vec![vec![
            awrite(5),
            awrite(300),
            awrite(7),
            Op::Flush { polls: 0 },
            Op::Shutdown,
        ]],
        readers: vec![vec![
            Op::Io {
                len: 512,
                by_ref: false
            };
            4
        ]],
    };
    for _ in 0..20 {
        let log = execute(&script, gopipe::pipe, WATCHDOG);
        let summary = check(&script, &log).expect("a clean run passes");
        assert_eq!(
            (
                summary.bytes,
                summary.reads,
                summary.eofs,
                summary.async_bytes,
                summary.flushes
            ),
            (312, 3, 1, 312, 2),
            "{log:?}"
        );
    }
}

/// A flush that returned `Ok` before readers took the staged bytes is caught.
#[test]
fn checker_rejects_an_early_flush() {
    let script = Script {
        writers: vec![vec![
            Op::AsyncIo {
                len: 5,
                by_ref: false,
                polls: 0,
            },
            Op::Flush { polls: 0 },
        ]],
        readers: vec![vec![Op::Io {
            len: 512,
            by_ref: false,
        }]],
    };
    let flush = record(
        Op::Flush { polls: 0 },
        Some(1),
        (12, 13),
        Outcome::Flushed(Ok(())),
    );
    let log = Log {
        writers: vec![vec![async_wrote(5, 0, 0, (10, 11), 5), flush, drop_at(30)]],
        readers: vec![vec![
            read_of(512, 0, (14, 15), payload(0, 0, 5)),
            drop_at(40),
        ]],
        main: vec![(Side::Write, drop_at(0)), (Side::Read, drop_at(2))],
    };
    assert_rejected(&script, &log, &["returned Ok"]);

    // The same read started before the flush returned: accepted.
    let mut fine = log;
    fine.readers[0][0] = read_of(512, 0, (5, 14), payload(0, 0, 5));
    check(&script, &fine).expect("the read took the bytes before the flush returned");
}

/// End of file while staged bytes were still to be read is caught; staged
/// bytes read after the writer's close, then end of file, are fine.
#[test]
fn checker_rejects_eof_before_staged_bytes() {
    let script = Script {
        writers: vec![vec![
            Op::AsyncIo {
                len: 5,
                by_ref: false,
                polls: 0,
            },
            Op::Close,
        ]],
        readers: vec![vec![
            Op::Io {
                len: 512,
                by_ref: false,
            };
            2
        ]],
    };
    let close = record(Op::Close, Some(1), (12, 13), Outcome::Done);
    let log = Log {
        writers: vec![vec![async_wrote(5, 0, 0, (10, 11), 5), close, drop_at(30)]],
        readers: vec![vec![
            eof_of(512, 0, (14, 15)),
            read_of(512, 1, (16, 17), payload(0, 0, 5)),
            drop_at(40),
        ]],
        main: vec![(Side::Write, drop_at(0)), (Side::Read, drop_at(2))],
    };
    assert_rejected(&script, &log, &["saw the write half closed"]);

    let mut fine = log;
    fine.readers[0][0] = read_of(512, 0, (14, 15), payload(0, 0, 5));
    fine.readers[0][1] = eof_of(512, 1, (16, 17));
    let summary = check(&script, &fine).expect("staged bytes, then end of file");
    assert_eq!(summary.late_reads, 1);

    // A blocking write's bytes cannot be read after the close returned.
    let mut sync = fine;
    sync.writers[0][0] = record(
        Op::Io {
            len: 5,
            by_ref: false,
        },
        Some(0),
        (10, 11),
        Outcome::Wrote {
            k: 0,
            result: Ok(5),
        },
    );
    let script = Script {
        writers: vec![vec![
            Op::Io {
                len: 5,
                by_ref: false,
            },
            Op::Close,
        ]],
        ..script
    };
    assert_rejected(&script, &sync, &["do not tile"]);
}

/// An async write of at most 64 KiB accepted in part is caught.
#[test]
fn checker_rejects_a_partly_accepted_async_write() {
    let script = Script {
        writers: vec![vec![Op::AsyncIo {
            len: 300,
            by_ref: false,
            polls: 0,
        }]],
        readers: vec![vec![Op::Io {
            len: 512,
            by_ref: false,
        }]],
    };
    let log = Log {
        writers: vec![vec![async_wrote(300, 0, 0, (10, 11), 200), drop_at(30)]],
        readers: vec![vec![
            read_of(512, 0, (12, 13), payload(0, 0, 200)),
            drop_at(40),
        ]],
        main: vec![(Side::Write, drop_at(0)), (Side::Read, drop_at(2))],
    };
    assert_rejected(&script, &log, &["accepted in part"]);
}

/// Staged bytes lost while later ones were read are caught: of one writer by
/// the tiling, across writers by the order of the writes.
#[test]
fn checker_rejects_lost_staged_bytes() {
    let awrite = |len| Op::AsyncIo {
        len,
        by_ref: false,
        polls: 0,
    };
    let read = Op::Io {
        len: 512,
        by_ref: false,
    };
    let script = Script {
        writers: vec![vec![awrite(5), awrite(4)]],
        readers: vec![vec![read]],
    };
    let log = Log {
        writers: vec![vec![
            async_wrote(5, 0, 0, (10, 11), 5),
            async_wrote(4, 1, 1, (12, 13), 4),
            drop_at(30),
        ]],
        readers: vec![vec![
            read_of(512, 0, (14, 15), payload(0, 1, 4)),
            drop_at(40),
        ]],
        main: vec![(Side::Write, drop_at(0)), (Side::Read, drop_at(2))],
    };
    assert_rejected(&script, &log, &["do not tile"]);

    let script = Script {
        writers: vec![vec![awrite(5)], vec![awrite(4)]],
        readers: vec![vec![read]],
    };
    let log = Log {
        writers: vec![
            vec![async_wrote(5, 0, 0, (10, 11), 5), drop_at(30)],
            vec![async_wrote(4, 0, 0, (12, 13), 4), drop_at(32)],
        ],
        readers: vec![vec![
            read_of(512, 0, (14, 15), payload(1, 0, 4)),
            drop_at(40),
        ]],
        main: vec![(Side::Write, drop_at(0)), (Side::Read, drop_at(2))],
    };
    assert_rejected(&script, &log, &["before W0's earlier write"]);

    // Both lost (the read half's close discards them): accepted.
    let mut fine = log;
    fine.readers[0].remove(0);
    let script = Script {
        readers: vec![vec![]],
        ..script
    };
    check(&script, &fine).expect("staged bytes discarded by the reader's close");
}

/// A flush pending on staged bytes must be woken when the read half closes
/// (it then fails), also when the write half closed first: found by the
/// sweep (script 521 of the default seed hung in W0's flush, now
/// `tests/corpus/async-flush-second-close-hang`): the pipe's first close woke
/// every task, but a later close of the other half did not, and `poll_flush`
/// waits for the read half's close, not the pipe's. Fixed in c972b19.
#[test]
fn flush_is_woken_when_the_read_half_closes_second() {
    use futures::AsyncWriteExt;
    let (reader, mut writer) = gopipe::pipe();
    // No reader waiting: the 5 bytes are staged.
    assert_eq!(
        futures::executor::block_on(writer.write(b"hello")).unwrap(),
        5
    );
    let closer = writer.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let flusher = std::thread::spawn(move || {
        let _ = tx.send(futures::executor::block_on(writer.flush()));
    });
    std::thread::sleep(std::time::Duration::from_millis(100)); // flush is Pending
    closer.close(); // first close: wakes every task; the flush registers again
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(reader); // the read half closes: staged bytes can never drain
    let got = rx.recv_timeout(std::time::Duration::from_secs(5));
    assert!(
        got.is_ok(),
        "poll_flush never woken after the read half closed"
    );
    eprintln!("flush returned {:?}", got.unwrap());
    flusher.join().unwrap();
}
