//! Issue 26: the in-memory network (`listen`, `Listener`, `Dialer`): dials
//! that never block and wait in a bounded backlog, accepts by threads and
//! tasks in any mix, and a close that wakes every accept and resets the
//! connections nobody accepted. Every wait that a bug could make endless has
//! a bound.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, wait_asleep, within, BOUND_SECS};
use futures::StreamExt;
use gopipe::{Conn, Dialer, Listener};

/// A bound on a call that must return at once.
const PROMPT: Duration = Duration::from_secs(5);

/// A tokio runtime with two workers and timers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The server's side of the identity check: reads an 8-byte id and writes it
/// back with its bytes reversed; returns the id.
fn serve_id(conn: &Conn) -> io::Result<u64> {
    let mut id = [0; 8];
    { conn }.read_exact(&mut id)?;
    let mut back = id;
    back.reverse();
    { conn }.write_all(&back)?;
    Ok(u64::from_le_bytes(id))
}

/// The async [`serve_id`].
async fn serve_id_async(mut conn: Conn) -> io::Result<u64> {
    let mut id = [0; 8];
    tokio::io::AsyncReadExt::read_exact(&mut conn, &mut id).await?;
    let mut back = id;
    back.reverse();
    tokio::io::AsyncWriteExt::write_all(&mut conn, &back).await?;
    Ok(u64::from_le_bytes(id))
}

/// The client's side: dials, sends `id`, and checks that the reply is its own
/// id reversed (a crossed connection would answer another client's).
fn client_id(dialer: &Dialer, id: u64) -> io::Result<()> {
    let mut conn = dialer.dial()?;
    conn.write_all(&id.to_le_bytes())?;
    let mut back = [0; 8];
    conn.read_exact(&mut back)?;
    back.reverse();
    assert_eq!(u64::from_le_bytes(back), id, "a crossed connection");
    Ok(())
}

/// The async [`client_id`].
async fn client_id_async(dialer: Dialer, id: u64) -> io::Result<()> {
    let mut conn = dialer.dial()?;
    tokio::io::AsyncWriteExt::write_all(&mut conn, &id.to_le_bytes()).await?;
    let mut back = [0; 8];
    tokio::io::AsyncReadExt::read_exact(&mut conn, &mut back).await?;
    back.reverse();
    assert_eq!(u64::from_le_bytes(back), id, "a crossed connection");
    Ok(())
}

/// The handles have the auto traits the issue asks for.
#[test]
fn handles_are_send_sync_and_the_dialer_clone_static() {
    fn send_sync<T: Send + Sync>() {}
    fn dialer_bounds<T: Clone + Send + Sync + 'static>() {}
    send_sync::<Listener>();
    dialer_bounds::<Dialer>();
    send_sync::<gopipe::Accept<'static>>();
    send_sync::<gopipe::Incoming>();
}

/// A dial before any accept returns at once, the client may write first (into
/// the buffer), and the later accept gets the server's end of that very
/// connection.
#[test]
fn dial_before_accept() {
    bounded("dial_before_accept", BOUND_SECS, || {
        let listener = gopipe::listen(16);
        let dialer = listener.dialer();
        let (mut a, mut b) = (dialer.dial().unwrap(), dialer.dial().unwrap());
        a.write_all(b"first").unwrap();
        b.write_all(b"second").unwrap();
        // Oldest first.
        let mut sa = listener.accept().unwrap();
        let mut sb = listener.accept().unwrap();
        let mut got = [0; 5];
        sa.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"first");
        let mut got = [0; 6];
        sb.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"second");
        sb.write_all(b"to b").unwrap();
        let mut got = [0; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"to b");
    });
}

