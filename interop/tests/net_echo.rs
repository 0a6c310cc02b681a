//! Threads and tasks in any mix over `gopipe::listen` (issue 26).
//!
//! - A blocking thread-per-connection echo server (`Listener::accept` on a
//!   thread, one thread per connection echoing with `std::io::copy`) and
//!   1,000 clients as tokio tasks on a 2-worker runtime: each dials, writes a
//!   message naming it, reads the echo and checks it is its own (no crossed
//!   connections), waits at a barrier until all 1,000 have their echo (so
//!   1,000 connections and 1,000 server threads are alive at once, which the
//!   server counts), then shuts down its write half and reads end of file.
//!   For unbuffered (`listen(0)`) and buffered (`listen(4 KiB)`) connections.
//! - The reverse: a task accept loop (`accept_async`, one echo task per
//!   connection) and blocking client threads.
//!
//! Then the listener closes and its accept loop must end with the close
//! error. Every test body is bounded ([`common::bounded`]), so a hang fails.

mod common;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;

/// Connections, each a client task and a server thread, alive at once.
const CONNECTIONS: usize = 1000;
/// The stack of each server connection thread: `std::io::copy`'s 8 KiB
/// buffer and a blocking read are all it holds.
const CONN_STACK: usize = 128 << 10;

/// The message client `i` sends: its index, so that an echo from another
/// connection is caught.
fn message(i: usize) -> Vec<u8> {
    format!("hello from client {i:04}, over gopipe::listen\n").into_bytes()
}

/// What the thread-per-connection server saw.
struct ServerCount {
    /// Connection threads running now.
    live: AtomicUsize,
    /// The most connection threads that ran at once.
    peak: AtomicUsize,
}

/// The blocking server: accepts on this thread until the listener closes,
/// each connection echoed on a thread of its own until the client's end of
/// file. Returns the error that ended the accept loop and the connection
/// threads (each returning the bytes it echoed).
fn thread_per_connection_server(
    listener: &gopipe::Listener,
    count: &Arc<ServerCount>,
) -> (io::Error, Vec<thread::JoinHandle<io::Result<u64>>>) {
    let mut conns = Vec::new();
    loop {
        let conn = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => return (e, conns),
        };
        let count = Arc::clone(count);
        let echo = thread::Builder::new()
            .stack_size(CONN_STACK)
            .spawn(move || {
                // ORDERING: counters read once the threads are joined (or
                // after the barrier's wait, which the echo reads order after
                // each increment); Relaxed suffices for counting.
                let now = count.live.fetch_add(1, Ordering::Relaxed) + 1;
                count.peak.fetch_max(now, Ordering::Relaxed);
                // Echo until the client's end of file; dropping `conn` then
                // closes it, so the client reads end of file too.
                let echoed = io::copy(&mut &conn, &mut &conn);
                // ORDERING: as above.
                count.live.fetch_sub(1, Ordering::Relaxed);
                echoed
            })
            .expect("spawn a connection thread");
        conns.push(echo);
    }
}

/// One client task: dials, sends its message, checks the echo, waits for
/// every other client to have its echo, then half-closes and reads end of
/// file.
async fn client_task(dialer: gopipe::Dialer, barrier: Arc<Barrier>, i: usize) -> io::Result<()> {
    let mut conn = dialer.dial()?;
    let sent = message(i);
    conn.write_all(&sent).await?;
    let mut echo = vec![0; sent.len()];
    conn.read_exact(&mut echo).await?;
    assert_eq!(
        String::from_utf8_lossy(&echo),
        String::from_utf8_lossy(&sent),
        "client {i}: an echo from another connection"
    );
    // All connections and server threads alive here at once.
    barrier.wait().await;
    // Conn's own `shutdown(Shutdown::Write)` would do the same.
    AsyncWriteExt::shutdown(&mut conn).await?;
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).await?;
    assert!(
        rest.is_empty(),
        "client {i}: {} bytes after the echo",
        rest.len()
    );
    Ok(())
}

