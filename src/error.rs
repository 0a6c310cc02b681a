//! The errors a pipe returns, and the close errors it stores.
//!
//! Every error crosses `std::io` as an [`io::Error`]; its payload (reachable with
//! [`io::Error::get_ref`]) is one of the public types here, so callers can tell
//! them apart without comparing strings:
//!
//! - [`ClosedPipe`]: the half was closed by the caller's own side, or the peer
//!   closed without an error (Go's `io.ErrClosedPipe`). Kind
//!   [`BrokenPipe`](io::ErrorKind::BrokenPipe).
//! - [`CloseError`]: the error the peer passed to `close_with_error`. Kind and
//!   message are those of the peer's error.
//! - A timeout has kind [`TimedOut`](io::ErrorKind::TimedOut) and the message
//!   `i/o timeout`.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

/// The error of an operation on a closed pipe: Go's `io.ErrClosedPipe`.
///
/// A read or write returns it, inside an [`io::Error`] of kind
/// [`BrokenPipe`](io::ErrorKind::BrokenPipe), when the caller's own half has been
/// closed, and a write returns it when the reader closed with
/// [`PipeReader::close`](crate::PipeReader::close) (or was dropped). Its message is
/// Go's: `io: read/write on closed pipe`. Use [`is_closed_pipe`] to recognise it.
///
/// Passing `ClosedPipe` (or an `io::Error` carrying it) to
/// [`PipeReader::close_with_error`](crate::PipeReader::close_with_error) is the
/// same as calling `close`. Passed to
/// [`PipeWriter::close_with_error`](crate::PipeWriter::close_with_error), it makes
/// reads fail with `ClosedPipe` instead of returning end of file, as Go's
/// `CloseWithError(io.ErrClosedPipe)` does.
///
/// # Examples
///
/// ```
/// use std::io::{ErrorKind, Write};
///
/// let (reader, mut writer) = gopipe::pipe();
/// reader.close();
/// let err = writer.write(b"hello").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BrokenPipe);
/// assert_eq!(err.to_string(), "io: read/write on closed pipe");
/// assert!(gopipe::is_closed_pipe(&err));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClosedPipe;

impl fmt::Display for ClosedPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("io: read/write on closed pipe")
    }
}

impl Error for ClosedPipe {}

impl From<ClosedPipe> for io::Error {
    fn from(err: ClosedPipe) -> Self {
        io::Error::new(io::ErrorKind::BrokenPipe, err)
    }
}

/// Whether `err` is the closed-pipe error ([`ClosedPipe`]) of a gopipe pipe.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// let (mut reader, _writer) = gopipe::pipe();
/// reader.close();
/// let err = reader.read(&mut [0; 8]).unwrap_err();
/// assert!(gopipe::is_closed_pipe(&err));
/// assert!(!gopipe::is_closed_pipe(&std::io::Error::other("something else")));
/// ```
pub fn is_closed_pipe(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<ClosedPipe>())
}

/// The error one half was closed with, as the other half receives it.
///
/// After [`PipeWriter::close_with_error(e)`](crate::PipeWriter::close_with_error),
/// reads fail with an [`io::Error`] whose payload is a `CloseError` holding `e`
/// (and likewise for writes after
/// [`PipeReader::close_with_error`](crate::PipeReader::close_with_error)). The
/// `io::Error` has `e`'s message, and `e`'s kind when `e` is an `io::Error`
/// ([`Other`](io::ErrorKind::Other) otherwise). Every failing call gets its own
/// `io::Error`, all sharing the one stored `e`.
///
/// Two kinds never cross: an `e` of kind
/// [`Interrupted`](io::ErrorKind::Interrupted) or
/// [`WouldBlock`](io::ErrorKind::WouldBlock) arrives as
/// [`Other`](io::ErrorKind::Other) (message and payload unchanged), because
/// std's loops (`read_exact`, `read_to_end`, `write_all`, `io::copy`) retry
/// those kinds and would spin on the closed pipe for ever.
///
/// To get `e` back, take the payload with [`CloseError::from_io`] (or
/// `err.get_ref()` and `downcast_ref::<CloseError>()`), then
/// [`CloseError::downcast_ref`] or [`CloseError::get_ref`].
///
/// `CloseError` is transparent: its `Display` is `e`'s and its
/// [`source`](Error::source) is `e`'s source, so an error report does not repeat
/// the message.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// #[derive(Debug)]
/// struct Corrupt(u32);
/// impl std::fmt::Display for Corrupt {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "record {} is corrupt", self.0)
///     }
/// }
/// impl std::error::Error for Corrupt {}
///
/// let (mut reader, writer) = gopipe::pipe();
/// writer.close_with_error(Corrupt(7));
///
/// let err = reader.read(&mut [0; 16]).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::Other);
/// assert_eq!(err.to_string(), "record 7 is corrupt");
///
/// let cause = gopipe::CloseError::from_io(&err).expect("a close error");
/// assert_eq!(cause.downcast_ref::<Corrupt>().map(|c| c.0), Some(7));
/// ```
#[derive(Clone)]
pub struct CloseError {
    /// The kind every `io::Error` made from this one gets.
    kind: io::ErrorKind,
    /// The error passed to `close_with_error`, shared by every copy.
    inner: Arc<dyn Error + Send + Sync + 'static>,
}

