//! Compile-time checks of the handles' auto traits, as doctests.
//!
//! Each `compile_fail` case has a twin that compiles, so a failure means what it
//! says and not a typo.
//!
//! Both halves are `Send` and `Sync`:
//!
//! ```
//! fn send_sync<T: Send + Sync>() {}
//! send_sync::<gopipe::PipeReader>();
//! send_sync::<gopipe::PipeWriter>();
//! send_sync::<gopipe::CloseError>();
//! ```
//!
//! A reader is not a writer, and a writer not a reader:
//!
//! ```compile_fail
//! fn write<W: std::io::Write>(_: W) {}
//! let (reader, _writer) = gopipe::pipe();
//! write(reader);
//! ```
//!
//! ```
//! fn write<W: std::io::Write>(_: W) {}
//! let (_reader, writer) = gopipe::pipe();
//! write(writer);
//! ```
//!
//! ```compile_fail
//! fn read<R: std::io::Read>(_: R) {}
//! let (_reader, writer) = gopipe::pipe();
//! read(writer);
//! ```
//!
//! ```
//! fn read<R: std::io::Read>(_: R) {}
//! let (reader, _writer) = gopipe::pipe();
//! read(reader);
//! ```
//!
//! A borrowed half reads or writes too, so an `Arc` of either can be shared:
//!
//! ```
//! use std::io::{Read, Write};
//! let (reader, writer) = gopipe::pipe();
//! let (reader, writer) = (std::sync::Arc::new(reader), std::sync::Arc::new(writer));
//! let t = std::thread::spawn(move || (&*writer).write_all(b"x"));
//! let mut b = [0];
//! (&*reader).read_exact(&mut b).unwrap();
//! t.join().unwrap().unwrap();
//! ```
//!
//! ```compile_fail
//! use std::io::Read;
//! let (_reader, writer) = gopipe::pipe();
//! let mut b = [0];
//! (&writer).read(&mut b).unwrap();
//! ```