/// An accept blocked before any dial (a thread asleep in it) is woken by the
/// dial, and gets that connection; the same for a task.
#[test]
fn accept_before_dial() {
    bounded("accept_before_dial", BOUND_SECS, || {
        let listener = Arc::new(gopipe::listen(0));
        let dialer = listener.dialer();
        let l = Arc::clone(&listener);
        let server = thread::Builder::new()
            .name("net-acc".into())
            .spawn(move || serve_id(&l.accept()?))
            .unwrap();
        wait_asleep(&["net-acc"]);
        client_id(&dialer, 7).unwrap();
        assert_eq!(server.join().unwrap().unwrap(), 7);

        let rt = runtime();
        rt.block_on(async {
            let l = Arc::clone(&listener);
            let server = tokio::spawn(async move { serve_id_async(l.accept_async().await?).await });
            // Let the task reach its Pending poll (a yield is enough most of
            // the time; the test holds either way).
            tokio::task::yield_now().await;
            client_id_async(dialer, 8).await.unwrap();
            assert_eq!(server.await.unwrap().unwrap(), 8);
        });
    });
}

/// Four dialling threads and four dialling tasks, 50 connections each,
/// against two accepting threads and two accepting tasks that serve each
/// connection on a thread or task of its own: every client gets its own
/// id back (no crossed connections), and the servers saw every id exactly
/// once (nothing lost).
#[test]
fn many_dialers_on_threads_and_tasks() {
    bounded("many_dialers_on_threads_and_tasks", BOUND_SECS, || {
        const PER: u64 = 50;
        let rt = Arc::new(runtime());
        let listener = Arc::new(gopipe::listen(64));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut acceptors = Vec::new();
        for _ in 0..2 {
            let (l, seen) = (Arc::clone(&listener), Arc::clone(&seen));
            acceptors.push(thread::spawn(move || {
                let mut servers = Vec::new();
                while let Ok(conn) = l.accept() {
                    let seen = Arc::clone(&seen);
                    servers.push(thread::spawn(move || {
                        seen.lock().unwrap().push(serve_id(&conn).unwrap());
                    }));
                }
                for s in servers {
                    s.join().unwrap();
                }
            }));
        }
        let mut task_acceptors = Vec::new();
        for _ in 0..2 {
            let (l, seen) = (Arc::clone(&listener), Arc::clone(&seen));
            task_acceptors.push(rt.spawn(async move {
                let mut servers = Vec::new();
                while let Ok(conn) = l.accept_async().await {
                    let seen = Arc::clone(&seen);
                    servers.push(tokio::spawn(async move {
                        let id = serve_id_async(conn).await.unwrap();
                        seen.lock().unwrap().push(id);
                    }));
                }
                for s in servers {
                    s.await.unwrap();
                }
            }));
        }
        let mut clients = Vec::new();
        for t in 0..4u64 {
            let dialer = listener.dialer();
            clients.push(thread::spawn(move || {
                for i in 0..PER {
                    client_id(&dialer, t * 1000 + i).unwrap();
                }
            }));
        }
        let mut client_tasks = Vec::new();
        for t in 4..8u64 {
            let dialer = listener.dialer();
            client_tasks.push(rt.spawn(async move {
                for i in 0..PER {
                    client_id_async(dialer.clone(), t * 1000 + i).await.unwrap();
                }
            }));
        }
        for c in clients {
            c.join().unwrap();
        }
        rt.block_on(async {
            for c in client_tasks {
                c.await.unwrap();
            }
        });
        listener.close();
        for a in acceptors {
            a.join().unwrap();
        }
        rt.block_on(async {
            for a in task_acceptors {
                a.await.unwrap();
            }
        });
        let seen = seen.lock().unwrap();
        let want: HashSet<u64> = (0..8u64)
            .flat_map(|t| (0..PER).map(move |i| t * 1000 + i))
            .collect();
        assert_eq!(seen.len(), want.len(), "a connection served twice or lost");
        assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), want);
    });
}

