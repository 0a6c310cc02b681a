//! A compression pipeline across two threads, with no buffer in between.
//!
//! A producer thread generates deterministic, text-like data, hashes it, and
//! compresses it with gzip straight into a [`gopipe::PipeWriter`]. The main
//! thread decompresses from the [`gopipe::PipeReader`] and hashes what comes
//! out. The encoder wants a `Write` and the decoder wants a `Read`; the pipe
//! joins them without an intermediate buffer, so the producer never runs ahead
//! of the consumer and memory use stays flat whatever the size.
//!
//! Failures cross the pipe in both directions: a producer that fails closes the
//! writer with its error (the consumer's next read returns it), and a consumer
//! that fails closes the reader with its error (the producer's next write
//! returns it), so neither side is left blocked.
//!
//! Run it with the number of bytes to generate, with an optional `K`, `M` or `G`
//! suffix (powers of 1024); the default is `1G`:
//!
//! ```text
//! cargo run --release --example pipeline -- 64M
//! ```
//!
//! It prints the bytes generated, the compressed bytes that crossed the pipe,
//! the time taken, the throughput and both hashes, and exits with a non-zero
//! status if the hashes differ or anything fails.

use std::fmt;
use std::io::{self, Read, Write};
use std::thread;
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use gopipe::{CloseError, PipeReader, PipeWriter};

/// How much data the producer generates, and the consumer decodes, at a time.
const CHUNK: usize = 64 * 1024;

/// What runs without an argument: 1 GiB.
const DEFAULT_SIZE: u64 = 1 << 30;

/// The generator's seed, so that every run produces the same bytes.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Words the generator strings together: few enough that gzip finds repeats,
/// chosen at random so that it cannot find too many.
const WORDS: [&[u8]; 64] = [
    b"the",
    b"pipe",
    b"reader",
    b"writer",
    b"moves",
    b"bytes",
    b"between",
    b"two",
    b"threads",
    b"without",
    b"buffer",
    b"of",
    b"its",
    b"own",
    b"and",
    b"every",
    b"write",
    b"waits",
    b"until",
    b"a",
    b"read",
    b"has",
    b"taken",
    b"all",
    b"data",
    b"stream",
    b"gzip",
    b"encoder",
    b"decoder",
    b"hash",
    b"check",
    b"sum",
    b"close",
    b"error",
    b"end",
    b"file",
    b"producer",
    b"consumer",
    b"chunk",
    b"block",
    b"slowly",
    b"quickly",
    b"never",
    b"always",
    b"once",
    b"again",
    b"here",
    b"there",
    b"river",
    b"stone",
    b"lantern",
    b"harbour",
    b"window",
    b"garden",
    b"copper",
    b"silver",
    b"north",
    b"south",
    b"morning",
    b"evening",
    b"seven",
    b"twelve",
    b"hundred",
    b"thousand",
];

/// Deterministic text-like bytes from a xorshift64* generator: random words,
/// some capitalised, some followed by a number, separated by spaces, commas and
/// line breaks.
struct TextGen {
    /// The xorshift state; never zero.
    state: u64,
    /// The token being emitted: a word, maybe a number, and a separator.
    token: [u8; 32],
    /// How many bytes of `token` are in use.
    len: usize,
    /// How many bytes of `token` have been emitted.
    pos: usize,
}

impl TextGen {
    /// A generator that starts from `seed` (which must not be zero).
    fn new(seed: u64) -> Self {
        assert_ne!(seed, 0, "xorshift never leaves the zero state");
        Self {
            state: seed,
            token: [0; 32],
            len: 0,
            pos: 0,
        }
    }

