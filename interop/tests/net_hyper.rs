//! hyper over `gopipe::listen` (issue 26): hyper's HTTP/1 server whose
//! accept loop takes its connections from a `Listener` (`accept_async`, one
//! `serve_connection` task per connection), and hyper-util's pooled client
//! (`client::legacy::Client`) whose connector dials the listener's `Dialer`.
//!
//! 64 client tasks send their first request at once (a barrier), then three
//! more each on the kept-alive connections the pool hands back: 256 requests,
//! every 1 KiB echo checked against the request that carried it. The pool
//! must reuse connections (fewer dials than requests), and the server must
//! have answered every request exactly once. Teardown as a user's would be:
//! drop the client, close the listener; the accept loop must end with the
//! listener's close error (`NotConnected`), and every server connection task
//! must end `Ok(())`.
//!
//! Run for an unbuffered listener (`listen(0)`) and a buffered one
//! (`listen(64 KiB)`). Every wait is bounded by a timeout, so a hang fails.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

use gopipe_interop::listener::ListenerConnector;
use gopipe_interop::request_body;

/// Client tasks sending at once.
const CLIENTS: usize = 64;
/// Requests each client task sends, one after another.
const REQUESTS_PER_CLIENT: usize = 4;
/// The bound on a whole round (a round takes milliseconds).
const BOUND: Duration = Duration::from_secs(60);
/// The bound on each wait of the teardown (the accept loop's end, then the
/// server connections' ends), inside [`BOUND`], to say which one hung.
const TEARDOWN: Duration = Duration::from_secs(10);

/// A server connection task: hyper's HTTP/1 connection over one accepted
/// `Conn`.
type ServerTask = JoinHandle<Result<(), hyper::Error>>;

/// The accept loop: takes connections from `listener` until it is closed,
/// serving each on a task of its own with an echo service that counts the
/// requests it answers in `served`. Returns the error that ended it (the
/// listener's close) and the connection tasks.
async fn accept_loop(
    listener: Arc<gopipe::Listener>,
    served: Arc<AtomicUsize>,
) -> (io::Error, Vec<ServerTask>) {
    let mut conns = Vec::new();
    loop {
        match listener.accept_async().await {
            Ok(conn) => {
                let served = Arc::clone(&served);
                let echo = service_fn(move |req: Request<Incoming>| {
                    let served = Arc::clone(&served);
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        // ORDERING: a plain counter, read after the
                        // round's requests completed.
                        served.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, hyper::Error>(Response::new(Full::new(body)))
                    }
                });
                conns.push(tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), echo),
                ));
            }
            Err(e) => return (e, conns),
        }
    }
}

/// One client task: after the barrier (all [`CLIENTS`] ready), sends
/// [`REQUESTS_PER_CLIENT`] requests through the pooled `client`, each body
/// naming the task and the request, and checks each echo.
async fn client_task(
    client: Client<ListenerConnector, Full<Bytes>>,
    barrier: Arc<Barrier>,
    task: usize,
) -> Result<(), String> {
    barrier.wait().await;
    for req in 0..REQUESTS_PER_CLIENT {
        let body = request_body(task, req);
        let request = Request::post("http://in-memory.test/echo")
            .body(Full::new(body.clone()))
            .map_err(|e| format!("task {task} req {req}: build: {e}"))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("task {task} req {req}: send: {e:?}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!(
                "task {task} req {req}: status {}",
                response.status()
            ));
        }
        let got = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("task {task} req {req}: body: {e:?}"))?
            .to_bytes();
        if got != body {
            return Err(format!(
                "task {task} req {req}: the echo ({} bytes, {:?}...) is not the request's",
                got.len(),
                String::from_utf8_lossy(&got[..got.len().min(20)])
            ));
        }
    }
    Ok(())
}

/// A whole round over `gopipe::listen(capacity)`, bounded by [`BOUND`].
async fn round(capacity: usize) {
    let label = format!("listen({capacity})");
    tokio::time::timeout(BOUND, round_unbounded(&label, capacity))
        .await
        .unwrap_or_else(|_| panic!("{label}: the round did not end within {BOUND:?}"));
}

/// See [`round`].
async fn round_unbounded(label: &str, capacity: usize) {
    let listener = Arc::new(gopipe::listen(capacity));
    let served = Arc::new(AtomicUsize::new(0));
    let server = tokio::spawn(accept_loop(Arc::clone(&listener), Arc::clone(&served)));

    let connector = ListenerConnector::new(listener.dialer());
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector.clone());
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|task| tokio::spawn(client_task(client.clone(), Arc::clone(&barrier), task)))
        .collect();
    let mut failures = Vec::new();
    for (task, handle) in tasks.into_iter().enumerate() {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("task {task}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{label}: {} of {CLIENTS} client tasks failed, first: {}",
        failures.len(),
        failures[0]
    );
    let requests = CLIENTS * REQUESTS_PER_CLIENT;
    let dials = connector.dials();
    // ORDERING: every request's response was read above, after the
    // service counted it.
    let answered = served.load(Ordering::Relaxed);
    assert_eq!(answered, requests, "{label}: requests the server answered");
    assert!(
        dials < requests,
        "{label}: {dials} dials for {requests} requests: the pool reused no connection"
    );

    // Teardown: the client first (its pooled connections close, so each
    // server connection reads end of file between requests), then the
    // listener (the accept loop's accept fails).
    drop(client);
    listener.close();
    let (err, conns) = tokio::time::timeout(TEARDOWN, server)
        .await
        .unwrap_or_else(|_| panic!("{label}: the accept loop did not end after the close"))
        .expect("the accept loop task");
    assert_eq!(
        err.kind(),
        io::ErrorKind::NotConnected,
        "{label}: the accept loop ended with {err}, not the listener's close"
    );
    assert!(
        conns.len() <= dials,
        "{label}: {} connections accepted, {dials} dialled",
        conns.len()
    );
    let accepted = conns.len();
    let errors = tokio::time::timeout(TEARDOWN, async {
        let mut errors = Vec::new();
        for (i, conn) in conns.into_iter().enumerate() {
            match conn.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(format!("connection {i}: {e:?}")),
                Err(e) => errors.push(format!("connection {i}: task: {e}")),
            }
        }
        errors
    })
    .await
    .unwrap_or_else(|_| {
        panic!("{label}: server connections still open {TEARDOWN:?} after the client was dropped")
    });
    assert!(
        errors.is_empty(),
        "{label}: {} of {accepted} server connections did not end Ok, first: {}",
        errors.len(),
        errors[0]
    );
    println!(
        "{label}: {requests} requests from {CLIENTS} tasks answered on {dials} dialled \
         connections ({accepted} accepted), every server connection ended Ok"
    );
}

/// Over unbuffered connections (`listen(0)`, each a `duplex()` pair).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_client_and_server_over_unbuffered_listener() {
    round(0).await;
}

/// Over buffered connections (`listen(64 KiB)`, each a
/// `buffered_duplex(64 KiB)` pair).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_client_and_server_over_buffered_listener() {
    round(64 << 10).await;
}
