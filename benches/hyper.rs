//! hyper's HTTP/1 client and server over in-memory connections and loopback
//! TCP: requests per second. Six transports:
//!
//! - `gopipe`: `gopipe::duplex()`, against `duplex`: `tokio::io::duplex(64
//!   KiB)`, and `floor` (`benches/floor.rs`: the least an in-memory
//!   transport can do, a bound and not a peer); target for gopipe >= 1.1x
//!   duplex, printed by `benches/compare_hyper.sh`;
//! - `listen0` and `listen64k`: the connections of `gopipe::listen(0)` and
//!   `listen(64 KiB)`, a server task in an accept loop (`accept_async`,
//!   hyper's server connection spawned per connection), the clients dialing
//!   the listener's `Dialer`, against `tcp`: the same accept loop on a
//!   `tokio::net::TcpListener` on 127.0.0.1:0, the clients connecting with
//!   `tokio::net::TcpStream` (`TCP_NODELAY` on both ends); target (issue 26)
//!   for the listener > TCP, printed by `benches/compare_net.sh`.
//!
//! Every exchange is a `POST /` with a 1 KiB body, answered with a 1 KiB body;
//! the client checks the status and both lengths. C kept-alive connections (C
//! in 1 and 8), each with a hyper server connection task, a client connection
//! task and one client task sending requests back to back, waiting for
//! `sender.ready()` before each one (hyper's contract on a kept-alive
//! connection). Two runtimes: tokio `current_thread` (`ct`, every task on one
//! thread) and multi-thread with 2 workers (`mt2`).
//!
//! One round: fresh connections (dialled and accepted, for the listener and
//! TCP), a few warm-up requests on each (outside the time), then all client
//! tasks are released together and send for the round's duration; the rate is
//! the requests completed over the wall time from the release until the last
//! client stops. Rounds alternate the transports, so that a change in the
//! machine's load falls on all of them; every case prints the median, minimum
//! and maximum rate of each transport's rounds, and the ratios of the medians
//! gopipe / duplex, floor / duplex, listen0 / tcp and listen64k / tcp.
//! Machine-readable lines: `hyper,RUNTIME,C,TRANSPORT,MEDIAN_RPS,MIN_RPS,MAX_RPS,ROUNDS`.
//!
//! Bounded: every round (connection set-up, warm-up, measurement, closing)
//! runs under a 30 s tokio timeout and fails with a message when it ends
//! there; a watchdog thread (the benches' shared one) ends the process when no
//! client completes a request for `GOPIPE_BENCH_STALL_SECS` seconds (default
//! 60), which also catches a runtime thread that never yields.
//!
//! Run: `cargo bench -p gopipe-benches --bench hyper` (7 rounds of 1 s per
//! case and transport: 168 s of measurement for all six). Quick:
//! `GOPIPE_BENCH_QUICK=1` (3 rounds of 300 ms). Arguments that name
//! transports run only those (e.g. `-- gopipe duplex floor`, as
//! `compare_hyper.sh` does, or `-- listen0 listen64k tcp`, as
//! `compare_net.sh` does); any other argument filters the cases by substring
//! of `RUNTIME/C`, e.g. `-- ct/1` or `-- mt2/`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gopipe_benches::{runtimes, Progress, Watch};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Runtime;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

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

/// The server side of a round: tasks that end, with hyper's result, once
/// the connections they serve have ended.
type Servers = Vec<JoinHandle<hyper::Result<()>>>;

/// A transport: how a round's connections to a hyper server are made.
trait Transport: 'static {
    /// The client's end of a connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The name in the report (and in the arguments that select transports).
    const NAME: &'static str;
    /// `conns` connections, each served by hyper on a task of its own: their
    /// client ends and the server side's tasks. Must run inside a runtime.
    async fn connect(conns: usize) -> (Vec<Self::Io>, Servers);
}

/// Serves `server_end` with hyper's HTTP/1 server and [`service`], on a task
/// of its own.
fn serve<Io>(server_end: Io) -> JoinHandle<hyper::Result<()>>
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_end), service_fn(service)),
    )
}

/// `conns` connected pairs from `pair` (server end, client end), each
/// server end served: the transports without a listener.
fn pairs<Io>(conns: usize, pair: fn() -> (Io, Io)) -> (Vec<Io>, Servers)
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    (0..conns)
        .map(|_| {
            let (server_end, client_end) = pair();
            (client_end, serve(server_end))
        })
        .unzip()
}

/// A hyper server's accept loop: takes `conns` connections from `accept`,
/// serves each on a task of its own, and ends once they all have (with the
/// first error among them).
async fn accept_loop<Io, F, Fut>(conns: usize, mut accept: F) -> hyper::Result<()>
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::io::Result<Io>>,
{
    let mut served = Vec::with_capacity(conns);
    for _ in 0..conns {
        served.push(serve(accept().await.expect("accept")));
    }
    for h in served {
        h.await.expect("server connection task panicked")?;
    }
    Ok(())
}

/// `gopipe::duplex()`.
struct Gopipe;

impl Transport for Gopipe {
    type Io = gopipe::Conn;
    const NAME: &'static str = "gopipe";
    async fn connect(conns: usize) -> (Vec<Self::Io>, Servers) {
        pairs(conns, gopipe::duplex)
    }
}

/// `tokio::io::duplex(64 KiB)`.
struct Duplex;

impl Transport for Duplex {
    type Io = tokio::io::DuplexStream;
    const NAME: &'static str = "duplex";
    async fn connect(conns: usize) -> (Vec<Self::Io>, Servers) {
        pairs(conns, || tokio::io::duplex(64 << 10))
    }
}

