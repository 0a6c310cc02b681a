//! Fuzzes the shipping engine with scripts of up to three writer and two reader
//! threads on one pipe: the input's bytes are decoded into each thread's
//! operations (see `Script::decode`), run on real threads, and the record is
//! checked against the pipe's rules. The interpreter is the one the stable
//! tests use (`tests/script/mod.rs`), so any input found here replays there:
//! copy it into `tests/corpus/`.
#![no_main]

#[path = "../../tests/script/mod.rs"]
mod script;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    script::run(&script::Script::decode(data), gopipe::pipe);
});
