//! Carrying a failure across the pipe with `close_with_error`, both ways.
//!
//! 1. The producer writes a few records, then hits an error of its own type
//!    (`SourceError`) and closes the writer with it. The consumer reads the
//!    records, then its next read fails with that error instead of returning
//!    end of file, so a truncated stream cannot pass for a complete one. The
//!    consumer gets the original `SourceError` back, fields and all, with
//!    [`gopipe::CloseError::from_io`] and
//!    [`downcast_ref`](gopipe::CloseError::downcast_ref).
//! 2. The other way round: the consumer rejects the stream after its header by
//!    closing the reader with an `io::Error`, and the producer's next write
//!    fails with it, kind and message included.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example producer_error
//! ```
//!
//! It exits with status 0 if every error arrives as documented, and panics
//! (non-zero status) otherwise.

use std::error::Error;
use std::fmt;
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::thread;

use gopipe::CloseError;

/// How many records the producer delivers before its source fails.
const GOOD_RECORDS: u32 = 3;

/// The producer's own error: a record it could not get from its source.
#[derive(Debug)]
struct SourceError {
    /// The number of the record that failed.
    record: u32,
    /// What went wrong with it.
    reason: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read record {}: {}", self.record, self.reason)
    }
}

impl Error for SourceError {}

/// Part 1: the producer fails; the consumer sees its error.
fn producer_fails() {
    println!("-- the producer fails: writer.close_with_error --");
    let (reader, writer) = gopipe::pipe();

    let producer = thread::spawn(move || {
        for i in 0..GOOD_RECORDS {
            let record = format!("record {i}: temperature={}\n", 18 + 2 * i);
            // Each write returns once the consumer has read the whole record.
            (&writer)
                .write_all(record.as_bytes())
                .expect("the consumer reads every record");
        }
        // The source breaks at the next record: stop, and tell the consumer why.
        writer.close_with_error(SourceError {
            record: GOOD_RECORDS,
            reason: "checksum mismatch".to_string(),
        });
    });

    let mut lines = BufReader::new(&reader);
    let mut received = 0;
    let err = loop {
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) => panic!("end of file: the producer's error was lost"),
            Ok(_) => {
                print!("consumer read: {line}");
                received += 1;
            }
            Err(err) => break err,
        }
    };
    producer.join().expect("the producer thread panicked");

    println!("consumer's read failed: {err} (kind {:?})", err.kind());
    // The io::Error carries the producer's error: message as is, kind `Other`
    // (the error is not an io::Error, so it has no kind of its own).
    assert_eq!(received, GOOD_RECORDS);
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(err.to_string(), "cannot read record 3: checksum mismatch");

    // Get the original error back, as its own type.
    let cause = CloseError::from_io(&err).expect("the error carries the producer's close error");
    let source = cause
        .downcast_ref::<SourceError>()
        .expect("the close error is the producer's SourceError");
    println!(
        "recovered SourceError: record = {}, reason = {:?}",
        source.record, source.reason
    );
    assert_eq!(source.record, GOOD_RECORDS);
    assert_eq!(source.reason, "checksum mismatch");

    // The error stays: every later read fails with it too.
    let again = lines.read_line(&mut String::new()).unwrap_err();
    let source_again = CloseError::from_io(&again).and_then(|c| c.downcast_ref::<SourceError>());
    assert_eq!(source_again.map(|s| s.record), Some(GOOD_RECORDS));
    println!("a later read fails with it again: {again}");
}

/// Part 2: the consumer rejects the stream; the producer sees its error.
fn consumer_rejects() {
    println!("-- the consumer rejects: reader.close_with_error --");
    let (reader, mut writer) = gopipe::pipe();

    let producer = thread::spawn(move || {
        // A header, then records until a write fails; `delivered` counts the
        // writes that succeeded before this one.
        for delivered in 0.. {
            let record = match delivered {
                0 => "format-version: 3\n".to_string(),
                n => format!("record {n}\n"),
            };
            if let Err(err) = writer.write_all(record.as_bytes()) {
                return (delivered, err);
            }
        }
        unreachable!("the producer stops at its first failed write")
    });

    let mut lines = BufReader::new(&reader);
    let mut header = String::new();
    lines
        .read_line(&mut header)
        .expect("the producer sends a header");
    print!("consumer read: {header}");
    assert_eq!(header, "format-version: 3\n");
    // Not a version this consumer understands: reject the stream.
    reader.close_with_error(io::Error::new(
        ErrorKind::InvalidData,
        "unsupported format version 3",
    ));

    let (delivered, err) = producer.join().expect("the producer thread panicked");
    println!(
        "producer's write failed after {delivered} record(s): {err} (kind {:?})",
        err.kind()
    );
    // A write returns only once the consumer has read all of it, and the
    // consumer read the header alone: nothing else counts as delivered.
    assert_eq!(delivered, 1);
    // The consumer's error was an io::Error, so its kind comes across too.
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert_eq!(err.to_string(), "unsupported format version 3");
    let original = CloseError::from_io(&err)
        .expect("the error carries the consumer's close error")
        .get_ref()
        .downcast_ref::<io::Error>()
        .expect("the consumer closed with an io::Error");
    assert_eq!(original.kind(), ErrorKind::InvalidData);

    // The consumer closed its own half: its reads now fail with the closed-pipe
    // error, whatever it closed the half with.
    let own = lines.read_line(&mut String::new()).unwrap_err();
    assert!(gopipe::is_closed_pipe(&own));
    println!("the consumer's own reads now fail: {own}");
}

fn main() {
    producer_fails();
    consumer_rejects();
    println!("ok: both errors crossed the pipe as documented");
}
