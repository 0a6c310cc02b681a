//! TLS between two threads in one process, with no socket: synchronous
//! rustls over `gopipe::buffered_duplex`.
//!
//! In TLS 1.3 both ends write before they read: right after the handshake
//! the server sends its session tickets while the client sends its request.
//! Over the unbuffered `gopipe::duplex()` those two writes wait for each
//! other for ever (each needs the other end to read); over
//! `buffered_duplex(capacity)` a write returns once its bytes are in the
//! connection's buffer, as over a socket, and the exchange runs.
//!
//! Run with `cargo run -p gopipe-interop --example tls_over_buffered_duplex`.

use std::error::Error;
use std::io::{self, BufRead, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};

type BoxError = Box<dyn Error + Send + Sync>;

/// The server: TLS over its end of the connection; answers each line with
/// the line in capitals until the client's close_notify, then sends its own.
fn serve(config: Arc<ServerConfig>, end: gopipe::Conn) -> io::Result<()> {
    let tls = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(tls, end);
    let mut line = String::new();
    // The handshake runs inside the first read; the session tickets go out
    // right after it, while the client is already writing its first line.
    while stream.read_line(&mut line)? > 0 {
        stream.write_all(line.to_uppercase().as_bytes())?;
        stream.flush()?;
        line.clear();
    }
    // Ok(0): the client's close_notify (rustls reports an end of file
    // without one as an error).
    stream.conn.send_close_notify();
    stream.flush()
}

/// The client: writes first (the handshake runs inside that write), reads
/// the answers, then closes with close_notify.
fn talk(config: Arc<ClientConfig>, end: gopipe::Conn) -> Result<(), BoxError> {
    let tls = ClientConnection::new(config, ServerName::try_from("localhost")?)?;
    let mut stream = StreamOwned::new(tls, end);
    for request in [
        "hello, server\n",
        "this is TLS 1.3 over a buffered duplex\n",
    ] {
        stream.write_all(request.as_bytes())?;
        stream.flush()?;
        let mut answer = String::new();
        stream.read_line(&mut answer)?;
        assert_eq!(answer, request.to_uppercase());
        print!("sent {request:?}, got {answer}");
    }
    println!(
        "{:?}, {} session tickets received",
        stream.conn.protocol_version().expect("after the handshake"),
        stream.conn.tls13_tickets_received()
    );
    stream.conn.send_close_notify();
    stream.flush()?;
    // The server's close_notify ends the connection cleanly.
    let mut rest = String::new();
    assert_eq!(stream.read_line(&mut rest)?, 0);
    Ok(())
}

fn exchange() -> Result<(), BoxError> {
    // A self-signed certificate for "localhost", made now, which the client
    // trusts.
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let server_config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key))?;
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let client_config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();

    // Each direction buffers up to 64 KiB, like a socket's send buffer.
    let (server_end, client_end) = gopipe::buffered_duplex(64 << 10);

    let server = thread::spawn(move || serve(Arc::new(server_config), server_end));
    talk(Arc::new(client_config), client_end)?;
    server.join().expect("the server thread panicked")?;
    println!("both ends closed with close_notify");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    // A bound, so that a stuck exchange fails instead of hanging: the
    // exchange runs on a thread of its own, and main waits 10 s at most.
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || done_tx.send(exchange()));
    match done_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err("the exchange did not end within 10 s".into()),
        Err(RecvTimeoutError::Disconnected) => Err("the exchange panicked".into()),
    }
}
