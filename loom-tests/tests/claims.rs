//! Loom models of what a drain claim frees (issue 24): a `write_to` sink
//! holding staged bytes makes other readers wait for the claim, and its
//! end must wake every one of them (threads take one token a ring from a
//! doorbell, so the claim's end broadcasts instead); each sink call that
//! takes bytes frees room that an async write waiting for it must hear of
//! at once, not when the claim ends.
#![cfg(gopipe_loom)]

use std::io::{self, Write};
use std::task::{Context, Poll, Waker};

use loom::sync::{Arc, Notify};
use loom::thread;
use loom_tests::{model_with_bound, poll_write, read_to_end, task, ReadEnd, Sink};

/// Two thread readers of a closed pipe whose staged `abc` a `write_to`
/// drains: a reader that finds the bytes claimed waits for the claim to
/// end, and its end must wake both (one token would wake one, and the
/// other would sleep for ever: a loom deadlock). Every byte reaches the sink
/// or one reader, once and in order; both readers see end of file.
#[test]
fn claim_end_wakes_two_waiting_readers() {
    model_with_bound("claim_end_wakes_two_waiting_readers", 2, || {
        let (reader, writer) = gopipe::pipe();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            poll_write(&writer, &mut cx, b"abc"),
            Poll::Ready(Ok(3))
        ));
        drop(writer);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let r = reader.clone();
                thread::spawn(move || read_to_end(&r, 4))
            })
            .collect();
        let mut sink = Sink::new(usize::MAX);
        let drained = reader.write_to(&mut sink).unwrap();
        assert_eq!(drained as usize, sink.got.len());
        let mut pieces = vec![sink.got.clone()];
        for r in readers {
            let (got, end) = r.join().unwrap();
            assert!(matches!(end, ReadEnd::Eof), "{end:?}");
            pieces.push(got);
        }
        // One write, read whole by whoever got it first.
        pieces.retain(|p| !p.is_empty());
        assert_eq!(pieces, [b"abc".to_vec()], "each byte once");
    });
}

/// The readers' threads: what each got and how its reads ended.
type Readers = Vec<thread::JoinHandle<(Vec<u8>, ReadEnd)>>;

/// A sink that, in its first call, starts two readers of the pipe (which
/// find the staged bytes claimed, with the pipe open) and then closes the
/// write half (through a writer clone it holds); it takes everything.
struct ClosingSink {
    /// The reader to clone for the two readers.
    reader: gopipe::PipeReader,
    /// The clone to close, until the first call.
    writer: Option<gopipe::PipeWriter>,
    /// The readers started.
    readers: Readers,
    /// The bytes taken.
    got: Vec<u8>,
}

impl Write for ClosingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(writer) = self.writer.take() {
            for _ in 0..2 {
                let r = self.reader.clone();
                self.readers.push(thread::spawn(move || read_to_end(&r, 4)));
            }
            writer.close();
        }
        self.got.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The same with the pipe open while the readers start: they start while
/// the sink holds the claim, and the write half closes during the claim
/// (the sink closes it), which wakes the readers' waits into the wait for
/// the claim on a closed pipe; the claim's end must wake both. The sink
/// gets `ab`; both readers see end of file.
#[test]
fn claim_end_wakes_readers_after_a_close_during_the_claim() {
    model_with_bound(
        "claim_end_wakes_readers_after_a_close_during_the_claim",
        2,
        || {
            let (reader, writer) = gopipe::pipe();
            let mut cx = Context::from_waker(Waker::noop());
            assert!(matches!(
                poll_write(&writer, &mut cx, b"ab"),
                Poll::Ready(Ok(2))
            ));
            let mut sink = ClosingSink {
                reader: reader.clone(),
                writer: Some(writer.clone()),
                readers: Vec::new(),
                got: Vec::new(),
            };
            drop(writer);
            assert_eq!(reader.write_to(&mut sink).unwrap(), 2);
            assert_eq!(sink.got, b"ab");
            for r in sink.readers.drain(..) {
                let (got, end) = r.join().unwrap();
                assert!(matches!(end, ReadEnd::Eof), "{end:?}");
                assert!(got.is_empty(), "the claimed bytes went to a reader too");
            }
        },
    );
}

/// A sink that takes one byte in its first call, then waits (a loom
/// `Notify`) until the model says so, then takes everything.
struct GatedSink {
    /// Calls so far.
    calls: usize,
    /// Opened by the model.
    gate: Arc<Notify>,
    /// How many bytes it took.
    got: usize,
}

impl Write for GatedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls == 1 {
            self.got += 1;
            return Ok(1);
        }
        if self.calls == 2 {
            self.gate.wait();
        }
        self.got += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The stage full (`ab` and 65,534 more bytes), a `write_to` whose sink
/// takes `a` and then waits until an async write of `c`, waiting for room,
/// got in: the room the sink's first call freed must wake that write while
/// the claim still holds `b` (a write woken only by the claim's end waits
/// for a sink that waits for it: a loom deadlock). Everything arrives: the
/// sink counts all of it.
#[test]
fn sink_call_frees_room_for_a_waiting_task_write() {
    model_with_bound("sink_call_frees_room_for_a_waiting_task_write", 2, || {
        let (reader, writer) = gopipe::pipe();
        let mut cx = Context::from_waker(Waker::noop());
        let fill = vec![7u8; (64 << 10) - 2];
        assert!(matches!(
            poll_write(&writer, &mut cx, b"ab"),
            Poll::Ready(Ok(2))
        ));
        assert!(matches!(
            poll_write(&writer, &mut cx, &fill),
            Poll::Ready(Ok(n)) if n == fill.len()
        ));
        let gate = Arc::new(Notify::new());
        let mut sink = GatedSink {
            calls: 0,
            gate: Arc::clone(&gate),
            got: 0,
        };
        let drainer = thread::spawn(move || {
            let res = reader.write_to(&mut sink);
            (sink.got, res)
        });
        let accepted = task(|cx| poll_write(&writer, cx, b"c"));
        assert_eq!(accepted.unwrap(), 1);
        gate.notify();
        drop(writer);
        let (got, res) = drainer.join().unwrap();
        assert_eq!(res.unwrap(), (64 << 10) + 1);
        assert_eq!(got, (64 << 10) + 1);
    });
}