/// The floor (`benches/floor.rs`, one [`gopipe_benches::floor::pipe`] each
/// way): a bound on what any in-memory transport can give hyper, not a peer.
struct Floor;

impl Transport for Floor {
    type Io = gopipe_benches::floor::FloorIo;
    const NAME: &'static str = "floor";
    async fn connect(conns: usize) -> (Vec<Self::Io>, Servers) {
        pairs(conns, gopipe_benches::floor::duplex)
    }
}

/// `gopipe::listen(CAP)`: a server task accepting with `accept_async`, the
/// clients dialing its `Dialer`.
struct Listen<const CAP: usize>;

impl<const CAP: usize> Transport for Listen<CAP> {
    type Io = gopipe::Conn;
    const NAME: &'static str = if CAP == 0 { "listen0" } else { "listen64k" };
    async fn connect(conns: usize) -> (Vec<Self::Io>, Servers) {
        let listener = gopipe::listen(CAP);
        let dialer = listener.dialer();
        let server =
            tokio::spawn(async move { accept_loop(conns, || listener.accept_async()).await });
        let clients = (0..conns).map(|_| dialer.dial().expect("dial")).collect();
        (clients, vec![server])
    }
}

/// Loopback TCP: a server task accepting from a `tokio::net::TcpListener` on
/// 127.0.0.1, the clients connecting; `TCP_NODELAY` on both ends (else
/// Nagle's algorithm and delayed acknowledgements hold hyper's writes).
struct Tcp;

impl Transport for Tcp {
    type Io = tokio::net::TcpStream;
    const NAME: &'static str = "tcp";
    async fn connect(conns: usize) -> (Vec<Self::Io>, Servers) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let listener = &listener;
            accept_loop(conns, move || async move {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(stream)
            })
            .await
        });
        let mut clients = Vec::with_capacity(conns);
        for _ in 0..conns {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            clients.push(stream);
        }
        (clients, vec![server])
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
    let (client_ends, servers) = T::connect(conns).await;
    let mut connections = Vec::with_capacity(conns);
    let mut clients = Vec::with_capacity(conns);
    for (c, client_end) in client_ends.into_iter().enumerate() {
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

/// One round of a transport on a runtime: requests per second.
type Rate = fn(&Runtime, &str, usize, Duration) -> f64;

/// Every transport, in the order a round runs them.
const TRANSPORTS: [(&str, Rate); 6] = [
    (Gopipe::NAME, rate::<Gopipe>),
    (Duplex::NAME, rate::<Duplex>),
    (Floor::NAME, rate::<Floor>),
    (Listen::<0>::NAME, rate::<Listen<0>>),
    (Listen::<{ 64 << 10 }>::NAME, rate::<Listen<{ 64 << 10 }>>),
    (Tcp::NAME, rate::<Tcp>),
];

/// The ratios of medians the human line gives, (numerator, denominator),
/// when both ran.
const RATIOS: [(&str, &str); 4] = [
    ("gopipe", "duplex"),
    ("floor", "duplex"),
    ("listen0", "tcp"),
    ("listen64k", "tcp"),
];

fn main() {
    let quick = std::env::var_os("GOPIPE_BENCH_QUICK").is_some();
    let (rounds, span) = if quick {
        (3, Duration::from_millis(300))
    } else {
        (7, Duration::from_secs(1))
    };
    // cargo bench passes `--bench`; a transport's name selects it, any other
    // argument filters the cases.
    let (picked, filter): (Vec<String>, Vec<String>) = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .partition(|a| TRANSPORTS.iter().any(|(name, _)| name == a));
    let transports: Vec<(&str, Rate)> = TRANSPORTS
        .into_iter()
        .filter(|(name, _)| picked.is_empty() || picked.iter().any(|p| p == name))
        .collect();
    println!(
        "# hyper HTTP/1, POST 1 KiB / answer 1 KiB, keep-alive; {rounds} rounds of {span:?} per case; transports: {}",
        transports.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
    );
    for (rt_name, rt) in runtimes(true) {
        for conns in CONNS {
            let label = format!("{rt_name}/{conns}");
            if !filter.is_empty() && !filter.iter().any(|f| label.contains(f.as_str())) {
                continue;
            }
            let mut rates = vec![Vec::new(); transports.len()];
            for _ in 0..rounds {
                for ((_, rate), rates) in transports.iter().zip(&mut rates) {
                    rates.push(rate(&rt, &label, conns, span));
                }
            }
            let medians: Vec<(&str, (f64, f64, f64))> = transports
                .iter()
                .zip(&mut rates)
                .map(|((name, _), v)| (*name, spread(v)))
                .collect();
            let median = |name: &str| {
                medians
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, (m, _, _))| *m)
            };
            let cells: Vec<String> = medians
                .iter()
                .map(|(name, (m, min, max))| format!("{name} {m:>9.0} req/s ({min:.0}..{max:.0})"))
                .collect();
            let ratios: Vec<String> = RATIOS
                .iter()
                .filter_map(|(a, b)| Some(format!("{a}/{b} {:.2}", median(a)? / median(b)?)))
                .collect();
            println!(
                "hyper {label:>6} conns: {}; {}",
                cells.join(", "),
                ratios.join(", ")
            );
            for (name, (m, min, max)) in &medians {
                println!("hyper,{rt_name},{conns},{name},{m:.0},{min:.0},{max:.0},{rounds}");
            }
        }
    }
}