    /// The next pseudo-random number.
    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Replaces the exhausted token with a new one.
    fn next_token(&mut self) {
        let r = self.next_u64();
        let word = WORDS[(r & 63) as usize];
        self.token[..word.len()].copy_from_slice(word);
        let mut len = word.len();
        // One word in eight starts with a capital letter.
        if (r >> 6) & 7 == 0 {
            self.token[0] = self.token[0].to_ascii_uppercase();
        }
        // One in sixteen is followed by a number below 10000.
        if (r >> 9) & 15 == 0 {
            self.token[len] = b' ';
            len += 1;
            let start = len;
            let mut n = (r >> 16) % 10_000;
            loop {
                self.token[len] = b'0' + (n % 10) as u8;
                len += 1;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            self.token[start..len].reverse();
        }
        let separator: &[u8] = match (r >> 40) & 15 {
            0 => b".\n",
            1 | 2 => b", ",
            _ => b" ",
        };
        self.token[len..len + separator.len()].copy_from_slice(separator);
        self.len = len + separator.len();
        self.pos = 0;
    }

    /// Fills `buf` with the next bytes of the text.
    fn fill(&mut self, buf: &mut [u8]) {
        let mut filled = 0;
        while filled < buf.len() {
            if self.pos == self.len {
                self.next_token();
            }
            let n = (self.len - self.pos).min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&self.token[self.pos..self.pos + n]);
            self.pos += n;
            filled += n;
        }
    }
}

/// Passes reads or writes through to `inner`, counting the bytes that went by.
struct Counting<T> {
    /// The reader or writer being counted.
    inner: T,
    /// Bytes read or written so far.
    bytes: u64,
}

impl<T> Counting<T> {
    /// Counts what goes through `inner`, from zero.
    fn new(inner: T) -> Self {
        Self { inner, bytes: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// What the producer reports.
struct Produced {
    /// Uncompressed bytes generated.
    generated: u64,
    /// Compressed bytes written into the pipe.
    pipe_bytes: u64,
    /// CRC-32 of the generated bytes.
    crc: u32,
}

/// What the consumer reports.
struct Consumed {
    /// Uncompressed bytes decoded.
    decoded: u64,
    /// Compressed bytes read from the pipe.
    pipe_bytes: u64,
    /// CRC-32 of the decoded bytes.
    crc: u32,
}

/// The error `main` returns. Its `Debug` is the plain message, because that is
/// what a `main` that returns `Err` prints.
struct Failure(String);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A copy of `err` to hand to the other half of the pipe: same kind, same
/// message (an `io::Error` cannot be cloned, and the original is kept to be
/// returned).
fn copy_of(err: &io::Error) -> io::Error {
    io::Error::new(err.kind(), err.to_string())
}

/// Parses a size such as `1048576`, `512K`, `64M` or `1G` (powers of 1024).
fn parse_size(arg: &str) -> Result<u64, Failure> {
    let invalid = || {
        Failure(format!(
            "invalid size {arg:?}: expected a number of bytes, optionally followed by K, M or G"
        ))
    };
    let (digits, shift) = match arg.as_bytes().last() {
        Some(b'K' | b'k') => (&arg[..arg.len() - 1], 10),
        Some(b'M' | b'm') => (&arg[..arg.len() - 1], 20),
        Some(b'G' | b'g') => (&arg[..arg.len() - 1], 30),
        _ => (arg, 0),
    };
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    n.checked_mul(1 << shift).ok_or_else(invalid)
}

/// Generates `total` bytes into `out` in chunks; returns their CRC-32.
fn generate(out: &mut impl Write, total: u64) -> io::Result<u32> {
    let mut text = TextGen::new(SEED);
    let mut hasher = crc32fast::Hasher::new();
    let mut chunk = vec![0; CHUNK];
    let mut left = total;
    while left > 0 {
        let chunk = &mut chunk[..left.min(CHUNK as u64) as usize];
        text.fill(chunk);
        hasher.update(chunk);
        out.write_all(chunk)?;
        left -= chunk.len() as u64;
    }
    Ok(hasher.finalize())
}

/// The producer: generates `total` bytes and writes them gzip-compressed into
/// `writer`, then drops it so that the consumer reads end of file.
///
/// On failure, closes `writer` with (a copy of) the error, so that the consumer
/// fails with it instead of waiting for bytes that will never come.
fn produce(writer: PipeWriter, total: u64) -> io::Result<Produced> {
    // Closes the pipe with the error and hands the error back.
    let fail = |err: io::Error| {
        writer.close_with_error(copy_of(&err));
        err
    };
    let mut gz = GzEncoder::new(Counting::new(&writer), Compression::fast());
    // On an error, the pipe is closed while `gz` is still alive: its drop then
    // tries to finish the stream, and that fails at once on the closed pipe
    // instead of handing the consumer a gzip trailer for truncated data.
    let crc = generate(&mut gz, total).map_err(fail)?;
    // Write the rest of the compressed stream and the gzip trailer.
    let pipe_bytes = gz.finish().map_err(fail)?.bytes;
    // The only handle on the write half: dropping it closes the half, and the
    // consumer reads end of file once it has taken the trailer.
    drop(writer);
    Ok(Produced {
        generated: total,
        pipe_bytes,
        crc,
    })
}

/// The consumer: decompresses everything from `reader` until end of file and
/// hashes it.
fn consume(reader: &PipeReader) -> io::Result<Consumed> {
    // `MultiGzDecoder` reads to the end of the input, so every byte the producer
    // wrote is read (a plain `GzDecoder` stops after the first gzip member).
    let mut decoder = MultiGzDecoder::new(Counting::new(reader));
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0; CHUNK];
    let mut decoded = 0;
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buf[..n]);
        decoded += n as u64;
    }
    Ok(Consumed {
        decoded,
        pipe_bytes: decoder.get_ref().bytes,
        crc: hasher.finalize(),
    })
}

