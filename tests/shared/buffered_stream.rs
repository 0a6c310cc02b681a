//! The checkers' rules for the bytes of a buffered pipe (issue 25), shared by
//! the pipe scripts (`tests/script/mod.rs`) and the connection scripts
//! (`tests/conn_script/mod.rs`, one buffered pipe per direction).
//!
//! A buffered pipe has one stream: the accepted prefixes of its writes, in
//! the order the write side took them (a write holds the write side for its
//! whole length, so its bytes are contiguous). Readers take that stream in
//! order, each byte once, a read any run of it: the bytes of several writes
//! of several writers may come in one read. So [`place`] looks for one
//! merge of the readers' reads that is such a stream:
//!
//! - reads that did not overlap in time keep their order;
//! - every byte is the next one of its writer's stream (a writer's writes in
//!   program order, each cut to its count), told by its tag, and a write, once
//!   begun, goes on until its count before any other writer's byte comes
//!   (writes never interleave);
//! - a write's bytes come after those of every write that returned before it
//!   started (the write side took them first), and only in reads that
//!   returned after it started;
//! - an elastic write (a cut `read_from`'s last, whose count the call does
//!   not report) may stop anywhere: readers got some prefix of it;
//! - the stream's end may be left unread: a close of the read half drops the
//!   buffered bytes. Whether that was allowed (an end of file or a
//!   `consumed` that came before them) is the caller's to check, from the
//!   coverage [`place`] returns.

use std::collections::HashSet;

/// Capacities a script's header picks from (by four bits): 0 (the unbuffered
/// pipe, through `buffered_pipe(0)`), 1, small ones, and 64 KiB.
pub(crate) const CAPACITIES: [usize; 16] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    11,
    13,
    16,
    17,
    64 << 10,
    64 << 10,
];

/// A write, as the stream sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BufWrite {
    /// The writer's write number (its bytes' payload).
    pub(crate) k: usize,
    /// Bytes it reported accepted (0 if it failed); for an elastic write,
    /// the most readers may have got.
    pub(crate) n: usize,
    /// Stamp before the call.
    pub(crate) start: u64,
    /// Stamp after it returned.
    pub(crate) end: u64,
    /// Readers got some prefix of its `n` bytes, perhaps none.
    pub(crate) elastic: bool,
}

/// A read that returned bytes, as the stream sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BufRead<'a> {
    /// The bytes.
    pub(crate) bytes: &'a [u8],
    /// Stamp before the call.
    pub(crate) start: u64,
    /// Stamp after it returned.
    pub(crate) end: u64,
}

/// Part of a read: `len` bytes of write `wi` (position in its writer's list)
/// of writer `w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The writer.
    pub(crate) w: usize,
    /// The write's position in the writer's list.
    pub(crate) wi: usize,
    /// Bytes of it.
    pub(crate) len: usize,
}

/// A placed read: (reader, read's position in the reader's list, its pieces).
pub(crate) type Placed = (usize, usize, Vec<Piece>);

/// Most states [`place`] may visit before it gives up.
const BUDGET: usize = 2_000_000;

/// The search's facts.
struct Stream<'a, 'b> {
    /// Per writer, its writes in order.
    writes: &'a [Vec<BufWrite>],
    /// Per writer, `bounds[w][i]`: stream offset where write `i` starts;
    /// last: the writer's total.
    bounds: Vec<Vec<usize>>,
    /// Per reader, its reads in order.
    reads: &'a [Vec<BufRead<'b>>],
    /// The writer whose bytes a byte is, if any.
    tag: &'a dyn Fn(u8) -> Option<usize>,
    /// The byte at an offset of a writer's write number.
    payload: &'a dyn Fn(usize, usize, usize) -> u8,
    /// States (readers' positions, writers' positions) that lead nowhere.
    dead: HashSet<(Vec<usize>, Vec<usize>)>,
    /// The most reads placed, and the state then, for the report.
    deepest: (usize, Vec<usize>, Vec<usize>),
}

