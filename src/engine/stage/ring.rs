//! The stage's ring: the bytes themselves and their bookkeeping, used under
//! the stage's lock ([`super::Stage`]): where the staged bytes are, how many
//! each staged write has left (unless reads join writes), what was ever
//! accepted and taken, and whether a drain claim holds the front. Its
//! storage grows with the bytes it holds and is given back when it empties
//! (see [`Storage`] for how it is reached).

use std::collections::VecDeque;

use crate::engine::Dst;
#[cfg(all(test, not(gopipe_loom)))]
use crate::engine::Fill;

/// The storage a ring keeps when it empties: larger storage is given back
/// then.
const KEEP: usize = 64 << 10;

/// The least storage a ring allocates (at its first push: a connection that
/// carries a request and a reply of a few KiB never allocates 64 KiB); it
/// doubles from there as the staged bytes need. 1 KiB: small enough for the
/// allocator's per-thread cache (glibc's serves blocks up to 1,032 bytes
/// from it; a 4 KiB first block cost about 450 instructions more per
/// connection of an in-memory network, each way), and a stream that needs
/// more reaches 64 KiB in six doublings, once.
const FIRST: usize = 1 << 10;

/// A ring's storage: `size` bytes (0, or a power of two), allocated
/// uninitialised and reached only through a raw pointer.
///
/// No reference to the whole storage is ever made: a drain claim's sink reads
/// claimed bytes with the ring's lock released while a push copies into the
/// free bytes under it, and a `&mut` to the whole storage (what a
/// `Box<[_]>` gives when indexed or asked for its pointer mutably) would
/// assert that no one else is reading any of it (Miri's Stacked Borrows
/// rejected exactly that, with the `Box` this replaces). Each access makes a
/// slice or a copy of the bytes it touches only.
struct Storage {
    /// The first byte (dangling when `size` is 0).
    ptr: std::ptr::NonNull<u8>,
    /// How many bytes.
    size: usize,
}

// SAFETY: `Storage` owns its allocation (freed once, by its `Drop`) as a
// `Box<[u8]>` would, and holds no thread-bound state; the ring that holds it
// is shared behind a mutex, and the bytes read outside it are claimed (see
// `Ring::claimed`).
unsafe impl Send for Storage {}

impl Storage {
    /// No storage.
    const EMPTY: Self = Self {
        ptr: std::ptr::NonNull::dangling(),
        size: 0,
    };

    /// `size` (not zero) uninitialised bytes.
    fn new(size: usize) -> Self {
        debug_assert!(size > 0);
        let raw = Box::into_raw(Box::<[u8]>::new_uninit_slice(size));
        Self {
            // SAFETY: `Box::into_raw` never gives a null pointer.
            ptr: unsafe { std::ptr::NonNull::new_unchecked(raw.cast::<u8>()) },
            size,
        }
    }

    /// How many bytes.
    #[inline]
    fn size(&self) -> usize {
        self.size
    }

