//! Fuzzes `gopipe::duplex()`, and `gopipe::buffered_duplex(capacity)` (a
//! first byte of `0xFC` or more picks it, the next byte its capacity), with
//! scripts driving both ends of a connection from up to two threads each:
//! the input's bytes are decoded into each thread's operations (see
//! `Script::decode`: writes, reads, closes, `close_with_error`, shutdowns,
//! deadlines, timeouts, clones, drops), run on real threads, and the record
//! is checked against Go's `net.Pipe` rules (and a buffered pipe's, per
//! direction, on a buffered connection). The interpreter is the one the
//! stable tests use (`tests/conn_script/mod.rs`), so any input found here
//! replays there: copy it into `tests/conn_corpus/`.
#![no_main]

#[path = "../../tests/conn_script/mod.rs"]
mod conn_script;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    conn_script::run(&conn_script::Script::decode(data));
});
