//! hyper's HTTP/1 server and client over `gopipe::duplex()`: 64 concurrent
//! keep-alive connections, five 1 KiB echo requests each, then the client
//! closes. Checks that every server connection future ends `Ok(())` and every
//! response is right, as it does over a socket.
//!
//! Two controls run the same round over `tokio::io::duplex(64 KiB)` and over
//! gopipe wrapped in [`FlushAtOnce`] (a flush that is ready at once, like a
//! socket's): if those pass and the gopipe round fails, the failure is
//! gopipe's async flush. An ignored test runs the gopipe round 20 times and
//! prints the count per run.
//!
//! Every round is bounded by a timeout, so a hang fails instead.

use std::time::Duration;

use gopipe_interop::{hyper_round, FlushAtOnce, RoundOutcome, CONNECTIONS};

/// The bound on one round of 64 connections (a round takes milliseconds).
const ROUND_BOUND: Duration = Duration::from_secs(60);

/// Runs one round over pairs from `make` under [`ROUND_BOUND`], prints what
/// it saw under `label`, and returns it.
async fn bounded_round<T, F>(label: &str, make: F) -> RoundOutcome
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    F: FnMut() -> (T, T),
{
    let outcome = tokio::time::timeout(ROUND_BOUND, hyper_round(make))
        .await
        .unwrap_or_else(|_| panic!("{label}: the round did not end within {ROUND_BOUND:?}"));
    println!("{label}: {outcome}");
    outcome
}

/// Over gopipe's `duplex()`: all 64 server connections end `Ok(())` and all
/// 320 responses are right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_server_connections_end_ok() {
    let outcome = bounded_round("gopipe::duplex", gopipe::duplex).await;
    assert!(outcome.all_ok(), "over gopipe::duplex: {outcome}");
}

/// The control: the same round over `tokio::io::duplex` with a 64 KiB buffer
/// (gopipe's async buffering) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_over_tokio_duplex_control() {
    let outcome = bounded_round("tokio::io::duplex", || tokio::io::duplex(64 * 1024)).await;
    assert!(outcome.all_ok(), "over tokio::io::duplex: {outcome}");
}

/// The mechanism: the same round over gopipe's `duplex()` with a flush that
/// is ready at once ([`FlushAtOnce`], a diagnostic wrapper, not a fix) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_over_gopipe_with_flush_at_once_wrapper() {
    let outcome = bounded_round("gopipe::duplex + FlushAtOnce", || {
        let (a, b) = gopipe::duplex();
        (FlushAtOnce(a), FlushAtOnce(b))
    })
    .await;
    assert!(
        outcome.all_ok(),
        "over gopipe::duplex + FlushAtOnce: {outcome}"
    );
}

/// Runs 20 rounds over pairs from `make` on the current runtime, printing
/// "server connections ending Ok: N of 64" per run and a summary, and
/// returns how many rounds had a failure.
async fn twenty_rounds<T, F>(label: &str, mut make: F) -> usize
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    F: FnMut() -> (T, T),
{
    let mut failed_rounds = 0;
    let mut ok_total = 0;
    for run in 1..=20 {
        let outcome = bounded_round(&format!("{label} run {run:2}"), &mut make).await;
        ok_total += outcome.server_ok;
        if !outcome.all_ok() {
            failed_rounds += 1;
        }
    }
    println!(
        "{label}, 20 rounds: {failed_rounds} with a failure; \
         server connections ending Ok: {ok_total} of {}",
        20 * CONNECTIONS
    );
    failed_rounds
}

/// 20 rounds over gopipe's `duplex()` on one runtime (the failure count for
/// the record); fails if any round had a failure. Run with
/// `cargo test -p gopipe-interop --test hyper -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "20 rounds, for the failure count; run with --ignored --nocapture"]
async fn hyper_server_connections_end_ok_20_rounds() {
    let failed = twenty_rounds("gopipe::duplex", gopipe::duplex).await;
    assert_eq!(failed, 0, "rounds with a failure, of 20");
}

/// 20 rounds of the control over `tokio::io::duplex(64 KiB)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "20 rounds, for the failure count; run with --ignored --nocapture"]
async fn hyper_over_tokio_duplex_control_20_rounds() {
    let failed = twenty_rounds("tokio::io::duplex", || tokio::io::duplex(64 * 1024)).await;
    assert_eq!(failed, 0, "rounds with a failure, of 20");
}

/// 20 rounds over gopipe's `duplex()` wrapped in [`FlushAtOnce`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "20 rounds, for the failure count; run with --ignored --nocapture"]
async fn hyper_over_gopipe_with_flush_at_once_wrapper_20_rounds() {
    let failed = twenty_rounds("gopipe::duplex + FlushAtOnce", || {
        let (a, b) = gopipe::duplex();
        (FlushAtOnce(a), FlushAtOnce(b))
    })
    .await;
    assert_eq!(failed, 0, "rounds with a failure, of 20");
}