    /// The first byte, as a raw pointer (no reference to the storage made).
    #[inline]
    fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if self.size > 0 {
            let raw = std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr().cast::<std::mem::MaybeUninit<u8>>(),
                self.size,
            );
            // SAFETY: `ptr` and `size` are the allocation `new` made with
            // `Box::<[u8]>::new_uninit_slice(size)`, given back once, here;
            // `MaybeUninit<u8>` needs no drop and has `u8`'s layout.
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

/// The ring of staged bytes.
pub(crate) struct Ring {
    /// The storage: empty until the first push, then a power of two of
    /// bytes, at least [`FIRST`] (or the capacity rounded up, if less), at
    /// most the capacity rounded up; indices wrap with `buf.size() - 1`.
    ///
    /// Not zeroed when allocated: the staged bytes (`len` of them from
    /// `head`, wrapping) are initialised, each written by a push
    /// ([`Ring::copy_at`]) or moved by [`Ring::grow`] since; only they are
    /// ever read as bytes ([`Ring::staged`], [`Ring::front_raw`]).
    buf: Storage,
    /// Index of the first staged byte.
    head: usize,
    /// How many bytes are staged.
    len: usize,
    /// How many bytes it holds at most.
    cap: usize,
    /// Whether a read may take bytes of several writes (a buffered pipe's
    /// ring); else a read takes bytes of one write only, as from an offer.
    joined: bool,
    /// The staged writes' lengths (what is left of each), oldest first,
    /// unless `joined` (then unused: the bytes are one stream).
    writes: VecDeque<usize>,
    /// Bytes ever staged (less those taken back): the mark a `consumed`
    /// waits for readers' [`Ring::taken`] to reach.
    accepted: u64,
    /// Bytes readers ever took from the stage.
    taken: u64,
    /// A draining read holds a claim on the oldest staged write: its sink is
    /// reading the front bytes with the lock released. While it is set, no
    /// one else takes staged bytes, and `head` stays where it is (the sink's
    /// bytes must not move).
    pub(super) claimed: bool,
    /// The read half closed while a drain claim held the front: the staged
    /// bytes go when the claim ends ([`Ring::discard`]).
    pub(super) discard_due: bool,
}

impl Ring {
    /// An empty ring of `cap` bytes (not zero), with no storage yet; reads
    /// join writes if `joined`.
    pub(crate) fn new(cap: usize, joined: bool) -> Self {
        debug_assert!(cap > 0);
        Self {
            buf: Storage::EMPTY,
            head: 0,
            len: 0,
            cap,
            joined,
            writes: VecDeque::new(),
            accepted: 0,
            taken: 0,
            claimed: false,
            discard_due: false,
        }
    }

    /// How many bytes are staged.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Room a push may use now: the capacity left, or, while a drain claim
    /// holds bytes in place (the storage cannot move), the storage's free
    /// bytes within the capacity.
    pub(crate) fn room(&self) -> usize {
        if self.claimed {
            self.cap.min(self.buf.size()) - self.len
        } else {
            self.cap - self.len
        }
    }

    /// Makes the storage's free bytes at least `n` (`n <= room()`): the
    /// first allocation, or a larger one with the staged bytes moved to its
    /// start (never while claimed: `room` keeps `n` within the storage then).
    #[inline]
    fn reserve(&mut self, n: usize) {
        if self.buf.size() - self.len >= n {
            return;
        }
        self.grow(self.len + n);
    }

    /// Moves the staged bytes into storage of at least `need` bytes.
    #[cold]
    fn grow(&mut self, need: usize) {
        debug_assert!(!self.claimed && need <= self.cap);
        let most = self.cap.next_power_of_two();
        let size = need
            .next_power_of_two()
            .max(self.buf.size() * 2)
            .max(FIRST)
            .min(most);
        // Uninitialised: a request of a few KiB does not pay for zeroing
        // storage it never reads (see `buf`).
        let fresh = Storage::new(size);
        let first = self.len.min(self.buf.size().saturating_sub(self.head));
        // SAFETY: the `len` staged bytes are `first` from `head` to the old
        // storage's end and the rest from its start, all initialised (see
        // `buf`) and within it; `fresh` holds at least `need >= len` bytes
        // and is a separate allocation. We hold `&mut self` and no claim is
        // on (asserted above), so no one else reads or writes either.
        unsafe {
            std::ptr::copy_nonoverlapping(self.buf.base().add(self.head), fresh.base(), first);
            std::ptr::copy_nonoverlapping(
                self.buf.base(),
                fresh.base().add(first),
                self.len - first,
            );
        }
        self.buf = fresh;
        self.head = 0;
    }

    /// Once nothing is staged and no claim holds the storage: starts over at
    /// its front (the next push is then one copy), and gives back storage
    /// larger than [`KEEP`].
    #[inline]
    pub(super) fn emptied(&mut self) {
        if self.len == 0 && !self.claimed {
            self.head = 0;
            if self.buf.size() > KEEP {
                self.buf = Storage::EMPTY;
            }
        }
    }

