#!/usr/bin/env bash
# Vigil's one test command (README "Test"; .ci/run calls exactly this).
# On a fresh machine it needs only the Rust toolchain, gcc and Python.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step() { printf '\n==> %s\n' "$*"; }

step "optional tools for the deploy/ checks (promtool, docker-compose)"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v promtool >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus docker-compose >/dev/null) \
    || echo "note: could not install promtool/docker-compose; their checks will print SKIP"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo bench --no-run (benches compile)"
cargo bench --workspace --no-run --locked --quiet

step "cargo test (unit, doc, golden scenarios, binary over HTTP)"
cargo test --workspace --locked 2>&1 | tee "$log"

passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
printf '\ntests: %s passed, %s failed\n' "$passed" "$failed"
[ "$failed" = "0" ]
