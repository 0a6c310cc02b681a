//! The zero-copy paths of issue 12 against the std loops they replace.
//!
//! One writer thread and one reader thread, a fresh pipe per measured run.
//! Groups (function ids in brackets):
//!
//! - `write_to/SINK/W`: the writer makes `iters` writes of W bytes (W in
//!   64 KiB, 1 MiB); the reader drains the pipe into SINK, `sink`
//!   (`io::sink()`), `crc32` (a `crc32fast::Hasher` as a `Write`) or `file` (a
//!   file in the temp dir, rewound before each run), either with
//!   `io::copy(&mut reader, &mut sink)` [`io-copy`] or with
//!   `reader.write_to(&mut sink)` [`write_to`]. Time per write of W bytes.
//! - `read_from/SOURCE`: the writer thread moves `iters` sources of 1 MiB,
//!   `cursor` (a `Cursor<Vec<u8>>`, rewound) or `file` (a 1 MiB file in the
//!   temp dir, rewound), into the pipe, either with a loop of
//!   `source.read(&mut buf)` + `writer.write_all(&buf[..n])` through a 64 KiB
//!   buffer (allocated once per run) [`read-write_all`] or with
//!   `writer.read_from(&mut source)` [`read_from`]; the reader reads with a
//!   64 KiB buffer. Time per 1 MiB source. Before measuring, a run of 64
//!   sources prints (to stderr) how many of `read_from`'s source reads went
//!   straight into the reader's lent buffer rather than through its own
//!   (none since issue 17: a source never reads into a reader's buffer).
//! - `write_vectored/GATHER`: the writer makes `iters` gathers of three slices
//!   (GATHER names their sizes: `64B+64B+64B`, `64B+64B+1KiB`, a header and a
//!   small body, and `64B+16KiB+64B`, a header, a body and a trailer), either
//!   as three `write_all` calls [`3-writes`] or as one `write_vectored`
//!   [`write_vectored`]; the reader reads with a 64 KiB buffer. Time per
//!   gather.
//!
//! Every case first moves a short stream whose bytes are all checked (outside
//! the measurement): drains through a sink that checks every byte, then through
//! the real sink (the CRC against the stream's, the file's contents read back);
//! sources read back by a reader that checks every byte. Measured runs check
//! the totals and, where a reader reads, one byte of every read.
//!
//! Run: `cargo bench -p gopipe-benches --bench zero_copy` (or with a filter,
//! e.g. `-- write_to/sink/`). Quick profile: `GOPIPE_BENCH_QUICK=1`. The
//! temp files go to `std::env::temp_dir()` (`TMPDIR`), and are removed at the
//! end.

use std::fs::{File, OpenOptions};
use std::io::{self, Cursor, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use gopipe::{PipeReader, PipeWriter};
use gopipe_benches::{human, timed};

/// Write sizes of the `write_to` group.
const WRITES: [usize; 2] = [64 << 10, 1 << 20];
/// The reader's buffer, and the loop's buffer in `read_from`.
const BUF: usize = 64 << 10;
/// Bytes of one source in the `read_from` group.
const SOURCE: usize = 1 << 20;
/// The gathers of the `write_vectored` group.
const GATHERS: [[usize; 3]; 3] = [[64, 64, 64], [64, 64, 1 << 10], [64, 16 << 10, 64]];
/// Writes (sources, gathers) in the full check made before each case.
const CHECK_ITERS: u64 = 4;

/// The byte at position `i` of a stream whose unit (write, source or gather)
/// is `unit` bytes long: every unit carries the same bytes.
fn pattern(unit: usize, i: usize) -> u8 {
    ((i % unit) % 251) as u8
}

/// One unit's worth of the stream.
fn payload(unit: usize) -> Vec<u8> {
    (0..unit).map(|i| pattern(unit, i)).collect()
}

/// Reads `total` bytes of a stream of `unit`-byte units with a 64 KiB buffer,
/// then the end of the stream; checks every byte when `check`, else the first
/// byte of every read. Publishes the buffer's address in `addr`, if given.
fn drain(mut src: &PipeReader, total: usize, unit: usize, check: bool, addr: Option<&AtomicUsize>) {
    let mut buf = vec![0u8; BUF];
    if let Some(addr) = addr {
        addr.store(buf.as_ptr() as usize, Ordering::SeqCst);
    }
    let mut got = 0;
    while got < total {
        let n = src.read(&mut buf).expect("read");
        assert!(n > 0, "early end of stream at {got} of {total}");
        if check {
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, pattern(unit, got + k), "byte {} wrong", got + k);
            }
        } else {
            assert_eq!(buf[0], pattern(unit, got), "byte {got} wrong");
        }
        got += n;
    }
    assert_eq!(
        src.read(&mut buf).expect("read at the end"),
        0,
        "bytes past the end"
    );
}