impl CloseError {
    /// The payload of `err` if it is a `CloseError`, that is, if `err` carries an
    /// error the other half passed to `close_with_error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let (reader, mut writer) = gopipe::pipe();
    /// reader.close_with_error("consumer gave up");
    /// let err = writer.write(b"data").unwrap_err();
    /// let cause = gopipe::CloseError::from_io(&err).unwrap();
    /// assert_eq!(cause.to_string(), "consumer gave up");
    /// ```
    pub fn from_io(err: &io::Error) -> Option<&CloseError> {
        err.get_ref()?.downcast_ref::<CloseError>()
    }

    /// The error passed to `close_with_error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// writer.close_with_error(std::io::Error::new(std::io::ErrorKind::InvalidData, "bad header"));
    /// let err = reader.read(&mut [0; 4]).unwrap_err();
    /// let cause = gopipe::CloseError::from_io(&err).unwrap();
    /// let original = cause.get_ref().downcast_ref::<std::io::Error>().unwrap();
    /// assert_eq!(original.kind(), std::io::ErrorKind::InvalidData);
    /// ```
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.inner
    }

    /// The error passed to `close_with_error`, if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// writer.close_with_error(std::fmt::Error);
    /// let err = reader.read(&mut [0; 4]).unwrap_err();
    /// let cause = gopipe::CloseError::from_io(&err).unwrap();
    /// assert!(cause.downcast_ref::<std::fmt::Error>().is_some());
    /// assert!(cause.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<T: Error + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }

    /// The kind of the `io::Error`s this close error is returned in: the
    /// original error's kind, except that `Interrupted` and `WouldBlock` become
    /// `Other` (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    ///
    /// let (mut reader, writer) = gopipe::pipe();
    /// writer.close_with_error(std::io::Error::from(ErrorKind::ConnectionReset));
    /// let err = reader.read(&mut [0; 4]).unwrap_err();
    /// assert_eq!(gopipe::CloseError::from_io(&err).unwrap().kind(), ErrorKind::ConnectionReset);
    ///
    /// // A kind that std's loops retry crosses as `Other`, so `read_to_end` stops.
    /// let (mut reader, writer) = gopipe::pipe();
    /// writer.close_with_error(std::io::Error::new(ErrorKind::Interrupted, "cancelled"));
    /// let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Other);
    /// assert_eq!(err.to_string(), "cancelled");
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        self.kind
    }
}

impl fmt::Debug for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseError")
            .field("kind", &self.kind)
            .field("error", &self.inner)
            .finish()
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl Error for CloseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.inner.source()
    }
}

impl From<CloseError> for io::Error {
    fn from(err: CloseError) -> Self {
        io::Error::new(err.kind, err)
    }
}

/// The kind a close error crosses the pipe with: its own, except the two kinds
/// that std's retry loops (`read_exact`, `read_to_end`, `write_all`, `io::copy`)
/// take as "try again", which would make them retry a closed pipe for ever.
fn crossing_kind(kind: io::ErrorKind) -> io::ErrorKind {
    match kind {
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => io::ErrorKind::Other,
        kind => kind,
    }
}