/// The thread-per-connection server and [`CONNECTIONS`] task clients over
/// `gopipe::listen(capacity)`.
fn threads_serve_tasks(capacity: usize) {
    let listener = Arc::new(gopipe::listen(capacity));
    let dialer = listener.dialer();
    let count = Arc::new(ServerCount {
        live: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let server = {
        let (listener, count) = (Arc::clone(&listener), Arc::clone(&count));
        thread::spawn(move || thread_per_connection_server(&listener, &count))
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a 2-worker runtime");
    runtime.block_on(async {
        let barrier = Arc::new(Barrier::new(CONNECTIONS));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| tokio::spawn(client_task(dialer.clone(), Arc::clone(&barrier), i)))
            .collect();
        for (i, client) in clients.into_iter().enumerate() {
            client
                .await
                .unwrap_or_else(|e| panic!("client {i}: {e}"))
                .unwrap_or_else(|e| panic!("client {i}: {e}"));
        }
    });

    listener.close();
    let (err, conns) = server.join().expect("the accept thread");
    assert_eq!(
        err.kind(),
        io::ErrorKind::NotConnected,
        "the accept loop ended with {err}, not the listener's close"
    );
    assert_eq!(conns.len(), CONNECTIONS, "connections accepted");
    for (i, conn) in conns.into_iter().enumerate() {
        let echoed = conn
            .join()
            .expect("a connection thread")
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        // Messages all have the same length; which client it was is not
        // known on this side, the client checked its own echo.
        assert_eq!(
            echoed,
            message(0).len() as u64,
            "connection {i}: bytes echoed"
        );
    }
    // ORDERING: every connection thread joined.
    let peak = count.peak.load(Ordering::Relaxed);
    assert_eq!(peak, CONNECTIONS, "server connection threads alive at once");
    println!(
        "listen({capacity}): {CONNECTIONS} task clients echoed by {CONNECTIONS} server \
         threads, {peak} alive at once"
    );
}

/// Unbuffered connections (`listen(0)`).
#[test]
fn thread_per_connection_server_with_1000_task_clients_unbuffered() {
    common::bounded("threads serve tasks, listen(0)", || threads_serve_tasks(0));
}

/// Buffered connections (`listen(4 KiB)`).
#[test]
fn thread_per_connection_server_with_1000_task_clients_buffered() {
    common::bounded("threads serve tasks, listen(4096)", || {
        threads_serve_tasks(4096)
    });
}

/// Client threads in the reverse mix.
const CLIENT_THREADS: usize = 8;
/// Connections each client thread makes, one after another.
const CONNS_PER_THREAD: usize = 16;

/// The reverse mix: a task accept loop (`accept_async`, an echo task per
/// connection) and [`CLIENT_THREADS`] blocking client threads, each making
/// [`CONNS_PER_THREAD`] connections: write, read the echo, half-close, read
/// end of file.
#[test]
fn task_server_with_thread_clients() {
    common::bounded("tasks serve threads", || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a 2-worker runtime");
        let listener = Arc::new(gopipe::listen(0));
        let server = {
            let listener = Arc::clone(&listener);
            runtime.spawn(async move {
                let mut conns = Vec::new();
                loop {
                    match listener.accept_async().await {
                        Ok(conn) => conns.push(tokio::spawn(async move {
                            let (mut rx, mut tx) = conn.into_split();
                            let echoed = tokio::io::copy(&mut rx, &mut tx).await?;
                            tx.shutdown().await?;
                            Ok::<_, io::Error>(echoed)
                        })),
                        Err(e) => break (e, conns),
                    }
                }
            })
        };

        let clients: Vec<_> = (0..CLIENT_THREADS)
            .map(|t| {
                let dialer = listener.dialer();
                thread::spawn(move || blocking::client_thread(&dialer, t))
            })
            .collect();
        for (t, client) in clients.into_iter().enumerate() {
            client
                .join()
                .expect("a client thread")
                .unwrap_or_else(|e| panic!("client thread {t}: {e}"));
        }

        listener.close();
        runtime.block_on(async {
            let (err, conns) = server.await.expect("the accept loop task");
            assert_eq!(
                err.kind(),
                io::ErrorKind::NotConnected,
                "the accept loop ended with {err}, not the listener's close"
            );
            assert_eq!(conns.len(), CLIENT_THREADS * CONNS_PER_THREAD);
            for (i, conn) in conns.into_iter().enumerate() {
                let echoed = conn
                    .await
                    .expect("an echo task")
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"));
                assert_eq!(
                    echoed,
                    message(0).len() as u64,
                    "connection {i}: bytes echoed"
                );
            }
        });
        println!(
            "listen(0): {} connections from {CLIENT_THREADS} client threads echoed by tasks",
            CLIENT_THREADS * CONNS_PER_THREAD
        );
    });
}

/// The blocking clients, apart from the tasks' async I/O traits.
mod blocking {
    use std::io::{self, Read, Write};
    use std::net::Shutdown;

    use super::{message, CONNS_PER_THREAD};

    /// Client thread `t`: [`CONNS_PER_THREAD`] connections one after
    /// another, each writing its message, reading and checking the echo,
    /// half-closing and reading end of file.
    pub fn client_thread(dialer: &gopipe::Dialer, t: usize) -> io::Result<()> {
        for c in 0..CONNS_PER_THREAD {
            let i = t * CONNS_PER_THREAD + c;
            let mut conn = dialer.dial()?;
            conn.write_all(&message(i))?;
            let mut echo = vec![0; message(i).len()];
            conn.read_exact(&mut echo)?;
            assert_eq!(echo, message(i), "client {i}: another connection's echo");
            conn.shutdown(Shutdown::Write)?;
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest)?;
            assert!(rest.is_empty(), "client {i}: bytes after the echo");
        }
        Ok(())
    }
}
