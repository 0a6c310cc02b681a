#!/usr/bin/env bash
# Runs the `hyper` bench (benches/hyper.rs: hyper's HTTP/1 client and server,
# POST 1 KiB / answer 1 KiB, keep-alive) over gopipe::duplex() and over
# tokio::io::duplex(64 KiB), on a current_thread and a 2-worker tokio runtime,
# with 1 and 8 connections, and prints one table: requests per second of each
# (median of its rounds) and the ratio gopipe / duplex, each row MET or MISSED
# against the target (gopipe >= 1.1x duplex), then the overall verdict. The
# floor (benches/floor.rs: the least an in-memory transport can do, with none
# of a pipe's semantics) runs in the same rounds; its ratio floor / duplex is
# the most any transport could give hyper here, a bound on the target.
#
#   benches/compare_hyper.sh            # full run (7 rounds of 1 s per case and transport, about 90 s)
#   benches/compare_hyper.sh --quick    # 3 rounds of 300 ms (about 15 s, plus the build)
#
# Needs python3. Installs nothing. Builds into target/bench so that it does not
# fight other cargo commands for target/. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/common.sh "$@"
need python3 "to read the bench's output"

# Build first, so that the compile does not run beside the measurements.
cargo bench -p gopipe-benches --bench hyper --no-run 2>&1 | grep -E '^(error|warning)' || true

echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
load_before=$(cut -d' ' -f1 /proc/loadavg)
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
cargo bench -p gopipe-benches --bench hyper -- gopipe duplex floor 2>&1 | tee "$out/hyper.txt" | grep -E '^(#|hyper )|STALL|panicked|error' || true
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
load_after=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$out/hyper.txt" "$load_before" "$load_after" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) == 8 and f[0] == "hyper":
        rows[(f[1], int(f[2]), f[3])] = (float(f[4]), float(f[5]), float(f[6]))
print()
print(f"load average (1 min): before {sys.argv[2]}, after {sys.argv[3]}")
print()
print("hyper HTTP/1 over an in-memory pair, POST 1 KiB / answer 1 KiB, keep-alive: requests per second")
print("(median of the rounds; min..max in brackets). ct: current_thread runtime; mt2: multi-thread, 2 workers.")
print("Target: gopipe::duplex() >= 1.1x tokio::io::duplex(64 KiB)'s requests per second.")
print("floor: benches/floor.rs, a bound (no pipe semantics); f/dpx: the most any transport gave hyper here.")
print(f"{'runtime':>8} {'conns':>5} {'gopipe':>24} {'duplex':>24} {'floor':>24} {'g/dpx':>6} {'f/dpx':>6}  target")
verdicts = []
for rt in ("ct", "mt2"):
    for conns in (1, 8):
        g, d, f = rows.get((rt, conns, "gopipe")), rows.get((rt, conns, "duplex")), rows.get((rt, conns, "floor"))
        if not g or not d:
            print(f"{rt:>8} {conns:>5} {'-':>24} {'-':>24} {'-':>24} {'-':>6} {'-':>6}  MISSED (no result)")
            verdicts.append(False)
            continue
        ratio = g[0] / d[0]
        ok = ratio >= 1.1
        verdicts.append(ok)
        cell = lambda v: f"{v[0]:.0f} ({v[1]:.0f}..{v[2]:.0f})" if v else "-"
        fr = f"{f[0] / d[0]:6.2f}" if f else f"{'-':>6}"
        print(f"{rt:>8} {conns:>5} {cell(g):>24} {cell(d):>24} {cell(f):>24} {ratio:6.2f} {fr}  {'met' if ok else 'missed'}")
print()
print(f"Target: {'MET' if verdicts and all(verdicts) else 'MISSED'}  hyper over gopipe >= 1.1x over tokio duplex, every row")
PY
