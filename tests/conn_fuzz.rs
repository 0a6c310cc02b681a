//! Replays the `conn_script` fuzz target's corpus and a seeded sweep of random
//! scripts through its interpreter (`tests/conn_script/mod.rs`), which drives
//! both ends of a `gopipe::duplex()` connection from up to two threads each
//! and checks the record by Go's `net.Pipe` rules; and shows that the checker
//! rejects logs that break those rules.
//!
//! - `corpus_replays_clean`: every file of `tests/conn_corpus/` decoded and run.
//! - `random_sweep`: `GOPIPE_CONN_SWEEP` scripts (default 150) decoded from
//!   bytes of a SplitMix64 generator seeded by `GOPIPE_CONN_SWEEP_SEED`. Run it
//!   hard in release: `GOPIPE_CONN_SWEEP=20000 cargo test --release --test
//!   conn_fuzz random_sweep -- --nocapture`.
//! - `checker_*`: a real run's log, altered the way a broken connection would
//!   alter it, must fail the check.

mod conn_script;

use std::path::Path;

use conn_script::{
    check, execute, run, End, ErrorChoice, Failure, Op, Outcome, Rng, Script, Summary, Via, When,
    Which, WATCHDOG,
};

/// Every corpus file runs clean.
#[test]
fn corpus_replays_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conn_corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the corpus has only {} files",
        files.len()
    );
    let mut total = Summary::default();
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        let script = Script::decode(&data);
        match std::panic::catch_unwind(|| run(&script)) {
            Ok(summary) => total.add(&summary),
            Err(_) => panic!("corpus file {} failed", file.display()),
        }
    }
    eprintln!("corpus of {} files: {total:?}", files.len());
    assert!(
        total.bytes > 0 && total.eofs > 0 && total.timeouts > 0 && total.peer_errors > 0,
        "the corpus misses a kind of outcome: {total:?}"
    );
}

/// A size argument for [`Script::decode`]: small, sometimes empty, now and
/// then up to a few KiB or 64 KiB.
fn push_size(rng: &mut Rng, data: &mut Vec<u8>) {
    match rng.below(30) {
        0 => data.push(0),
        1..=2 => data.extend([0xF0 + rng.below(16) as u8, rng.byte()]),
        3..=5 => data.extend([0xF0, rng.byte()]),
        _ => data.push(1 + rng.below(0xEF) as u8),
    }
}

/// Input bytes for [`Script::decode`], mostly reads and writes (plain random
/// bytes close the connection within a few operations).
fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut data = vec![rng.byte()];
    let ops = 1 + rng.below(40);
    // Some scripts never close by themselves, some set no deadlines.
    let closes = rng.below(3) != 0;
    let deadlines = rng.below(4) != 0;
    for _ in 0..ops {
        let thread = rng.byte() & 0xC0;
        let code = match rng.below(100) {
            0..=37 => [0, 1, 2, 3, 15][rng.below(5)],
            38..=75 => 4 + rng.below(4) as u8,
            76..=83 if deadlines => 11,
            84..=87 if deadlines => 12,
            88..=90 => 13,
            91..=92 => 14,
            97 if closes => 8,
            98 if closes => 9,
            99 if closes => 10,
            _ => 4 + rng.below(4) as u8,
        };
        data.push(thread | code);
        match code {
            0..=7 | 15 => push_size(rng, &mut data),
            9..=12 => data.push(rng.byte()),
            _ => {}
        }
    }
    data
}

