#!/usr/bin/env bash
# Runs gopipe's criterion `shapes` bench and Go's io.Pipe in the same shapes
# (benches/go/shapes), in one go, and prints one table: ns per write of one
# source for every shape, gopipe against Go, and for the pinned rows gopipe
# against a park/unpark round trip on one core. The shapes are described at the
# top of benches/shapes.rs: independent pairs, chains with relay threads, and
# one pair on one core; pipes outnumber cores in most of them.
#
#   benches/compare_shapes.sh            # full run (about 4 minutes on 2 cores)
#   benches/compare_shapes.sh --quick    # shorter measurements (about 1.5 minutes)
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
  echo "compare_shapes.sh: Go is not installed; on Debian: apt-get install golang-go" >&2
  exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "compare_shapes.sh: python3 is needed to read criterion's results" >&2
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
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== Go io.Pipe ($(go version | cut -d' ' -f3))"
(cd benches/go && go run ./shapes ${quick:+-quick}) | tee "$out/go.csv"
echo "== load between: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== gopipe (criterion)"
rm -rf "$crit/pairs" "$crit/chain" "$crit/pinned"
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
cargo bench -p gopipe-benches --bench shapes 2>&1 | grep -E '^(pairs|chain|pinned)/|time:|STALL|panicked|error' || true

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$crit" "$out/go.csv" <<'PY'
import json, os, sys, glob
crit, gocsv = sys.argv[1], sys.argv[2]
res = {}
for group in ("pairs", "chain", "pinned"):
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
def crit_key(shape, n, s):
    if shape == "pinned":
        return ("pinned", "gopipe", human(s))
    return (shape, human(s), str(n))
rt = res.get(("pinned", "park-unpark-roundtrip", None))
labels = {"pairs": "pairs P={}", "chain": "chain K={}", "pinned": "pinned P={}"}
print()
print("ns per write of one source (criterion median; Go: median of its rounds). g/Go: gopipe time / Go time;")
print("g/rt: gopipe time / park-unpark round trip with both threads on core 0 (pinned rows only).")
print("Go's pinned rows run under GOMAXPROCS=1. A missing number prints as '-'.")
print(f"{'shape':>14} {'size':>6} {'gopipe':>10} {'Go':>10} {'g/Go':>6} {'g/rt':>6}")
order = {"pairs": 0, "chain": 1, "pinned": 2}
def size(h):
    for unit, shift in (("MiB", 20), ("KiB", 10), ("B", 0)):
        if h.endswith(unit):
            return int(h[: -len(unit)]) << shift
keys = set(go) | {(k[0], int(k[2]), size(k[1])) for k in res if k[0] in ("pairs", "chain")}
keys |= {("pinned", 1, size(k[2])) for k in res if k[0] == "pinned" and k[1] == "gopipe"}
for (shape, n, s) in sorted(keys, key=lambda k: (order[k[0]], k[2], k[1])):
    gp = res.get(crit_key(shape, n, s))
    g = go.get((shape, n, s))
    fmt = lambda v, w, p: f"{v:{w}.{p}f}" if v else f"{'-':>{w}}"
    ratio = gp / g if gp and g else None
    byrt = gp / rt if shape == "pinned" and gp and rt else None
    print(f"{labels[shape].format(n):>14} {human(s):>6} {fmt(gp, 10, 0)} {fmt(g, 10, 0)} {fmt(ratio, 6, 2)} {fmt(byrt, 6, 2)}")
if rt:
    print()
    print(f"park-unpark round trip, both threads on core 0: {rt:.0f} ns")
PY
