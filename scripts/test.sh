#!/usr/bin/env bash
# Vigil's one test command (README "Test"; .ci/run calls exactly this).
# On a fresh machine it needs only the Rust toolchain, gcc and Python.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
log="$(mktemp)"
broker_dir=""
broker_build_pid=""
broker_build_log=""
cleanup() {
  rm -f "$log"
  if [ -n "$broker_build_pid" ] && kill -0 "$broker_build_pid" 2>/dev/null; then
    # Its own process group: cargo and rustc go with it.
    kill -- "-$broker_build_pid" 2>/dev/null || kill "$broker_build_pid" 2>/dev/null || true
  fi
  [ -n "$broker_build_log" ] && rm -f "$broker_build_log"
  if [ -n "$broker_dir" ]; then
    bash scripts/kafka-broker.sh stop "$broker_dir"
    rm -rf "$broker_dir"
  fi
}
trap cleanup EXIT

started=$SECONDS
step() { printf '\n==> [%ss] %s\n' "$((SECONDS - started))" "$*"; }

step "optional tools for the deploy/ checks (promtool, docker-compose)"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v promtool >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus docker-compose >/dev/null) \
    || echo "note: could not install promtool/docker-compose; their checks will print SKIP"
fi

step "Kafka-compatible broker (tansu 0.6.0): cached, or built in the background"
if [ -n "${VIGIL_TEST_KAFKA_BROKERS:-}" ]; then
  echo "using the broker at $VIGIL_TEST_KAFKA_BROKERS"
elif bash scripts/kafka-broker.sh installed; then
  echo "tansu 0.6.0 is cached"
else
  # About 20 minutes on 2 cores, once: the checks below run meanwhile, and
  # the broker is started right before the tests need it.
  broker_build_log="$(mktemp)"
  echo "building tansu 0.6.0 in the background (log: $broker_build_log)"
  setsid bash scripts/kafka-broker.sh install >"$broker_build_log" 2>&1 &
  broker_build_pid=$!
fi

step "cargo fmt --check"
cargo fmt --all -- --check

# --all-targets type-checks the criterion benches too (an optimised
# `cargo bench --no-run` would rebuild the whole workspace in release).
step "cargo clippy (all targets incl. benches, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy --no-default-features (the vigil binary and its tests without Kafka: no librdkafka)"
cargo clippy --locked --all-targets --no-default-features -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet


step "cargo deny: licences, bans, sources (first run installs cargo-deny: about 5 min on 2 cores, cached after)"
bash scripts/deny.sh

step "browser for the console test (Debian chromium, playwright-core)"
if chromium_path="$(bash scripts/browser.sh)"; then
  export VIGIL_TEST_CHROMIUM="$chromium_path"
else
  echo "note: no browser could be installed; the console browser test will print SKIP"
fi

step "cargo fuzz: normaliser and scorer, ${VIGIL_FUZZ_SECS:-30} s on stable (first run installs cargo-fuzz and builds the target: about 3 + 5 min on 2 cores, cached after)"
bash scripts/fuzz.sh

step "start the broker on a free 127.0.0.1 port"
if [ -z "${VIGIL_TEST_KAFKA_BROKERS:-}" ]; then
  if [ -n "$broker_build_pid" ]; then
    echo "waiting for the tansu build..."
    if ! wait "$broker_build_pid"; then
      cat "$broker_build_log"
      echo "building tansu failed" >&2
      exit 1
    fi
    broker_build_pid=""
    echo "tansu built (step ended at $((SECONDS - started)) s)"
  fi
  broker_dir="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  bash scripts/kafka-broker.sh start "$broker_dir" "$port"
  export VIGIL_TEST_KAFKA_BROKERS="127.0.0.1:$port"
  echo "tansu listening on $VIGIL_TEST_KAFKA_BROKERS"
fi

step "cargo test (unit, doc, golden scenarios, binary over HTTP)"
cargo test --workspace --locked 2>&1 | tee "$log"

passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
printf '\ntests: %s passed, %s failed (%ss in all)\n' "$passed" "$failed" "$((SECONDS - started))"
[ "$failed" = "0" ]