/// A close wakes every blocked accept, threads and tasks, with the closed
/// listener's error; later accepts fail at once, and dials are refused.
#[test]
fn close_wakes_blocked_accepts() {
    bounded("close_wakes_blocked_accepts", BOUND_SECS, || {
        let rt = runtime();
        let listener = Arc::new(gopipe::listen(0));
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let l = Arc::clone(&listener);
                thread::Builder::new()
                    .name(format!("net-close{i}"))
                    .spawn(move || l.accept().map(drop))
                    .unwrap()
            })
            .collect();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let l = Arc::clone(&listener);
                rt.spawn(async move { l.accept_async().await.map(drop) })
            })
            .collect();
        wait_asleep(&["net-close0", "net-close1", "net-close2"]);
        listener.close();
        for t in threads {
            let err = t.join().unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        }
        rt.block_on(async {
            for t in tasks {
                let err = t.await.unwrap().unwrap_err();
                assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
            }
        });
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            ErrorKind::NotConnected
        );
        let err = listener.dialer().dial().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

/// The connections still in the backlog at the close are reset: a dialled
/// end blocked in a read (or a write, unbuffered) is woken with
/// `ConnectionReset`, one that calls later gets it too; accepted connections
/// go on untouched.
#[test]
fn close_resets_queued_dials_and_spares_accepted_ones() {
    bounded("close_resets_queued_dials", BOUND_SECS, || {
        let listener = gopipe::listen(0);
        let dialer = listener.dialer();
        let accepted_client = dialer.dial().unwrap();
        let accepted_server = listener.accept().unwrap();
        let reader = dialer.dial().unwrap();
        let writer = dialer.dial().unwrap();
        let idle = dialer.dial().unwrap();
        let r = thread::Builder::new()
            .name("net-qread".into())
            .spawn(move || (&reader).read(&mut [0; 4]))
            .unwrap();
        let w = thread::Builder::new()
            .name("net-qwrite".into())
            .spawn(move || (&writer).write(b"unbuffered"))
            .unwrap();
        wait_asleep(&["net-qread", "net-qwrite"]);
        listener.close();
        for res in [r.join().unwrap(), w.join().unwrap()] {
            let err = res.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        }
        let err = (&idle).read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        // The accepted pair still works both ways.
        let t = thread::spawn(move || {
            let mut got = [0; 5];
            (&accepted_server).read_exact(&mut got).map(|()| got)
        });
        (&accepted_client).write_all(b"still").unwrap();
        assert_eq!(&t.join().unwrap().unwrap(), b"still");
    });
}

/// Dials racing a close from several threads while a server accepts: each
/// dial is refused, or its connection is accepted and served, or reset by
/// the close; never a hang, and every connection the server accepted was
/// answered.
#[test]
fn dials_racing_the_close() {
    bounded("dials_racing_the_close", BOUND_SECS, || {
        for round in 0..20 {
            let listener = Arc::new(gopipe::listen(if round % 2 == 0 { 0 } else { 64 }));
            let l = Arc::clone(&listener);
            let server = thread::spawn(move || {
                let mut served = 0;
                while let Ok(conn) = l.accept() {
                    if serve_id(&conn).is_ok() {
                        served += 1;
                    }
                }
                served
            });
            let clients: Vec<_> = (0..4u64)
                .map(|t| {
                    let dialer = listener.dialer();
                    thread::spawn(move || {
                        let (mut ok, mut reset, mut refused) = (0, 0, 0);
                        for i in 0..20 {
                            match client_id(&dialer, t * 100 + i) {
                                Ok(()) => ok += 1,
                                Err(e) if e.kind() == ErrorKind::ConnectionRefused => refused += 1,
                                Err(e) if e.kind() == ErrorKind::ConnectionReset => reset += 1,
                                Err(e) => panic!("unexpected dial outcome: {e:?}"),
                            }
                        }
                        (ok, reset, refused)
                    })
                })
                .collect();
            thread::yield_now();
            listener.close();
            let mut ok = 0;
            for c in clients {
                let (o, _, _) = c.join().unwrap();
                ok += o;
            }
            // Every client that got its answer was served by the server.
            assert_eq!(server.join().unwrap(), ok, "round {round}");
        }
    });
}

