//! Issue 25: a buffered pipe's memory grows with the bytes it holds, not
//! with its capacity, and is given back when the buffer drains. Measured
//! with a counting global allocator: this file holds one test, so that no
//! other test of the process allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes held.
struct Counting;

/// Bytes allocated and not yet freed.
static HELD: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator with the caller's
// arguments; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            HELD.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes held now.
fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

#[test]
fn memory_follows_the_bytes_buffered() {
    const MIB: usize = 1 << 20;
    let before = held();
    let (reader, writer) = gopipe::buffered_pipe(1 << 30);
    (&writer).write_all(b"ten bytes!").unwrap();
    let small = held() - before;
    assert!(
        small < MIB,
        "a 1 GiB buffered pipe holding 10 bytes holds {small} bytes"
    );
    // 8 MiB buffered: the storage grows to hold them (a power of two).
    let chunk = vec![5u8; MIB];
    for _ in 0..8 {
        (&writer).write_all(&chunk).unwrap();
    }
    let big = held() - before;
    assert!(
        (8 * MIB..40 * MIB).contains(&big),
        "8 MiB buffered: {big} bytes held"
    );
    // Drained: the large storage goes back.
    let mut buf = vec![0u8; MIB];
    let mut left = 8 * MIB + 10;
    while left > 0 {
        left -= (&reader).read(&mut buf).unwrap();
    }
    drop(buf);
    drop(chunk);
    let after = held() - before;
    assert!(after < MIB, "drained, the pipe still holds {after} bytes");
    drop((reader, writer));
}