impl Stream<'_, '_> {
    /// The write of `w` at stream offset `pos` (its last write if `pos` is
    /// its total), and the offset in it.
    fn at(&self, w: usize, pos: usize) -> (usize, usize) {
        let wi = self.bounds[w].partition_point(|&b| b <= pos) - 1;
        (wi, pos - self.bounds[w][wi])
    }

    /// Whether `w` is inside a write: some of its bytes read, not all.
    fn inside(&self, w: usize, pos: usize) -> bool {
        let total = *self.bounds[w].last().expect("not empty");
        pos < total && self.at(w, pos).1 > 0
    }

    /// Moves every writer but `w` that is inside an elastic write past it
    /// (its readers got that prefix); false if one is inside another write.
    fn close_others(&self, w: usize, pos: &mut [usize]) -> bool {
        for (u, at) in pos.iter_mut().enumerate() {
            if u == w || !self.inside(u, *at) {
                continue;
            }
            let (ui, _) = self.at(u, *at);
            if !self.writes[u][ui].elastic {
                return false;
            }
            *at = self.bounds[u][ui + 1];
        }
        true
    }

    /// Whether writer `w`'s write `wi` may begin at `pos`: every write of
    /// another writer that returned before it started is behind (elastic
    /// ones may be left where they are: readers got what they got).
    fn may_begin(&self, w: usize, wi: usize, pos: &mut [usize]) -> bool {
        let start = self.writes[w][wi].start;
        for (u, at) in pos.iter_mut().enumerate() {
            if u == w {
                continue;
            }
            let before = self.writes[u].partition_point(|x| x.end < start);
            let need = self.bounds[u][before];
            if *at >= need {
                continue;
            }
            let (from, _) = self.at(u, *at);
            let all_elastic = (from..before).all(|i| {
                let x = &self.writes[u][i];
                x.elastic || x.n == 0
            });
            if !all_elastic {
                return false;
            }
            *at = need;
        }
        true
    }

    /// Every way read `c` (returned at `end`) can be the stream's next bytes
    /// from `pos`, from its byte `i` on: (writers' positions after it, its
    /// pieces), into `out`.
    fn feed(
        &self,
        bytes: &[u8],
        end: u64,
        i: usize,
        pos: Vec<usize>,
        pieces: Vec<Piece>,
        out: &mut Vec<(Vec<usize>, Vec<Piece>)>,
    ) {
        if out.len() > 8 {
            return;
        }
        if i == bytes.len() {
            out.push((pos, pieces));
            return;
        }
        let Some(w) = (self.tag)(bytes[i]) else {
            return;
        };
        if w >= pos.len() {
            return;
        }
        let mut pos = pos;
        if !self.close_others(w, &mut pos) {
            return;
        }
        let total = *self.bounds[w].last().expect("not empty");
        if pos[w] >= total {
            return;
        }
        let (wi, local) = self.at(w, pos[w]);
        let write = self.writes[w][wi];
        if local == 0 {
            // A write begins: after every write that returned before it
            // started; an elastic one may have given readers nothing.
            if write.elastic {
                let mut skip = pos.clone();
                skip[w] = self.bounds[w][wi + 1];
                self.feed(bytes, end, i, skip, pieces.clone(), out);
            }
            if !self.may_begin(w, wi, &mut pos) {
                return;
            }
        } else if write.elastic {
            // The rest of an elastic write unread, the writer's next write
            // next.
            let mut skip = pos.clone();
            skip[w] = self.bounds[w][wi + 1];
            self.feed(bytes, end, i, skip, pieces.clone(), out);
        }
        if write.start >= end {
            return;
        }
        let room = write.n - local;
        let run = bytes[i..]
            .iter()
            .take(room)
            .enumerate()
            .take_while(|&(j, &b)| b == (self.payload)(w, write.k, local + j))
            .count();
        if run == 0 {
            return;
        }
        pos[w] += run;
        let mut pieces = pieces;
        pieces.push(Piece { w, wi, len: run });
        self.feed(bytes, end, i + run, pos, pieces, out);
    }