    /// The storage's index mask.
    #[inline]
    fn mask(&self) -> usize {
        self.buf.size() - 1
    }

    /// Appends as much of `bytes` as fits, as one write; returns how many it
    /// took.
    #[cfg(all(test, not(gopipe_loom)))]
    pub(crate) fn push(&mut self, bytes: &[u8]) -> usize {
        self.push_gather(&[std::io::IoSlice::new(bytes)], 0, usize::MAX)
    }

    /// Appends as much of the gather `slices`, less its first `skip` bytes,
    /// as fits, and at most `max` bytes, as one write; returns how many bytes
    /// it took.
    #[inline(always)]
    pub(crate) fn push_gather(
        &mut self,
        slices: &[std::io::IoSlice<'_>],
        skip: usize,
        max: usize,
    ) -> usize {
        // One slice, the common case: no walk over the gather.
        if let [one] = slices {
            let n = (one.len() - skip).min(self.room()).min(max);
            if n > 0 {
                let tail = self.free_start(n);
                self.copy_at(tail, &one[skip..skip + n]);
                self.pushed(n);
            }
            return n;
        }
        self.push_walk(slices, skip, max)
    }

    /// [`Ring::push_gather`] of a gather of several slices (or none).
    #[inline(never)]
    fn push_walk(&mut self, slices: &[std::io::IoSlice<'_>], skip: usize, max: usize) -> usize {
        let total = slices.iter().map(|s| s.len()).sum::<usize>() - skip;
        let n = total.min(self.room()).min(max);
        if n == 0 {
            return 0;
        }
        let mut tail = self.free_start(n);
        let (mut skip, mut want) = (skip, n);
        for slice in slices {
            if want == 0 {
                break;
            }
            if skip >= slice.len() {
                skip -= slice.len();
                continue;
            }
            let bytes = &slice[skip..slice.len().min(skip + want)];
            skip = 0;
            want -= bytes.len();
            tail = self.copy_at(tail, bytes);
        }
        self.pushed(n);
        n
    }

    /// Where the first free byte is, with room for a push of `n` bytes
    /// (`n <= room()`) made in the storage.
    #[inline]
    fn free_start(&mut self, n: usize) -> usize {
        self.reserve(n);
        (self.head + self.len) & self.mask()
    }

    /// Counts a push of `n` bytes, copied in already, as one write.
    #[inline]
    fn pushed(&mut self, n: usize) {
        self.len += n;
        self.accepted += n as u64;
        if !self.joined {
            self.writes.push_back(n);
        }
    }

    /// Copies `bytes` into the storage at `tail`, wrapping at its end;
    /// returns where the next byte goes. A push's copies, from the first
    /// free byte on, are no more than the room.
    #[inline(always)]
    fn copy_at(&mut self, tail: usize, bytes: &[u8]) -> usize {
        let size = self.buf.size();
        let first = bytes.len().min(size - tail);
        let base = self.buf.base();
        // SAFETY: `tail < size` and `tail + first <= size`; the rest goes to
        // the storage's start. `push_gather` made the storage's free bytes at
        // least what it copies (`free_start`), and copies at most that in all,
        // from the first free byte on, so the copies do not wrap onto the
        // staged bytes: each copy stays in the storage and touches only
        // free room, never the staged bytes a drain claim's sink may be
        // reading (`Ring::claimed`). The storage is reached through its raw
        // pointer only ([`Storage`]), so no reference covers the staged
        // bytes that a drain claim's sink is reading while we copy.
        // The bytes copied in are initialised from here on (see `buf`).
        unsafe {
            crate::engine::copy::copy_raw(bytes.as_ptr(), base.add(tail), first);
            // Most pushes do not wrap: no second call into memcpy for them.
            if first < bytes.len() {
                crate::engine::copy::copy_raw(bytes.as_ptr().add(first), base, bytes.len() - first);
            }
        }
        (tail + bytes.len()) & (size - 1)
    }

    /// Whether readers have taken every byte staged up to `mark` (a value of
    /// [`Ring::accepted_mark`]).
    pub(crate) fn taken_past(&self, mark: u64) -> bool {
        self.taken >= mark
    }

    /// The count of bytes ever staged, as a mark for [`Ring::taken_past`].
    pub(crate) fn accepted_mark(&self) -> u64 {
        self.accepted
    }

    /// Where the oldest staged write's next bytes are (up to the ring's wrap;
    /// null and 0 if nothing is staged), without borrowing the ring: for a
    /// drain claim's sink, which reads them with the lock released.
    pub(super) fn front_raw(&self) -> (*const u8, usize) {
        let front = self.front_len();
        if front == 0 {
            return (std::ptr::null(), 0);
        }
        // SAFETY: `head` is within the storage whenever bytes are staged. The
        // `front` bytes from there (up to the wrap) are staged, so
        // initialised (see `buf`): the sink may read them as bytes.
        let ptr = unsafe { self.buf.base().add(self.head) }.cast_const();
        (ptr, front.min(self.buf.size() - self.head))
    }

    /// How many bytes a read may take at once: the oldest staged write's
    /// (all of them, when reads join writes).
    #[inline]
    fn front_len(&self) -> usize {
        if self.joined {
            self.len
        } else {
            self.writes.front().copied().unwrap_or(0)
        }
    }

    /// Drops the first `n` bytes of what a read may take (`n` at most what
    /// [`Ring::front_len`] gave); returns whether that finished it (a read
    /// of an unbuffered pipe's stage takes bytes of one write only, so it
    /// stops there; a buffered pipe's read stops when nothing is left).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) -> bool {
        let finished = if self.joined {
            debug_assert!(n <= self.len);
            n == self.len
        } else {
            let Some(write) = self.writes.front_mut() else {
                return false;
            };
            debug_assert!(n <= *write);
            *write -= n;
            let finished = *write == 0;
            if finished {
                self.writes.pop_front();
            }
            finished
        };
        if n > 0 {
            self.head = (self.head + n) & self.mask();
        }
        self.len -= n;
        self.taken += n as u64;
        self.emptied();
        finished
    }

    /// Takes back the last push of `n` bytes (the pipe closed while it was
    /// being staged, under the same lock).
    pub(crate) fn unpush(&mut self, n: usize) {
        if !self.joined {
            let last = self.writes.pop_back();
            debug_assert_eq!(last, Some(n));
        }
        self.len -= n;
        self.accepted -= n as u64;
        self.emptied();
    }

    /// Drops every staged byte (the read half closed: nobody will read
    /// them), not counting them as taken (a `consumed` waiting on them fails
    /// on the close). While a drain claim holds bytes in place, nothing yet:
    /// they go when the claim ends ([`Stage::drain`]).
    pub(crate) fn discard(&mut self) {
        if self.claimed {
            self.discard_due = true;
            return;
        }
        self.discard_due = false;
        self.len = 0;
        self.writes.clear();
        self.emptied();
    }

    /// The `n` storage bytes from `at`, which must be staged bytes (within
    /// the `len` from `head`, wrapping, and not across the storage's end).
    #[inline]
    fn staged(&self, at: usize, n: usize) -> &[u8] {
        debug_assert!(n <= self.len && at + n <= self.buf.size());
        // SAFETY: the caller asks for staged bytes only, within the storage
        // and initialised (see `buf`); the slice borrows the ring, so nothing
        // writes them while it lives (pushes write free room only).
        unsafe { std::slice::from_raw_parts(self.buf.base().add(at), n) }
    }

    /// Moves as many bytes of the oldest staged write as fit into `out`;
    /// returns how many (none while a drain claim holds the front).
    #[cfg(all(test, not(gopipe_loom)))]
    pub(crate) fn take(&mut self, out: &mut [u8]) -> usize {
        self.take_into(&mut Fill::new(out))
    }

    /// Moves as many bytes of the oldest staged write as `out` has room for
    /// into it; returns how many (none while a drain claim holds the front).
    pub(crate) fn take_into<D: Dst + ?Sized>(&mut self, out: &mut D) -> usize {
        if self.claimed {
            return 0;
        }
        let n = self.front_len().min(out.room());
        if n == 0 {
            return 0;
        }
        // The bytes may wrap around the storage's end: then two pieces.
        let first = n.min(self.buf.size() - self.head);
        out.put(self.staged(self.head, first));
        if n > first {
            out.put(self.staged(0, n - first));
        }
        self.advance(n);
        n
    }
}

#[cfg(all(test, not(gopipe_loom)))]
mod tests {
    use super::Ring;
    use crate::engine::stage::STAGE_CAP;

