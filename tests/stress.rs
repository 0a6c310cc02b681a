//! Stress: four writer threads and three reader threads hammer one pipe with
//! random operations (writes and reads of many sizes, clones and drops of
//! handles, timeouts, now and then a close or a close with an error), then the
//! pipe is checked, dropped and a new one made, for `GOPIPE_STRESS_SECS`
//! seconds (default 3) per engine.
//!
//! Every pipe is run and judged by the same interpreter as the fuzz target
//! (`tests/script/mod.rs`), so the same rules are checked; each pipe is bounded
//! by the interpreter's watchdog, and the whole test by the duration plus one
//! watchdog period.

mod script;

use std::time::{Duration, Instant};

use script::{run, Ctor, ErrorChoice, Op, Rng, Script, Summary};

/// A write or read size: empty now and then, mostly small, sometimes up to
/// 16 KiB.
fn size(rng: &mut Rng) -> usize {
    match rng.below(20) {
        0 => 0,
        1..=10 => 1 + rng.below(64),
        11..=17 => 65 + rng.below(4096 - 64),
        _ => 4097 + rng.below(12 << 10),
    }
}

/// One random operation for a thread (no closes: those are placed apart).
fn op(rng: &mut Rng) -> Op {
    match rng.below(100) {
        0..=79 => Op::Io {
            len: size(rng),
            by_ref: rng.below(2) == 1,
        },
        80..=86 => Op::Clone,
        87..=90 => Op::Drop,
        91..=97 => Op::SetTimeout(match rng.below(6) {
            0 | 1 => None,
            2 => Some(Duration::ZERO),
            3 => Some(Duration::from_micros(20)),
            4 => Some(Duration::from_micros(300)),
            _ => Some(Duration::from_millis(2)),
        }),
        _ => Op::Inspect,
    }
}

/// A script for one pipe: 4 writers and 3 readers of 20 to 120 operations each,
/// and in half of them one close (plain or with an error) somewhere.
fn generate(rng: &mut Rng) -> Script {
    let thread = |rng: &mut Rng| {
        let n = 20 + rng.below(101);
        (0..n).map(|_| op(rng)).collect::<Vec<_>>()
    };
    let mut script = Script {
        capacity: 0,
        writers: (0..4).map(|_| thread(rng)).collect(),
        readers: (0..3).map(|_| thread(rng)).collect(),
    };
    if rng.below(2) == 0 {
        let close = match rng.below(3) {
            0 => Op::Close,
            _ => Op::CloseWithError(match rng.below(4) {
                0 => ErrorChoice::InvalidData,
                1 => ErrorChoice::Custom,
                2 => ErrorChoice::Text,
                _ => ErrorChoice::ClosedPipe,
            }),
        };
        let t = rng.below(7);
        let list = if t < 4 {
            &mut script.writers[t]
        } else {
            &mut script.readers[t - 4]
        };
        let at = rng.below(list.len() + 1);
        list.insert(at, close);
    }
    script
}

/// How long each engine is hammered.
fn duration() -> Duration {
    let secs: f64 = std::env::var("GOPIPE_STRESS_SECS")
        .ok()
        .map(|s| {
            s.parse()
                .expect("GOPIPE_STRESS_SECS is a number of seconds")
        })
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// Hammers pipes from `make` for [`duration`], checking each one.
fn hammer(make: Ctor, seed: u64) {
    let until = Instant::now() + duration();
    let mut rng = Rng::new(seed);
    let mut total = Summary::default();
    let mut pipes = 0u64;
    // At least one pipe, however short the duration.
    while pipes == 0 || Instant::now() < until {
        let script = generate(&mut rng);
        total.add(&run(&script, make));
        pipes += 1;
    }
    eprintln!("{pipes} pipes: {total:?}");
    assert!(
        total.bytes > 0 && total.reads > 0,
        "nothing went through: {total:?}"
    );
}

/// The shipping engine under stress.
#[test]
fn hammer_fast_engine() {
    hammer(gopipe::pipe, 0x5eed_0001);
}

/// The reference engine under stress (the same rules, another mechanism).
#[test]
fn hammer_reference_engine() {
    hammer(gopipe::__reference_pipe, 0x5eed_0002);
}