    /// The search from readers' positions `idx` and writers' `pos`; on
    /// success `path` holds the placement.
    fn search(&mut self, idx: &mut Vec<usize>, pos: Vec<usize>, path: &mut Vec<Placed>) -> bool {
        if path.len() >= self.deepest.0 {
            self.deepest = (path.len(), idx.clone(), pos.clone());
        }
        if idx.iter().zip(self.reads).all(|(&i, s)| i == s.len()) {
            return true;
        }
        let key = (idx.clone(), pos.clone());
        if self.dead.contains(&key) || self.dead.len() > BUDGET {
            return false;
        }
        for q in 0..self.reads.len() {
            let Some(c) = self.reads[q].get(idx[q]) else {
                continue;
            };
            let blocked = (0..self.reads.len())
                .any(|o| o != q && self.reads[o].get(idx[o]).is_some_and(|h| h.end < c.start));
            if blocked {
                continue;
            }
            let mut ways = Vec::new();
            self.feed(c.bytes, c.end, 0, pos.clone(), Vec::new(), &mut ways);
            for (next, pieces) in ways {
                idx[q] += 1;
                path.push((q, idx[q] - 1, pieces));
                if self.search(idx, next, path) {
                    return true;
                }
                path.pop();
                idx[q] -= 1;
            }
        }
        self.dead.insert(key);
        false
    }

    /// Why the search failed.
    fn explain(&self) -> String {
        let (depth, idx, pos) = &self.deepest;
        let mut out = format!(
            "the reads do not make one stream of the writes' accepted bytes: placed at \
             most {depth} reads, writers' stream offsets then {pos:?}"
        );
        if self.dead.len() > BUDGET {
            out += " (search budget exhausted)";
        }
        for (q, (&i, seq)) in idx.iter().zip(self.reads).enumerate() {
            if let Some(c) = seq.get(i) {
                let head: Vec<String> =
                    c.bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
                out += &format!(
                    "; reader {q}'s next read #{i} [{}..{}] has {} bytes [{}]",
                    c.start,
                    c.end,
                    c.bytes.len(),
                    head.join(" ")
                );
            }
        }
        for (w, writes) in self.writes.iter().enumerate() {
            let shown: Vec<String> = writes
                .iter()
                .map(|x| {
                    let e = if x.elastic { "~" } else { "" };
                    format!("#{}:{e}{} [{}..{}]", x.k, x.n, x.start, x.end)
                })
                .collect();
            out += &format!("; writer {w}'s writes (number:count): {}", shown.join(" "));
        }
        out
    }
}

/// Places every read in the buffered pipe's one stream (see the module's
/// rules): `writes` per writer in order, `reads` per reader in order, `tag`
/// the writer of a byte, `payload(w, k, offset)` writer `w`'s byte at
/// `offset` of its write number `k`. Returns the reads in stream order with
/// the writes' pieces each holds, or why none fits.
pub(crate) fn place(
    writes: &[Vec<BufWrite>],
    reads: &[Vec<BufRead<'_>>],
    tag: &dyn Fn(u8) -> Option<usize>,
    payload: &dyn Fn(usize, usize, usize) -> u8,
) -> Result<Vec<Placed>, String> {
    let bounds = writes
        .iter()
        .map(|ws| {
            let mut b = vec![0];
            for x in ws {
                b.push(b.last().expect("not empty") + x.n);
            }
            b
        })
        .collect();
    let mut stream = Stream {
        writes,
        bounds,
        reads,
        tag,
        payload,
        dead: HashSet::new(),
        deepest: (0, vec![0; reads.len()], vec![0; writes.len()]),
    };
    let mut idx = vec![0; reads.len()];
    let mut path = Vec::new();
    if stream.search(&mut idx, vec![0; writes.len()], &mut path) {
        Ok(path)
    } else {
        Err(stream.explain())
    }
}