/// A file in the temp dir, removed when dropped.
struct TempFile {
    /// Where it is.
    path: PathBuf,
    /// The open file, read and write.
    file: File,
}

impl TempFile {
    /// Creates (or truncates) `gopipe-zero-copy-NAME-PID` in the temp dir.
    fn new(name: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("gopipe-zero-copy-{name}-{}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("create temp file");
        TempFile { path, file }
    }

    /// The file, rewound to its start.
    fn rewound(&mut self) -> &mut File {
        self.file.seek(SeekFrom::Start(0)).expect("seek");
        &mut self.file
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A CRC-32 as a `Write`.
struct Crc(crc32fast::Hasher);

impl Write for Crc {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that checks every byte against the stream, for the checks.
struct Checker {
    /// The stream's unit.
    unit: usize,
    /// Bytes taken so far.
    pos: usize,
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for (k, &b) in buf.iter().enumerate() {
            assert_eq!(
                b,
                pattern(self.unit, self.pos + k),
                "byte {} wrong",
                self.pos + k
            );
        }
        self.pos += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How the reader drains the pipe into a sink.
#[derive(Clone, Copy)]
enum Drain {
    /// `io::copy(&mut reader, sink)`.
    Copy,
    /// `reader.write_to(sink)`.
    WriteTo,
}

impl Drain {
    /// The function id.
    fn name(self) -> &'static str {
        match self {
            Drain::Copy => "io-copy",
            Drain::WriteTo => "write_to",
        }
    }

    /// Drains `reader` into `sink` to the end; returns the byte count.
    fn run<W: Write + ?Sized>(self, mut reader: PipeReader, sink: &mut W) -> u64 {
        match self {
            Drain::Copy => io::copy(&mut reader, sink).expect("io::copy"),
            Drain::WriteTo => reader.write_to(sink).expect("write_to"),
        }
    }
}

/// Writes `iters` writes of `data` and closes the writer.
fn write_units(mut writer: PipeWriter, data: &[u8], iters: u64) {
    for _ in 0..iters {
        writer.write_all(data).expect("write");
    }
}

/// One run of `write_to`: `iters` writes of `w` bytes drained into `sink` by
/// `how`. Returns the time.
fn drain_run<W: Write + Send + ?Sized>(how: Drain, w: usize, iters: u64, sink: &mut W) -> Duration {
    let (reader, writer) = gopipe::pipe();
    let data = payload(w);
    let total = w as u64 * iters;
    timed(
        || write_units(writer, &data, iters),
        move || assert_eq!(how.run(reader, sink), total, "drained byte count"),
    )
}

/// The sinks of the `write_to` group.
#[derive(Clone, Copy)]
enum SinkKind {
    /// `io::sink()`.
    Null,
    /// CRC-32.
    Crc,
    /// A file.
    File,
}

impl SinkKind {
    /// The name in the group.
    fn name(self) -> &'static str {
        match self {
            SinkKind::Null => "sink",
            SinkKind::Crc => "crc32",
            SinkKind::File => "file",
        }
    }
}

/// Checks a drain into `kind` once in full: through a checking sink, then
/// through the sink itself.
fn check_drain(how: Drain, kind: SinkKind, w: usize, file: &mut TempFile) {
    let mut checker = Checker { unit: w, pos: 0 };
    drain_run(how, w, CHECK_ITERS, &mut checker);
    assert_eq!(checker.pos, w * CHECK_ITERS as usize);
    let expected: Vec<u8> = payload(w).repeat(CHECK_ITERS as usize);
    match kind {
        SinkKind::Null => {
            drain_run(how, w, CHECK_ITERS, &mut io::sink());
        }
        SinkKind::Crc => {
            let mut crc = Crc(crc32fast::Hasher::new());
            drain_run(how, w, CHECK_ITERS, &mut crc);
            assert_eq!(crc.0.finalize(), crc32fast::hash(&expected), "CRC");
        }
        SinkKind::File => {
            file.file.set_len(0).expect("truncate");
            drain_run(how, w, CHECK_ITERS, file.rewound());
            let mut back = Vec::new();
            file.rewound().read_to_end(&mut back).expect("read back");
            assert!(back == expected, "file contents differ");
        }
    }
}

/// Criterion settings: full, or quick when `GOPIPE_BENCH_QUICK` is set.
fn configured() -> (Duration, Duration, usize) {
    if std::env::var_os("GOPIPE_BENCH_QUICK").is_some() {
        (Duration::from_millis(300), Duration::from_secs(1), 10)
    } else {
        (Duration::from_millis(500), Duration::from_secs(3), 20)
    }
}

/// The `write_to` group: every sink, every write size, both drains.
fn write_to_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let mut file = TempFile::new("sink");
    for kind in [SinkKind::Null, SinkKind::Crc, SinkKind::File] {
        for w in WRITES {
            let mut group = c.benchmark_group(format!("write_to/{}/{}", kind.name(), human(w)));
            group
                .throughput(Throughput::Bytes(w as u64))
                .warm_up_time(warm)
                .measurement_time(measure)
                .sample_size(samples);
            for how in [Drain::Copy, Drain::WriteTo] {
                check_drain(how, kind, w, &mut file);
                group.bench_function(BenchmarkId::from_parameter(how.name()), |b| {
                    b.iter_custom(|iters| match kind {
                        SinkKind::Null => drain_run(how, w, iters, &mut io::sink()),
                        SinkKind::Crc => {
                            let mut crc = Crc(crc32fast::Hasher::new());
                            let t = drain_run(how, w, iters, &mut crc);
                            std::hint::black_box(crc.0.finalize());
                            t
                        }
                        SinkKind::File => drain_run(how, w, iters, file.rewound()),
                    })
                });
            }
            group.finish();
        }
    }
}

/// How the writer moves a source into the pipe.
#[derive(Clone, Copy)]
enum Fill {
    /// `source.read(&mut buf)` + `writer.write_all(&buf[..n])`, 64 KiB buffer.
    Loop,
    /// `writer.read_from(&mut source)`.
    ReadFrom,
}

impl Fill {
    /// The function id.
    fn name(self) -> &'static str {
        match self {
            Fill::Loop => "read-write_all",
            Fill::ReadFrom => "read_from",
        }
    }
}

/// A source that counts its reads, and those that went straight into the
/// reader's buffer (whose address the reader published).
struct Spy<'a, S> {
    /// The source.
    inner: &'a mut S,
    /// The reader's buffer's address.
    lent: &'a AtomicUsize,
    /// Reads that returned bytes.
    reads: usize,
    /// Of those, reads into the reader's buffer.
    direct: usize,
}

