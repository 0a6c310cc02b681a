//! Synchronous tungstenite over gopipe's connections (issue 25): after the
//! HTTP upgrade, client and server each send a greeting before reading the
//! other's, as peers of a WebSocket may; then the server echoes a few
//! messages (one larger than the buffer) and the client closes.
//!
//! Over `gopipe::buffered_duplex(64 KiB)` the exchange and the close
//! handshake complete. Over the unbuffered `gopipe::duplex()` both greetings
//! wait for a reader for ever: a write timeout on the client's `Conn` turns
//! that hang into `TimedOut`.
//!
//! Every test body is bounded ([`common::bounded`]), so a hang fails.

mod common;

use std::io::ErrorKind;
use std::thread;
use std::time::Duration;

use common::{bounded, payload, CAPACITY};
use gopipe::Conn;
use tungstenite::{Error, Message, WebSocket};

/// What the client sends first.
const CLIENT_HELLO: &str = "hello from the client";
/// What the server sends first.
const SERVER_HELLO: &str = "hello from the server";

/// The messages the client sends after the greetings, each echoed back: a
/// text and a binary message, one larger than [`CAPACITY`] (its writes
/// wait for room), and an empty one.
fn echoed() -> Vec<Message> {
    vec![
        Message::text("short text"),
        Message::binary(payload(7, 1000)),
        Message::binary(payload(13, 200 << 10)),
        Message::text("é".repeat(20_000)),
        Message::binary(Vec::new()),
    ]
}

/// The server: accepts the upgrade over `sock`, sends its greeting before
/// reading the client's, then echoes every text and binary message until
/// the client's close, and drives the close handshake to its end
/// (`ConnectionClosed`), dropping `sock` when done. Returns the greeting it
/// got and how many messages it echoed.
fn server(sock: Conn) -> Result<(Message, usize), Error> {
    let mut ws = tungstenite::accept(sock).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => unreachable!("a blocking Conn"),
    })?;
    ws.send(Message::text(SERVER_HELLO))?;
    let hello = ws.read()?;
    let mut echoed = 0;
    loop {
        match ws.read() {
            Ok(msg @ (Message::Text(_) | Message::Binary(_))) => {
                ws.send(msg)?;
                echoed += 1;
            }
            // The client's close: the reply is queued; the next read sends it
            // and returns ConnectionClosed.
            Ok(Message::Close(_)) => {}
            Ok(other) => panic!("server: unexpected {other:?}"),
            Err(Error::ConnectionClosed) => return Ok((hello, echoed)),
            Err(e) => return Err(e),
        }
    }
}

/// The client: upgrades over `sock`, sends its greeting before reading the
/// server's, sends each of [`echoed`] and checks its echo, then closes and
/// reads until the server has closed the connection (`ConnectionClosed`).
/// Returns the greeting it got.
fn client(sock: Conn) -> Result<Message, Error> {
    let (mut ws, response) =
        tungstenite::client("ws://in-memory.test/chat", sock).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => unreachable!("a blocking Conn"),
        })?;
    assert_eq!(response.status(), 101, "client: the upgrade's status");
    ws.send(Message::text(CLIENT_HELLO))?;
    let hello = ws.read()?;
    for (i, msg) in echoed().into_iter().enumerate() {
        ws.send(msg.clone())?;
        let echo = ws.read()?;
        assert!(echo == msg, "client: echo {i} differs from what was sent");
    }
    ws.close(None)?;
    close_to_end(&mut ws)?;
    Ok(hello)
}

/// Reads until `ConnectionClosed`, accepting only the close reply.
fn close_to_end(ws: &mut WebSocket<Conn>) -> Result<(), Error> {
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => {}
            Ok(other) => panic!("client: unexpected {other:?} after the close"),
            Err(Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// How the client and the server threads ended.
type Ends = (
    thread::Result<Result<Message, Error>>,
    thread::Result<Result<(Message, usize), Error>>,
);

/// Runs the server and the client each on a thread of its own over the
/// pair, and returns how each ended.
fn run((server_sock, client_sock): (Conn, Conn)) -> Ends {
    let server = thread::Builder::new()
        .name("ws server".into())
        .spawn(move || server(server_sock))
        .expect("spawn the server");
    let client = thread::Builder::new()
        .name("ws client".into())
        .spawn(move || client(client_sock))
        .expect("spawn the client");
    (client.join(), server.join())
}

/// Over `buffered_duplex(64 KiB)`: both greetings arrive, every message comes
/// back whole, and the close handshake ends both sides cleanly.
#[test]
fn tungstenite_both_send_first_over_buffered_duplex() {
    bounded("tungstenite_over_buffered_duplex", || {
        let (client, server) = run(gopipe::buffered_duplex(CAPACITY));
        let got = client
            .expect("the client thread panicked")
            .expect("the client's exchange");
        assert_eq!(got, Message::text(SERVER_HELLO), "the server's greeting");
        let (got, echoed_count) = server
            .expect("the server thread panicked")
            .expect("the server's exchange");
        assert_eq!(got, Message::text(CLIENT_HELLO), "the client's greeting");
        assert_eq!(echoed_count, echoed().len(), "messages echoed");
    });
}

/// Over the unbuffered `duplex()` the upgrade completes (one side writes
/// while the other reads), then both greetings block: neither side reads. A
/// 1 s write timeout on the client's `Conn`, set once the upgrade is done,
/// turns the hang into `TimedOut`; the client thread then drops its
/// connection, which fails the server's blocked write with the closed-pipe
/// error.
#[test]
fn tungstenite_both_send_first_over_unbuffered_duplex_deadlocks() {
    bounded("tungstenite_over_unbuffered_duplex", || {
        let (server_sock, client_sock) = gopipe::duplex();
        let server = thread::Builder::new()
            .name("ws server".into())
            .spawn(move || server(server_sock))
            .expect("spawn the server");
        let (mut ws, _) = tungstenite::client("ws://in-memory.test/chat", client_sock)
            .expect("the upgrade completes over duplex()");
        ws.get_ref()
            .set_write_timeout(Some(Duration::from_secs(1)))
            .expect("set the client's write timeout");
        match ws.send(Message::text(CLIENT_HELLO)) {
            Err(Error::Io(e)) => assert_eq!(e.kind(), ErrorKind::TimedOut, "client: {e:?}"),
            other => panic!("client: the greeting should time out, got {other:?}"),
        }
        drop(ws);
        match server.join().expect("the server thread panicked") {
            Err(Error::Io(e)) => assert!(
                gopipe::is_closed_pipe(&e),
                "server: its greeting's write failed by the client's close, got {e:?}"
            ),
            other => panic!("server: its greeting should fail, got {other:?}"),
        }
    });
}
