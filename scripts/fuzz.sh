#!/usr/bin/env bash
# Fuzzes the normaliser and scorer (fuzz/fuzz_targets/score.rs) for a bounded
# time, on the STABLE toolchain: with `--sanitizer none`, cargo-fuzz 0.13.2
# passes rustc only stable flags (-Cpasses=sancov-module, -Cllvm-args=...,
# --cfg fuzzing), so neither nightly nor RUSTC_BOOTSTRAP is needed.
#   scripts/fuzz.sh            install cargo-fuzz (cached), build, fuzz VIGIL_FUZZ_SECS (default 30)
#   scripts/fuzz.sh install    only install cargo-fuzz (about 3 min fresh on 2 cores, then 0.01 s)
# Build output goes to ~/.cache/vigil/fuzz-target (VIGIL_FUZZ_TARGET_DIR), so
# the workspace's own build is untouched and, like the broker, the
# instrumented build (about 4.5 CPU-minutes fresh) is kept between runs.
# New corpus entries go to target/fuzz/corpus/score; fuzz/corpus/score holds
# the committed seeds and is only read. A crash, panic or hang (>10 s) exits
# non-zero and leaves the input in fuzz/artifacts/score/.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.13.2
ROOT="${VIGIL_CARGO_FUZZ_ROOT:-$HOME/.cache/vigil/cargo-fuzz}"
BIN="$ROOT/bin/cargo-fuzz"
# Every cargo below, including the ones cargo-fuzz runs, uses stable.
export RUSTUP_TOOLCHAIN=stable

. scripts/cargo-tool.sh
install() {
  cargo_tool_install cargo-fuzz "$VERSION" "$ROOT" fuzz --version
}

run() {
  local secs="${VIGIL_FUZZ_SECS:-30}"
  local work="$PWD/target/fuzz/corpus/score"
  local artifacts="$PWD/fuzz/artifacts/score"
  install
  export PATH="$ROOT/bin:$PATH"
  export CARGO_TARGET_DIR="${VIGIL_FUZZ_TARGET_DIR:-$HOME/.cache/vigil/fuzz-target}"
  mkdir -p "$work" "$artifacts"
  echo "Building the score fuzz target ($CARGO_TARGET_DIR)..." >&2
  time cargo fuzz build --sanitizer none score
  local before
  before="$(mktemp)"
  echo "Fuzzing score for ${secs}s..." >&2
  # -timeout: a single input running longer than 10 s counts as a failure.
  # The filter drops libFuzzer's per-input NEW/REDUCE lines and its closing
  # dictionary dump; progress (pulse), crash reports and stats stay.
  if ! cargo fuzz run --sanitizer none score "$work" fuzz/corpus/score -- \
      -max_total_time="$secs" -timeout=10 -print_final_stats=1 2>&1 |
    sed -E '/^#[0-9]+\t(NEW|REDUCE) /d; /^\tNEW_FUNC/d; /^###### Recommended dictionary/,/^###### End of recommended dictionary/d'; then
    echo "fuzz: the score target failed. Inputs saved by this run (reproduce with):" >&2
    find "$artifacts" -type f -newer "$before" -printf '  scripts/fuzz.sh repro fuzz/artifacts/score/%f\n' >&2
    rm -f "$before"
    return 1
  fi
  rm -f "$before"
}

# Runs the target once on saved inputs (a crash artifact or a directory).
repro() {
  install
  export PATH="$ROOT/bin:$PATH"
  export CARGO_TARGET_DIR="${VIGIL_FUZZ_TARGET_DIR:-$HOME/.cache/vigil/fuzz-target}"
  cargo fuzz run --sanitizer none score "$@"
}

case "${1:-run}" in
  install) install ;;
  run) run ;;
  repro) shift; repro "$@" ;;
  *) echo "usage: $0 [install | run | repro INPUT...]" >&2; exit 2 ;;
esac
