//! tonic's gRPC over gopipe's in-memory network: the server serves the
//! connections of `gopipe::listen(capacity)` (its `Incoming` stream), the
//! client's `Channel` dials the listener's `Dialer`. For an unbuffered
//! listener (`0`) and a buffered one (64 KiB each way):
//!
//! - 64 unary calls at once over one channel, every answer checked;
//! - bidirectional streams, several at once, each sending its requests one at
//!   a time and waiting for the answer to each before the next, every answer
//!   checked, then the end of both streams;
//! - teardown: the client dropped, the server stopped
//!   (`serve_with_incoming_shutdown`); the serve future ends `Ok`, the one
//!   connection the channel opened was accepted and closed, and the listener
//!   is closed (a dial is refused). And the server stopped while the client
//!   is still connected: the same, and a later call fails instead of hanging.
//!
//! The payloads run from empty to 100 KiB, more than the buffer and than
//! HTTP/2's initial flow-control window, so writes also wait for room and
//! for window updates. Each test is bounded by a timeout, so a hang fails.
//!
//! The service code comes from build.rs (`tonic_build::manual`, no protoc).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Server, Uri};
use tonic::{Request, Response, Status, Streaming};

use echo::echo_client::EchoClient;
use echo::echo_server::{Echo, EchoServer};
use echo::{EchoRequest, EchoResponse};

/// The messages (hand-written prost structs) and the generated service.
mod echo {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EchoRequest {
        /// Which call or stream sent it.
        #[prost(uint32, tag = "1")]
        pub call: u32,
        /// Its place in its stream (0 for a unary call).
        #[prost(uint32, tag = "2")]
        pub seq: u32,
        #[prost(string, tag = "3")]
        pub message: String,
        #[prost(bytes = "vec", tag = "4")]
        pub payload: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EchoResponse {
        #[prost(uint32, tag = "1")]
        pub call: u32,
        #[prost(uint32, tag = "2")]
        pub seq: u32,
        #[prost(string, tag = "3")]
        pub message: String,
        #[prost(bytes = "vec", tag = "4")]
        pub payload: Vec<u8>,
    }

    tonic::include_proto!("gopipe.echo.Echo");
}

/// How long one test may take before it counts as hung (it takes well under
/// a second in a release build).
const BOUND: Duration = Duration::from_secs(60);

/// The buffered listener's capacity: a socket's send buffer.
const BUFFERED: usize = 64 << 10;

/// Unary calls made at once over one channel.
const UNARY_CALLS: u32 = 64;

/// Bidirectional streams open at once over one channel.
const STREAMS: u32 = 4;

/// Requests (and answers) on each bidirectional stream.
const MESSAGES: u32 = 100;

/// The largest payload: more than [`BUFFERED`] and than HTTP/2's initial
/// stream window (64 KiB - 1).
const MAX_PAYLOAD: usize = 100 << 10;

/// Request `seq` of call or stream `call`: a message naming both and a
/// payload whose length and bytes depend on both (0 to [`MAX_PAYLOAD`]
/// bytes), so that an answer to another request is caught.
fn request(call: u32, seq: u32) -> EchoRequest {
    let len = (call as usize * 7919 + seq as usize * 104_729) % (MAX_PAYLOAD + 1);
    EchoRequest {
        call,
        seq,
        message: format!("call {call:02} message {seq:03}"),
        payload: (0..len)
            .map(|i| ((i % 251) as u8) ^ (call as u8).wrapping_mul(31) ^ (seq as u8))
            .collect(),
    }
}

/// The server's answer to `r`: the message in capitals, the payload
/// reversed. The client checks every answer against this.
fn answer(r: &EchoRequest) -> EchoResponse {
    EchoResponse {
        call: r.call,
        seq: r.seq,
        message: r.message.to_uppercase(),
        payload: r.payload.iter().rev().copied().collect(),
    }
}

/// Checks `got` against the answer to `sent` (the payloads compared without
/// printing 100 KiB).
fn check(sent: &EchoRequest, got: &EchoResponse) {
    let want = answer(sent);
    assert_eq!(
        (got.call, got.seq, &got.message, got.payload.len()),
        (want.call, want.seq, &want.message, want.payload.len()),
        "the answer to call {} message {}",
        sent.call,
        sent.seq
    );
    assert!(
        got.payload == want.payload,
        "the answer to call {} message {}: wrong payload bytes",
        sent.call,
        sent.seq
    );
}

/// The service under test.
struct EchoService;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(answer(request.get_ref())))
    }

    type BidiEchoStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

    async fn bidi_echo(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::BidiEchoStream>, Status> {
        // An answer to each request as it arrives; ends when the client's
        // stream ends.
        let answers = request
            .into_inner()
            .map(|request| request.map(|r| answer(&r)));
        Ok(Response::new(Box::pin(answers)))
    }
}

