//! gopipe's benches (see `pipe.rs` and `compare.sh` beside this file, and for
//! shapes where pipes outnumber cores, `shapes.rs` and `compare_shapes.sh`).
//! This library holds the helpers both benches use.

/// A human name for a byte count: `64B`, `1KiB`, `1MiB`.
pub fn human(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
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
