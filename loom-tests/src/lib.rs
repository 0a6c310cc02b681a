//! Loom models of gopipe's protocol live in `tests/`; this crate has no code of
//! its own. Run them with
//! `RUSTFLAGS="--cfg gopipe_loom" cargo test -p loom-tests --release`.
