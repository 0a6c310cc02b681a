#!/usr/bin/env bash
# Runs the benches of the in-memory network (issue 26) in one go and prints
# one table per target, each row MET or MISSED with the ratio it is stated in,
# then the overall verdict:
#
# - `net` (benches/net.rs): one connection's whole life (dial, accept, a 1 KiB
#   request and a 1 KiB reply, close of both ends), ns per connection, over
#   gopipe::listen(0) and listen(64 KiB) against loopback TCP: std::net with a
#   server thread (`threads`), tokio::net with an accept-loop task spawning a
#   task per connection on a current_thread (`ct`) and a 2-worker (`mt2`)
#   runtime. Target: gopipe at least 10x as fast as loopback TCP, every row.
# - the same `net` tasks rows against tokio::io::duplex(64 KiB) made per
#   connection and handed to the accept loop through an mpsc channel.
#   Target: gopipe no slower (time <= 1.0x duplex's), every row.
# - `hyper` (benches/hyper.rs, transports listen0, listen64k and tcp): hyper's
#   HTTP/1 (POST 1 KiB / answer 1 KiB, keep-alive, 1 and 8 connections) over
#   the listener's connections against the same server on loopback TCP.
#   Target: more requests per second over the listener, every row.
#
# Medians over rounds that alternate the cases (min..max in brackets); `cpu`:
# the median CPU time of the whole process per connection, which a loaded
# machine disturbs less than the wall time.
#
#   benches/compare_net.sh            # full run (net: 15 rounds of ~80 ms a case, 11 cases; hyper: 7 rounds of 1 s, 12 cases)
#   benches/compare_net.sh --quick    # net: 7 rounds of ~30 ms a case; hyper: 3 rounds of 300 ms
#
# Needs python3. Installs nothing. Builds into target/bench so that it does not
# fight other cargo commands for target/. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/common.sh "$@"
need python3 "to read the benches' output"

# Build first, so that the compile does not run beside the measurements.
cargo bench -p gopipe-benches --bench net --bench hyper --no-run 2>&1 | grep -E '^(error|warning)' || true

echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "$quick" ]; then export GOPIPE_BENCH_QUICK=1; else unset GOPIPE_BENCH_QUICK; fi
# The benches' own tables; cargo's lines and the machine-readable ones go.
cargo bench -p gopipe-benches --bench net 2>&1 | tee "$out/net.txt" | grep -vE '^net,|^ *(Compiling|Finished|Running)' || true
echo "== load between: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -p gopipe-benches --bench hyper -- listen0 listen64k tcp 2>&1 | tee "$out/hyper.txt" | grep -E '^(#|hyper )|STALL|panicked|error' || true
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$out/net.txt" "$out/hyper.txt" "$load_before" "$load_after" <<'PY'
import sys

net = {}
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) == 7 and f[0] == "net":
        net[(f[1], f[2])] = tuple(float(x) for x in f[3:])  # median, min, max, cpu
hyper = {}
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if len(f) == 8 and f[0] == "hyper":
        hyper[(f[1], int(f[2]), f[3])] = tuple(float(x) for x in f[4:7])  # median, min, max

verdicts = []

def cell(v):
    return f"{v[0]:.0f} ({v[1]:.0f}..{v[2]:.0f})" if v else "-"

def row(labels, ours, peer, ratio, ok, cpu=None):
    """One row: the labels (right-aligned to their widths), both cells, the
    ratio of the medians ratio(ours, peer) (and of the CPU medians, with
    `cpu`), and the verdict ok(ratio); MISSED when either side has no result."""
    head = " ".join(f"{text:>{width}}" for text, width in labels)
    r = ratio(ours[0], peer[0]) if ours and peer else None
    c = cpu and ours and peer and ratio(ours[3], peer[3])
    met = r is not None and ok(r)
    verdicts.append(met)
    print(f"{head} {cell(ours):>26} {cell(peer):>28} "
          + (f"{r:7.2f}" if r is not None else f"{'-':>7}")
          + (f" {c:7.2f}" if c else (f" {'-':>7}" if cpu else ""))
          + f"  {'MET' if met else 'MISSED'}" + ("" if r is not None else " (no result)"))

names = {"listen0": "listen(0)", "listen64k": "listen(64KiB)"}
parts = {"threads": "threads", "ct": "tasks ct", "mt2": "tasks mt2"}

print()
print(f"load average (1, 5, 15 min): before {sys.argv[3]}; after {sys.argv[4]}")
print()
print("Target 1: dial + accept + 1 KiB request and reply + close, gopipe >= 10x as fast as loopback TCP")
print("(threads: std::net, a server thread; tasks: tokio::net, an accept loop spawning a task per connection).")
print("ns per connection, median (min..max); x: TCP time / gopipe time; cpu x: the same of the CPU medians.")
print(f"{'part':>10} {'gopipe':>14} {'gopipe ns':>26} {'TCP ns':>28} {'x':>7} {'cpu x':>7}  target")
for part in ("threads", "ct", "mt2"):
    for key in ("listen0", "listen64k"):
        row([(parts[part], 10), (names[key], 14)], net.get((part, key)), net.get((part, "tcp")),
            lambda g, t: t / g, lambda x: x >= 10, cpu=True)

print()
print("Target 2: the same per connection, tasks, gopipe no slower than tokio::io::duplex(64 KiB) made per")
print("connection (its server end sent to the accept loop through an mpsc channel).")
print("ns per connection, median (min..max); t: gopipe time / duplex time; cpu t: the same of the CPU medians.")
print(f"{'part':>10} {'gopipe':>14} {'gopipe ns':>26} {'duplex ns':>28} {'t':>7} {'cpu t':>7}  target")
for part in ("ct", "mt2"):
    for key in ("listen0", "listen64k"):
        row([(parts[part], 10), (names[key], 14)], net.get((part, key)), net.get((part, "duplex")),
            lambda g, d: g / d, lambda t: t <= 1.0, cpu=True)

print()
print("Target 3: hyper HTTP/1 (POST 1 KiB / answer 1 KiB, keep-alive) over the listener's connections,")
print("more requests per second than the same server over loopback TCP (TCP_NODELAY).")
print("requests per second, median (min..max); x: listener / TCP.")
print(f"{'runtime':>8} {'conns':>5} {'listener':>14} {'listener req/s':>26} {'TCP req/s':>28} {'x':>7}  target")
for rt in ("ct", "mt2"):
    for conns in (1, 8):
        for key in ("listen0", "listen64k"):
            row([(rt, 8), (conns, 5), (names[key], 14)], hyper.get((rt, conns, key)),
                hyper.get((rt, conns, "tcp")), lambda g, t: g / t, lambda x: x > 1.0)

print()
met = sum(verdicts)
print(f"Targets: {met} of {len(verdicts)} rows met; overall {'MET' if verdicts and all(verdicts) else 'MISSED'}")
PY