/// Dropping the listener closes it: a queued dial is reset, a task waiting
/// in the stream sees it end, dialers that outlive it are refused.
#[test]
fn dropping_the_listener_closes_it() {
    bounded("dropping_the_listener", BOUND_SECS, || {
        let listener = gopipe::listen(0);
        let dialer = listener.dialer();
        let queued = dialer.dial().unwrap();
        drop(listener);
        let err = (&queued).read(&mut [0; 1]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        let err = dialer.clone().dial().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        // The stream owns its listener: dropping the stream is the drop.
        let rt = runtime();
        let listener = gopipe::listen(0);
        let dialer = listener.dialer();
        let mut incoming = listener.into_incoming();
        rt.block_on(async {
            let client = dialer.dial().unwrap();
            let queued = dialer.dial().unwrap();
            let server = incoming.next().await.unwrap().unwrap();
            drop(incoming);
            let err = dialer.dial().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            let err = (&queued).read(&mut [0; 1]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
            // The accepted one is untouched.
            tokio::io::AsyncWriteExt::write_all(&mut &client, b"k")
                .await
                .unwrap();
            let mut k = [0];
            tokio::io::AsyncReadExt::read_exact(&mut &server, &mut k)
                .await
                .unwrap();
            assert_eq!(&k, b"k");
        });
    });
}

/// The stream of connections yields each dial and ends at the close.
#[test]
fn incoming_stream_ends_at_the_close() {
    bounded("incoming_stream_ends", BOUND_SECS, || {
        let rt = runtime();
        let listener = gopipe::listen(0);
        let dialer = listener.dialer();
        let incoming = listener.into_incoming();
        rt.block_on(async move {
            let server = tokio::spawn(async move {
                let mut incoming = incoming;
                let mut ids = Vec::new();
                while let Some(conn) = incoming.next().await {
                    ids.push(serve_id_async(conn.unwrap()).await.unwrap());
                    if ids.len() == 3 {
                        incoming.get_ref().close();
                    }
                }
                ids
            });
            for id in 0..3 {
                client_id_async(dialer.clone(), id).await.unwrap();
            }
            assert_eq!(server.await.unwrap(), [0, 1, 2]);
            let err = dialer.dial().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        });
    });
}

/// The backlog is bounded: past it a dial fails at once with `WouldBlock`
/// (never blocks), and an accept makes room for one more. The default is
/// `DEFAULT_BACKLOG`.
#[test]
fn backlog_bound() {
    bounded("backlog_bound", BOUND_SECS, || {
        let listener = gopipe::listen_with_backlog(0, 3);
        let dialer = listener.dialer();
        let conns: Vec<_> = (0..3).map(|_| dialer.dial().unwrap()).collect();
        let d = dialer.clone();
        let (res, _) = within(PROMPT, move || d.dial().map(drop)).expect("a full dial blocked");
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(err.to_string().contains("backlog is full"), "{err}");
        // The refused dial queued nothing: three accepts, three connections.
        drop(listener.accept().unwrap());
        let fourth = dialer.dial().unwrap();
        drop((conns, fourth));

        let listener = gopipe::listen(0);
        let dialer = listener.dialer();
        let conns: Vec<_> = (0..gopipe::DEFAULT_BACKLOG)
            .map(|_| dialer.dial().unwrap())
            .collect();
        assert_eq!(
            dialer.dial().unwrap_err().kind(),
            ErrorKind::WouldBlock,
            "past DEFAULT_BACKLOG"
        );
        drop(conns);
    });
}

/// `listen_with_backlog(_, 0)` panics: no dial could ever succeed.
#[test]
#[should_panic(expected = "at least one connection")]
fn zero_backlog_panics() {
    let _ = gopipe::listen_with_backlog(0, 0);
}

/// A `Pending` accept that is dropped (cancelled) takes no connection and
/// keeps none from the next accept: polled once with one waker and
/// abandoned, then a task with another waker waits, then a dial: that task
/// is woken and gets the connection. And 100 times over: a task's accept
/// polled `Pending` and dropped, a dial, a fresh accept by the same task
/// gets that connection.
#[test]
fn cancelled_poll_accept_loses_no_connection() {
    bounded("cancelled_poll_accept", BOUND_SECS, || {
        let listener = Arc::new(gopipe::listen(0));
        let dialer = listener.dialer();
        {
            let mut accept = pin!(listener.accept_async());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(accept.as_mut().poll(&mut cx).is_pending());
        }
        // Another task waits (its waker listed after the abandoned one's).
        let (tx, woken) = std::sync::mpsc::channel();
        let live = Waker::from(Arc::new(Report(tx, "live")));
        let mut accept = pin!(listener.accept_async());
        assert!(accept
            .as_mut()
            .poll(&mut Context::from_waker(&live))
            .is_pending());
        let d = dialer.clone();
        let client = thread::spawn(move || client_id(&d, 42));
        assert_eq!(
            woken.recv_timeout(PROMPT),
            Ok("live"),
            "the abandoned poll took the wake-up"
        );
        let server = match accept.poll(&mut Context::from_waker(&live)) {
            std::task::Poll::Ready(conn) => conn.unwrap(),
            std::task::Poll::Pending => panic!("woken with nothing to accept"),
        };
        assert_eq!(serve_id(&server).unwrap(), 42);
        client.join().unwrap().unwrap();

        let rt = runtime();

        // Again and again: an accept polled (Pending, with the task's own
        // waker) and dropped before each dial, then a fresh accept.
        let (go, dial_now) = std::sync::mpsc::channel::<()>();
        let d = dialer.clone();
        let client = thread::spawn(move || {
            for id in 0..100 {
                dial_now.recv().unwrap();
                client_id(&d, id).unwrap();
            }
        });
        let served = rt.block_on(async {
            let mut ids = Vec::new();
            for _ in 0..100 {
                {
                    let mut cancelled = pin!(listener.accept_async());
                    assert!(futures::poll!(cancelled.as_mut()).is_pending());
                }
                go.send(()).unwrap();
                let conn = listener.accept_async().await.unwrap();
                ids.push(serve_id_async(conn).await.unwrap());
            }
            ids
        });
        client.join().unwrap();
        assert_eq!(served, (0..100).collect::<Vec<_>>());
    });
}

/// A thread and a task accepting on one listener, and two dials: each gets
/// one connection, and both are served.
#[test]
fn thread_and_task_accept_together() {
    bounded("thread_and_task_accept", BOUND_SECS, || {
        let rt = runtime();
        let listener = Arc::new(gopipe::listen(0));
        let l = Arc::clone(&listener);
        let thread_server = thread::Builder::new()
            .name("net-mix".into())
            .spawn(move || serve_id(&l.accept()?))
            .unwrap();
        let l = Arc::clone(&listener);
        let task_server = rt.spawn(async move { serve_id_async(l.accept_async().await?).await });
        wait_asleep(&["net-mix"]);
        let dialer = listener.dialer();
        let d = dialer.clone();
        let c = thread::spawn(move || client_id(&d, 1));
        client_id(&dialer, 2).unwrap();
        c.join().unwrap().unwrap();
        let a = thread_server.join().unwrap().unwrap();
        let b = rt.block_on(task_server).unwrap().unwrap();
        assert_eq!(HashSet::from([a, b]), HashSet::from([1, 2]));
    });
}

/// A listener's connection is a `buffered_duplex` pair: the capacity buffers
/// writes before the server even accepts, capacity 0 is unbuffered (a write
/// waits for a reader, here until its timeout), a half-close lets the peer
/// read the rest and then end of file while the other direction goes on,
/// and deadlines apply.
#[test]
fn connections_behave_as_buffered_duplex() {
    bounded("connections_behave_as_buffered_duplex", BOUND_SECS, || {
        let listener = gopipe::listen(8);
        let mut client = listener.dialer().dial().unwrap();
        client.write_all(b"12345678").unwrap(); // fits: returns at once
        client.shutdown(Shutdown::Write).unwrap();
        let mut server = listener.accept().unwrap();
        let mut all = Vec::new();
        server.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"12345678");
        server.write_all(b"reply").unwrap();
        let mut got = [0; 5];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"reply");
        let fresh = listener.dialer().dial().unwrap();
        fresh
            .set_read_deadline(Some(Instant::now() - Duration::from_secs(1)))
            .unwrap();
        assert_eq!(
            (&fresh).read(&mut [0; 1]).unwrap_err().kind(),
            ErrorKind::TimedOut
        );

        let listener = gopipe::listen(0);
        let client = listener.dialer().dial().unwrap();
        client
            .set_write_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let err = (&client).write(b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "unbuffered: {err}");
        let server = listener.accept().unwrap();
        let t = thread::spawn(move || {
            let mut b = [0; 1];
            (&server).read_exact(&mut b).map(|()| b[0])
        });
        client.set_write_timeout(None).unwrap();
        (&client).write_all(b"y").unwrap();
        assert_eq!(t.join().unwrap().unwrap(), b'y');
    });
}

