//! The zero-copy calls on the pipe's state: `write_to` and `read_vectored`
//! (a draining read into a [`Sink`]), `read_from` (a source read into a
//! buffer of the writer's own, then written), and `write_vectored` (a gather
//! offered as one write).

use std::io;

use super::rendezvous::Sink;
use super::{Engine, PipeState};
use crate::error::{Cut, Written};

impl PipeState {
    /// A read that hands the bytes of one write to `take` (see `rendezvous::Sink`):
    /// how many it took, `Ok(0)` at end of file.
    pub(crate) fn drain(&self, take: &mut Sink<'_>) -> io::Result<usize> {
        let deadline = self.read_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Rendezvous(e) => e.drain(self, take, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.drain(self, take, deadline),
        }
    }

    /// Drains the pipe into `w` until end of file: see `PipeReader::write_to`.
    pub(crate) fn write_to(&self, w: &mut dyn io::Write) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let got = {
                let mut take = |bytes: &[u8]| -> io::Result<usize> {
                    loop {
                        match w.write(bytes) {
                            Ok(0) => {
                                return Err(io::Error::new(
                                    io::ErrorKind::WriteZero,
                                    "failed to write whole buffer",
                                ))
                            }
                            Ok(n) => {
                                let n = n.min(bytes.len());
                                total += n as u64;
                                return Ok(n);
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                };
                self.drain(&mut take)
            };
            match got {
                Ok(0) => return Ok(total),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads into `bufs` in order, from one write: see `PipeReader`'s
    /// `read_vectored`.
    pub(crate) fn read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        if nonempty.next().is_none() {
            return Ok(0);
        }
        if nonempty.next().is_none() {
            let buf = bufs
                .iter_mut()
                .find(|b| !b.is_empty())
                .expect("one is not empty");
            return self.read(buf);
        }
        let (mut at, mut off) = (0, 0);
        let mut take = |bytes: &[u8]| -> io::Result<usize> {
            let mut taken = 0;
            while taken < bytes.len() && at < bufs.len() {
                let dst = &mut bufs[at][off..];
                let k = dst.len().min(bytes.len() - taken);
                crate::engine::copy::copy_slice(&mut dst[..k], &bytes[taken..taken + k]);
                taken += k;
                off += k;
                if off == bufs[at].len() {
                    at += 1;
                    off = 0;
                }
            }
            Ok(taken)
        };
        self.drain(&mut take)
    }

    /// Moves bytes from `r` into the pipe until `r`'s end: see
    /// `PipeWriter::read_from`. `Ok` only at `r`'s end of file, with every
    /// byte delivered; a cut (a close, the deadline) returns its error.
    pub(crate) fn read_from(&self, r: &mut dyn io::Read) -> io::Result<u64> {
        /// The largest buffer of its own a `read_from` uses.
        const OWN: usize = 64 << 10;
        let mut total = 0u64;
        let mut own: Vec<u8> = Vec::new();
        loop {
            // A passed deadline or a close ends the call before `r` reads
            // bytes that could not be delivered.
            if self.signals.is_closed() {
                return Err(self.write_close_error());
            }
            self.deadline_check(self.write_deadline())?;
            // `r` reads into a buffer of our own, never into a reader's lent
            // buffer: a reader must be free to leave (its deadline, a close)
            // whatever `r` does.
            if own.is_empty() {
                own = vec![0; OWN];
            }
            let n = loop {
                match r.read(&mut own) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Ok(n) if n > own.len() => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the source's read returned more bytes than its buffer holds",
                        ))
                    }
                    other => break other?,
                }
            };
            if n == 0 {
                return Ok(total);
            }
            // One write per read of the source. A cut ends the call with its
            // error, as `io::copy` ends on a failed write, however many
            // bytes went before: the rest of this read of `r` is dropped.
            total += self.write_or_cut(&own[..n]).map_err(|cut| cut.err)? as u64;
        }
    }

    /// Writes `bufs` as one write: see `PipeWriter`'s `write_vectored`.
    pub(crate) fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        /// Gathered writes up to this size are copied into one buffer on the
        /// stack and offered as one slice: a copy that costs less than the
        /// rendezvous it saves.
        const GATHER: usize = 4 << 10;
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        let Some(first) = nonempty.next() else {
            return self.write(&[]);
        };
        if nonempty.next().is_none() {
            return self.write(first);
        }
        let total = bufs
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.len()));
        if total <= GATHER {
            // Not zeroed first: only the `total` bytes copied in are read.
            let mut gathered = std::mem::MaybeUninit::<[u8; GATHER]>::uninit();
            let base = gathered.as_mut_ptr().cast::<u8>();
            let mut at = 0;
            for b in bufs {
                // SAFETY: `at + b.len() <= total <= GATHER`, so the copy stays
                // inside the array; a caller's slice cannot overlap our stack
                // buffer.
                unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), base.add(at), b.len()) };
                at += b.len();
            }
            // SAFETY: the first `total` bytes were just written (`at == total`).
            let gathered = unsafe { std::slice::from_raw_parts(base, total) };
            return self.write(gathered);
        }
        let deadline = self.write_deadline();
        self.deadline_check(deadline)?;
        match &self.engine {
            Engine::Rendezvous(e) => e.write_all_of(self, bufs, deadline),
            #[cfg(all(feature = "__reference-engine", not(gopipe_loom)))]
            Engine::Reference(e) => e.write_all_of(self, bufs, deadline),
        }
        .or_else(Cut::partial)
    }
}

/// Writes the non-empty `slices` one after another with `write_one` (each as
/// a write of its own, the write side held by the caller throughout), which
/// together make one write: returns the bytes readers took, or the cut of
/// the whole (its count over all the slices).
pub(super) fn write_each(
    slices: &[io::IoSlice<'_>],
    mut write_one: impl FnMut(&[u8]) -> Written,
) -> Written {
    let mut total = 0;
    for slice in slices.iter().filter(|s| !s.is_empty()) {
        match write_one(slice) {
            Ok(n) => total += n,
            Err(cut) => {
                return Err(Cut {
                    taken: total + cut.taken,
                    err: cut.err,
                })
            }
        }
    }
    Ok(total)
}
