//! Testing a small line protocol entirely in memory with `gopipe::duplex`,
//! as Go tests use `net.Pipe`: a server loop and a client on the two ends of
//! one connection, with a read deadline guarding the client against a server
//! that never answers.
//!
//! The protocol: the client sends `SUM a b c ...` or `QUIT`, one command a
//! line; the server answers `OK <sum>` or `ERR <reason>`, and closes on
//! `QUIT`. A second server, deliberately broken, never answers `SLOW`: the
//! client's read deadline turns that into a `TimedOut` error instead of a
//! hang.
//!
//! Run with `cargo run --example conn`.

use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::thread;
use std::time::{Duration, Instant};

use gopipe::Conn;

/// The server: answers each command until `QUIT` or the client's close.
/// `SLOW` is answered never (the bug the client's deadline catches).
fn serve(conn: Conn) -> io::Result<()> {
    let mut lines = BufReader::new(&conn);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(()); // the client closed
        }
        let mut words = line.split_whitespace();
        let reply = match words.next() {
            Some("SUM") => match words.map(str::parse::<i64>).sum::<Result<i64, _>>() {
                Ok(sum) => format!("OK {sum}\n"),
                Err(e) => format!("ERR {e}\n"),
            },
            Some("QUIT") => {
                (&conn).write_all(b"OK bye\n")?;
                conn.close();
                return Ok(());
            }
            Some("SLOW") => continue, // never answered
            _ => "ERR unknown command\n".to_owned(),
        };
        (&conn).write_all(reply.as_bytes())?;
    }
}

/// The client side: sends one command and reads one reply line, giving up
/// at `deadline`.
fn call(
    conn: &Conn,
    lines: &mut BufReader<&Conn>,
    cmd: &str,
    deadline: Instant,
) -> io::Result<String> {
    conn.set_deadline(Some(deadline))?;
    (&*conn).write_all(format!("{cmd}\n").as_bytes())?;
    let mut reply = String::new();
    lines.read_line(&mut reply)?;
    Ok(reply.trim_end().to_owned())
}

fn main() -> io::Result<()> {
    let (client, server) = gopipe::duplex();
    let srv = thread::spawn(move || serve(server));
    let mut lines = BufReader::new(&client);
    let soon = || Instant::now() + Duration::from_secs(1);

    let reply = call(&client, &mut lines, "SUM 1 2 39", soon())?;
    println!("SUM 1 2 39  -> {reply}");
    assert_eq!(reply, "OK 42");
    let reply = call(&client, &mut lines, "SUM 1 x", soon())?;
    println!("SUM 1 x     -> {reply}");
    assert!(reply.starts_with("ERR"));

    // The server never answers SLOW: the deadline ends the wait.
    let started = Instant::now();
    let err = call(
        &client,
        &mut lines,
        "SLOW",
        Instant::now() + Duration::from_millis(100),
    )
    .unwrap_err();
    println!(
        "SLOW        -> {:?} after {} ms (the deadline)",
        err.kind(),
        started.elapsed().as_millis()
    );
    assert_eq!(err.kind(), ErrorKind::TimedOut);

    // A fired deadline is moved to re-arm the connection.
    let reply = call(&client, &mut lines, "QUIT", soon())?;
    println!("QUIT        -> {reply}");
    assert_eq!(reply, "OK bye");
    // The server closed its end: end of file.
    let mut rest = String::new();
    assert_eq!(lines.read_line(&mut rest)?, 0);
    srv.join().expect("server panicked")?;
    println!("server done; the whole exchange ran in memory");
    Ok(())
}
