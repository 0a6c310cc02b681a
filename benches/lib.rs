//! gopipe's benches (see `pipe.rs` and `compare.sh` beside this file). The
//! package holds no library code of its own; cargo needs one target besides the
//! benches.
