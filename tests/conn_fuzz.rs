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
//!
//! Scripts may run on `gopipe::buffered_duplex(capacity)` (issue 25): the
//! corpus's `buffered-conn-*` files, one sweep script in three, and the
//! `buffered_*` checker tests.

mod conn_script;

use std::path::Path;

use conn_script::{
    check, execute, run, End, ErrorChoice, Failure, Op, Outcome, Rng, Script, Summary, Via, When,
    Which, BUFFERED, CAPACITIES, WATCHDOG,
};

/// Every corpus file runs clean, and the buffered ones (`buffered-conn-*`)
/// between them reach what they were written for: bytes buffered both ways,
/// reads that joined writes, reads after the writer's half-close, bytes a
/// read-half close dropped, ends of file and close errors after buffered
/// bytes, writes cut by a deadline or timeout, past-deadline timeouts.
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
    let mut buffered = Summary::default();
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        let script = Script::decode(&data);
        match std::panic::catch_unwind(|| run(&script)) {
            Ok(summary) => {
                total.add(&summary);
                if script.capacity.is_some() {
                    buffered.add(&summary);
                }
            }
            Err(_) => panic!("corpus file {} failed", file.display()),
        }
    }
    eprintln!("corpus of {} files: {total:?}", files.len());
    assert!(
        total.bytes > 0 && total.eofs > 0 && total.timeouts > 0 && total.peer_errors > 0,
        "the corpus misses a kind of outcome: {total:?}"
    );
    eprintln!("buffered corpus files: {buffered:?}");
    let seen = [
        ("scripts with a capacity above 0", buffered.buffered),
        ("joined reads", buffered.joined_reads),
        ("writes with no read under way", buffered.unmet_writes),
        ("reads after the writer's close", buffered.late_reads),
        ("bytes a read-half close dropped", buffered.dropped_bytes),
        ("ends after buffered bytes", buffered.drained_eofs),
        ("cut writes", buffered.short_writes),
        ("forced timeouts", buffered.forced_timeouts),
        ("peer errors", buffered.peer_errors),
    ];
    for (what, n) in seen {
        assert!(
            n > 0,
            "the buffered corpus files saw no {what}: {buffered:?}"
        );
    }
}

