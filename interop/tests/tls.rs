//! rustls over gopipe's connections (issue 25): TLS 1.3 in which the client
//! writes its request right after the handshake while the server sends its
//! session tickets, so both ends write before either reads.
//!
//! - Synchronous rustls, client and server each on a blocking thread, over
//!   `gopipe::buffered_duplex(64 KiB)`: the exchange (1 MiB each way, every
//!   byte checked, close_notify both ways) completes, the client gets both
//!   tickets, and a second connection resumes with one of them.
//! - The same over the unbuffered `gopipe::duplex()` deadlocks: both ends sit
//!   in a write. A write timeout on the client's `Conn` turns the hang into a
//!   `TimedOut`, and the test checks where each end was stuck.
//! - tokio-rustls over `buffered_duplex`, and over a pair of
//!   `buffered_pipe`s joined into one stream, on a tokio runtime.
//!
//! Every wait that could hang is bounded ([`common::bounded`], or a tokio
//! timeout), so a hang fails instead.

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{bounded, request, response, tls_configs, BOUND, CAPACITY, PAYLOAD_LEN, SERVER_NAME};
use gopipe::Conn;
use rustls::pki_types::ServerName;
use rustls::{
    ClientConfig, ClientConnection, HandshakeKind, ProtocolVersion, ServerConfig, ServerConnection,
    Stream,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The client's side of one connection: sends the whole request first (the
/// handshake runs inside the first write), reads and checks the response,
/// sends close_notify, then reads the server's close_notify as a clean end
/// of file: rustls's reader returns `Ok(0)` only after a close_notify (an
/// end of file without one is an `UnexpectedEof` error).
fn client_exchange(tls: &mut ClientConnection, sock: &mut Conn) -> io::Result<()> {
    let mut stream = Stream::new(tls, sock);
    stream.write_all(&request())?;
    stream.flush()?;
    let mut got = vec![0; PAYLOAD_LEN];
    stream.read_exact(&mut got)?;
    assert!(got == response(), "client: the response's bytes differ");
    stream.conn.send_close_notify();
    stream.flush()?;
    let mut rest = [0u8; 16];
    assert_eq!(
        stream.read(&mut rest)?,
        0,
        "client: bytes after the response"
    );
    Ok(())
}

/// The server's side of one connection: reads and checks the request (the
/// handshake runs inside the first read, and the session tickets go out
/// right after it), sends the response, reads the client's close_notify as
/// a clean end of file, and answers with its own.
fn server_exchange(tls: &mut ServerConnection, sock: &mut Conn) -> io::Result<()> {
    let mut stream = Stream::new(tls, sock);
    let mut got = vec![0; PAYLOAD_LEN];
    stream.read_exact(&mut got)?;
    assert!(got == request(), "server: the request's bytes differ");
    stream.write_all(&response())?;
    stream.flush()?;
    let mut rest = [0u8; 16];
    assert_eq!(
        stream.read(&mut rest)?,
        0,
        "server: bytes after the request"
    );
    stream.conn.send_close_notify();
    stream.flush()?;
    Ok(())
}

/// One connection's end after its exchange: the rustls state (to inspect)
/// and how the exchange ended.
struct End<C> {
    tls: C,
    result: io::Result<()>,
}

/// Runs one connection: the server on a thread over `server_sock`, the
/// client on another over `client_sock`. Each thread drops its `Conn` when
/// its exchange ends, as a process would close its socket. Waits for both.
fn connect(
    server_config: &Arc<ServerConfig>,
    client_config: &Arc<ClientConfig>,
    (mut server_sock, mut client_sock): (Conn, Conn),
) -> (End<ClientConnection>, End<ServerConnection>) {
    let mut server_tls =
        ServerConnection::new(Arc::clone(server_config)).expect("a server connection");
    let name = ServerName::try_from(SERVER_NAME).expect("a server name");
    let mut client_tls =
        ClientConnection::new(Arc::clone(client_config), name).expect("a client connection");
    let server = thread::Builder::new()
        .name("tls server".into())
        .spawn(move || {
            let result = server_exchange(&mut server_tls, &mut server_sock);
            drop(server_sock);
            End {
                tls: server_tls,
                result,
            }
        })
        .expect("spawn the server");
    let client = thread::Builder::new()
        .name("tls client".into())
        .spawn(move || {
            let result = client_exchange(&mut client_tls, &mut client_sock);
            drop(client_sock);
            End {
                tls: client_tls,
                result,
            }
        })
        .expect("spawn the client");
    let client = client.join().expect("the client thread panicked");
    let server = server.join().expect("the server thread panicked");
    (client, server)
}

/// Fails unless both ends' exchanges ended `Ok`, naming both results (the
/// first error is often the cause of the other end's).
#[track_caller]
fn both_ok(label: &str, client: &End<ClientConnection>, server: &End<ServerConnection>) {
    assert!(
        client.result.is_ok() && server.result.is_ok(),
        "{label}: client {:?}, server {:?}",
        client.result,
        server.result
    );
}

/// Over `buffered_duplex(64 KiB)`: a full TLS 1.3 handshake, the server's two
/// session tickets sent while the client writes its 1 MiB request, the 1 MiB
/// response, close_notify both ways; then a second connection with the same
/// client configuration resumes with a ticket from the first.
#[test]
fn sync_rustls_over_buffered_duplex() {
    bounded("sync_rustls_over_buffered_duplex", || {
        let (server_config, client_config) = tls_configs();

        let (client, server) = connect(
            &server_config,
            &client_config,
            gopipe::buffered_duplex(CAPACITY),
        );
        both_ok("first connection", &client, &server);
        assert_eq!(
            client.tls.protocol_version(),
            Some(ProtocolVersion::TLSv1_3)
        );
        assert_eq!(client.tls.handshake_kind(), Some(HandshakeKind::Full));
        assert_eq!(
            client.tls.tls13_tickets_received(),
            2,
            "the server's session tickets"
        );

        let (client, server) = connect(
            &server_config,
            &client_config,
            gopipe::buffered_duplex(CAPACITY),
        );
        both_ok("second connection", &client, &server);
        assert_eq!(
            client.tls.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "the second connection resumes with a session ticket"
        );
    });
}

/// The same exchange over the unbuffered `duplex()` deadlocks: after the
/// handshake the server blocks writing its session tickets (no one reads
/// them) while the client blocks writing its request (no one reads that
/// either). Both ends are in a write, so a read timeout would never fire: a
/// 1 s write timeout on the client's `Conn` turns its hang into `TimedOut`;
/// the client thread then drops its `Conn`, which fails the server's blocked
/// write with the closed-pipe error. The states show where each end was:
/// handshakes done, no ticket received, the server's tickets still queued.
#[test]
fn sync_rustls_over_unbuffered_duplex_deadlocks() {
    bounded("sync_rustls_over_unbuffered_duplex_deadlocks", || {
        let (server_config, client_config) = tls_configs();
        let (server_sock, client_sock) = gopipe::duplex();
        client_sock
            .set_write_timeout(Some(Duration::from_secs(1)))
            .expect("set the client's write timeout");

        let (client, server) = connect(&server_config, &client_config, (server_sock, client_sock));

        let err = client.result.expect_err("the client's exchange completed");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "client: {err:?}");
        assert!(
            !client.tls.is_handshaking(),
            "the client's handshake completed before its request blocked"
        );
        assert_eq!(
            client.tls.tls13_tickets_received(),
            0,
            "no ticket reached the client"
        );

        let err = server.result.expect_err("the server's exchange completed");
        assert!(
            gopipe::is_closed_pipe(&err),
            "server: a write failed by the client's close, got {err:?}"
        );
        assert!(
            !server.tls.is_handshaking(),
            "the server's handshake completed"
        );
        assert!(
            server.tls.wants_write(),
            "the server's session tickets are still queued"
        );
    });
}

