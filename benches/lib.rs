//! gopipe's benches (see `pipe.rs` and `compare.sh` beside this file, and for
//! shapes where pipes outnumber cores, `shapes.rs` and `compare_shapes.sh`).
//! The package holds no library code of its own; cargo needs one target
//! besides the benches.