/// The corpus's inputs from before buffered connections keep their meaning:
/// none starts with a buffered header (so each decodes as it did), every
/// `buffered-conn-*` file does; a lone buffered header byte is still an
/// empty script; the header's bits 0-1 still count threads, the next byte
/// picks the capacity.
#[test]
fn buffered_headers_are_new() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conn_corpus");
    let mut capacities = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the corpus") {
        let path = entry.expect("an entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        let name = path.file_name().expect("a name").to_string_lossy();
        let script = Script::decode(&data);
        assert_eq!(
            script.capacity.is_some(),
            name.starts_with("buffered-conn-"),
            "{name}: {script:?}"
        );
        capacities.extend(script.capacity);
    }
    for capacity in [0, 1, 7, 64 << 10] {
        assert!(
            capacities.contains(&capacity),
            "no buffered-conn-* file has capacity {capacity}: {capacities:?}"
        );
    }
    assert_eq!(
        Script::decode(&[BUFFERED | 3]),
        Script::decode(&[3]),
        "a lone header byte"
    );
    let buffered = Script::decode(&[BUFFERED | 2, 0x07, 0x00, 0x05, 0x84, 0x05]);
    assert_eq!(buffered.capacity, Some(CAPACITIES[7]));
    assert_eq!(
        Script {
            capacity: None,
            ..buffered
        },
        Script::decode(&[0x02, 0x00, 0x05, 0x84, 0x05])
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
        let mut data = random_input(&mut rng);
        // A buffered header is for buffered scripts: the same thread counts
        // (all an unbuffered header means), so older sweeps' scripts stay.
        if data[0] >= BUFFERED {
            data[0] &= 3;
        }
        // One in three on a buffered connection (issue 25), drawn apart so
        // that the unbuffered scripts stay those of older sweeps.
        let mut pick = Rng::new(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xB0FF);
        if pick.below(3) == 0 {
            data[0] |= BUFFERED;
            data.insert(1, pick.below(16) as u8);
        }
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
            ("buffered scripts", total.buffered),
            ("joined reads", total.joined_reads),
            ("buffered writes with no read under way", total.unmet_writes),
            ("reads after the writer's close", total.late_reads),
            ("bytes a read-half close dropped", total.dropped_bytes),
            ("ends after buffered bytes", total.drained_eofs),
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
        capacity: None,
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

/// A buffered script whose log has a read that joins two writes after the
/// writer's half-close, then end of file: on `buffered_duplex(7)`, A writes
/// 3 and 4 bytes, reads some of B's 20, shuts its write half and reads the
/// rest; B's write of 20 returns only once A read 13 of them (so after A's
/// shutdown), then B reads twice. With `error`, A closes with an error
/// instead of its shutdown: B's write is cut by it, B reads the 7 bytes,
/// then the error.
fn buffered_traffic(error: bool) -> Script {
    use Op::*;
    let write = |len, via| Write { len, via };
    let read = |len, via| Read { len, via };
    Script {
        a: vec![vec![
            write(3, Via::Owned),
            write(4, Via::Ref),
            read(64, Via::Owned),
            if error {
                CloseWithError(ErrorChoice::Reset)
            } else {
                Shutdown(std::net::Shutdown::Write)
            },
            read(64, Via::Split),
            read(64, Via::Ref),
            read(64, Via::Owned),
            read(64, Via::IntoSplit),
        ]],
        b: vec![vec![
            write(20, Via::Owned),
            read(64, Via::Ref),
            read(64, Via::Owned),
        ]],
        capacity: Some(7),
    }
}

/// Runs [`buffered_traffic`] (it is deterministic where the tests below
/// look) and checks its shape: B's first read got A's 7 bytes, its second
/// end of file (or A's error).
fn buffered_log(error: bool) -> (Script, conn_script::Log) {
    let script = buffered_traffic(error);
    let log = execute(&script, WATCHDOG);
    let summary = check(&script, &log).expect("the buffered traffic runs clean");
    assert_eq!(
        log.b[0][1].outcome,
        Outcome::Read(Ok([payload(0, 0, 3), payload(0, 1, 4)].concat())),
        "{}",
        conn_script::render(&log)
    );
    let end = if error {
        Outcome::Read(Err(Failure {
            kind: std::io::ErrorKind::ConnectionReset,
            message: "conn script: A0 op 3 closed with an error".into(),
            closed_pipe: false,
            close_error: true,
        }))
    } else {
        Outcome::Read(Ok(Vec::new()))
    };
    assert_eq!(log.b[0][2].outcome, end, "{}", conn_script::render(&log));
    assert_eq!(summary.joined_reads, 1, "{summary:?}");
    (script, log)
}

/// A's bytes as written: thread A0's write `k`.
fn payload(g: usize, k: usize, len: usize) -> Vec<u8> {
    conn_script::payload(g, k, len)
}

/// The buffered rules accept what a buffered connection does and the
/// unbuffered ones do not: a read that joins two writes, after the
/// writer's half-close had returned.
#[test]
fn buffered_checker_accepts_joined_late_reads() {
    let (script, log) = buffered_log(false);
    for capacity in [None, Some(0)] {
        let unbuffered = Script {
            capacity,
            ..script.clone()
        };
        let why = check(&unbuffered, &log).expect_err("the unbuffered rules took a joined read");
        assert!(
            why.contains("after a close") || why.contains("cannot be placed"),
            "{why}"
        );
    }
}

/// A buffered direction that loses, duplicates, reorders or invents bytes,
/// or ends (end of file or the writer's close error) before the bytes
/// buffered ahead of it, fails the check.
#[test]
fn buffered_checker_rejects_broken_streams() {
    let (script, log) = buffered_log(false);
    let reject = |log: &conn_script::Log, what: &str, expect: &str| {
        let why = check(&script, log).expect_err(what);
        assert!(why.contains(expect), "{what}: {why}");
    };
    // End of file where the 7 buffered bytes were due. Which rule catches
    // it first depends on where the run placed B's read: after A's
    // half-close ended, only the bytes due can; overlapping or before it
    // (a loaded machine), the missing close may be named first.
    let after_close = |log: &conn_script::Log| log.b[0][1].start >= log.a[0][3].end;
    let mut early = log.clone();
    *read_bytes(&mut early, End::B, 0, 1) = Vec::new();
    let why = check(&script, &early).expect_err("end of file before buffered bytes");
    assert!(
        why.contains("got end of file")
            || (!after_close(&log) && why.contains("end of file with no close")),
        "end of file before buffered bytes: {why}"
    );
    // The writer's close error there instead.
    let (error_script, error_log) = buffered_log(true);
    let mut early = error_log.clone();
    early.b[0][1].outcome = early.b[0][2].outcome.clone();
    let why = check(&error_script, &early).expect_err("a close error before the bytes");
    assert!(
        why.contains("got the writer's close error")
            || (!after_close(&error_log) && why.contains("which no close that can have been")),
        "{why}"
    );
    // The last byte lost: end of file follows with it unread.
    let mut tail = log.clone();
    read_bytes(&mut tail, End::B, 0, 1).pop();
    reject(&tail, "a lost last byte", "got end of file");
    // A byte inside lost, one doubled, the two writes swapped, a byte of
    // B's own.
    let mut inside = log.clone();
    read_bytes(&mut inside, End::B, 0, 1).remove(2);
    reject(&inside, "a lost byte", "one stream");
    let mut doubled = log.clone();
    read_bytes(&mut doubled, End::B, 0, 1).insert(3, payload(0, 1, 1)[0]);
    reject(&doubled, "a doubled byte", "one stream");
    let mut swapped = log.clone();
    *read_bytes(&mut swapped, End::B, 0, 1) = [payload(0, 1, 4), payload(0, 0, 3)].concat();
    reject(&swapped, "swapped writes", "one stream");
    let mut foreign = log.clone();
    read_bytes(&mut foreign, End::B, 0, 1)[0] = payload(2, 0, 1)[0];
    reject(&foreign, "a foreign byte", "one stream");
    // A write reporting one byte fewer than it put in the buffer, with no
    // close or deadline to cut it.
    let mut count = log.clone();
    if let Outcome::Wrote { result: Ok(n), .. } = &mut count.a[0][1].outcome {
        *n -= 1;
    } else {
        panic!("A's write did not succeed");
    }
    reject(&count, "a wrong count", "a short write");
    // Bytes after the reader's own end closed its read half (B shut it
    // before its read).
    let mut own = log.clone();
    let mut own_script = script.clone();
    own_script.b[0].insert(1, Op::Shutdown(std::net::Shutdown::Read));
    let at = own.b[0][0].end;
    own.b[0].insert(
        1,
        conn_script::Record {
            index: 1,
            op: Op::Shutdown(std::net::Shutdown::Read),
            start: at,
            end: at,
            outcome: Outcome::Done,
        },
    );
    for (i, r) in own.b[0].iter_mut().enumerate() {
        r.index = i;
    }
    let why = check(&own_script, &own).expect_err("bytes after the read half closed");
    assert!(why.contains("after a close"), "{why}");
}
