//! Helpers shared by the integration tests: the two engines, a time bound for
//! anything that could hang, a small deterministic PRNG and checks for the
//! errors a pipe returns.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

#[path = "../shared/rng.rs"]
mod rng;
#[allow(unused_imports)]
pub(crate) use rng::Rng;

use std::io;
use std::panic;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use gopipe::{is_closed_pipe, CloseError, PipeReader, PipeWriter};

/// A pipe constructor: `gopipe::pipe` or `gopipe::__reference_pipe`.
pub(crate) type MakePipe = fn() -> (PipeReader, PipeWriter);

/// The engines every behavioural test runs on, with the name to report.
pub(crate) fn engines() -> [(&'static str, MakePipe); 2] {
    [
        ("fast", gopipe::pipe as MakePipe),
        ("reference", gopipe::__reference_pipe as MakePipe),
    ]
}

/// How long a test body may run before it counts as hung. Generous, because the
/// machine running the suite may be busy; a correct body takes well under a
/// second.
pub(crate) const BOUND_SECS: u64 = 60;

/// Runs `f` on a thread of its own and returns its result, re-raising its panic
/// if it panicked, or panics if it has not finished after `secs` seconds (a
/// hang: the thread is left behind and the test fails instead of blocking CI).
pub(crate) fn bounded<T, F>(name: &str, secs: u64, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let out = f();
            // The receiver may be gone if the bound already passed.
            let _ = done_tx.send(());
            out
        })
        .expect("spawn the test thread");
    match done_rx.recv_timeout(Duration::from_secs(secs)) {
        // Finished, or panicked (the sender was dropped while unwinding): the
        // join returns at once either way.
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(payload) => panic::resume_unwind(payload),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{name}: still running after {secs} s; the pipe probably hangs")
        }
    }
}

/// Runs `f` on a thread of its own and waits up to `bound` for it: its
/// result and how long it took, or `None` if it had not returned by then (the
/// thread is left behind to finish); re-raises its panic. For calls whose
/// promptness a test checks with a generous bound; [`bounded`] is the
/// watchdog for a whole test.
pub(crate) fn within<T: Send + 'static>(
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<(T, Duration)> {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let start = std::time::Instant::now();
        let out = f();
        let _ = tx.send((out, start.elapsed()));
    });
    match rx.recv_timeout(bound) {
        Ok(out) => Some(out),
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Err(payload) => panic::resume_unwind(payload),
            Ok(()) => unreachable!("the thread ended without sending"),
        },
    }
}

/// Runs `body` once per engine, each run bounded by [`BOUND_SECS`]; `body` gets
/// the engine's name (to put in assertion messages) and its constructor.
pub(crate) fn on_engines<F>(test: &str, body: F)
where
    F: Fn(&'static str, MakePipe) + Send + Sync + 'static,
{
    let body = Arc::new(body);
    for (engine, make) in engines() {
        let body = Arc::clone(&body);
        bounded(&format!("{test} [{engine}]"), BOUND_SECS, move || {
            body(engine, make)
        });
    }
}

/// The message of [`gopipe::ClosedPipe`], Go's `io.ErrClosedPipe`.
pub(crate) const CLOSED_PIPE_MSG: &str = "io: read/write on closed pipe";

/// The observable result of one read or write, comparable across engines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `Ok(n)`.
    Ok(usize),
    /// `Err(e)`, by kind and message.
    Err(io::ErrorKind, String),
}

impl Outcome {
    /// The outcome of `res`.
    pub(crate) fn of(res: &io::Result<usize>) -> Self {
        match res {
            Ok(n) => Outcome::Ok(*n),
            Err(e) => Outcome::Err(e.kind(), e.to_string()),
        }
    }

    /// The closed-pipe error.
    pub(crate) fn closed_pipe() -> Self {
        Outcome::Err(io::ErrorKind::BrokenPipe, CLOSED_PIPE_MSG.to_owned())
    }

    /// An error of `kind` whose message is `msg`.
    pub(crate) fn err(kind: io::ErrorKind, msg: &str) -> Self {
        Outcome::Err(kind, msg.to_owned())
    }
}

/// Asserts that `res` is the closed-pipe error, in every way it can be told.
#[track_caller]
pub(crate) fn assert_closed_pipe(res: &io::Result<usize>, ctx: &str) {
    let err = match res {
        Err(e) => e,
        Ok(n) => panic!("{ctx}: expected the closed-pipe error, got Ok({n})"),
    };
    assert_eq!(
        err.kind(),
        io::ErrorKind::BrokenPipe,
        "{ctx}: kind of {err:?}"
    );
    assert_eq!(err.to_string(), CLOSED_PIPE_MSG, "{ctx}: message");
    assert!(is_closed_pipe(err), "{ctx}: is_closed_pipe({err:?})");
    assert!(
        CloseError::from_io(err).is_none(),
        "{ctx}: the closed-pipe error carries no CloseError"
    );
}

/// Asserts that `res` is an error carrying a peer's close error of `kind` whose
/// message is `msg`.
#[track_caller]
pub(crate) fn assert_close_error(
    res: &io::Result<usize>,
    kind: io::ErrorKind,
    msg: &str,
    ctx: &str,
) {
    let err = match res {
        Err(e) => e,
        Ok(n) => panic!("{ctx}: expected the error {msg:?}, got Ok({n})"),
    };
    assert_eq!(err.kind(), kind, "{ctx}: kind of {err:?}");
    assert_eq!(err.to_string(), msg, "{ctx}: message");
    assert!(!is_closed_pipe(err), "{ctx}: not the closed-pipe error");
    let cause = CloseError::from_io(err)
        .unwrap_or_else(|| panic!("{ctx}: {err:?} should carry a CloseError"));
    assert_eq!(cause.kind(), kind, "{ctx}: CloseError::kind");
    assert_eq!(cause.to_string(), msg, "{ctx}: CloseError's Display");
}

/// Asserts that `res` is `Err` of kind `TimedOut`.
#[track_caller]
pub(crate) fn assert_timed_out(res: &io::Result<usize>, ctx: &str) {
    match res {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{ctx}: {e:?}"),
        Ok(n) => panic!("{ctx}: expected a timeout, got Ok({n})"),
    }
}

/// `0, 1, 2, ...` wrapping at 251 (a prime, so that chunk boundaries do not
/// line up with the pattern), `len` bytes of it.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Whether a thread named `name` of this process is asleep (state `S`:
/// parked in the kernel) right now, from `/proc` (Linux only): a test waits
/// for that before it checks that something wakes the thread.
#[cfg(target_os = "linux")]
pub(crate) fn asleep(name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.flatten().any(|task| {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            return false;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // The state follows the command name's closing parenthesis.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            == Some("S")
    })
}

/// Waits until every thread in `names` is asleep, failing after 5 s.
#[cfg(target_os = "linux")]
pub(crate) fn wait_asleep(names: &[&str]) {
    let start = std::time::Instant::now();
    while !names.iter().all(|name| asleep(name)) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "threads {names:?} never went to sleep"
        );
        thread::yield_now();
    }
}
