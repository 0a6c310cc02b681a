//! The async halves through `futures_io`'s traits, on futures' own executor
//! (no tokio runtime): the same pipe between a thread and a task, and between
//! tasks, with `AsyncWriteExt::close` as the shutdown.

mod common;

use std::io::ErrorKind;
use std::thread;

use common::{bounded, BOUND_SECS};
use futures::executor::{block_on, ThreadPool};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::task::SpawnExt;

/// A pattern that tells every byte's position (mod 251).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A blocking writer thread to a task reader, and a task writer to a
/// blocking reader thread.
#[test]
fn futures_io_between_threads_and_tasks() {
    bounded("futures_io_threads_and_tasks", BOUND_SECS, || {
        let data = pattern(1 << 20);
        // Thread writes, task reads.
        let (mut r, w) = gopipe::pipe();
        let d = data.clone();
        let t = thread::spawn(move || {
            std::io::Write::write_all(&mut &w, &d).unwrap();
        });
        let mut got = Vec::new();
        block_on(r.read_to_end(&mut got)).unwrap();
        t.join().unwrap();
        assert!(got == data);

        // Task writes, thread reads.
        let (r, mut w) = gopipe::pipe();
        let t = thread::spawn(move || {
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut &r, &mut got).unwrap();
            got
        });
        block_on(async {
            for chunk in data.chunks(10_000) {
                w.write_all(chunk).await.unwrap();
            }
            // The trait's close: closes the write half at once (the
            // inherent `close` would shadow it on `w` itself).
            AsyncWriteExt::close(&mut w).await.unwrap();
        });
        assert!(t.join().unwrap() == data);
    });
}

/// Task to task on a thread pool, waiting for the reader after every write
/// (Go's semantics: the write is done once the reader has the bytes).
#[test]
fn futures_io_task_to_task_with_flushes() {
    bounded("futures_io_task_to_task", BOUND_SECS, || {
        let pool = ThreadPool::builder().pool_size(2).create().unwrap();
        let (mut r, mut w) = gopipe::pipe();
        let data = pattern(300_000);
        let d = data.clone();
        let writer = pool
            .spawn_with_handle(async move {
                for chunk in d.chunks(1000) {
                    w.write_all(chunk).await.unwrap();
                    w.consumed().await.unwrap();
                }
                AsyncWriteExt::close(&mut w).await.unwrap();
            })
            .unwrap();
        let got = block_on(async move {
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            got
        });
        block_on(writer);
        assert!(got == data);
    });
}

/// The reader's error reaches a task writer's write and consumed wait; flush
/// succeeds at once, as a socket's does.
#[test]
fn futures_io_close_errors_cross() {
    bounded("futures_io_close_errors_cross", BOUND_SECS, || {
        block_on(async {
            let (r, mut w) = gopipe::pipe();
            w.write_all(b"unread").await.unwrap();
            r.close_with_error(std::io::Error::new(ErrorKind::InvalidData, "bad"));
            w.flush().await.unwrap();
            let err = w.consumed().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData);
            let err = w.write(b"more").await.unwrap_err();
            assert_eq!(err.to_string(), "bad");

            let (mut r, w) = gopipe::pipe();
            w.close_with_error(std::io::Error::other("producer failed"));
            let err = r.read(&mut [0; 4]).await.unwrap_err();
            assert_eq!(err.to_string(), "producer failed");
        });
    });
}