/// What the server's connections saw, kept by [`GrpcConn`]: tonic's server
/// logs a connection's error and goes on, so the test watches the I/O
/// itself.
#[derive(Debug, Default)]
struct ServerConns {
    /// Connections the server took from the listener.
    accepted: usize,
    /// Connections dropped (closed) since.
    closed: usize,
    /// Writes (or shutdowns) that failed with `BrokenPipe` because the client
    /// had closed its end: gopipe fails a write to a closed peer at once, as
    /// Go's `net.Pipe` does (a socket would take the first such write into
    /// its buffer and fail a later one). Expected when the client closes
    /// while the server still writes (hyper's HTTP/2 frames after the
    /// client's last); the count is printed.
    broken_pipe_writes: usize,
    /// Every other I/O error a connection returned to the server.
    errors: Vec<String>,
}

/// The server's connections' [`ServerConns`], and a wake-up for each close.
#[derive(Default)]
struct ServerLog {
    conns: Mutex<ServerConns>,
    /// Notified (one permit) each time a connection closes.
    closed: Notify,
}

impl ServerLog {
    /// Waits until every accepted connection has closed.
    async fn all_closed(&self) {
        loop {
            {
                let conns = self.conns.lock().unwrap();
                if conns.closed == conns.accepted {
                    return;
                }
            }
            // A close since the check left a permit: no wake-up is lost.
            self.closed.notified().await;
        }
    }
}

/// A server end of a listener's connection as tonic's server takes it
/// (`Connected`, with no address), recording its errors and its close in
/// the shared [`ServerConns`].
struct GrpcConn {
    conn: gopipe::Conn,
    log: Arc<ServerLog>,
}

impl GrpcConn {
    /// Records `result`'s error, if any, from a `what` ("read", "write",
    /// ...).
    fn note<T>(&self, what: &str, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &result {
            let mut log = self.log.conns.lock().unwrap();
            if what != "read" && e.kind() == io::ErrorKind::BrokenPipe {
                log.broken_pipe_writes += 1;
            } else {
                log.errors.push(format!("{what}: {e} ({:?})", e.kind()));
            }
        }
        result
    }
}

impl Drop for GrpcConn {
    fn drop(&mut self) {
        self.log.conns.lock().unwrap().closed += 1;
        self.log.closed.notify_one();
    }
}

impl Connected for GrpcConn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for GrpcConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.conn).poll_read(cx, buf);
        self.note("read", result)
    }
}

impl AsyncWrite for GrpcConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.conn).poll_write(cx, buf);
        self.note("write", result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.conn).poll_write_vectored(cx, bufs);
        self.note("write", result)
    }

    fn is_write_vectored(&self) -> bool {
        self.conn.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.conn).poll_flush(cx);
        self.note("flush", result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.conn).poll_shutdown(cx);
        self.note("shutdown", result)
    }
}

/// A running server on a listener and a client channel to it.
struct Running {
    client: EchoClient<Channel>,
    dialer: gopipe::Dialer,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    /// What the server's connections saw.
    log: Arc<ServerLog>,
}

impl Running {
    /// Serves [`EchoService`] on `gopipe::listen(capacity)` until stopped,
    /// and connects a channel that dials the listener.
    async fn start(capacity: usize) -> Running {
        let listener = gopipe::listen(capacity);
        let dialer = listener.dialer();
        let log = Arc::new(ServerLog::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming = {
            let log = Arc::clone(&log);
            listener.into_incoming().map(move |conn| {
                log.conns.lock().unwrap().accepted += 1;
                conn.map(|conn| GrpcConn {
                    conn,
                    log: Arc::clone(&log),
                })
            })
        };
        let server = tokio::spawn(
            Server::builder()
                .add_service(EchoServer::new(EchoService))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        let channel = {
            let dialer = dialer.clone();
            Endpoint::from_static("http://in-memory.test")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    std::future::ready(dialer.dial().map(TokioIo::new))
                }))
                .await
                .expect("connect the channel")
        };
        Running {
            client: EchoClient::new(channel),
            dialer,
            stop,
            server,
            log,
        }
    }

    /// Stops the server, after dropping the client and waiting for the
    /// server's connection to end if `drop_client_first` (else with the
    /// client still connected, which is returned). Checks that the serve
    /// future ends `Ok`; that exactly one connection was accepted (the
    /// channel never reconnected) and it is closed, with no I/O error but
    /// writes that found the client gone ([`ServerConns::broken_pipe_writes`]);
    /// and that the listener is closed.
    async fn stop(self, drop_client_first: bool) -> Option<EchoClient<Channel>> {
        let client = if drop_client_first {
            // The client's connection shuts down (hyper's HTTP/2 client sends
            // GOAWAY and closes its end): the server's connection ends on
            // its own, before the server is stopped.
            drop(self.client);
            self.log.all_closed().await;
            None
        } else {
            Some(self.client)
        };
        self.stop.send(()).expect("the server is still running");
        self.server
            .await
            .expect("the server task")
            .expect("the serve future ends Ok");
        {
            let conns = self.log.conns.lock().unwrap();
            // One channel, one connection, closed once the server ended; no
            // I/O error on the way but writes that found the client gone.
            println!("server connections: {conns:?}");
            assert_eq!(
                (conns.accepted, conns.closed),
                (1, 1),
                "server connections (accepted, closed): {conns:?}"
            );
            assert!(conns.errors.is_empty(), "server connections: {conns:?}");
        }
        assert_eq!(
            self.dialer
                .dial()
                .expect_err("a dial after the server ended")
                .kind(),
            io::ErrorKind::ConnectionRefused
        );
        client
    }
}