    /// A take never mixes two writes.
    #[test]
    fn take_keeps_write_boundaries() {
        let mut ring = Ring::new(STAGE_CAP, false);
        assert_eq!(ring.push(b"abc"), 3);
        assert_eq!(ring.push(b"defgh"), 5);
        let mut out = [0; 16];
        assert_eq!(ring.take(&mut out), 3);
        assert_eq!(&out[..3], b"abc");
        assert_eq!(ring.take(&mut out[..2]), 2);
        assert_eq!(&out[..2], b"de");
        assert_eq!(ring.take(&mut out), 3);
        assert_eq!(&out[..3], b"fgh");
        assert_eq!(ring.take(&mut out), 0);
    }

    /// Bytes come out in the order they went in, across the ring's wrap.
    #[test]
    fn ring_keeps_order_across_the_wrap() {
        let mut ring = Ring::new(STAGE_CAP, false);
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        let mut out = vec![0; 40_000];
        for round in 0..50 {
            let chunk: Vec<u8> = (0..30_000 + round * 7)
                .map(|_| {
                    next_in = next_in.wrapping_add(1);
                    next_in
                })
                .collect();
            let took = ring.push(&chunk);
            assert!(took <= chunk.len());
            assert!(ring.len() <= STAGE_CAP);
            // What did not fit is not counted: replay the generator.
            next_in = next_in.wrapping_sub((chunk.len() - took) as u8);
            let n = ring.take(&mut out[..(round * 1000 + 1) % 40_000]);
            for &b in &out[..n] {
                next_out = next_out.wrapping_add(1);
                assert_eq!(b, next_out, "round {round}");
            }
        }
        while ring.len() > 0 {
            let n = ring.take(&mut out);
            for &b in &out[..n] {
                next_out = next_out.wrapping_add(1);
                assert_eq!(b, next_out);
            }
        }
        assert_eq!(next_in, next_out);
    }

