#!/usr/bin/env bash
# Runs gopipe's criterion `async_shapes` bench (the async halves, feature
# `tokio`) and Go's io.Pipe in the same task shapes (benches/go/shapes with
# P = 1024 added), in one go, and prints three tables with the ratios that the
# async targets are stated in, then each target as MET or MISSED with the
# measured ratio of every cell (met/missed):
#
# - task shapes on the 2-worker tokio runtime (independent pairs, chains with
#   relay tasks): ns per write of one source for gopipe in `consumed` mode
#   (write_all then consumed().await after every write: Go's io.Pipe Write
#   semantics) and streaming (write_all alone), Go's goroutines,
#   tokio::io::simplex and tokio::io::duplex (64 KiB buffers), and the floor
#   (benches/floor.rs: one mutex, a byte ring, two wakers and tokio's budget,
#   none of a pipe's semantics), printed as f/smp: a bound on target (a), what
#   no design that keeps gopipe's semantics can beat;
# - the same streaming cells on a current_thread runtime (no Go column: Go has
#   no such scheduler; GOMAXPROCS=1 is the pinned rows of compare_shapes.sh);
# - bridges: a writer thread into a reader task (s2a, also through a 64 KiB
#   std BufWriter) and a writer task into a reader thread (a2s), gopipe
#   against tokio::io::duplex + SyncIoBridge, and memcpy of the same bytes.
#
# Targets:
# (a) streaming: gopipe's time per write <= 0.8x tokio simplex(64 KiB)'s in
#     every cell of both runtimes;
# (b) consumed (Go's semantics): 64 pairs x 1 KiB <= 1.0x Go's goroutines;
#     a chain of 8 x 1 KiB <= 1.5x Go;
# (c) bridges: a2s 1 MiB >= 0.5x memcpy's throughput, s2a 1 MiB >= 0.8x;
#     a2s 1 KiB >= 1x duplex + SyncIoBridge; s2a through a 64 KiB BufWriter at
#     1 KiB >= 1x duplex + SyncIoBridge.
#
# The shapes are described at the top of benches/async_shapes.rs.
#
#   benches/compare_async.sh            # full run (about 11 minutes on 2 cores)
#   benches/compare_async.sh --quick    # shorter measurements (about 6 minutes)
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
rm -rf "$crit/async-pairs" "$crit/async-chain" "$crit/async-pairs-ct" "$crit/async-chain-ct" "$crit/async-bridge"
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
cargo bench -p gopipe-benches --bench async_shapes 2>&1 | grep -E '^async-|time:|STALL|panicked|error' || true

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
load_after=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$crit" "$out/go.csv" "$load_before" "$load_between" "$load_after" <<'PY'
import json, os, sys, glob
crit, gocsv = sys.argv[1], sys.argv[2]
loads = sys.argv[3:6]
res = {}
for group in ("async-pairs", "async-chain", "async-pairs-ct", "async-chain-ct", "async-bridge"):
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

# Targets: (description, list of (cell, ratio, ok)).
targets = []
def target(desc, cells):
    targets.append((desc, cells))
def upto(v, limit):
    return v is not None and v <= limit
def atleast(v, limit):
    return v is not None and v >= limit

print()
print(f"load average (1 min): before {loads[0]}, between Go and Rust {loads[1]}, after {loads[2]}")
print()
print("Task shapes, 2-worker tokio runtime: ns per write of one source (criterion median; Go: median of its")
print("rounds, GOMAXPROCS=2). consumed: gopipe, write_all then consumed().await after every write (Go's Write")
print("semantics); stream: write_all alone. c/Go: consumed time / Go time; s/smp, s/dpx: gopipe stream time /")
print("simplex (duplex) time (< 1: gopipe faster); f/smp: the floor's time / simplex's (benches/floor.rs, a")
print("bound, not a peer). A missing number prints as '-'.")
print(f"{'shape':>14} {'size':>6} {'consumed':>10} {'stream':>10} {'Go':>10} {'simplex':>10} {'duplex':>10} {'floor':>10} {'c/Go':>6} {'s/smp':>6} {'s/dpx':>6} {'f/smp':>6}")
streaming, consumed, floor = [], [], []
for group, label, ns, goshape in (("async-pairs", "pairs P={}", (1, 8, 64, 1024), "pairs"),
                                  ("async-chain", "chain K={}", (2, 8, 64), "chain")):
    for s in (1 << 10, 64 << 10):
        for n in ns:
            get = lambda name: res.get((group, f"{name}/{human(s)}", str(n)))
            co, st, sm, dp = get("gopipe-consumed"), get("gopipe-stream"), get("simplex"), get("duplex")
            fl = get("floor")
            g = go.get((goshape, n, s))
            cg, ssm, sdp, fsm = div(co, g), div(st, sm), div(st, dp), div(fl, sm)
            cell = f"{label.format(n)} {human(s)}"
            print(f"{label.format(n):>14} {human(s):>6} {fmt(co, 10, 0)} {fmt(st, 10, 0)} {fmt(g, 10, 0)} "
                  f"{fmt(sm, 10, 0)} {fmt(dp, 10, 0)} {fmt(fl, 10, 0)} {fmt(cg, 6, 2)} {fmt(ssm, 6, 2)} {fmt(sdp, 6, 2)} {fmt(fsm, 6, 2)}")
            streaming.append((f"{cell} (2 workers)", ssm, upto(ssm, 0.8)))
            floor.append(fsm)
            if (goshape, n, s) == ("pairs", 64, 1 << 10):
                consumed.append((cell, cg, upto(cg, 1.0)))
            if (goshape, n, s) == ("chain", 8, 1 << 10):
                consumed.append((cell, cg, upto(cg, 1.5)))

