//! A blocking thread-per-connection server and async clients in one
//! process, over `gopipe::listen`: the server accepts on a thread and echoes
//! each connection on a thread of its own with `std::io`; the clients are
//! tokio tasks that dial, send a line, read the echo, half-close and read
//! end of file. The same listener serves threads and tasks in any mix.
//!
//! Run with `cargo run -p gopipe-interop --example echo_over_listener`.
//! Dependencies: tokio, and gopipe with its `tokio` feature.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many clients connect at once.
const CLIENTS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Connections of 4 KiB per direction (0: unbuffered).
    let listener = Arc::new(gopipe::listen(4 << 10));

    // The server: a plain blocking accept loop, ending when the listener
    // is closed. Each connection is echoed until the client's end of file;
    // dropping it then closes it.
    let server = {
        let listener = Arc::clone(&listener);
        thread::spawn(move || {
            let mut echoes = Vec::new();
            while let Ok(conn) = listener.accept() {
                echoes.push(thread::spawn(move || std::io::copy(&mut &conn, &mut &conn)));
            }
            echoes
        })
    };

    // The clients: tasks, each with its own connection.
    let dialer = listener.dialer();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let dialer = dialer.clone();
            tokio::spawn(async move {
                let mut conn = dialer.dial()?; // never blocks
                let line = format!("client {i}\n");
                conn.write_all(line.as_bytes()).await?;
                let mut echo = vec![0; line.len()];
                conn.read_exact(&mut echo).await?;
                assert_eq!(echo, line.as_bytes());
                // Half-close, as over TCP: the server's copy ends, it drops
                // the connection, and we read end of file.
                AsyncWriteExt::shutdown(&mut conn).await?;
                assert_eq!(conn.read(&mut [0; 1]).await?, 0);
                Ok::<_, std::io::Error>(())
            })
        })
        .collect();
    // A bound, so that a stuck exchange fails instead of hanging.
    tokio::time::timeout(Duration::from_secs(10), async {
        for client in clients {
            client.await.expect("client task").expect("client");
        }
    })
    .await
    .expect("the clients did not finish within 10 s");

    // Closing the listener ends the accept loop; every echo thread has
    // already seen its client's end of file.
    listener.close();
    let echoes = server.join().expect("accept thread");
    let connections = echoes.len();
    for echo in echoes {
        echo.join().expect("echo thread").expect("echo");
    }
    println!("{CLIENTS} task clients echoed by {connections} server threads over gopipe::listen");
}
