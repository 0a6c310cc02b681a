#!/usr/bin/env bash
# Runs gopipe's criterion `async_shapes` bench (the async halves, feature
# `tokio`) and Go's io.Pipe in the same task shapes (benches/go/shapes with
# P = 1024 added), in one go, and prints two tables with the ratios that the
# async targets are stated in, then which targets are met:
#
# - task shapes (independent pairs, chains with relay tasks; 2-worker tokio
#   runtime): ns per write of one source for gopipe with a flush after every
#   write (Go's io.Pipe semantics) and streaming (no flush), Go's goroutines,
#   tokio::io::simplex and tokio::io::duplex (64 KiB buffers);
# - bridges: a writer thread into a reader task (s2a) and a writer task into a
#   reader thread (a2s), gopipe against tokio::io::duplex + SyncIoBridge, and
#   memcpy of the same bytes.
#
# The shapes are described at the top of benches/async_shapes.rs.
#
#   benches/compare_async.sh            # full run (about 10 minutes on 2 cores)
#   benches/compare_async.sh --quick    # shorter measurements (about 5 minutes)
#
# Needs Go (Debian: `apt-get install golang-go`) and python3. Installs nothing.
# The Rust bench builds into target/bench so that it does not fight other
# cargo commands for target/. Run it on a quiet machine: every other runnable
# thread on the box changes these shapes.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
if [ "${1:-}" = "--quick" ]; then quick=1; fi

if ! command -v go >/dev/null 2>&1; then
  echo "compare_async.sh: Go is not installed; on Debian: apt-get install golang-go" >&2
  exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "compare_async.sh: python3 is needed to read criterion's results" >&2
  exit 2
fi

# Absolute, because criterion resolves a relative CARGO_TARGET_DIR against the
# bench's working directory (benches/), not this one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/bench}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
crit="$CARGO_TARGET_DIR/criterion"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)"
if git rev-parse --git-dir >/dev/null 2>&1; then
  dirty=$(git status --porcelain -- src Cargo.toml | wc -l)
  echo "== gopipe: commit $(git rev-parse --short HEAD)$([ "$dirty" -gt 0 ] && echo ", with uncommitted changes in src/ or Cargo.toml")"
fi
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
load_before=$(cut -d' ' -f1 /proc/loadavg)

# Build first, so that the compile does not run beside Go's measurements.
cargo bench -p gopipe-benches --bench async_shapes --no-run 2>&1 | grep -E '^(error|warning)' || true

echo "== Go io.Pipe ($(go version | cut -d' ' -f3))"
(cd benches/go && go run ./shapes ${quick:+-quick} -pairs 1,8,64,1024 -chains 2,8,64 -pinned=false) | tee "$out/go.csv"
echo "== load between: $(cut -d' ' -f1-3 /proc/loadavg)"
load_between=$(cut -d' ' -f1 /proc/loadavg)

echo "== gopipe async halves and tokio peers (criterion)"
rm -rf "$crit/async-pairs" "$crit/async-chain" "$crit/async-bridge"
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
cargo bench -p gopipe-benches --bench async_shapes 2>&1 | grep -E '^async-|time:|STALL|panicked|error' || true

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
load_after=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$crit" "$out/go.csv" "$load_before" "$load_between" "$load_after" <<'PY'
import json, os, sys, glob
crit, gocsv = sys.argv[1], sys.argv[2]
loads = sys.argv[3:6]
res = {}
for group in ("async-pairs", "async-chain", "async-bridge"):
    for path in glob.glob(os.path.join(crit, group, "**", "new", "benchmark.json"), recursive=True):
        meta = json.load(open(path))
        est = json.load(open(os.path.join(os.path.dirname(path), "estimates.json")))
        res[(meta["group_id"], meta["function_id"], meta.get("value_str"))] = est["median"]["point_estimate"]
go = {}
for line in open(gocsv):
    f = line.strip().split(",")
    if f and f[0] == "go":
        go[(f[1], int(f[2]), int(f[3]))] = float(f[4])
def human(n):
    if n >= 1 << 20 and n % (1 << 20) == 0: return f"{n >> 20}MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0: return f"{n >> 10}KiB"
    return f"{n}B"
def fmt(v, w, p):
    return f"{v:{w}.{p}f}" if v else f"{'-':>{w}}"
def div(a, b):
    return a / b if a and b else None

# Targets: (description, list of (cell, value, ok)).
targets = []
def target(desc, cells):
    targets.append((desc, cells))