print()
print("Task shapes, current_thread tokio runtime, streaming: ns per write of one source (criterion median).")
print("s/smp, s/dpx: gopipe stream time / simplex (duplex) time (< 1: gopipe faster); f/smp: the floor's.")
print(f"{'shape':>14} {'size':>6} {'stream':>10} {'simplex':>10} {'duplex':>10} {'floor':>10} {'s/smp':>6} {'s/dpx':>6} {'f/smp':>6}")
for group, label, ns in (("async-pairs-ct", "pairs P={}", (1, 64)), ("async-chain-ct", "chain K={}", (8,))):
    for s in (1 << 10, 64 << 10):
        for n in ns:
            get = lambda name: res.get((group, f"{name}/{human(s)}", str(n)))
            st, sm, dp, fl = get("gopipe-stream"), get("simplex"), get("duplex"), get("floor")
            ssm, sdp, fsm = div(st, sm), div(st, dp), div(fl, sm)
            print(f"{label.format(n):>14} {human(s):>6} {fmt(st, 10, 0)} {fmt(sm, 10, 0)} {fmt(dp, 10, 0)} {fmt(fl, 10, 0)} "
                  f"{fmt(ssm, 6, 2)} {fmt(sdp, 6, 2)} {fmt(fsm, 6, 2)}")
            streaming.append((f"{label.format(n)} {human(s)} (current_thread)", ssm, upto(ssm, 0.8)))
            floor.append(fsm)
target("(a) tasks, streaming: gopipe time per write <= 0.8x tokio simplex(64 KiB)'s, every cell, both runtimes", streaming)
target("(b) consumed (Go's semantics): 64 pairs x 1 KiB <= 1.0x Go; chain of 8 x 1 KiB <= 1.5x Go", consumed)

print()
print("Bridges (reader buffers 64 KiB): ns per write (criterion median). s2a: writer thread -> reader task")
print("(s2a-bufw: through a 64 KiB std BufWriter); a2s: writer task (write_all, no flush) -> reader thread.")
print("x/brg: gopipe throughput / tokio duplex(64 KiB) + SyncIoBridge throughput, same direction;")
print("x/mcp: gopipe throughput / single-thread memcpy throughput (> 1: gopipe faster).")
print(f"{'size':>6} {'s2a-gopipe':>11} {'s2a-bufw':>11} {'s2a-bridge':>11} {'a2s-gopipe':>11} {'a2s-bridge':>11} {'memcpy':>9} "
      f"{'s2a/brg':>8} {'bufw/brg':>8} {'a2s/brg':>8} {'s2a/mcp':>8} {'a2s/mcp':>8}")
bridges = []
for s in (1 << 10, 64 << 10, 1 << 20):
    get = lambda name: res.get(("async-bridge", name, human(s)))
    sg, sw, sb = get("s2a-gopipe"), get("s2a-gopipe-bufwriter"), get("s2a-duplex-bridge")
    ag, ab, mc = get("a2s-gopipe"), get("a2s-duplex-bridge"), get("memcpy")
    r = [div(sb, sg), div(sb, sw), div(ab, ag), div(mc, sg), div(mc, ag)]
    print(f"{human(s):>6} {fmt(sg, 11, 0)} {fmt(sw, 11, 0)} {fmt(sb, 11, 0)} {fmt(ag, 11, 0)} {fmt(ab, 11, 0)} {fmt(mc, 9, 0)} "
          + " ".join(fmt(v, 8, 2) for v in r))
    if s == 1 << 20:
        bridges.append(("a2s 1MiB vs memcpy", r[4], atleast(r[4], 0.5)))
        bridges.append(("s2a 1MiB vs memcpy", r[3], atleast(r[3], 0.8)))
    if s == 1 << 10:
        bridges.append(("a2s 1KiB vs duplex + SyncIoBridge", r[2], atleast(r[2], 1.0)))
        bridges.append(("s2a-gopipe-bufwriter 1KiB vs duplex + SyncIoBridge", r[1], atleast(r[1], 1.0)))
target("(c) bridges: a2s 1 MiB >= 0.5x memcpy; s2a 1 MiB >= 0.8x memcpy; at 1 KiB a2s and s2a (BufWriter) >= 1x the bridge", bridges)

print()
print("Targets (ratio per cell; time ratios for (a) and (b), throughput ratios for (c)):")
for desc, cells in targets:
    missed = [c for c in cells if not c[2]]
    verdict = "MET" if cells and not missed else "MISSED"
    print(f"  {verdict:>6}  {desc}")
    for cell, v, ok in cells:
        shown = f"{v:.2f}" if v else "not measured"
        print(f"          {'met' if ok else 'missed':>6}: {cell}: {shown}")
fl = sorted(v for v in floor if v)
if fl:
    print()
    print(f"Bound on (a): the floor (benches/floor.rs) took <= 0.8x simplex's time in {sum(v <= 0.8 for v in fl)} of "
          f"{len(fl)} streaming cells; floor / simplex {fl[0]:.2f}..{fl[-1]:.2f}, median {fl[len(fl) // 2]:.2f}.")
PY
