//! hyper's HTTP/1 client and server over `gopipe::duplex()` against the same
//! over `tokio::io::duplex(64 KiB)`: requests per second.
//!
//! Every exchange is a `POST /` with a 1 KiB body, answered with a 1 KiB body;
//! the client checks the status and both lengths. C kept-alive connections (C
//! in 1 and 8), each with a hyper server connection task, a client connection
//! task and one client task sending requests back to back, waiting for
//! `sender.ready()` before each one (hyper's contract on a kept-alive
//! connection). Two runtimes: tokio `current_thread` (`ct`, every task on one
//! thread) and multi-thread with 2 workers (`mt2`).
//!
//! One round: fresh connections, a few warm-up requests on each (outside the
//! time), then all client tasks are released together and send for the
//! round's duration; the rate is the requests completed over the wall time
//! from the release until the last client stops. Rounds alternate gopipe,
//! duplex and the floor (`benches/floor.rs`: the least an in-memory transport
//! can do, a bound and not a peer), so that a change in the machine's load
//! falls on all three; every case prints the median, minimum and maximum rate
//! of its rounds, and the ratios gopipe / duplex and floor / duplex of the
//! medians (target for gopipe >= 1.1x, printed by `benches/compare_hyper.sh`). Machine-readable lines:
//! `hyper,RUNTIME,C,TRANSPORT,MEDIAN_RPS,MIN_RPS,MAX_RPS,ROUNDS`.
//!
//! Bounded: every round (connection set-up, warm-up, measurement, closing)
//! runs under a 30 s tokio timeout and fails with a message when it ends
//! there; a watchdog thread (the benches' shared one) ends the process when no
//! client completes a request for `GOPIPE_BENCH_STALL_SECS` seconds (default
//! 60), which also catches a runtime thread that never yields.
//!
//! Run: `cargo bench -p gopipe-benches --bench hyper` (7 rounds of 1 s per
//! case and transport: about a minute and a half). Quick: `GOPIPE_BENCH_QUICK=1`
//! (3 rounds of 300 ms; about 15 s). An argument filters the cases by substring of
//! `RUNTIME/C`, e.g. `-- ct/1` or `-- mt2/`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gopipe_benches::{Progress, Watch};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Runtime;
use tokio::sync::Barrier;

/// Request and response body size.
const BODY: usize = 1 << 10;
/// Requests each connection makes before the round's clock starts.
const WARM_UP: usize = 20;
/// The bound on one round, set-up and closing included.
const ROUND_LIMIT: Duration = Duration::from_secs(30);
/// Connection counts.
const CONNS: [usize; 2] = [1, 8];

/// The request body every client sends.
static REQUEST_BODY: [u8; BODY] = [b'q'; BODY];
/// The response body the server sends.
static RESPONSE_BODY: [u8; BODY] = [b'r'; BODY];

/// The server's service: reads the whole request body, checks its length,
/// answers with [`RESPONSE_BODY`].
async fn service(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let response = match body {
        Ok(b) if b.len() == BODY => Response::new(Full::new(Bytes::from_static(&RESPONSE_BODY))),
        _ => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        }
    };
    Ok(response)
}

/// A transport: a pair of connected in-memory byte streams.
trait Transport: 'static {
    /// One end.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The name in the report.
    const NAME: &'static str;
    /// A new pair: (server end, client end).
    fn pair() -> (Self::Io, Self::Io);
}

/// `gopipe::duplex()`.
struct Gopipe;

impl Transport for Gopipe {
    type Io = gopipe::Conn;
    const NAME: &'static str = "gopipe";
    fn pair() -> (Self::Io, Self::Io) {
        gopipe::duplex()
    }
}

/// `tokio::io::duplex(64 KiB)`.
struct Duplex;

impl Transport for Duplex {
    type Io = tokio::io::DuplexStream;
    const NAME: &'static str = "duplex";
    fn pair() -> (Self::Io, Self::Io) {
        tokio::io::duplex(64 << 10)
    }
}

/// The floor (`benches/floor.rs`, one [`gopipe_benches::floor::pipe`] each
/// way): a bound on what any in-memory transport can give hyper, not a peer.
struct Floor;

impl Transport for Floor {
    type Io = gopipe_benches::floor::FloorIo;
    const NAME: &'static str = "floor";
    fn pair() -> (Self::Io, Self::Io) {
        gopipe_benches::floor::duplex()
    }
}

/// Sends one request on `sender` (after `ready`) and checks the answer.
async fn exchange(sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>) {
    let request = Request::post("/")
        .header(hyper::header::HOST, "in-memory.bench")
        .body(Full::new(Bytes::from_static(&REQUEST_BODY)))
        .expect("request");
    sender.ready().await.expect("connection ready");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "server refused the request"
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    assert_eq!(body.len(), BODY, "response body length");
}

