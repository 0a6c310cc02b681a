//! How often a parked writer is woken. A large write read in small pieces by a
//! slow reader must wake its writer once, when the write is done, not once
//! per read: measured as the writer thread's voluntary context switches (Linux
//! only, from `/proc/thread-self/status`). This file holds one test, so that no
//! other test of the same process disturbs the count.

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{bounded, BOUND_SECS};

/// The calling thread's voluntary context switches so far.
fn voluntary_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .expect("a voluntary_ctxt_switches line")
        .trim()
        .parse()
        .expect("a number")
}

/// Busy work standing for a slow consumer (a hasher, a parser): spins for
/// `d` without giving the core away, so the reader never parks.
fn work_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_write_read_in_many_pieces_wakes_its_writer_at_most_twice() {
    const WRITES: u64 = 16;
    const LEN: usize = 1 << 20;
    const PIECE: usize = 8 << 10;
    let switches = bounded("wakeups", BOUND_SECS, || {
        let (mut reader, mut writer) = gopipe::pipe();
        let consumer = std::thread::spawn(move || {
            let mut buf = vec![0u8; PIECE];
            let mut total = 0;
            loop {
                match reader.read(&mut buf).expect("read") {
                    0 => return total,
                    n => {
                        total += n;
                        work_for(Duration::from_micros(40));
                    }
                }
            }
        });
        let data = vec![7u8; LEN];
        let before = voluntary_switches();
        for _ in 0..WRITES {
            writer.write_all(&data).expect("write");
        }
        let switches = voluntary_switches() - before;
        drop(writer);
        assert_eq!(consumer.join().unwrap(), WRITES as usize * LEN);
        switches
    });
    eprintln!("writer: {switches} voluntary context switches for {WRITES} writes");
    // 128 reads per write: a wake-up per read would be about 128 switches. One
    // wake-up per write shows as one or two switches: the wake-up itself, and
    // sometimes a short wait on the doorbell channel's internal lock, which
    // the ringing reader still holds when the woken writer unregisters.
    assert!(
        switches <= 2 * WRITES,
        "the writer switched {switches} times for {WRITES} writes of {LEN} bytes read {PIECE} at a time"
    );
}