/// Why a half was closed: what the slot of that half stores.
#[derive(Clone, Debug)]
pub(crate) enum Cause {
    /// The writer closed without an error: reads see end of file.
    Eof,
    /// Closed with no error of the caller's own (reader `close`), or with
    /// [`ClosedPipe`] itself.
    ClosedPipe,
    /// Closed with an error of the caller's.
    Error(CloseError),
}

impl Cause {
    /// The cause for an error passed to `close_with_error`.
    pub(crate) fn from_error(err: Box<dyn Error + Send + Sync + 'static>) -> Cause {
        // An io::Error carries its kind; anything else is `Other`.
        let io_err = err.downcast_ref::<io::Error>();
        let is_closed_pipe = err.is::<ClosedPipe>() || io_err.is_some_and(is_closed_pipe);
        if is_closed_pipe {
            return Cause::ClosedPipe;
        }
        // An error received from another pipe's close is passed on as it is, so
        // that its kind and original error survive the second crossing.
        let received = err
            .downcast_ref::<CloseError>()
            .or_else(|| io_err.and_then(CloseError::from_io));
        if let Some(received) = received {
            return Cause::Error(received.clone());
        }
        let kind = crossing_kind(io_err.map_or(io::ErrorKind::Other, io::Error::kind));
        Cause::Error(CloseError {
            kind,
            inner: Arc::from(err),
        })
    }

    /// What a read returns once this cause is the one that applies to it.
    fn read_result(&self) -> io::Result<usize> {
        match self {
            Cause::Eof => Ok(0),
            Cause::ClosedPipe => Err(ClosedPipe.into()),
            Cause::Error(err) => Err(err.clone().into()),
        }
    }

    /// What a write fails with once this cause is the one that applies to it.
    fn write_error(&self) -> io::Error {
        match self {
            Cause::Eof | Cause::ClosedPipe => ClosedPipe.into(),
            Cause::Error(err) => err.clone().into(),
        }
    }
}

/// The outcome of a read on a closed pipe, Go's `readCloseError`.
///
/// `rerr` and `werr` are what the reader's and the writer's half stored. A reader
/// that closed its own half gets [`ClosedPipe`]; otherwise it gets what the writer
/// closed with (end of file for a plain close).
pub(crate) fn read_close_result(rerr: Option<&Cause>, werr: Option<&Cause>) -> io::Result<usize> {
    match (rerr, werr) {
        (None, Some(cause)) => cause.read_result(),
        _ => Err(ClosedPipe.into()),
    }
}

/// The error of a write on a closed pipe, Go's `writeCloseError`.
///
/// A writer that closed its own half gets [`ClosedPipe`]; otherwise it gets what
/// the reader closed with.
pub(crate) fn write_close_error(rerr: Option<&Cause>, werr: Option<&Cause>) -> io::Error {
    match (werr, rerr) {
        (None, Some(cause)) => cause.write_error(),
        _ => ClosedPipe.into(),
    }
}

/// The error of a read or write whose timeout passed.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
}

/// A write that a close or its deadline ended before readers took all of it:
/// how many bytes they took, and why it ended. The engines' writes return it
/// so that each caller decides what a cut means to it: a `write` reports the
/// count if readers took any byte ([`Cut::partial`]), a `read_from` the error
/// itself.
#[derive(Debug)]
pub(crate) struct Cut {
    /// Bytes readers took before the cut: 0 if it came first, and always
    /// fewer than the write's (a write they took whole is not cut).
    pub(crate) taken: usize,
    /// The cut's error: the close error, or a timeout.
    pub(crate) err: io::Error,
}

impl Cut {
    /// A write's result after this cut: the count if any byte went across
    /// (the next call reports the error), the error if not.
    pub(crate) fn partial(self) -> io::Result<usize> {
        if self.taken > 0 {
            Ok(self.taken)
        } else {
            Err(self.err)
        }
    }
}

impl From<io::Error> for Cut {
    /// A cut before readers took any byte.
    fn from(err: io::Error) -> Self {
        Cut { taken: 0, err }
    }
}

/// What an engine's write returns: `Ok` with the write's whole length once
/// readers took every byte, or the cut.
pub(crate) type Written = Result<usize, Cut>;
