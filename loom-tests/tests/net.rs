//! Loom models of the in-memory network (issue 26, `src/net.rs`): dials,
//! accepts by threads and tasks, and the close, racing each other.
//!
//! The listener is one lock (the crate's `Mutex`, a loom mutex here) over
//! the backlog, the closed flag, the sleeping threads' count and the tasks'
//! wakers, with a condition variable (a loom `Condvar`) where accepting
//! threads sleep. A lost wake-up of a thread or a task is a loom deadlock;
//! a connection lost or reset wrongly shows in what the dialled end reads.
//!
//! The connections are `buffered_duplex(1)` pairs: a client's one-byte write
//! lands in the buffer at once, so that the server end it reaches names the
//! connection with little of the pipe engine's own interleaving.
#![cfg(gopipe_loom)]

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::task::Poll;

use loom::thread;
use loom_tests::{model, model_with_bound, task, Outcomes};

use gopipe::Conn;

/// Reads the one byte a client wrote on the server end `conn`.
fn name_of(conn: &Conn) -> u8 {
    let mut byte = [0];
    { conn }.read_exact(&mut byte).unwrap();
    byte[0]
}

/// Dials and writes `name` (into the buffer: it never blocks).
fn dial_named(dialer: &gopipe::Dialer, name: u8) -> Conn {
    let conn = dialer.dial().unwrap();
    assert_eq!({ &conn }.write(&[name]).unwrap(), 1);
    conn
}

/// After the listener's close, what a dialled end whose server end is gone
/// (accepted and dropped, or reset in the backlog) reads: `true` for end of
/// file (it was accepted), `false` for the close's `ConnectionReset`.
fn was_accepted(client: &Conn) -> bool {
    match { client }.read(&mut [0; 1]) {
        Ok(0) => true,
        Ok(n) => panic!("read {n} bytes nobody wrote"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}");
            false
        }
    }
}

/// A thread blocked in `accept` (or about to block) and a dial on another
/// thread: the dial wakes it, and it gets that connection (the client's
/// byte). Kills a dial that wakes no thread or wakes before its push.
#[test]
fn blocked_accept_woken_by_dial() {
    model("blocked_accept_woken_by_dial", || {
        let listener = gopipe::listen(1);
        let dialer = listener.dialer();
        let client = thread::spawn(move || dial_named(&dialer, b'a'));
        let server = listener.accept().unwrap();
        assert_eq!(name_of(&server), b'a');
        drop(client.join().unwrap());
    });
}

/// Two threads accept while the main thread dials twice: both accepts
/// return, with different connections (a dial wakes one sleeper; two
/// dials must reach two, whatever order they sleep and wake in).
/// Preemption bound 2 (at 3: 55,830 interleavings, 46 s on a busy machine).
#[test]
fn two_accepting_threads_two_dials() {
    model_with_bound("two_accepting_threads_two_dials", 2, || {
        let listener = Arc::new(gopipe::listen(1));
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let l = Arc::clone(&listener);
                thread::spawn(move || name_of(&l.accept().unwrap()))
            })
            .collect();
        let dialer = listener.dialer();
        let a = dial_named(&dialer, b'a');
        let b = dial_named(&dialer, b'b');
        let mut names: Vec<u8> = acceptors.into_iter().map(|t| t.join().unwrap()).collect();
        names.sort_unstable();
        assert_eq!(names, b"ab");
        drop((a, b));
    });
}

/// Whether the task's first poll in [`task_accept_racing_dial`] was pending.
static TASK_ACCEPT: Outcomes = Outcomes::new("task_accept_racing_dial");

/// A task accepting (`poll_accept` until ready) while a thread dials: the
/// task is woken, and gets the connection. Kills a dial that wakes no task,
/// and a `poll_accept` that lists its waker without a second look at the
/// backlog.
#[test]
fn task_accept_racing_dial() {
    model("task_accept_racing_dial", || {
        let listener = gopipe::listen(1);
        let dialer = listener.dialer();
        let client = thread::spawn(move || dial_named(&dialer, b'a'));
        let mut first = true;
        let server = task(|cx| {
            let poll = listener.poll_accept(cx);
            if first {
                TASK_ACCEPT.record(poll.is_pending());
                first = false;
            }
            poll
        })
        .unwrap();
        assert_eq!(name_of(&server), b'a');
        drop(client.join().unwrap());
    });
    TASK_ACCEPT.assert_both(["first polls pending", "first polls ready"]);
}

/// Whether the abandoned poll in [`cancelled_task_accept_racing_dials`] was
/// pending.
static CANCELLED: Outcomes = Outcomes::new("cancelled_task_accept_racing_dials");

