# Sourced by the compare_*.sh scripts, from the repository's root, with the
# script's arguments (`. benches/common.sh "$@"`): what they all do before
# they build and run.

# `--quick` as the first argument: the benches' quick settings.
quick=""
if [ "${1:-}" = "--quick" ]; then quick=1; fi

# A scratch directory for the benches' output, removed at exit.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Fails unless `$1` is on the PATH; `$2`: what it is needed for.
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "$(basename "$0"): $1 is needed $2" >&2
    exit 2
  fi
}

# Builds into target/bench (an absolute path: criterion resolves a relative
# one against the bench's directory) unless CARGO_TARGET_DIR says otherwise,
# so that the benches do not fight other cargo commands for target/.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/bench}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac

# The machine and the commit measured, for the report.
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)"
if git rev-parse --git-dir >/dev/null 2>&1; then
  dirty=$(git status --porcelain -- src Cargo.toml | wc -l)
  echo "== gopipe: commit $(git rev-parse --short HEAD)$([ "$dirty" -gt 0 ] && echo ", with uncommitted changes in src/ or Cargo.toml")"
fi