    /// A push taken back leaves the ring as it was.
    #[test]
    fn unpush_takes_back_the_last_push() {
        let mut ring = Ring::new(STAGE_CAP, false);
        assert_eq!(ring.push(b"kept"), 4);
        assert_eq!(ring.push(b"dropped"), 7);
        ring.unpush(7);
        assert_eq!(ring.len(), 4);
        assert_eq!(ring.push(b"!"), 1);
        let mut out = [0; 8];
        assert_eq!(ring.take(&mut out), 4);
        assert_eq!(&out[..4], b"kept");
        assert_eq!(ring.take(&mut out), 1);
        assert_eq!(&out[..1], b"!");
    }

    /// A full ring takes nothing more; an empty one gives nothing.
    #[test]
    fn ring_bounds() {
        let mut ring = Ring::new(STAGE_CAP, false);
        assert_eq!(ring.take(&mut [0; 8]), 0);
        assert_eq!(ring.push(&vec![7; STAGE_CAP + 10]), STAGE_CAP);
        assert_eq!(ring.push(b"x"), 0);
        assert_eq!(ring.room(), 0);
        let mut out = vec![0; STAGE_CAP];
        assert_eq!(ring.take(&mut out), STAGE_CAP);
        assert!(out.iter().all(|&b| b == 7));
    }
}
