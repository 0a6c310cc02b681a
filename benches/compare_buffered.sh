#!/usr/bin/env bash
# Runs gopipe's `buffered` bench (benches/buffered.rs, a custom main): the
# buffered pipe and connection (issue 25) against their peers, in one go, and
# prints a table per part (median ns per write over alternating rounds, with
# min..max and the spread), then each target as MET or MISSED with both
# numbers:
#
# - threads, `buffered_pipe(64 KiB)`, 1 KiB writes, reader buffer 64 KiB:
#   >= 6x the throughput of an OS pipe (std::io::pipe) and of
#   UnixStream::pair; >= 2x that of std::sync::mpsc::sync_channel and of
#   crossbeam's bounded of Vec<u8> (64 slots, each message copied into the
#   reader's buffer); <= 8x the time of one memcpy of the same bytes.
#   64 KiB writes: >= 0.5x memcpy's throughput;
# - tasks, `buffered_pipe(64 KiB)` against tokio::io::simplex(64 KiB) and
#   duplex(64 KiB), 1 KiB and 64 KiB writes, current_thread and 2 workers:
#   <= 1.0x their time in every cell;
# - bridges, thread -> task and task -> thread through `buffered_pipe(64 KiB)`
#   at 1 KiB: >= 2x the throughput of tokio::io::duplex(64 KiB) + tokio-util's
#   SyncIoBridge;
# - rustls (sync, TLS 1.3, ring provider): a 16 MiB transfer over
#   `buffered_duplex(64 KiB)` in <= 0.8x the time over loopback TCP.
#
#   benches/compare_buffered.sh                 # full run (15 rounds of ~80 ms a case)
#   benches/compare_buffered.sh --quick         # 7 rounds of ~30 ms a case
#   benches/compare_buffered.sh --quick threads # some parts: threads tasks (tasks-ct tasks-mt) bridges rustls
#
# Installs nothing. The bench builds into target/bench so that it does not
# fight other cargo commands for target/. Every other runnable thread on the
# box changes these numbers: run it on a quiet machine, or read the spread.
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/common.sh "$@"

# glibc 2.36 (Debian 12) copies 2 KiB and more with `rep movsb`, which on
# this machine's AMD EPYC runs about 20x slower when the destination lies 1 to
# 31 bytes after the source, modulo 4 KiB (a 64 KiB memcpy: 26-116 us at
# those distances, 2-3 us at every other; measured with a probe program). The
# memcpy row and every 64 KiB cell then measured where malloc put the buffers,
# and flipped between builds (the buffered pipe's 64 KiB writes: 6 us or
# 56-64 us). gopipe's own copies avoid those distances (src/engine/copy.rs);
# the peers' do not. Every case runs in this one process with the same
# memcpy; glibc's vector loops measure the pipes.
# `GLIBC_TUNABLES= benches/compare_buffered.sh` runs with glibc's own choice.
export GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.cpu.x86_rep_movsb_threshold=16777216}"
echo "== GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset, glibc defaults}"

# Build first, so that the compile does not run beside the measurements.
cargo bench -p gopipe-benches --bench buffered --no-run 2>&1 | grep -E '^(error|warning)' || true

err="$out/err"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -p gopipe-benches --bench buffered -- "$@" 2>"$err" || true
# cargo's own lines and replayed compiler warnings go; a panic stays.
grep -E 'panicked|^error|STALL' "$err" || true
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