/// A task polls `poll_accept` once and gives up (its waker stays listed, as
/// a dropped `accept_async` future's does), while a thread dials twice; a
/// second task then accepts until it has every connection the first did not
/// take. The abandoned poll takes nothing when `Pending`, and its stale
/// waker does not eat the live task's wake-up. Kills a dial that wakes only
/// the oldest waker. Preemption bound 2 (at 3: 43,019 interleavings, 28 s on
/// a busy machine).
#[test]
fn cancelled_task_accept_racing_dials() {
    model_with_bound("cancelled_task_accept_racing_dials", 2, || {
        let listener = gopipe::listen(1);
        let dialer = listener.dialer();
        let client = thread::spawn(move || (dial_named(&dialer, b'a'), dial_named(&dialer, b'b')));
        let first = task(|cx| Poll::Ready(listener.poll_accept(cx)));
        CANCELLED.record(first.is_pending());
        let mut names = Vec::new();
        if let Poll::Ready(conn) = first {
            names.push(name_of(&conn.unwrap()));
        }
        while names.len() < 2 {
            let conn = task(|cx| listener.poll_accept(cx)).unwrap();
            names.push(name_of(&conn));
        }
        // Oldest first.
        assert_eq!(names, b"ab");
        drop(client.join().unwrap());
    });
    CANCELLED.assert_both(["abandoned poll pending", "abandoned poll ready"]);
}

/// Two threads in `accept` and a dial, then the close on the main thread:
/// both accepts return (one may get the connection, the other fails with
/// `NotConnected`); the dialled end reads end of file if an accept took
/// its server end (and dropped it), else the close's `ConnectionReset`, and
/// never hangs. Kills a close that wakes no thread, and one that leaves the
/// backlog unreset.
#[test]
fn close_racing_two_accepting_threads_and_a_dial() {
    model("close_racing_two_accepting_threads_and_a_dial", || {
        let listener = Arc::new(gopipe::listen(1));
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let l = Arc::clone(&listener);
                thread::spawn(move || match l.accept() {
                    Ok(conn) => {
                        assert_eq!(name_of(&conn), b'a');
                        true
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::NotConnected, "{e:?}");
                        false
                    }
                })
            })
            .collect();
        let client = dial_named(&listener.dialer(), b'a');
        listener.close();
        let accepted = acceptors
            .into_iter()
            .map(|t| usize::from(t.join().unwrap()))
            .sum::<usize>();
        assert!(accepted <= 1);
        assert_eq!(was_accepted(&client), accepted == 1);
    });
}

/// Two threads in `accept` (or about to be) and the close on the main
/// thread: both fail with `NotConnected`. Kills a close that wakes one
/// sleeping thread only (with a dial in the race, as in the model above, the
/// dial's own wake-up hides it).
#[test]
fn close_wakes_two_accepting_threads() {
    model("close_wakes_two_accepting_threads", || {
        let listener = Arc::new(gopipe::listen(1));
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let l = Arc::clone(&listener);
                thread::spawn(move || l.accept().map(drop).unwrap_err().kind())
            })
            .collect();
        listener.close();
        for t in acceptors {
            assert_eq!(t.join().unwrap(), ErrorKind::NotConnected);
        }
    });
}

/// A task waiting in `poll_accept` while a thread closes the listener: the
/// task is woken and fails with `NotConnected`. Kills a close that wakes no
/// task.
#[test]
fn close_wakes_a_waiting_task() {
    model("close_wakes_a_waiting_task", || {
        let listener = Arc::new(gopipe::listen(1));
        let l = Arc::clone(&listener);
        let closer = thread::spawn(move || l.close());
        let err = task(|cx| listener.poll_accept(cx)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err:?}");
        closer.join().unwrap();
    });
}

/// Whether the dial in [`dial_racing_listener_drop`] was refused.
static DIAL_DROP: Outcomes = Outcomes::new("dial_racing_listener_drop");

/// A dial racing the drop of the listener (its only handle): the dial is
/// refused (`ConnectionRefused`), or it succeeded before the close and its
/// server end, never accepted, is reset: the dialled end reads
/// `ConnectionReset`, never hangs. Kills a dial that ignores the close, and
/// a listener whose drop does not close it.
#[test]
fn dial_racing_listener_drop() {
    model("dial_racing_listener_drop", || {
        let listener = gopipe::listen(1);
        let dialer = listener.dialer();
        let client = thread::spawn(move || dialer.dial());
        drop(listener);
        match client.join().unwrap() {
            Ok(conn) => {
                DIAL_DROP.record(false);
                assert!(!was_accepted(&conn));
            }
            Err(e) => {
                DIAL_DROP.record(true);
                assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e:?}");
            }
        }
    });
    DIAL_DROP.assert_both(["refused", "reset"]);
}
