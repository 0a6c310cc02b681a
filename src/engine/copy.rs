//! Byte copies between a pipe's buffers, clear of a slow path of some
//! memcpy implementations.
//!
//! glibc's `memcpy` (2.36, as on Debian 12, on CPUs that advertise fast
//! string moves) copies blocks of more than 2 KiB with `rep movsb`. On this
//! project's 2-vCPU AMD EPYC that instruction runs about 20x slower when the
//! destination lies 1 to 31 bytes after the source, modulo 4 KiB: a 64 KiB
//! copy took 26-116 us at those distances and 2-3 us at every other, and
//! 1 KiB pieces about 3 us at any distance (a probe program, 2026-12-07;
//! `rep movsb` on AMD Zen 3 and later is known to be slow for some
//! placements). A pipe copies between buffers it does not place (the
//! caller's, a ring at some offset), so such a distance comes up by chance,
//! and then every copy of that stream meets it: the buffered pipe's 64 KiB
//! writes took 6 us in one build of the benches and 56-64 us in the next. So
//! a large copy 1 to 63 bytes ahead (a margin over what was measured) goes in
//! 2 KiB pieces, the most glibc copies without `rep movsb`; every other copy
//! is one call, as before. Elsewhere than x86-64 there is nothing to avoid.
//!
//! Measured with the same probe, 16 bytes ahead: 2,048 bytes in 30 ns (no
//! `rep movsb`), 3,072 in 1,740 ns (`rep movsb`; 50 ns with it switched off by
//! `GLIBC_TUNABLES`). 2 KiB pieces make half the calls that 1 KiB pieces did:
//! a 64 KiB read into a buffer that malloc put 16 bytes past the ring, modulo
//! 4 KiB (two 64 KiB blocks in a row do that), went in 64 calls.

/// The pieces of a copy at an unlucky distance: glibc's smallest threshold
/// for `rep movsb` (2 KiB, for 16-byte vectors), which a copy must exceed to
/// use it.
const PIECE: usize = 2048;

/// The least copy that glibc may do with `rep movsb`.
const LARGE: usize = PIECE + 1;

/// How long each piece of a copy of `n` bytes from `src` to `dst` is: `n`
/// (one piece), or [`PIECE`] when `dst` lies 1 to 63 bytes after `src`,
/// modulo 4 KiB, and the copy is large enough for `rep movsb`. Never 0, so
/// that it can size `chunks`.
#[inline]
pub(crate) fn piece_len(dst: *const u8, src: *const u8, n: usize) -> usize {
    let gap = (dst as usize).wrapping_sub(src as usize) & 4095;
    if cfg!(target_arch = "x86_64") && n >= LARGE && gap != 0 && gap < 64 {
        PIECE
    } else {
        n.max(1)
    }
}

/// Copies `n` bytes from `src` to `dst`, as [`std::ptr::copy_nonoverlapping`],
/// in pieces when [`piece_len`] says so.
///
/// # Safety
///
/// As for [`std::ptr::copy_nonoverlapping`]: `src` is valid for reads and
/// `dst` for writes of `n` bytes, and the two do not overlap.
#[inline]
pub(crate) unsafe fn copy_raw(src: *const u8, dst: *mut u8, n: usize) {
    let piece = piece_len(dst, src, n);
    if piece >= n {
        // SAFETY: the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
        return;
    }
    let mut at = 0;
    while at < n {
        let k = piece.min(n - at);
        // SAFETY: `at + k <= n`: within both ranges (the caller's contract).
        unsafe { std::ptr::copy_nonoverlapping(src.add(at), dst.add(at), k) };
        at += k;
    }
}

/// Copies `src` into `dst`, which has the same length (see [`copy_raw`]).
#[inline]
pub(crate) fn copy_slice(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_slice: lengths differ");
    // SAFETY: both slices hold `src.len()` bytes, and a `&mut` cannot overlap
    // a `&`.
    unsafe { copy_raw(src.as_ptr(), dst.as_mut_ptr(), src.len()) };
}

#[cfg(all(test, not(gopipe_loom)))]
mod tests {
    use super::{copy_raw, copy_slice};

    /// Every distance and length copies every byte, in pieces (a
    /// destination 1 to 63 bytes after the source, modulo 4 KiB) or not.
    #[test]
    fn copies_are_exact_at_every_distance() {
        let pattern: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        for gap in [0usize, 1, 16, 63, 64, 100] {
            for n in [0usize, 1, 2047, 2048, 5000, 8192] {
                // Source and destination in one block, `12288 + gap` apart.
                let mut block = vec![0u8; 12_288 + 100 + 8192];
                block[..n].copy_from_slice(&pattern[..n]);
                let (src, rest) = block.split_at_mut(12_288);
                copy_slice(&mut rest[gap..gap + n], &src[..n]);
                assert_eq!(&rest[gap..gap + n], &pattern[..n], "slice gap {gap} n {n}");
                rest.fill(0);
                // SAFETY: both ranges are in bounds of their halves, which
                // do not overlap.
                unsafe { copy_raw(src.as_ptr(), rest.as_mut_ptr().add(gap), n) };
                assert_eq!(&rest[gap..gap + n], &pattern[..n], "raw gap {gap} n {n}");
            }
        }
    }
}
