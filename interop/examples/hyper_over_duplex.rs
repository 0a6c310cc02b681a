//! Testing a hyper service in memory over `gopipe::duplex()`: no port, no
//! socket. One end of the pair goes to hyper's HTTP/1 server, the other to its
//! client; the client sends requests and checks the answers.
//!
//! Run with `cargo run -p gopipe-interop --example hyper_over_duplex`. In a
//! test, the body of `main` goes into a `#[tokio::test]` function as it is.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The service under test: greets `/hello/NAME`, answers 404 otherwise.
async fn app(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match req.uri().path().strip_prefix("/hello/") {
        Some(name) => Response::new(Full::new(Bytes::from(format!("hello, {name}")))),
        None => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"not found")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    Ok(response)
}

/// Serves [`app`] over one end of a `gopipe::duplex()` and sends it two
/// requests over the other, on one kept-alive connection.
#[tokio::main]
async fn main() {
    // A bound, so that a stuck exchange fails instead of hanging.
    tokio::time::timeout(Duration::from_secs(10), async {
        let (server_end, client_end) = gopipe::duplex();

        // The server: hyper's HTTP/1 connection over one end, as a task.
        let server = tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server_end), service_fn(app)),
        );

        // The client: a handshake over the other end; its connection task
        // moves the bytes while `sender` sends requests.
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(client_end))
                .await
                .expect("handshake");
        let client = tokio::spawn(connection);

        for (path, status, text) in [
            ("/hello/gopher", StatusCode::OK, "hello, gopher"),
            ("/nowhere", StatusCode::NOT_FOUND, "not found"),
        ] {
            let request = Request::get(path)
                .header(hyper::header::HOST, "in-memory.test")
                .body(Full::new(Bytes::new()))
                .expect("request");
            // A kept-alive connection takes the next request once the last
            // exchange is done on it: wait for that, as over a socket.
            sender.ready().await.expect("connection ready");
            let response = sender.send_request(request).await.expect("response");
            assert_eq!(response.status(), status);
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            assert_eq!(body, text.as_bytes());
            println!("GET {path} -> {status}: {text}");
        }

        // Dropping the sender closes the connection; both sides end cleanly.
        drop(sender);
        client
            .await
            .expect("client task")
            .expect("client connection");
        server
            .await
            .expect("server task")
            .expect("server connection");
        println!("both connections ended Ok");
    })
    .await
    .expect("the exchange did not end within 10 s");
}