/// One round over transport `T`: `conns` connections, [`WARM_UP`] requests
/// each, then every client sends for `span`; returns (requests, wall time).
/// Must run inside a runtime (it spawns).
async fn round<T: Transport>(
    conns: usize,
    span: Duration,
    progress: Arc<[Progress]>,
) -> (u64, Duration) {
    let gate = Arc::new(Barrier::new(conns + 1));
    let mut servers = Vec::with_capacity(conns);
    let mut connections = Vec::with_capacity(conns);
    let mut clients = Vec::with_capacity(conns);
    for c in 0..conns {
        let (server_end, client_end) = T::pair();
        servers.push(tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server_end), service_fn(service)),
        ));
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(client_end))
                .await
                .expect("handshake");
        connections.push(tokio::spawn(connection));
        let gate = Arc::clone(&gate);
        let progress = Arc::clone(&progress);
        clients.push(tokio::spawn(async move {
            for _ in 0..WARM_UP {
                exchange(&mut sender).await;
            }
            gate.wait().await;
            let start = Instant::now();
            let deadline = start + span;
            let mut done = 0u64;
            while Instant::now() < deadline {
                exchange(&mut sender).await;
                done += 1;
                progress[c].0.store(done as usize, Ordering::Relaxed);
            }
            let end = Instant::now();
            // Dropping the sender closes the connection: both sides end.
            drop(sender);
            (done, start, end)
        }));
    }
    gate.wait().await;
    let mut total = 0;
    let mut first = None::<Instant>;
    let mut last = None::<Instant>;
    for h in clients {
        let (done, start, end) = h.await.expect("client task panicked");
        total += done;
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    for h in connections {
        h.await
            .expect("client connection task panicked")
            .expect("client connection");
    }
    for h in servers {
        h.await
            .expect("server connection task panicked")
            .expect("server connection");
    }
    (total, last.expect("no client") - first.expect("no client"))
}

/// Runs one round over `T` on `rt` under [`ROUND_LIMIT`] and the watchdog;
/// returns requests per second.
fn rate<T: Transport>(rt: &Runtime, label: &str, conns: usize, span: Duration) -> f64 {
    let progress: Arc<[Progress]> = (0..conns).map(|_| Progress::default()).collect();
    let _watch = Watch::start(format!("hyper {label} {}", T::NAME), &progress);
    let (n, wall) = rt.block_on(async {
        let exchange = round::<T>(conns, span, progress);
        bounded(exchange, label, T::NAME).await
    });
    n as f64 / wall.as_secs_f64()
}

/// `fut` under [`ROUND_LIMIT`]: a round that does not end there panics, naming
/// the case.
async fn bounded<F: Future>(fut: F, label: &str, name: &str) -> F::Output {
    match tokio::time::timeout(ROUND_LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("hyper {label} {name}: the round did not end within {ROUND_LIMIT:?}"),
    }
}

/// Median, minimum and maximum of `v` (sorted in place).
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The two runtimes, by name.
fn runtimes() -> [(&'static str, Runtime); 2] {
    let ct = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("current_thread runtime");
    let mt2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("multi-thread runtime");
    [("ct", ct), ("mt2", mt2)]
}

fn main() {
    let quick = std::env::var_os("GOPIPE_BENCH_QUICK").is_some();
    let (rounds, span) = if quick {
        (3, Duration::from_millis(300))
    } else {
        (7, Duration::from_secs(1))
    };
    // cargo bench passes `--bench`; any other argument is a filter.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!(
        "# hyper HTTP/1, POST 1 KiB / answer 1 KiB, keep-alive; {rounds} rounds of {span:?} per case"
    );
    for (rt_name, rt) in runtimes() {
        for conns in CONNS {
            let label = format!("{rt_name}/{conns}");
            if !filter.is_empty() && !filter.iter().any(|f| label.contains(f.as_str())) {
                continue;
            }
            let (mut g, mut d, mut f) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                g.push(rate::<Gopipe>(&rt, &label, conns, span));
                d.push(rate::<Duplex>(&rt, &label, conns, span));
                f.push(rate::<Floor>(&rt, &label, conns, span));
            }
            let (gm, gmin, gmax) = spread(&mut g);
            let (dm, dmin, dmax) = spread(&mut d);
            let (fm, fmin, fmax) = spread(&mut f);
            println!(
                "hyper {label:>6} conns: gopipe {gm:>9.0} req/s ({gmin:.0}..{gmax:.0}), \
                 duplex {dm:>9.0} req/s ({dmin:.0}..{dmax:.0}), gopipe/duplex {:.2}; \
                 floor {fm:>9.0} req/s ({fmin:.0}..{fmax:.0}), floor/duplex {:.2}",
                gm / dm,
                fm / dm
            );
            println!("hyper,{rt_name},{conns},gopipe,{gm:.0},{gmin:.0},{gmax:.0},{rounds}");
            println!("hyper,{rt_name},{conns},duplex,{dm:.0},{dmin:.0},{dmax:.0},{rounds}");
            println!("hyper,{rt_name},{conns},floor,{fm:.0},{fmin:.0},{fmax:.0},{rounds}");
        }
    }
}
