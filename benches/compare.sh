#!/usr/bin/env bash
# Runs gopipe's criterion bench and Go's io.Pipe on the same grid, in one go,
# and prints one table: ns per write for every case, and the ratios that the
# performance targets are stated in; then the cache-line round trip and the
# one-core cases measured in the same run, and the thread targets as MET or
# MISSED with the measured ratio:
# - gopipe's 1 KiB write (1KiB/1KiB) <= 2 cross-core cache-line round trips;
# - 1 MiB writes read 64 KiB at a time (1MiB/64KiB) >= 0.9x the throughput of
#   a single-thread memcpy through the same 64 KiB buffer;
# - both threads on one core: gopipe's 64 B and 1 KiB writes <= 0.5x a
#   park/unpark round trip between the same two threads.
#
#   benches/compare.sh            # full run (about 10 minutes on 2 cores)
#   benches/compare.sh --quick    # shorter measurements (about 4 minutes)
#
# Needs Go (Debian: `apt-get install golang-go`) and python3. Installs nothing.
# The Rust bench builds into target/bench so that it does not fight other
# cargo commands for target/. Run it on a quiet machine: both pipes spin.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
if [ "${1:-}" = "--quick" ]; then quick=1; fi

if ! command -v go >/dev/null 2>&1; then
  echo "compare.sh: Go is not installed; on Debian: apt-get install golang-go" >&2
  exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "compare.sh: python3 is needed to read criterion's results" >&2
  exit 2
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/bench}"
# Absolute: the benches are their own package, and criterion resolves a
# relative target dir against the package's directory (benches/).
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== Go io.Pipe ($(go version | cut -d' ' -f3))"
(cd benches/go && go run . ${quick:+-quick}) | tee "$out/go.csv"

echo "== gopipe and peers (criterion)"
rm -rf "$CARGO_TARGET_DIR/criterion"
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
cargo bench -p gopipe-benches --bench pipe 2>&1 | grep -E '^[0-9].*/|^one-core|^cross-core|time:' || true

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$CARGO_TARGET_DIR/criterion" "$out/go.csv" <<'PY'
import json, os, sys, glob
crit, gocsv = sys.argv[1], sys.argv[2]
res = {}
for path in glob.glob(os.path.join(crit, "**", "new", "benchmark.json"), recursive=True):
    meta = json.load(open(path))
    est = json.load(open(os.path.join(os.path.dirname(path), "estimates.json")))
    # "gopipe" (grid: the parameter only), "gopipe/64B" (one-core: a name and a
    # parameter), "atomic-roundtrip" (a name only).
    key = "/".join(x for x in (meta["function_id"], meta.get("value_str")) if x)
    res[(meta["group_id"], key)] = est["median"]["point_estimate"]
go = {}
for line in open(gocsv):
    f = line.strip().split(",")
    if f[0] == "go":
        go[(int(f[1]), int(f[2]))] = float(f[3])
def human(n):
    if n >= 1 << 20 and n % (1 << 20) == 0: return f"{n >> 20}MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0: return f"{n >> 10}KiB"
    return f"{n}B"
peers = ["mpsc-sync_channel(0)", "mpsc-channel", "crossbeam-bounded(0)", "std-io-pipe", "pipe-crate"]
short = {"mpsc-sync_channel(0)": "sync0", "mpsc-channel": "mpsc", "crossbeam-bounded(0)": "cb0", "std-io-pipe": "os-pipe", "pipe-crate": "pipe"}
print()
print("Median ns per write (criterion median; Go: median of its rounds). Ratios: gopipe/Go time,")
print("gopipe bandwidth / single-thread memcpy bandwidth, and best peer time / gopipe time.")
hdr = f"{'S/R':>13} {'gopipe':>9} {'Go':>9} {'g/Go':>6} {'memcpy':>8} {'g/mcpy':>6} " + " ".join(f"{short[p]:>9}" for p in peers) + f" {'peer/g':>7}"
print(hdr)
for (s, r) in sorted(go):
    g = f"{human(s)}/{human(r)}"
    gp = res.get((g, "gopipe"))
    mc = res.get((g, "memcpy"))
    row = f"{g:>13} {gp or 0:9.0f} {go[(s, r)]:9.0f} {(gp / go[(s, r)]) if gp else 0:6.2f} {mc or 0:8.0f} {(mc / gp) if gp and mc else 0:6.2f} "
    pv = [res.get((g, p)) for p in peers]
    row += " ".join(f"{v or 0:9.0f}" for v in pv)
    best = min((v for v in pv if v), default=None)
    row += f" {best / gp if gp and best else 0:7.2f}"
    print(row)
# Targets: (description, ratio or None, ok).
targets = []
rt2 = res.get(("cross-core", "atomic-roundtrip"))
g1k = res.get(("1KiB/1KiB", "gopipe"))
if rt2:
    print()
    print(f"Cross-core cache-line round trip (the floor of one hand-off), this run: {rt2:.0f} ns;"
          f" gopipe 1KiB/1KiB = {g1k / rt2 if g1k else 0:.2f} round trips")
n = g1k / rt2 if g1k and rt2 else None
targets.append(("gopipe 1KiB/1KiB <= 2 cache-line round trips a write", n, n is not None and n <= 2.0))
gm, mm = res.get(("1MiB/64KiB", "gopipe")), res.get(("1MiB/64KiB", "memcpy"))
n = mm / gm if gm and mm else None
targets.append(("1MiB writes read 64KiB at a time >= 0.9x memcpy's throughput", n, n is not None and n >= 0.9))
oc = {k[1]: v for k, v in res.items() if k[0] == "one-core"}
rt = oc.get("park-unpark-roundtrip")
if oc:
    print()
    print("Both threads on one core (ns per write; park/unpark round trip as the yardstick):")
    for k in sorted(oc):
        extra = f"  = {oc[k] / rt:.2f}x round trip" if rt and k != "park-unpark-roundtrip" else ""
        print(f"  {k:>24} {oc[k]:9.0f}{extra}")
for k in ("gopipe/64B", "gopipe/1KiB"):
    v = oc.get(k)
    n = v / rt if v and rt else None
    targets.append((f"one core: {k} <= 0.5x a park/unpark round trip", n, n is not None and n <= 0.5))
print()
print("Targets (measured ratio):")
for desc, n, ok in targets:
    shown = f"{n:.2f}" if n is not None else "not measured"
    print(f"  {'MET' if ok else 'MISSED':>6}  {desc}: {shown}")
PY