/// `Debug` shows the settings and the state.
#[test]
fn debug_shows_the_state() {
    let listener = gopipe::listen_with_backlog(4, 9);
    let _c = listener.dialer().dial().unwrap();
    let shown = format!("{listener:?}");
    assert!(shown.contains("capacity: 4"), "{shown}");
    assert!(shown.contains("backlog: 9"), "{shown}");
    assert!(shown.contains("queued: 1"), "{shown}");
    assert!(shown.contains("closed: false"), "{shown}");
    let dialer = listener.dialer();
    listener.close();
    assert!(format!("{dialer:?}").contains("closed: true"));
}

/// A waker that reports each wake-up on a channel.
struct Report(std::sync::mpsc::Sender<&'static str>, &'static str);

impl std::task::Wake for Report {
    fn wake(self: Arc<Self>) {
        let _ = self.0.send(self.1);
    }
}

/// A task's `Pending` accept is woken by the next dial (once, however many
/// times it polled with the same waker), and every waiting task's by the
/// close; each then polls `Ready`.
#[test]
fn waiting_tasks_are_woken_by_dial_and_close() {
    bounded("waiting_tasks_are_woken", BOUND_SECS, || {
        let listener = gopipe::listen(0);
        let (tx, rx) = std::sync::mpsc::channel();
        let one = Waker::from(Arc::new(Report(tx.clone(), "one")));
        let two = Waker::from(Arc::new(Report(tx, "two")));
        let mut accept = pin!(listener.accept_async());
        for _ in 0..1000 {
            assert!(accept
                .as_mut()
                .poll(&mut Context::from_waker(&one))
                .is_pending());
        }
        let dialer = listener.dialer();
        let client = thread::spawn(move || dialer.dial())
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(rx.recv_timeout(PROMPT), Ok("one"), "the dial woke nobody");
        let server = match accept.as_mut().poll(&mut Context::from_waker(&one)) {
            std::task::Poll::Ready(conn) => conn.unwrap(),
            std::task::Poll::Pending => panic!("woken with nothing to accept"),
        };
        assert!(rx.try_recv().is_err(), "one waker listed twice");
        drop((client, server));

        let mut other = pin!(listener.accept_async());
        assert!(accept
            .as_mut()
            .poll(&mut Context::from_waker(&one))
            .is_pending());
        assert!(other
            .as_mut()
            .poll(&mut Context::from_waker(&two))
            .is_pending());
        listener.close();
        let mut woken = [
            rx.recv_timeout(PROMPT).expect("the close woke a task"),
            rx.recv_timeout(PROMPT).expect("the close woke both tasks"),
        ];
        woken.sort_unstable();
        assert_eq!(woken, ["one", "two"]);
        for fut in [accept, other] {
            match fut.poll(&mut Context::from_waker(Waker::noop())) {
                std::task::Poll::Ready(res) => {
                    assert_eq!(res.unwrap_err().kind(), ErrorKind::NotConnected)
                }
                std::task::Poll::Pending => panic!("pending after the close"),
            }
        }
    });
}