print()
print(f"load average (1 min): before {loads[0]}, between Go and Rust {loads[1]}, after {loads[2]}")
print()
print("Task shapes, 2-worker tokio runtime: ns per write of one source (criterion median; Go: median of its")
print("rounds, GOMAXPROCS=2). flush: gopipe with a flush after every write (Go's Write semantics); stream: no")
print("flush. f/Go, s/Go: gopipe time / Go time; s/smp, s/dpx: gopipe stream throughput / simplex (duplex)")
print("throughput (> 1: gopipe faster). A missing number prints as '-'.")
hdr = f"{'shape':>14} {'size':>6} {'flush':>10} {'stream':>10} {'Go':>10} {'simplex':>10} {'duplex':>10} {'f/Go':>6} {'s/Go':>6} {'s/smp':>6} {'s/dpx':>6}"
print(hdr)
flush_1k, flush_64k, stream_1k, vs_simplex = [], [], [], []
for group, label, ns, goshape in (("async-pairs", "pairs P={}", (1, 8, 64, 1024), "pairs"),
                                  ("async-chain", "chain K={}", (2, 8, 64), "chain")):
    for s in (1 << 10, 64 << 10):
        for n in ns:
            get = lambda name: res.get((group, f"{name}/{human(s)}", str(n)))
            fl, st, sm, dp = get("gopipe-flush"), get("gopipe-stream"), get("simplex"), get("duplex")
            g = go.get((goshape, n, s))
            fg, sg, ssm, sdp = div(fl, g), div(st, g), div(sm, st), div(dp, st)
            cell = f"{label.format(n)} {human(s)}"
            print(f"{label.format(n):>14} {human(s):>6} {fmt(fl, 10, 0)} {fmt(st, 10, 0)} {fmt(g, 10, 0)} "
                  f"{fmt(sm, 10, 0)} {fmt(dp, 10, 0)} {fmt(fg, 6, 2)} {fmt(sg, 6, 2)} {fmt(ssm, 6, 2)} {fmt(sdp, 6, 2)}")
            if s == 1 << 10:
                flush_1k.append((cell, fg, fg is not None and fg <= 1.0))
                stream_1k.append((cell, sg, sg is not None and sg <= 0.5))
            else:
                flush_64k.append((cell, fg, fg is not None and fg <= 1.5))
            vs_simplex.append((cell, ssm, ssm is not None and ssm >= 1.0))
target("tasks, flush after every write: <= 1.0x Go's time per write at 1 KiB", flush_1k)
target("tasks, flush after every write: <= 1.5x Go's time per write at 64 KiB", flush_64k)
target("tasks, streaming: <= 0.5x Go's time per write at 1 KiB", stream_1k)
target("tasks, streaming: >= tokio simplex's throughput in every cell", vs_simplex)

print()
print("Bridges (reader buffers 64 KiB): ns per write (criterion median). s2a: writer thread -> reader task;")
print("a2s: writer task (write_all, no flush) -> reader thread. g/bridge: gopipe throughput / tokio duplex(64 KiB)")
print("+ SyncIoBridge throughput; g/mcpy: gopipe throughput / single-thread memcpy throughput.")
print(f"{'size':>6} {'s2a-gopipe':>11} {'s2a-bridge':>11} {'a2s-gopipe':>11} {'a2s-bridge':>11} {'memcpy':>9} "
      f"{'s2a g/brg':>9} {'a2s g/brg':>9} {'s2a g/mcp':>9} {'a2s g/mcp':>9}")
vs_bridge, vs_memcpy = [], []
for s in (1 << 10, 64 << 10, 1 << 20):
    get = lambda name: res.get(("async-bridge", name, human(s)))
    sg, sb, ag, ab, mc = get("s2a-gopipe"), get("s2a-duplex-bridge"), get("a2s-gopipe"), get("a2s-duplex-bridge"), get("memcpy")
    r = [div(sb, sg), div(ab, ag), div(mc, sg), div(mc, ag)]
    print(f"{human(s):>6} {fmt(sg, 11, 0)} {fmt(sb, 11, 0)} {fmt(ag, 11, 0)} {fmt(ab, 11, 0)} {fmt(mc, 9, 0)} "
          + " ".join(fmt(v, 9, 2) for v in r))
    if s >= 64 << 10:
        vs_bridge.append((f"s2a {human(s)}", r[0], r[0] is not None and r[0] >= 2.0))
        vs_bridge.append((f"a2s {human(s)}", r[1], r[1] is not None and r[1] >= 2.0))
    if s == 1 << 20:
        vs_memcpy.append((f"s2a {human(s)}", r[2], r[2] is not None and r[2] >= 0.8))
        vs_memcpy.append((f"a2s {human(s)}", r[3], r[3] is not None and r[3] >= 0.8))
target("bridges: >= 2x the throughput of duplex + SyncIoBridge at 64 KiB and 1 MiB", vs_bridge)
target("bridges: 1 MiB writes >= 0.8x memcpy's throughput", vs_memcpy)

print()
print("Targets:")
for desc, cells in targets:
    missed = [c for c in cells if not c[2]]
    verdict = "MET" if cells and not missed else "MISSED"
    print(f"  {verdict:>6}  {desc}")
    for cell, v, ok in missed:
        print(f"          missed: {cell}: {fmt(v, 0, 2).strip()}")
PY