impl<S: Read> Read for Spy<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.reads += 1;
            if buf.as_ptr() as usize == self.lent.load(Ordering::Relaxed) {
                self.direct += 1;
            }
        }
        Ok(n)
    }
}

impl<S: Seek> Seek for Spy<'_, S> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// One run of `read_from`: `iters` passes over `source` (`SOURCE` bytes,
/// rewound before each pass), moved into the pipe by `how`; the reader reads
/// with a 64 KiB buffer, and publishes its address in `lent` if given.
/// Returns the time.
fn fill_run<S: Read + Seek>(
    how: Fill,
    iters: u64,
    check: bool,
    source: &mut S,
    lent: Option<&AtomicUsize>,
) -> Duration {
    let (reader, writer) = gopipe::pipe();
    let total = SOURCE * iters as usize;
    timed(
        move || {
            let mut w = &writer;
            let mut buf = match how {
                Fill::Loop => vec![0u8; BUF],
                Fill::ReadFrom => Vec::new(),
            };
            for _ in 0..iters {
                source.seek(SeekFrom::Start(0)).expect("rewind source");
                let moved = match how {
                    Fill::Loop => {
                        let mut moved = 0;
                        loop {
                            let n = source.read(&mut buf).expect("source read");
                            if n == 0 {
                                break;
                            }
                            w.write_all(&buf[..n]).expect("write");
                            moved += n as u64;
                        }
                        moved
                    }
                    Fill::ReadFrom => w.read_from(source).expect("read_from"),
                };
                assert_eq!(moved, SOURCE as u64, "bytes moved from one source");
            }
            drop(writer);
        },
        move || drain(&reader, total, SOURCE, check, lent),
    )
}