/// Runs `body` under [`BOUND`].
async fn bounded<F: std::future::Future>(what: &str, body: F) -> F::Output {
    tokio::time::timeout(BOUND, body)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {BOUND:?}; it hangs"))
}

/// [`UNARY_CALLS`] unary calls at once over one channel, every answer
/// checked; then the client dropped and the server stopped.
async fn unary_calls(capacity: usize) {
    let running = Running::start(capacity).await;
    let mut calls = JoinSet::new();
    for call in 0..UNARY_CALLS {
        let mut client = running.client.clone();
        calls.spawn(async move {
            let sent = request(call, 0);
            let got = client
                .unary_echo(sent.clone())
                .await
                .unwrap_or_else(|e| panic!("unary call {call}: {e}"))
                .into_inner();
            check(&sent, &got);
        });
    }
    let mut done = 0;
    while let Some(result) = calls.join_next().await {
        result.expect("a unary call's task");
        done += 1;
    }
    assert_eq!(done, UNARY_CALLS);
    running.stop(true).await;
}

/// One bidirectional stream: sends [`MESSAGES`] requests one at a time,
/// waiting for the answer to each before sending the next, checks each
/// answer, then ends its requests and expects the answers to end.
async fn bidi_stream(mut client: EchoClient<Channel>, call: u32) {
    // Room for one request: the next is sent only after the last answer.
    let (requests, outbound) = mpsc::channel(1);
    let mut answers = client
        .bidi_echo(ReceiverStream::new(outbound))
        .await
        .unwrap_or_else(|e| panic!("stream {call}: open: {e}"))
        .into_inner();
    for seq in 0..MESSAGES {
        let sent = request(call, seq);
        requests
            .send(sent.clone())
            .await
            .expect("the request stream is open");
        let got = answers
            .message()
            .await
            .unwrap_or_else(|e| panic!("stream {call} message {seq}: {e}"))
            .unwrap_or_else(|| panic!("stream {call}: answers ended before message {seq}"));
        check(&sent, &got);
    }
    drop(requests);
    assert!(
        answers
            .message()
            .await
            .unwrap_or_else(|e| panic!("stream {call}: the end: {e}"))
            .is_none(),
        "stream {call}: an answer after the requests ended"
    );
}

/// [`STREAMS`] bidirectional streams at once over one channel; then the
/// client dropped and the server stopped.
async fn bidi_streams(capacity: usize) {
    let running = Running::start(capacity).await;
    let mut streams = JoinSet::new();
    for call in 0..STREAMS {
        streams.spawn(bidi_stream(running.client.clone(), call));
    }
    let mut done = 0;
    while let Some(result) = streams.join_next().await {
        result.expect("a stream's task");
        done += 1;
    }
    assert_eq!(done, STREAMS);
    running.stop(true).await;
}

/// A call, then the server stopped with the client still connected: the
/// server's shutdown closes the connection and the serve future ends `Ok`;
/// a later call on the channel fails (the listener refuses the redial, or
/// the call meets the closing connection) instead of hanging.
async fn stop_with_client_connected(capacity: usize) {
    let running = Running::start(capacity).await;
    let mut client = running.client.clone();
    let sent = request(7, 0);
    let got = client.unary_echo(sent.clone()).await.expect("a unary call");
    check(&sent, got.get_ref());
    drop(client);
    let mut client = running.stop(false).await.expect("the client kept");
    let status = client
        .unary_echo(request(8, 0))
        .await
        .expect_err("a call after the server stopped");
    // Unavailable once the channel saw its connection close (the redial is
    // refused); Cancelled if the call went out on the connection as it
    // closed (hyper's "connection closed"), a race as over TCP.
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Cancelled
        ),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_calls_unbuffered() {
    bounded("64 unary calls over listen(0)", unary_calls(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_calls_buffered() {
    bounded("64 unary calls over listen(64 KiB)", unary_calls(BUFFERED)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_streams_unbuffered() {
    bounded("bidirectional streams over listen(0)", bidi_streams(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_streams_buffered() {
    bounded(
        "bidirectional streams over listen(64 KiB)",
        bidi_streams(BUFFERED),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_client_connected_unbuffered() {
    bounded(
        "stopping the server with a client over listen(0)",
        stop_with_client_connected(0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_client_connected_buffered() {
    bounded(
        "stopping the server with a client over listen(64 KiB)",
        stop_with_client_connected(BUFFERED),
    )
    .await;
}
