//! Loom models of a timeout racing the hand-off.
//!
//! loom has no clock, so in the loom build of gopipe a wait with a deadline gives
//! up at the first point where it would go to sleep; loom then tries that point
//! at every place relative to the other thread. What must hold wherever it falls:
//! nothing is lost or duplicated, a timed-out read consumed nothing, and a
//! timed-out write reports exactly what readers consumed.
#![cfg(gopipe_loom)]

use std::io::ErrorKind;
use std::time::Duration;

use loom::thread;
use loom_tests::{assert_closed_pipe, model, read_to_end, read_until, write_until_error, ReadEnd};

/// A writer with a timeout writes two bytes while a reader reads a byte at a
/// time until end of file: the reader gets exactly the bytes the writer was told
/// it wrote, and a write that stops early fails with `TimedOut`.
#[test]
fn write_timeout_racing_hand_off() {
    model("write_timeout_racing_hand_off", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            writer
                .set_write_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let (n, err) = write_until_error(&writer, b"ab");
            if let Some(err) = err {
                assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
            }
            // Dropping the writer ends the reader's loop with end of file.
            n
        });
        let (got, end) = read_to_end(&reader, 1);
        let n = w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, &b"ab"[..n], "the writer reported {n} bytes");
    });
}

/// A reader with a timeout reads a byte at a time, up to two, while a writer
/// writes two bytes; the reader stops at its first timeout and drops its half.
/// A timed-out read consumed nothing: the writer is told it wrote exactly the
/// bytes the reader got, and then fails with `ClosedPipe`.
#[test]
fn read_timeout_racing_hand_off() {
    model("read_timeout_racing_hand_off", || {
        let (reader, writer) = gopipe::pipe();
        let r = thread::spawn(move || {
            reader
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let (got, end) = read_until(&reader, 1, 2);
            match &end {
                ReadEnd::Enough => {}
                ReadEnd::Failed(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}"),
                ReadEnd::Eof => panic!("end of file while the writer is open"),
            }
            // Dropping the reader fails whatever the writer has left.
            got
        });
        let (n, err) = write_until_error(&writer, b"ab");
        let got = r.join().unwrap();
        assert_eq!(got, &b"ab"[..n], "the writer reported {n} bytes");
        match err {
            None => assert_eq!(n, 2),
            Some(err) => assert_closed_pipe(&err),
        }
    });
}
