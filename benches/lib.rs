//! gopipe's benches (see `pipe.rs` and `compare.sh` beside this file, and for
//! shapes where pipes outnumber cores, `shapes.rs` and `compare_shapes.sh`).
//! This library holds the helpers the benches share (`rounds`: the
//! alternating rounds and MET/MISSED report of the benches with a custom main).

pub mod floor;
pub mod rounds;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// A human name for a byte count: `64B`, `1KiB`, `1MiB`.
pub fn human(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

/// Runs `writer` on this thread and `reader` on another, timing from the moment
/// both are ready until both are done.
pub fn timed(writer: impl FnOnce(), reader: impl FnOnce() + Send) -> Duration {
    let ready = Barrier::new(2);
    thread::scope(|scope| {
        let ready = &ready;
        let handle = scope.spawn(move || {
            ready.wait();
            reader();
        });
        ready.wait();
        let start = Instant::now();
        writer();
        handle.join().expect("reader panicked");
        start.elapsed()
    })
}

/// The two tokio runtimes the task benches run on, by the name their reports
/// give them: `ct`, a current_thread runtime (every task on one thread), and
/// `mt2`, a multi-thread runtime with 2 workers; timers enabled on both, and
/// the I/O driver when `io` (for TCP peers: a runtime with it parks its idle
/// workers in `epoll_wait`, one without it on a condition variable).
pub fn runtimes(io: bool) -> [(&'static str, tokio::runtime::Runtime); 2] {
    let mut ct = tokio::runtime::Builder::new_current_thread();
    let mut mt2 = tokio::runtime::Builder::new_multi_thread();
    mt2.worker_threads(2);
    for builder in [&mut ct, &mut mt2] {
        builder.enable_time();
        if io {
            builder.enable_io();
        }
    }
    [
        ("ct", ct.build().expect("current_thread runtime")),
        ("mt2", mt2.build().expect("multi-thread runtime")),
    ]
}

/// Pins the calling thread to core 0, through glibc's `sched_setaffinity`.
#[cfg(target_os = "linux")]
pub fn pin_to_core0() {
    extern "C" {
        fn sched_setaffinity(pid: i32, cpusetsize: usize, mask: *const u64) -> i32;
    }
    // A cpu_set_t of 1024 bits with only CPU 0 set.
    let mut mask = [0u64; 16];
    mask[0] = 1;
    // SAFETY: `mask` is a live, correctly sized cpu_set_t (1024 bits, as glibc
    // defines it) for the duration of the call; pid 0 means this thread.
    let rc = unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
    assert_eq!(rc, 0, "sched_setaffinity failed");
}

// ---------------------------------------------------------------- watchdog

/// How many bytes one reading thread has taken so far, for the watchdog; alone
/// on its cache line, so that readers do not slow one another by updating it.
#[derive(Default)]
#[repr(align(128))]
pub struct Progress(pub AtomicUsize);

/// The run the watchdog is looking at.
struct Watched {
    /// Which case, for the report.
    label: String,
    /// Tells runs apart when two in a row have the same label.
    run: u64,
    /// One counter per reading thread.
    progress: Arc<[Progress]>,
}

/// The run in progress, if any.
static WATCHED: Mutex<Option<Watched>> = Mutex::new(None);

/// Puts a run under the watchdog until dropped.
pub struct Watch;

impl Watch {
    /// Starts watching `progress`, on behalf of the case named `label`.
    pub fn start(label: String, progress: &Arc<[Progress]>) -> Watch {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        static WATCHDOG: OnceLock<()> = OnceLock::new();
        WATCHDOG.get_or_init(|| {
            thread::Builder::new()
                .name("watchdog".into())
                .spawn(watchdog)
                .expect("spawn watchdog");
        });
        *WATCHED.lock().expect("watchdog lock") = Some(Watched {
            label,
            run: RUNS.fetch_add(1, Ordering::Relaxed) as u64,
            progress: Arc::clone(progress),
        });
        Watch
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        *WATCHED.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Ends the process when the watched run has made no progress for too long.
fn watchdog() {
    let stall = std::env::var("GOPIPE_BENCH_STALL_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs);
    let mut last: Option<(u64, Vec<usize>)> = None;
    let mut since = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(500));
        let watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = watched.as_ref() else {
            last = None;
            continue;
        };
        let now: (u64, Vec<usize>) = (
            w.run,
            w.progress
                .iter()
                .map(|p| p.0.load(Ordering::Relaxed))
                .collect(),
        );
        if last.as_ref() != Some(&now) {
            last = Some(now);
            since = Instant::now();
        } else if since.elapsed() >= stall {
            eprintln!(
                "bench: STALL in {}: no reader moved for {:?}; bytes read so far, per reader: {:?}",
                w.label, stall, now.1
            );
            std::process::exit(3);
        }
    }
}
