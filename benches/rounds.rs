//! Alternating rounds for the benches with a custom main (`buffered.rs`,
//! `net.rs`): each case is calibrated to about a target time a run, then every
//! round runs every case once, in an order that rotates from round to round
//! (so that a noisy spell on the shared machine hits every case alike); a
//! case's [`Stat`] holds its time per operation in every round, wall and CPU
//! (the whole process's, every thread). A [`Report`] collects the targets and
//! prints them as MET or MISSED with both medians.
//!
//! For profiles (callgrind, perf), two variables named after the bench's
//! prefix ([`Settings::env`], e.g. `GOPIPE_BUFFERED`): `PREFIX_CASE=WORDS`
//! runs only the cases whose "table title: name" holds every comma-separated
//! word, `PREFIX_ITERS=N` one round of `N` operations without checks or
//! calibration (the targets then print as missed).

use std::time::Duration;

/// One case: its name and a run of `iters` operations (`check`: check every
/// byte).
pub struct Case<'a> {
    /// The name in the report.
    pub name: String,
    /// Makes `iters` operations and returns the time they took.
    pub run: Box<dyn Fn(u64, bool) -> Duration + 'a>,
}

impl<'a> Case<'a> {
    /// A case named `name` that runs `run(iters, check)`.
    pub fn new(name: impl Into<String>, run: impl Fn(u64, bool) -> Duration + 'a) -> Self {
        Case {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// The CPU time this process has used so far, every thread counted (alive
/// or ended), through glibc's `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`.
#[cfg(target_os = "linux")]
pub fn cpu_time() -> Duration {
    /// `struct timespec` on 64-bit Linux.
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    /// `CLOCK_PROCESS_CPUTIME_ID`.
    const PROCESS_CPUTIME: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a live, writable timespec of the layout glibc expects
    // on 64-bit Linux, for the duration of the call.
    let rc = unsafe { clock_gettime(PROCESS_CPUTIME, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.sec as u64, ts.nsec as u32)
}

/// Elsewhere: no CPU time (the column shows zero).
#[cfg(not(target_os = "linux"))]
pub fn cpu_time() -> Duration {
    Duration::ZERO
}

/// A case's result: ns per operation in every round.
#[derive(Clone, Debug)]
pub struct Stat {
    /// Wall time, sorted.
    pub ns: Vec<f64>,
    /// CPU time of the whole process (every side), sorted.
    pub cpu: Vec<f64>,
    /// Wall time, round by round (for ratios paired by round).
    pub rounds: Vec<f64>,
}

/// The median of `values` (NaN ones dropped; NaN if none is left).
fn median_of(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The median, over rounds, of `num`'s time over `den`'s in the same round:
/// the two ran within one round of each other, so a noisy spell of the
/// shared machine (another tenant, the two vCPUs on one core for a while)
/// weighs on both sides of each ratio, where the ratio of the two medians
/// may take its numerator and denominator from different spells.
pub fn paired_ratio(num: &Stat, den: &Stat) -> f64 {
    median_of(
        num.rounds
            .iter()
            .zip(&den.rounds)
            .map(|(n, d)| n / d)
            .collect(),
    )
}

impl Stat {
    /// The median wall time (NaN when the case did not run).
    pub fn median(&self) -> f64 {
        let n = self.ns.len();
        if n % 2 == 1 {
            self.ns[n / 2]
        } else {
            (self.ns[n / 2 - 1] + self.ns[n / 2]) / 2.0
        }
    }
    /// The least wall time.
    pub fn min(&self) -> f64 {
        self.ns[0]
    }
    /// The most wall time.
    pub fn max(&self) -> f64 {
        self.ns[self.ns.len() - 1]
    }
    /// The median CPU time.
    pub fn cpu_median(&self) -> f64 {
        self.cpu[self.cpu.len() / 2]
    }
}

/// The measuring settings.
#[derive(Clone, Copy)]
pub struct Settings {
    /// Rounds (each runs every case once).
    pub rounds: usize,
    /// About how long one run of a case takes.
    pub target: Duration,
    /// The prefix of the profiling variables (`PREFIX_CASE`, `PREFIX_ITERS`).
    pub env: &'static str,
}

impl Settings {
    /// The benches' usual settings: 15 rounds of about 80 ms a run, or with
    /// `quick` 7 rounds of about 30 ms; one round when `PREFIX_ITERS` is set.
    pub fn usual(env: &'static str, quick: bool) -> Settings {
        let (rounds, target) = if std::env::var_os(format!("{env}_ITERS")).is_some() {
            (1, Duration::ZERO)
        } else if quick {
            (7, Duration::from_millis(30))
        } else {
            (15, Duration::from_millis(80))
        };
        Settings {
            rounds,
            target,
            env,
        }
    }
}

/// The settings and the selected parts of a bench with a custom main, from
/// its arguments: `--quick` (or `GOPIPE_BENCH_QUICK` set) for the quick
/// settings, any word not starting with `--` a part to run (none: every
/// part; cargo bench passes `--bench`). Prints the run's first line, named
/// `bench`.
pub fn from_args(bench: &str, env: &'static str) -> (Settings, Vec<String>) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick =
        args.iter().any(|a| a == "--quick") || std::env::var_os("GOPIPE_BENCH_QUICK").is_some();
    let parts = args.into_iter().filter(|a| !a.starts_with("--")).collect();
    let settings = Settings::usual(env, quick);
    println!(
        "{bench}: {} rounds, about {} ms a run{}",
        settings.rounds,
        settings.target.as_millis(),
        if quick { " (--quick)" } else { "" }
    );
    (settings, parts)
}

/// Prints the table's header, checks every case once, calibrates each to
/// `settings.target` a run, then runs `settings.rounds` rounds, rotating the
/// order; returns each case's stat (time per operation), in case order.
/// `max_iters` caps a run.
pub fn measure(
    title: &str,
    cases: &[Case<'_>],
    settings: Settings,
    min_iters: u64,
    max_iters: u64,
) -> Vec<Stat> {
    header(title);
    let only = std::env::var(format!("{}_CASE", settings.env)).ok();
    let iters_var = format!("{}_ITERS", settings.env);
    let fixed: Option<u64> = std::env::var(&iters_var)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{iters_var}: a count")));
    let skipped = |case: &Case<'_>| {
        let full = format!("{title}: {}", case.name);
        only.as_ref()
            .is_some_and(|o| o.split(',').any(|w| !full.contains(w)))
    };
    let mut iters = Vec::new();
    for case in cases {
        if skipped(case) {
            iters.push(0);
            continue;
        }
        if let Some(n) = fixed {
            iters.push(n);
            continue;
        }
        (case.run)(4.min(max_iters), true);
        // Calibrate: double until a run takes a tenth of the target.
        let mut n = min_iters;
        let per = loop {
            let t = (case.run)(n, false);
            if t >= settings.target / 10 || n >= max_iters {
                break t.as_secs_f64() / n as f64;
            }
            n = (n * 2).min(max_iters);
        };
        let n = ((settings.target.as_secs_f64() / per) as u64).clamp(min_iters, max_iters);
        iters.push(n);
    }
    let mut ns = vec![Vec::new(); cases.len()];
    let mut cpu = vec![Vec::new(); cases.len()];
    for round in 0..settings.rounds {
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            if iters[i] == 0 {
                ns[i].push(f64::NAN);
                cpu[i].push(f64::NAN);
                continue;
            }
            let c0 = cpu_time();
            let t = (cases[i].run)(iters[i], false);
            let c = cpu_time() - c0;
            ns[i].push(t.as_nanos() as f64 / iters[i] as f64);
            cpu[i].push(c.as_nanos() as f64 / iters[i] as f64);
        }
    }
    ns.into_iter()
        .zip(cpu)
        .map(|(ns, mut cpu)| {
            let rounds = ns.clone();
            let mut ns = ns;
            ns.sort_by(f64::total_cmp);
            cpu.sort_by(f64::total_cmp);
            Stat { ns, cpu, rounds }
        })
        .collect()
}

/// Prints one table row: name, median, min..max, spread, CPU time.
pub fn row(name: &str, st: &Stat) {
    println!(
        "  {name:<32} {:>12.1} ({:>12.1} .. {:>12.1}, spread {:>6.1}%)  cpu {:>12.1}",
        st.median(),
        st.min(),
        st.max(),
        100.0 * (st.max() - st.min()) / st.median(),
        st.cpu_median()
    );
}

/// Prints the header of a table.
fn header(title: &str) {
    println!();
    println!("== {title}");
    println!(
        "  {:<32} {:>12} ({:>12} .. {:>12}, {:>13})  {:>16}",
        "case", "median ns", "min", "max", "spread", "cpu ns (median)"
    );
}

/// The targets, collected as the parts run and printed at the end. A target
/// is met or missed on the ratio of the two medians; each line also gives
/// the ratio paired by round ([`paired_ratio`]), which a noisy spell moves
/// less.
#[derive(Default)]
pub struct Report {
    /// (met, line).
    lines: Vec<(bool, String)>,
    /// What a floor reaches against a target's peer ([`Report::bound`]).
    bounds: Vec<String>,
}

impl Report {
    /// A throughput target: `ours` (time per operation) is at least
    /// `factor`x as fast as `peer`, i.e. `peer / ours >= factor`.
    pub fn faster(&mut self, what: &str, ours: &Stat, peer_name: &str, peer: &Stat, factor: f64) {
        let ratio = peer.median() / ours.median();
        let met = ratio >= factor; // false when either was not measured (NaN)
        self.lines.push((
            met,
            format!(
                "{what}: {:.1} ns against {peer_name} {:.1} ns: {ratio:.2}x the throughput (target >= {factor}x; paired by round: {:.2}x)",
                ours.median(),
                peer.median(),
                paired_ratio(peer, ours)
            ),
        ));
    }

    /// A time target: `ours / peer <= factor`.
    pub fn within(&mut self, what: &str, ours: &Stat, peer_name: &str, peer: &Stat, factor: f64) {
        let ratio = ours.median() / peer.median();
        let met = ratio <= factor; // false when either was not measured (NaN)
        self.lines.push((
            met,
            format!(
                "{what}: {:.1} ns against {peer_name} {:.1} ns: {ratio:.2}x the time (target <= {factor}x; paired by round: {:.2}x)",
                ours.median(),
                peer.median(),
                paired_ratio(ours, peer)
            ),
        ));
    }

    /// What a floor (`bound`, a design with less work than any product can
    /// do) reaches against a target's peer, in the target's terms: the
    /// throughput's factor if `faster`, else the time's. Printed after the
    /// targets, not counted as one: it tells how far a target is from what
    /// the machine allows.
    pub fn bound(
        &mut self,
        what: &str,
        name: &str,
        bound: &Stat,
        peer_name: &str,
        peer: &Stat,
        faster: bool,
    ) {
        let (ratio, sense) = if faster {
            (peer.median() / bound.median(), "the throughput")
        } else {
            (bound.median() / peer.median(), "the time")
        };
        self.bounds.push(format!(
            "{what}: {name} {:.1} ns against {peer_name} {:.1} ns: {ratio:.2}x {sense}",
            bound.median(),
            peer.median()
        ));
    }

    /// Prints every target, MET or MISSED, and the count, then the floors.
    pub fn print(&self) {
        println!();
        println!("== targets (medians; met/missed per cell)");
        for (met, line) in &self.lines {
            println!("  {:>6}  {line}", if *met { "MET" } else { "MISSED" });
        }
        let missed = self.lines.iter().filter(|(m, _)| !m).count();
        println!(
            "== {} of {} targets met{}",
            self.lines.len() - missed,
            self.lines.len(),
            if missed > 0 {
                format!(", {missed} missed")
            } else {
                String::new()
            }
        );
        if !self.bounds.is_empty() {
            println!("== floors against the targets' peers (bounds, not targets)");
            for line in &self.bounds {
                println!("          {line}");
            }
        }
    }
}
