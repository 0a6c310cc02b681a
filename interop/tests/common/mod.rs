//! Helpers shared by the protocol-stack tests over gopipe's buffered
//! connections: a watchdog for anything that could hang, the payloads both
//! ends check byte for byte, and a TLS 1.3 client and server configuration
//! with a certificate made at test time.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::panic;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// How long a test body may run before it counts as hung. Generous, because
/// the machine running the suite may be busy; a correct body takes well under
/// a second.
pub const BOUND: Duration = Duration::from_secs(60);

/// The buffer of each direction of the buffered connections: a socket's send
/// buffer, and much less than the payloads, so that writes also block for room.
pub const CAPACITY: usize = 64 << 10;

/// The size of the request and of the response: 1 MiB each way.
pub const PAYLOAD_LEN: usize = 1 << 20;

/// The name the certificate is for and the client connects to.
pub const SERVER_NAME: &str = "localhost";

/// Runs `f` on a thread of its own and returns its result, re-raising its
/// panic if it panicked, or panics if it has not finished within [`BOUND`]
/// (a hang: the thread is left behind and the test fails instead of blocking
/// CI).
pub fn bounded<T, F>(name: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let out = f();
            // The receiver is gone if the bound already passed.
            let _ = done_tx.send(());
            out
        })
        .expect("spawn the test thread");
    match done_rx.recv_timeout(BOUND) {
        // Finished, or panicked (the sender dropped while unwinding): the join
        // returns at once either way.
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(payload) => panic::resume_unwind(payload),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{name}: still running after {BOUND:?}; the exchange hangs")
        }
    }
}

/// `len` bytes of a pattern that depends on `seed`, wrapping at 251 (a prime,
/// so that record and buffer boundaries do not line up with it): the request
/// and the response differ, so a side that got its own bytes back fails.
pub fn payload(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect()
}

/// The request the client sends.
pub fn request() -> Vec<u8> {
    payload(0, PAYLOAD_LEN)
}

/// The response the server sends.
pub fn response() -> Vec<u8> {
    payload(101, PAYLOAD_LEN)
}

/// A TLS 1.3-only server and client configuration on ring, with a
/// self-signed certificate for [`SERVER_NAME`] made now, which the client
/// trusts. The server sends two stateless session tickets (ring's
/// ticketer) right after each full handshake; the client keeps them in its
/// default in-memory store, so a second connection with the same client
/// configuration resumes.
pub fn tls_configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    // ring, named here rather than picked from crate features, so that the
    // tests keep it if a dependency ever turns on aws-lc-rs too. rustls
    // deprecates it for lacking post-quantum key exchange, which an
    // in-memory test does not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])
        .expect("generate a self-signed certificate");
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));

    let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 on ring")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("the server's certificate and key");
    server.ticketer = rustls::crypto::ring::Ticketer::new().expect("ring's ticketer");
    server.send_tls13_tickets = 2;

    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("trust the certificate");
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 on ring")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}
