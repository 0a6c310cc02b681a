//! Shared pieces of gopipe's interop tests: a round of HTTP/1 keep-alive
//! connections between hyper's server and client over an in-memory transport
//! (gopipe's `duplex()`, tokio's `duplex`, or a wrapper), and what it saw.
//!
//! Not part of gopipe's API; the package is not published.
//!
//! [`listener`]: hyper-util's pooled client reaching a server over a
//! `gopipe::listen` listener (the connection newtype and the connector).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub mod listener;

/// How many keep-alive connections a round opens at once.
pub const CONNECTIONS: usize = 64;
/// How many requests each connection sends before its client closes it.
pub const REQUESTS_PER_CONNECTION: usize = 5;
/// The size of every request body (the server echoes it back).
pub const BODY_LEN: usize = 1024;

/// What one round saw: how each server connection ended and which responses
/// were wrong.
#[derive(Debug, Default)]
pub struct RoundOutcome {
    /// Connections opened.
    pub connections: usize,
    /// Server connection futures that ended `Ok(())`.
    pub server_ok: usize,
    /// The errors of the other server connections (one line each).
    pub server_errors: Vec<String>,
    /// Client-side failures: a handshake, request, body or comparison that
    /// went wrong, or a client connection task that ended in an error.
    pub client_errors: Vec<String>,
    /// Responses whose body was the request's body.
    pub responses_ok: usize,
}

impl RoundOutcome {
    /// Whether every server connection ended `Ok(())` and every response was
    /// right.
    pub fn all_ok(&self) -> bool {
        self.server_ok == self.connections
            && self.server_errors.is_empty()
            && self.client_errors.is_empty()
            && self.responses_ok == self.connections * REQUESTS_PER_CONNECTION
    }
}

impl fmt::Display for RoundOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server connections ending Ok: {} of {}; responses right: {} of {}",
            self.server_ok,
            self.connections,
            self.responses_ok,
            self.connections * REQUESTS_PER_CONNECTION
        )?;
        for (what, list) in [
            ("server connections", &self.server_errors),
            ("clients", &self.client_errors),
        ] {
            if !list.is_empty() {
                write!(f, "\n  {} {what} failing, first: {}", list.len(), list[0])?;
            }
        }
        Ok(())
    }
}

/// The request body of request `req` on connection `conn`: 1 KiB that names
/// both, so that a response carrying another request's body is caught.
pub fn request_body(conn: usize, req: usize) -> Bytes {
    let tag = format!("conn {conn:03} req {req:02};");
    let mut body = Vec::with_capacity(BODY_LEN);
    while body.len() < BODY_LEN {
        let take = tag.len().min(BODY_LEN - body.len());
        body.extend_from_slice(&tag.as_bytes()[..take]);
    }
    Bytes::from(body)
}

/// The server's service: answers every request with its own body.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// One client: handshakes over `io`, sends [`REQUESTS_PER_CONNECTION`]
/// requests one after another on the kept-alive connection, checks each
/// echo, then drops its sender so that the connection closes, and waits for
/// its connection task. Returns how many responses were right, or the first
/// failure.
async fn client<T>(conn: usize, io: T) -> Result<usize, String>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| format!("conn {conn}: handshake: {e:?}"))?;
    let driver = tokio::spawn(connection);
    let mut right = 0;
    for req in 0..REQUESTS_PER_CONNECTION {
        let body = request_body(conn, req);
        sender
            .ready()
            .await
            .map_err(|e| format!("conn {conn} req {req}: ready: {e:?}"))?;
        let request = Request::post("/echo")
            .header(hyper::header::HOST, "gopipe.test")
            .body(Full::new(body.clone()))
            .map_err(|e| format!("conn {conn} req {req}: build: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("conn {conn} req {req}: send: {e:?}"))?;
        if response.status() != hyper::StatusCode::OK {
            return Err(format!(
                "conn {conn} req {req}: status {}",
                response.status()
            ));
        }
        let got = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("conn {conn} req {req}: response body: {e:?}"))?
            .to_bytes();
        if got != body {
            return Err(format!(
                "conn {conn} req {req}: response body of {} bytes is not the request's",
                got.len()
            ));
        }
        right += 1;
    }
    drop(sender);
    match driver.await {
        Ok(Ok(())) => Ok(right),
        Ok(Err(e)) => Err(format!("conn {conn}: client connection: {e:?}")),
        Err(e) => Err(format!("conn {conn}: client connection task: {e}")),
    }
}

/// Runs one round on the current tokio runtime: [`CONNECTIONS`] concurrent
/// keep-alive connections, each over its own pair from `make` (the first end
/// for the server, the second for the client). Every server connection is
/// hyper's HTTP/1 `serve_connection` spawned as a task; every client is
/// [`client`], spawned too. Waits for all of them; bound it with a timeout.
pub async fn hyper_round<T, F>(mut make: F) -> RoundOutcome
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: FnMut() -> (T, T),
{
    let mut servers = Vec::with_capacity(CONNECTIONS);
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for conn in 0..CONNECTIONS {
        let (server_io, client_io) = make();
        servers.push(tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server_io), service_fn(echo)),
        ));
        clients.push(tokio::spawn(client(conn, client_io)));
    }
    let mut outcome = RoundOutcome {
        connections: CONNECTIONS,
        ..RoundOutcome::default()
    };
    for (conn, handle) in clients.into_iter().enumerate() {
        match handle.await {
            Ok(Ok(right)) => outcome.responses_ok += right,
            Ok(Err(e)) => outcome.client_errors.push(e),
            Err(e) => outcome
                .client_errors
                .push(format!("conn {conn}: client task: {e}")),
        }
    }
    for (conn, handle) in servers.into_iter().enumerate() {
        match handle.await {
            Ok(Ok(())) => outcome.server_ok += 1,
            Ok(Err(e)) => outcome.server_errors.push(format!("conn {conn}: {e:?}")),
            Err(e) => outcome
                .server_errors
                .push(format!("conn {conn}: server task: {e}")),
        }
    }
    outcome
}

/// A diagnostic wrapper, not a fix: any transport whose `poll_flush` is
/// `Ready(Ok(()))` at once, as a socket's is (the kernel's send buffer holds
/// the bytes). Reads, writes and shutdown go to the inner transport.
///
/// Over gopipe's `Conn` this shows whether a failure comes from gopipe's
/// async flush waiting for the peer to read every accepted byte.
#[derive(Debug)]
pub struct FlushAtOnce<T>(pub T);

impl<T: AsyncRead + Unpin> AsyncRead for FlushAtOnce<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FlushAtOnce<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