/// Whose failure an error from the consumer reports: the producer's if the
/// producer closed the pipe with it (it then carries a [`CloseError`]).
fn blame(err: io::Error) -> Failure {
    if CloseError::from_io(&err).is_some() {
        Failure(format!("producer failed: {err}"))
    } else {
        Failure(format!("consumer failed: {err}"))
    }
}

/// Mebibytes, for display.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let total = match args.next() {
        Some(arg) => parse_size(&arg)?,
        None => DEFAULT_SIZE,
    };
    if args.next().is_some() {
        return Err(Failure(
            "usage: pipeline [SIZE]   (bytes, optionally with a K, M or G suffix)".into(),
        ));
    }

    let start = Instant::now();
    let (reader, writer) = gopipe::pipe();
    let producer = thread::spawn(move || produce(writer, total));

    // On failure, close the reader with (a copy of) the error: the producer's
    // next write fails with it and the producer thread ends.
    let consumed = consume(&reader).inspect_err(|err| reader.close_with_error(copy_of(err)));
    drop(reader);
    let produced = producer
        .join()
        .map_err(|_| Failure("the producer thread panicked".into()))?;
    let elapsed = start.elapsed();

    // The consumer's error comes first: if the producer failed, the consumer
    // failed with the same error, carried across by `close_with_error`.
    let consumed = consumed.map_err(blame)?;
    let produced = produced.map_err(|err| Failure(format!("producer failed: {err}")))?;

    let secs = elapsed.as_secs_f64();
    println!(
        "generated:  {} bytes ({:.1} MiB)",
        produced.generated,
        mib(produced.generated)
    );
    println!(
        "decoded:    {} bytes ({:.1} MiB)",
        consumed.decoded,
        mib(consumed.decoded)
    );
    println!(
        "pipe:       {} compressed bytes ({:.1} MiB, ratio {:.2}); written {}, read {}",
        consumed.pipe_bytes,
        mib(consumed.pipe_bytes),
        produced.generated as f64 / consumed.pipe_bytes as f64,
        produced.pipe_bytes,
        consumed.pipe_bytes
    );
    println!("elapsed:    {secs:.3} s");
    println!(
        "throughput: {:.1} MB/s uncompressed, {:.1} MB/s through the pipe",
        produced.generated as f64 / secs / 1e6,
        consumed.pipe_bytes as f64 / secs / 1e6
    );
    println!("producer crc32: {:08x}", produced.crc);
    println!("consumer crc32: {:08x}", consumed.crc);

    let hash_ok = produced.crc == consumed.crc;
    println!("hash: {}", if hash_ok { "match" } else { "MISMATCH" });
    if !hash_ok {
        return Err(Failure(
            "the decoded data differs from the generated data".into(),
        ));
    }
    if produced.generated != consumed.decoded || produced.pipe_bytes != consumed.pipe_bytes {
        return Err(Failure("byte counts differ between the two sides".into()));
    }
    Ok(())
}
