//! tokio's vectored writes on gopipe: one `write_vectored` of a header and a
//! body (two slices) is one write of all their bytes, `is_write_vectored()`
//! says so on every writer type, and two writer clones in two tasks, each
//! sending header + body with one `write_vectored`, never interleave (a read
//! returns bytes of one write only, as Go's io.Pipe promises).
//!
//! Every wait is bounded by a timeout, so a hang fails instead.

use std::io::IoSlice;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The bound on every test's waits (each takes milliseconds).
const BOUND: Duration = Duration::from_secs(60);
/// The length of a header and of a body.
const PART: usize = 14;
/// The length of a message: a header immediately followed by its body.
const MESSAGE: usize = 2 * PART;
/// How many messages each of the two writers sends.
const MESSAGES: usize = 500;

/// The header of message `i` from writer `who` ("hdr A 00000001": 14 bytes).
fn header(who: char, i: usize) -> Vec<u8> {
    let h = format!("hdr {who} {i:08}").into_bytes();
    assert_eq!(h.len(), PART);
    h
}

/// The body of message `i` from writer `who` ("bdy A 00000001": 14 bytes).
fn body(who: char, i: usize) -> Vec<u8> {
    let b = format!("bdy {who} {i:08}").into_bytes();
    assert_eq!(b.len(), PART);
    b
}

/// One `write_vectored(&[header, body])` from a task on a `gopipe::pipe()`
/// writer accepts all 28 bytes, and the reader gets header then body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_write_vectored_header_and_body() {
    let (mut r, mut w) = gopipe::pipe();
    let (h, b) = (header('A', 0), body('A', 0));
    let (h2, b2) = (h.clone(), b.clone());
    let writer = tokio::spawn(async move {
        // The writer drops at the end of the task, so the reader gets EOF.
        w.write_vectored(&[IoSlice::new(&h2), IoSlice::new(&b2)])
            .await
    });
    let mut got = Vec::new();
    tokio::time::timeout(BOUND, r.read_to_end(&mut got))
        .await
        .expect("the read did not end within the bound")
        .expect("read");
    let n = tokio::time::timeout(BOUND, writer)
        .await
        .expect("the writer did not end within the bound")
        .expect("writer task")
        .expect("write_vectored");
    assert_eq!(
        n, MESSAGE,
        "one write_vectored of header ({PART} B) + body ({PART} B) accepted {n} bytes"
    );
    assert_eq!(got, [h, b].concat(), "the reader got other bytes");
}

/// `is_write_vectored()` is true for `PipeWriter`, `&PipeWriter`, `Conn` and
/// `&Conn`.
#[test]
fn tokio_is_write_vectored_on_every_writer() {
    let (_r, w) = gopipe::pipe();
    let (conn, _peer) = gopipe::duplex();
    let seen = [
        ("PipeWriter", AsyncWrite::is_write_vectored(&w)),
        ("&PipeWriter", AsyncWrite::is_write_vectored(&&w)),
        ("Conn", AsyncWrite::is_write_vectored(&conn)),
        ("&Conn", AsyncWrite::is_write_vectored(&&conn)),
    ];
    let not: Vec<&str> = seen.iter().filter(|s| !s.1).map(|s| s.0).collect();
    assert!(not.is_empty(), "is_write_vectored() is false for {not:?}");
}

/// Sends [`MESSAGES`] messages from writer `who`, each with one
/// `write_vectored(&[header, body])`. Stops at the first short or failed
/// write and returns it as an error (dropping the writer, so the reader ends).
async fn send_messages(who: char, mut w: gopipe::PipeWriter) -> Result<(), String> {
    for i in 0..MESSAGES {
        let (h, b) = (header(who, i), body(who, i));
        match w
            .write_vectored(&[IoSlice::new(&h), IoSlice::new(&b)])
            .await
        {
            Ok(MESSAGE) => {}
            Ok(n) => {
                return Err(format!(
                    "writer {who} message {i}: write_vectored accepted {n} of {MESSAGE} bytes"
                ))
            }
            Err(e) => return Err(format!("writer {who} message {i}: {e}")),
        }
    }
    Ok(())
}

/// Two clones of one writer in two tasks each send header + body with one
/// `write_vectored`; the reader, reading each message whole in a loop of
/// reads, sees every read stay inside one message and every message be one
/// writer's header immediately followed by its own body, in order per writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_write_vectored_clones_never_interleave() {
    let (mut r, w) = gopipe::pipe();
    let a = tokio::spawn(send_messages('A', w.clone()));
    let b = tokio::spawn(send_messages('B', w));

    let read_all = async move {
        let mut problems: Vec<String> = Vec::new();
        let mut next = [0usize; 2];
        let mut message = Vec::with_capacity(MESSAGE);
        let mut buf = [0u8; 256];
        loop {
            let n = r.read(&mut buf).await.expect("read");
            if n == 0 {
                if !message.is_empty() {
                    problems.push(format!(
                        "EOF inside a message: {:?}",
                        String::from_utf8_lossy(&message)
                    ));
                }
                break;
            }
            if message.len() + n > MESSAGE {
                problems.push(format!(
                    "a read of {n} bytes crossed a message boundary after {:?}: {:?}",
                    String::from_utf8_lossy(&message),
                    String::from_utf8_lossy(&buf[..n])
                ));
                break;
            }
            message.extend_from_slice(&buf[..n]);
            if message.len() < MESSAGE {
                continue;
            }
            let who = match message.get(4) {
                Some(b'A') => 'A',
                Some(b'B') => 'B',
                _ => '?',
            };
            let slot = usize::from(who == 'B');
            let want = [header(who, next[slot]), body(who, next[slot])].concat();
            if who == '?' || message != want {
                problems.push(format!(
                    "message {:?} is not writer {who}'s header {} followed by its body",
                    String::from_utf8_lossy(&message),
                    next[slot]
                ));
                break;
            }
            next[slot] += 1;
            message.clear();
        }
        (problems, next)
    };
    let (problems, next) = tokio::time::timeout(BOUND, read_all)
        .await
        .expect("the reader did not end within the bound");
    let mut writer_errors = Vec::new();
    for (who, task) in [('A', a), ('B', b)] {
        // After a problem the reader stopped and dropped its half, so a writer
        // still sending ends with the close error.
        let res = tokio::time::timeout(BOUND, task)
            .await
            .unwrap_or_else(|_| panic!("writer {who} did not end within the bound"))
            .expect("writer task");
        if let Err(e) = res {
            writer_errors.push(e);
        }
    }
    assert!(
        problems.is_empty() && writer_errors.is_empty() && next == [MESSAGES; 2],
        "messages read whole: A {} B {} of {MESSAGES} each\nreader: {problems:?}\nwriters: {writer_errors:?}",
        next[0],
        next[1]
    );
}