/// Thousands of random scripts run clean and between them reach every kind
/// of outcome the checker knows.
#[test]
fn random_sweep() {
    let count: u64 = std::env::var("GOPIPE_CONN_SWEEP")
        .ok()
        .map(|s| s.parse().expect("GOPIPE_CONN_SWEEP is a count"))
        .unwrap_or(150);
    let seed: u64 = std::env::var("GOPIPE_CONN_SWEEP_SEED")
        .ok()
        .map(|s| s.parse().expect("GOPIPE_CONN_SWEEP_SEED is a number"))
        .unwrap_or(0x636F_6E6E_0011);
    let mut total = Summary::default();
    for i in 0..count {
        let mut rng = Rng::new(seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
        let data = random_input(&mut rng);
        let script = Script::decode(&data);
        let result = std::panic::catch_unwind(|| run(&script));
        match result {
            Ok(summary) => total.add(&summary),
            Err(_) => panic!("sweep script {i} failed (seed {seed}, bytes {data:02x?})"),
        }
    }
    eprintln!("sweep of {count} scripts (seed {seed}): {total:?}");
    if count >= 1000 {
        let seen = [
            ("bytes", total.bytes),
            ("end of file", total.eofs),
            ("short writes", total.short_writes),
            ("timeouts", total.timeouts),
            ("forced timeouts", total.forced_timeouts),
            ("closed-pipe errors", total.closed_pipe),
            ("peer errors", total.peer_errors),
            ("refused deadlines", total.refused_deadlines),
            ("stalls", total.stalls),
        ];
        for (what, n) in seen {
            assert!(n > 0, "the sweep saw no {what}: {total:?}");
        }
    }
}

/// A script whose log has bytes both ways, a timeout and a peer's error.
fn traffic() -> Script {
    use Op::*;
    Script {
        a: vec![vec![
            Write {
                len: 300,
                via: Via::Ref,
            },
            Read {
                len: 100,
                via: Via::Owned,
            },
            Read {
                len: 100,
                via: Via::Split,
            },
            Deadline(Which::Read, When::Past),
            Read {
                len: 10,
                via: Via::Ref,
            },
            Deadline(Which::Read, When::Never),
            CloseWithError(ErrorChoice::Reset),
        ]],
        b: vec![vec![
            Read {
                len: 200,
                via: Via::IntoSplit,
            },
            Read {
                len: 200,
                via: Via::Ref,
            },
            Write {
                len: 200,
                via: Via::Owned,
            },
            Read {
                len: 10,
                via: Via::Ref,
            },
        ]],
    }
}

/// Runs `traffic()` until its log has what the checker tests need, returns
/// the log.
fn traffic_log() -> (Script, conn_script::Log) {
    let script = traffic();
    for _ in 0..20 {
        let log = execute(&script, WATCHDOG);
        check(&script, &log).expect("the traffic script runs clean");
        let b = &log.b[0];
        let full =
            |i: usize| matches!(&b[i].outcome, Outcome::Read(Ok(bytes)) if !bytes.is_empty());
        if full(0) && full(1) {
            return (script, log);
        }
    }
    panic!("the traffic script never moved its bytes");
}

/// A read's bytes, to alter.
fn read_bytes(log: &mut conn_script::Log, end: End, t: usize, i: usize) -> &mut Vec<u8> {
    match &mut log.threads_mut(end)[t][i].outcome {
        Outcome::Read(Ok(bytes)) => bytes,
        other => panic!("not a read with bytes: {other:?}"),
    }
}

/// A flipped, dropped, duplicated or foreign byte fails the check.
#[test]
fn checker_rejects_wrong_bytes() {
    let (script, log) = traffic_log();
    let mut flipped = log.clone();
    read_bytes(&mut flipped, End::B, 0, 1)[0] ^= 0x01;
    assert!(check(&script, &flipped).is_err(), "a flipped byte passed");

    let mut lost = log.clone();
    read_bytes(&mut lost, End::B, 0, 1).pop();
    assert!(check(&script, &lost).is_err(), "a lost byte passed");

    let mut doubled = log.clone();
    let first = read_bytes(&mut doubled, End::B, 0, 0).clone();
    let second = read_bytes(&mut doubled, End::B, 0, 1);
    second.splice(0..first.len().min(second.len()), first.iter().copied());
    assert!(check(&script, &doubled).is_err(), "duplicated bytes passed");

    // B reads A's bytes back where it should read its own peer's: relabel a
    // chunk as written by end B.
    let mut foreign = log.clone();
    for b in read_bytes(&mut foreign, End::B, 0, 0).iter_mut() {
        *b |= 0x80;
    }
    assert!(check(&script, &foreign).is_err(), "foreign bytes passed");
}

/// A write that reports more or fewer bytes than were read fails.
#[test]
fn checker_rejects_wrong_counts() {
    let (script, log) = traffic_log();
    let mut short = log.clone();
    if let Outcome::Wrote { result: Ok(n), .. } = &mut short.a[0][0].outcome {
        *n -= 1;
    } else {
        panic!("A's write did not succeed");
    }
    assert!(check(&script, &short).is_err(), "a wrong count passed");
}

/// Results the rules forbid fail: bytes after a close, a timeout with no
/// deadline, a wrong peer error, end of file with no close.
#[test]
fn checker_rejects_forbidden_results() {
    let (script, log) = traffic_log();
    let last = log.b[0].len() - 1;

    // B's last read after A's close_with_error: must not be end of file.
    let mut eof = log.clone();
    eof.b[0][last].outcome = Outcome::Read(Ok(Vec::new()));
    let closed_first = log.a[0].last().unwrap().end < log.b[0][last].start;
    if closed_first {
        assert!(
            check(&script, &eof).is_err(),
            "end of file passed for a peer's error"
        );
    }

    // A timeout where no deadline or timeout was ever set on B.
    let mut timeout = log.clone();
    timeout.b[0][0].outcome = Outcome::Read(Err(Failure {
        kind: std::io::ErrorKind::TimedOut,
        message: "i/o timeout".into(),
        closed_pipe: false,
        close_error: false,
    }));
    assert!(
        check(&script, &timeout).is_err(),
        "a timeout with no deadline passed"
    );

    // A's read with a past deadline in force that returned bytes.
    let mut past = log.clone();
    past.a[0][4].outcome = Outcome::Read(Ok(vec![0x80]));
    assert!(
        check(&script, &past).is_err(),
        "a read past its deadline passed"
    );

    // A peer error with a message no close passed.
    let mut stranger = log.clone();
    stranger.b[0][last].outcome = Outcome::Read(Err(Failure {
        kind: std::io::ErrorKind::ConnectionReset,
        message: "conn script: A0 op 5 closed with an error".into(),
        closed_pipe: false,
        close_error: true,
    }));
    assert!(
        check(&script, &stranger).is_err(),
        "a stranger's error passed"
    );
}
