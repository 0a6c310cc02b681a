#!/usr/bin/env bash
# Runs gopipe's criterion `conn` bench and Go's net.Pipe in the same shapes
# (benches/go/conn), in one go, and prints one table: time per round trip of
# the 8-byte ping-pong and per 64 KiB write of the stream, for gopipe::duplex,
# Go's net.Pipe, a loopback TCP pair and tokio::io::duplex(64 KiB), with the
# ratios the targets of issue 11 are stated in (gopipe <= 0.5x Go's round
# trip; gopipe ahead of loopback TCP in every cell). The shapes are described
# at the top of benches/conn.rs.
#
#   benches/compare_conn.sh            # full run (about 1 minute on 2 cores)
#   benches/compare_conn.sh --quick    # shorter measurements (about 35 seconds)
#
# Needs Go (Debian: `apt-get install golang-go`) and python3. Installs nothing.
# The Rust bench builds into target/bench so that it does not fight other
# cargo commands for target/. Run it on a quiet machine: both sides of every
# connection want a core.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
if [ "${1:-}" = "--quick" ]; then quick=1; fi

if ! command -v go >/dev/null 2>&1; then
  echo "compare_conn.sh: Go is not installed; on Debian: apt-get install golang-go" >&2
  exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "compare_conn.sh: python3 is needed to read criterion's results" >&2
  exit 2
fi

# Absolute, because criterion resolves a relative CARGO_TARGET_DIR against the
# bench's working directory (benches/), not this one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/bench}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
crit="$CARGO_TARGET_DIR/criterion"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Build first, so that the compiler does not run beside either measurement.
cargo bench -p gopipe-benches --bench conn --no-run 2>&1 | grep -E '^(error|warning)' || true
(cd benches/go && go build -o "$out/goconn" ./conn)

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== Go net.Pipe ($(go version | cut -d' ' -f3))"
"$out/goconn" ${quick:+-quick} | tee "$out/go.csv"
echo "== load between: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== gopipe, loopback TCP, tokio duplex (criterion)"
rm -rf "$crit/conn-pingpong" "$crit/conn-stream"
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
cargo bench -p gopipe-benches --bench conn 2>&1 | grep -E '^conn-|time:|thrpt:|panicked|error' || true

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$crit" "$out/go.csv" <<'PY'
import json, os, sys, glob
crit, gocsv = sys.argv[1], sys.argv[2]
res = {}
for group in ("conn-pingpong", "conn-stream"):
    for path in glob.glob(os.path.join(crit, group, "**", "new", "benchmark.json"), recursive=True):
        meta = json.load(open(path))
        est = json.load(open(os.path.join(os.path.dirname(path), "estimates.json")))
        res[(meta["group_id"], meta["function_id"])] = est["median"]["point_estimate"]
go = {}
for line in open(gocsv):
    f = line.strip().split(",")
    if f and f[0] == "go":
        go[f[1]] = float(f[3])
rows = [("ping-pong 8B", "conn-pingpong", "pingpong", 8),
        ("stream 64KiB", "conn-stream", "stream", 64 << 10)]
fmt = lambda v, w, p: f"{v:{w}.{p}f}" if v else f"{'-':>{w}}"
div = lambda a, b: a / b if a and b else None
print()
print("ns per round trip (ping-pong) or per 64 KiB write (stream): criterion median; Go: median of its rounds.")
print("g/Go, g/TCP, g/tokio: gopipe's time over the other's (below 1: gopipe is faster). A missing number prints as '-'.")
print(f"{'case':>13} {'gopipe':>9} {'Go':>9} {'TCP':>9} {'tokio':>9} {'g/Go':>6} {'g/TCP':>6} {'g/tokio':>7}")
cells = {}
for label, group, shape, size in rows:
    gp, tcp, tk = (res.get((group, f)) for f in ("gopipe", "tcp", "tokio-duplex"))
    g = go.get(shape)
    cells[shape] = (gp, g, tcp, tk, size)
    print(f"{label:>13} {fmt(gp, 9, 0)} {fmt(g, 9, 0)} {fmt(tcp, 9, 0)} {fmt(tk, 9, 0)} "
          f"{fmt(div(gp, g), 6, 2)} {fmt(div(gp, tcp), 6, 2)} {fmt(div(gp, tk), 7, 2)}")
gp, g, tcp, tk, size = cells["stream"]
gibs = lambda ns: size / ns / (1 << 30) * 1e9 if ns else None
print(f"{'GiB/s':>13} {fmt(gibs(gp), 9, 2)} {fmt(gibs(g), 9, 2)} {fmt(gibs(tcp), 9, 2)} {fmt(gibs(tk), 9, 2)}")
print()
pp = cells["pingpong"]
r = div(pp[0], pp[1])
print(f"target: gopipe round trip <= 0.5x Go's: {fmt(r, 4, 2).strip()}x, "
      f"{'met' if r is not None and r <= 0.5 else 'MISSED'}")
for shape, (gp, g, tcp, tk, size) in cells.items():
    r = div(gp, tcp)
    print(f"target: gopipe ahead of loopback TCP, {shape}: {fmt(r, 4, 2).strip()}x, "
          f"{'met' if r is not None and r < 1 else 'MISSED'}")
PY
