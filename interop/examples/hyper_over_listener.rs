//! A hyper server and hyper-util's pooled client in one process, connected
//! by `gopipe::listen` instead of a TCP port: the server's accept loop takes
//! connections from a `gopipe::Listener`, the client's connector dials its
//! `gopipe::Dialer`. No port, no socket, nothing to clean up.
//!
//! Run with `cargo run -p gopipe-interop --example hyper_over_listener`.
//! Dependencies: hyper (`server`, `client`, `http1`), hyper-util (`tokio`,
//! `client-legacy`, `http1`), tower-service, http-body-util, bytes, tokio,
//! and gopipe with its `tokio` feature.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The service: greets whoever the path names.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let name = req.uri().path().trim_start_matches('/').to_owned();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello, {name}"
    )))))
}

/// The server: the accept loop of any hyper server, on a gopipe listener.
/// Ends when the listener is closed, returning that error and the
/// connection tasks.
async fn serve(
    listener: Arc<gopipe::Listener>,
) -> (io::Error, Vec<tokio::task::JoinHandle<hyper::Result<()>>>) {
    let mut conns = Vec::new();
    loop {
        match listener.accept_async().await {
            Ok(conn) => conns.push(tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(conn), service_fn(hello)),
            )),
            Err(closed) => return (closed, conns),
        }
    }
}

/// The client's connector: every connection the pool asks for is a dial,
/// whatever the URI. A dial never blocks, so its future is ready at once.
#[derive(Clone)]
struct Connector(gopipe::Dialer);

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<InMemory>;
    type Error = io::Error;
    type Future = Ready<io::Result<TokioIo<InMemory>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        ready(self.0.dial().map(|conn| TokioIo::new(InMemory(conn))))
    }
}

/// hyper-util's pooled client requires its connections to implement its
/// `Connection` trait, which gopipe's `Conn` does not (and which another
/// crate cannot add to it): this newtype adds it and forwards the I/O.
struct InMemory(gopipe::Conn);

impl Connection for InMemory {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for InMemory {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for InMemory {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    // Forwarded too: gopipe writes a gather whole, so hyper sends a
    // response's head and body in one write.
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::main]
async fn main() {
    // A bound, so that a stuck exchange fails instead of hanging.
    tokio::time::timeout(Duration::from_secs(10), async {
        // 64 KiB per direction, as a socket's buffers; 0 is unbuffered.
        let listener = Arc::new(gopipe::listen(64 << 10));
        let server = tokio::spawn(serve(Arc::clone(&listener)));
        let client: Client<_, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build(Connector(listener.dialer()));

        // Two rounds of 8 concurrent requests: the second reuses the
        // connections the first left in the pool.
        let names = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal"];
        for _round in 0..2 {
            let requests: Vec<_> = names
                .into_iter()
                .map(|name| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        // Any host: the connector ignores it.
                        let uri: Uri = format!("http://in-memory.test/{name}").parse().unwrap();
                        let body = client.get(uri).await?.into_body().collect().await?;
                        assert_eq!(body.to_bytes(), format!("hello, {name}"));
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                    })
                })
                .collect();
            for request in requests {
                request.await.expect("request task").expect("request");
            }
        }

        // Teardown: the client first (its connections close, each server
        // connection ends), then the listener (the accept loop ends).
        drop(client);
        listener.close();
        let (closed, conns) = server.await.expect("accept loop");
        assert_eq!(closed.kind(), io::ErrorKind::NotConnected);
        let accepted = conns.len();
        for conn in conns {
            conn.await
                .expect("connection task")
                .expect("server connection");
        }
        println!(
            "{} requests answered over {accepted} in-memory connections; \
             every server connection ended Ok",
            2 * names.len()
        );
    })
    .await
    .expect("the exchange did not end within 10 s");
}
