//! Go's `io.Pipe` for Rust: a synchronous, in-memory pipe between code that
//! writes (`std::io::Write`) and code that reads (`std::io::Read`), with no
//! buffer of its own.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let (mut reader, mut writer) = gopipe::pipe();
//! std::thread::spawn(move || writer.write_all(b"Hello, world!"));
//!
//! let mut greeting = String::new();
//! reader.read_to_string(&mut greeting)?;
//! assert_eq!(greeting, "Hello, world!");
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! # Why a pipe with no buffer
//!
//! Gluing a producer that wants a `Write` (an encoder, a compressor,
//! `serde_json::to_writer`, `tar::Builder`) to a consumer that wants a `Read` (a
//! hasher, an upload, a parser) on another thread is usually done with one of:
//!
//! - **a `Mutex<VecDeque<u8>>` or a channel of `Vec<u8>`**: every write is copied
//!   into a fresh allocation and the writer runs ahead of the reader, so memory
//!   grows with the lag, and an error on one side has no way to reach the other;
//! - **an OS pipe** (`std::io::pipe`): two system calls and two copies through
//!   the kernel per chunk, and the kernel's buffer decouples the writer again.
//!
//! A gopipe write lends its slice to the reader, which copies it once, straight
//! into its own buffer; the write returns when the reader has taken every byte.
//! Nothing is allocated per write, the producer can never get ahead of the
//! consumer, and a failure on either side crosses over as an error (see
//! [Closing](#closing)). When both threads are busy the hand-off usually never
//! enters the kernel: the waiting side spins briefly before it parks.
//!
//! # Blocking
//!
//! A write blocks until readers have consumed all of it; a read blocks until a
//! write offers bytes, and returns bytes of that one write only. Concurrent
//! writes (through clones of the [`PipeWriter`], or `&PipeWriter` from several
//! threads) never interleave; concurrent reads each get distinct bytes.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let (mut reader, mut writer) = gopipe::pipe();
//! let t = std::thread::spawn(move || {
//!     writer.write_all(b"0123456789")?; // returns once all ten bytes were read
//!     Ok::<_, std::io::Error>(())
//! });
//!
//! let mut small = [0; 4];
//! assert_eq!(reader.read(&mut small)?, 4); // one write may take several reads
//! assert_eq!(&small, b"0123");
//! let mut rest = Vec::new();
//! reader.read_to_end(&mut rest)?; // ends when the writer is dropped
//! assert_eq!(rest, b"456789");
//! t.join().unwrap()?;
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! # Closing
//!
//! Either half can be closed, with or without an error, and the other half
//! sees it at once. Dropping the last clone of a half closes it.
//!
//! ```
//! use std::io::{ErrorKind, Read, Write};
//!
//! let (mut reader, mut writer) = gopipe::pipe();
//!
//! // The consumer gives up with a reason of its own...
//! reader.close_with_error(std::io::Error::new(ErrorKind::InvalidData, "not gzip"));
//!
//! // ...and the producer's next write fails with it.
//! let err = writer.write(b"data").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidData);
//! assert_eq!(err.to_string(), "not gzip");
//!
//! // The reader's own reads now fail with the closed-pipe error.
//! assert!(gopipe::is_closed_pipe(&reader.read(&mut [0; 4]).unwrap_err()));
//! ```
//!
//! The first close of each half decides its error; later ones change nothing.
//! See [`pipe`] for the full rules, and [`CloseError`] for getting the original
//! error back.
//!
//! # Timeouts
//!
//! [`PipeReader::set_read_timeout`] and [`PipeWriter::set_write_timeout`] bound
//! how long an operation blocks, set as on a `TcpStream`. Nothing is lost when
//! they fire: a timed-out read consumed nothing, and a timed-out write reports
//! exactly the bytes readers took. A timeout fails with kind
//! [`TimedOut`](std::io::ErrorKind::TimedOut) (where a `TcpStream` on Unix
//! reports `WouldBlock`), so std's retry loops never take it for "try again".
//!
//! # Async
//!
//! With the `tokio` feature the halves implement `tokio::io::AsyncRead` and
//! `AsyncWrite`; with `futures-io`, the `futures_io` traits. One pipe can join
//! a thread and a task in either direction, or two tasks, which is how Go code
//! whose goroutines became tasks ports over:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::io::Write;
//! use tokio::io::AsyncReadExt;
//!
//! let (mut reader, writer) = gopipe::pipe();
//! // A blocking producer (an encoder, a compressor) on a thread...
//! let producer = std::thread::spawn(move || (&writer).write_all(b"made by a thread"));
//! // ...and an async consumer: each read copies straight from the thread's slice.
//! let mut text = String::new();
//! reader.read_to_string(&mut text).await?;
//! assert_eq!(text, "made by a thread");
//! producer.join().unwrap()?;
//! # Ok::<_, std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! Where a thread waits, the bytes are copied once, between the two sides'
//! buffers; between two tasks, an async write stages its bytes in the pipe's
//! own buffer (64 KiB at most, allocated at first use) and the reader copies
//! them out. Async writes are thus buffered up to 64 KiB, like a socket's
//! send buffer (blocking writes stay unbuffered): `flush` returns at once and
//! `shutdown` closes the write half at once, as on a socket, and
//! [`PipeWriter::consumed`] waits until readers have taken what was written
//! (Go's semantics). Every pending read, write or `consumed` is cancel safe.
//! See [`PipeReader`] and [`PipeWriter`] for the rules.
//!
//! # Duplex connections
//!
//! [`duplex`] is Go's `net.Pipe`: two connected [`Conn`]s, each reading what
//! the other writes, with absolute deadlines that apply to calls already
//! blocked ([`Conn::set_deadline`]).
//!
//! # An in-memory network
//!
//! [`listen`] is Go's `bufconn.Listen`: a [`Listener`] that threads
//! ([`Listener::accept`]) and tasks ([`Listener::accept_async`]) accept from,
//! and [`Dialer`]s that connect to it without blocking, each connection a
//! [`buffered_duplex`] pair. A server written against a listener is tested
//! without sockets:
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let listener = gopipe::listen(64 << 10);
//! let dialer = listener.dialer();
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     let mut conn = listener.accept()?;
//!     let mut hello = [0; 5];
//!     conn.read_exact(&mut hello)?;
//!     conn.write_all(&hello.map(|b| b.to_ascii_uppercase()))
//! });
//! let mut conn = dialer.dial()?; // returns at once: it waits in the backlog
//! conn.write_all(b"hello")?;
//! let mut reply = [0; 5];
//! conn.read_exact(&mut reply)?;
//! assert_eq!(&reply, b"HELLO");
//! server.join().unwrap()?;
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! # From Go
//!
//! | Go (`io`)                       | gopipe                                   |
//! |---------------------------------|------------------------------------------|
//! | `r, w := io.Pipe()`             | `let (r, w) = gopipe::pipe();`           |
//! | `r.Read(p)`                     | `r.read(&mut p)` ([`std::io::Read`])     |
//! | `w.Write(p)`                    | `w.write(&p)` / `w.write_all(&p)`        |
//! | `(0, io.EOF)` from `Read`       | `Ok(0)`                                  |
//! | `(n, err)` from `Write`, n > 0  | `Ok(n)`, then `Err(err)` on the next call (after a close) |
//! | `r.Close()` / `w.Close()`       | [`PipeReader::close`] / [`PipeWriter::close`], or drop the last clone |
//! | `r.CloseWithError(err)`         | [`PipeReader::close_with_error`]         |
//! | `w.CloseWithError(err)`         | [`PipeWriter::close_with_error`]         |
//! | `w.CloseWithError(nil)`         | [`PipeWriter::close`]                    |
//! | `io.ErrClosedPipe`              | [`ClosedPipe`], tested with [`is_closed_pipe`] (kind `BrokenPipe`) |
//! | `errors.As(err, &target)`       | [`CloseError::from_io`] then [`CloseError::downcast_ref`] |
//! | sharing `r`/`w` between goroutines | clone the half, or share `&PipeReader` / `&PipeWriter` |
//! | `SetReadDeadline` (on `net.Pipe`) | [`PipeReader::set_read_deadline`] (kind `TimedOut`), or a timeout per call: [`PipeReader::set_read_timeout`] |
//! | `net.Pipe()`                    | [`duplex`], two [`Conn`]s                |
//! | `bufconn.Listen(size)`          | [`listen`], a [`Listener`]               |
//! | `lis.Dial()`                    | [`lis.dialer()`](Listener::dialer), then [`dialer.dial()`](Dialer::dial) |
//! | `lis.Accept()`                  | [`lis.accept()`](Listener::accept), or [`lis.accept_async().await`](Listener::accept_async) |
//! | `r.WriteTo(w)` (`io.WriterTo`)  | [`PipeReader::write_to`] (std's `io::copy` does not find it: call it) |
//! | `n, err := w.ReadFrom(r)` (`io.ReaderFrom`) | [`PipeWriter::read_from`]: `Ok(n)` when `r` reached its end, else `Err(err)` with no count, as `io::copy` |
//! | `w.Write(p)` in a goroutine, as a task | `w.write_all(&p).await?; w.consumed().await?` ([`PipeWriter::consumed`]) |
//!
//! # Memory ordering
//!
//! A write and the read that returns its bytes synchronise like a channel's
//! send and receive: everything the writer did before `write` happens-before
//! the reader's return from `read`, and everything the reader did before it
//! took the bytes happens-before the writer's return from `write`. Closing a
//! half happens-before any operation that reports that close.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

#[cfg(any(feature = "tokio", feature = "futures-io"))]
mod async_io;
mod conn;
mod engine;
mod error;
mod net;
mod pipe;
mod sync;

pub use crate::conn::{buffered_duplex, duplex, Conn};
pub use crate::error::{is_closed_pipe, CloseError, ClosedPipe};
#[cfg(feature = "stream")]
pub use crate::net::Incoming;
pub use crate::net::{listen, listen_with_backlog, Accept, Dialer, Listener, DEFAULT_BACKLOG};
#[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
#[doc(hidden)]
pub use crate::pipe::__reference_pipe;
#[cfg(gopipe_loom)]
#[doc(hidden)]
pub use crate::pipe::{__loom_panic_after_next_lend, __loom_panic_after_next_offer};
pub use crate::pipe::{buffered_pipe, pipe, PipeReader, PipeWriter};

#[cfg(doctest)]
mod compile_fail_tests;