/// Checks a fill in full; then, for `read_from`, says how many of its source
/// reads went straight into the reader's buffer (the rest went through a
/// buffer of its own) in a run like the measured ones, of `SPY_ITERS` sources.
fn check_fill<S: Read + Seek>(how: Fill, name: &str, source: &mut S) {
    /// Sources in the counted run.
    const SPY_ITERS: u64 = 64;
    fill_run(how, CHECK_ITERS, true, source, None);
    if let Fill::ReadFrom = how {
        let lent = AtomicUsize::new(0);
        let mut spy = Spy {
            inner: source,
            lent: &lent,
            reads: 0,
            direct: 0,
        };
        fill_run(how, SPY_ITERS, false, &mut spy, Some(&lent));
        eprintln!(
            "read_from/{name}: {} of {} source reads went straight into the reader's buffer",
            spy.direct, spy.reads
        );
    }
}

/// The `read_from` group: both sources, both fills.
fn read_from_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    let data = payload(SOURCE);
    let mut file = TempFile::new("source");
    file.file.write_all(&data).expect("write source file");
    file.file.sync_data().ok();
    let mut cursor = Cursor::new(data);
    for source in ["cursor", "file"] {
        let mut group = c.benchmark_group(format!("read_from/{source}"));
        group
            .throughput(Throughput::Bytes(SOURCE as u64))
            .warm_up_time(warm)
            .measurement_time(measure)
            .sample_size(samples);
        for how in [Fill::Loop, Fill::ReadFrom] {
            if source == "cursor" {
                check_fill(how, source, &mut cursor);
            } else {
                check_fill(how, source, &mut file.file);
            }
            group.bench_function(BenchmarkId::from_parameter(how.name()), |b| {
                b.iter_custom(|iters| {
                    if source == "cursor" {
                        fill_run(how, iters, false, &mut cursor, None)
                    } else {
                        fill_run(how, iters, false, &mut file.file, None)
                    }
                })
            });
        }
        group.finish();
    }
}

/// How the writer writes a gather.
#[derive(Clone, Copy)]
enum Gather {
    /// Three `write_all` calls.
    Writes,
    /// One `write_vectored`.
    Vectored,
}

impl Gather {
    /// The function id.
    fn name(self) -> &'static str {
        match self {
            Gather::Writes => "3-writes",
            Gather::Vectored => "write_vectored",
        }
    }
}

/// One run of `write_vectored`: `iters` gathers of slices of `sizes`, written
/// by `how`; the reader reads with a 64 KiB buffer. Returns the time.
fn gather_run(how: Gather, sizes: [usize; 3], iters: u64, check: bool) -> Duration {
    let unit: usize = sizes.iter().sum();
    let data = payload(unit);
    let (a, rest) = data.split_at(sizes[0]);
    let (b, c) = rest.split_at(sizes[1]);
    let (reader, writer) = gopipe::pipe();
    let total = unit * iters as usize;
    timed(
        move || {
            let mut w = &writer;
            for _ in 0..iters {
                match how {
                    Gather::Writes => {
                        w.write_all(a).expect("write");
                        w.write_all(b).expect("write");
                        w.write_all(c).expect("write");
                    }
                    Gather::Vectored => {
                        let slices = [IoSlice::new(a), IoSlice::new(b), IoSlice::new(c)];
                        let n = w.write_vectored(&slices).expect("write_vectored");
                        assert_eq!(n, unit, "write_vectored wrote part of the gather");
                    }
                }
            }
            drop(writer);
        },
        move || drain(&reader, total, unit, check, None),
    )
}

/// The `write_vectored` group: every gather, both ways.
fn write_vectored_group(c: &mut Criterion) {
    let (warm, measure, samples) = configured();
    for sizes in GATHERS {
        let name = sizes.map(human).join("+");
        let mut group = c.benchmark_group(format!("write_vectored/{name}"));
        group
            .throughput(Throughput::Bytes(sizes.iter().sum::<usize>() as u64))
            .warm_up_time(warm)
            .measurement_time(measure)
            .sample_size(samples);
        for how in [Gather::Writes, Gather::Vectored] {
            gather_run(how, sizes, CHECK_ITERS, true);
            group.bench_function(BenchmarkId::from_parameter(how.name()), |b| {
                b.iter_custom(|iters| gather_run(how, sizes, iters, false))
            });
        }
        group.finish();
    }
}

/// Criterion's entry points (the macro's function has no docs of its own).
mod entry {
    #![allow(missing_docs)]
    use super::{read_from_group, write_to_group, write_vectored_group};
    criterion::criterion_group!(
        benches,
        write_to_group,
        read_from_group,
        write_vectored_group
    );
}

criterion_main!(entry::benches);