/// The client's side over tokio-rustls: the request first, then the
/// response, then close_notify (the shutdown) and the server's close_notify
/// as a clean end of file. Returns how many session tickets it received.
async fn async_client<T>(config: Arc<ClientConfig>, io: T) -> io::Result<u32>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(SERVER_NAME).expect("a server name");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, io)
        .await?;
    tls.write_all(&request()).await?;
    tls.flush().await?;
    let mut got = vec![0; PAYLOAD_LEN];
    tls.read_exact(&mut got).await?;
    assert!(
        got == response(),
        "async client: the response's bytes differ"
    );
    tls.shutdown().await?;
    let mut rest = [0u8; 16];
    assert_eq!(
        tls.read(&mut rest).await?,
        0,
        "async client: bytes after the response"
    );
    let conn = tls.get_ref().1;
    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    Ok(conn.tls13_tickets_received())
}

/// The server's side over tokio-rustls: reads and checks the request, sends
/// the response, reads the client's close_notify as a clean end of file and
/// answers with its own (the shutdown).
async fn async_server<T>(config: Arc<ServerConfig>, io: T) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut tls = tokio_rustls::TlsAcceptor::from(config).accept(io).await?;
    let mut got = vec![0; PAYLOAD_LEN];
    tls.read_exact(&mut got).await?;
    assert!(got == request(), "async server: the request's bytes differ");
    tls.write_all(&response()).await?;
    tls.flush().await?;
    let mut rest = [0u8; 16];
    assert_eq!(
        tls.read(&mut rest).await?,
        0,
        "async server: bytes after the request"
    );
    tls.shutdown().await?;
    Ok(())
}

/// Runs one tokio-rustls connection over `server_io` and `client_io`, each
/// end a task of its own, under [`BOUND`]; checks both ended well and the
/// client got the server's two session tickets.
async fn async_round<S, C>(label: &str, server_io: S, client_io: C)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (server_config, client_config) = tls_configs();
    let server = tokio::spawn(async_server(server_config, server_io));
    let client = tokio::spawn(async_client(client_config, client_io));
    let (client, server) = tokio::time::timeout(BOUND, async { (client.await, server.await) })
        .await
        .unwrap_or_else(|_| panic!("{label}: the exchange did not end within {BOUND:?}"));
    let (client, server) = (
        client.expect("the client task"),
        server.expect("the server task"),
    );
    match (client, server) {
        (Ok(tickets), Ok(())) => {
            assert_eq!(tickets, 2, "{label}: the server's session tickets")
        }
        (client, server) => panic!("{label}: client {client:?}, server {server:?}"),
    }
}

/// tokio-rustls over `buffered_duplex(64 KiB)`: 1 MiB each way, tickets,
/// close_notify both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_rustls_over_buffered_duplex() {
    let (server_io, client_io) = gopipe::buffered_duplex(CAPACITY);
    async_round("buffered_duplex", server_io, client_io).await;
}

/// tokio-rustls over two `buffered_pipe`s, one per direction, each end's
/// reader and writer joined into one stream with `tokio::io::join`: the
/// halves' async traits on their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_rustls_over_buffered_pipes() {
    // (reader, writer): the client writes what the server reads, and back.
    let (server_rx, client_tx) = gopipe::buffered_pipe(CAPACITY);
    let (client_rx, server_tx) = gopipe::buffered_pipe(CAPACITY);
    async_round(
        "two buffered_pipes",
        tokio::io::join(server_rx, server_tx),
        tokio::io::join(client_rx, client_tx),
    )
    .await;
}
