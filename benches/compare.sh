#!/usr/bin/env bash
# Runs gopipe's criterion bench and Go's io.Pipe on the same grid, in one go,
# and prints one table: ns per write for every case, and the ratios that the
# performance targets are stated in.
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
    res[(meta["group_id"], meta["function_id"] or meta.get("value_str"))] = est["median"]["point_estimate"]
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
    best = min(v for v in pv if v)
    row += f" {best / gp if gp else 0:7.2f}"
    print(row)
rt2 = res.get(("cross-core", "atomic-roundtrip"))
if rt2:
    print()
    print(f"Cross-core cache-line round trip (the floor of one hand-off): {rt2:.0f} ns;"
          f" gopipe 1KiB/1KiB = {res.get(('1KiB/1KiB', 'gopipe'), 0) / rt2:.2f} round trips")
oc = {k[1]: v for k, v in res.items() if k[0] == "one-core"}
if oc:
    rt = oc.get("park-unpark-roundtrip")
    print()
    print("Both threads on one core (ns per write; park/unpark round trip as the yardstick):")
    for k in sorted(oc):
        extra = f"  = {oc[k] / rt:.2f}x round trip" if rt and k != "park-unpark-roundtrip" else ""
        print(f"  {k:>24} {oc[k]:9.0f}{extra}")
PY
