#!/usr/bin/env bash
# cargo-deny over the workspace's dependencies (deny.toml): licences, bans
# (duplicates reported as warnings) and sources. Advisories are left out:
# their database is a git repository these machines cannot reach.
#   scripts/deny.sh            install cargo-deny (cached), then check
#   scripts/deny.sh install    only install cargo-deny (a few minutes fresh on 2 cores, then 0.01 s)
# cargo-deny is installed into ~/.cache/vigil/cargo-deny
# (VIGIL_CARGO_DENY_ROOT), kept between runs like the broker and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.18.3
ROOT="${VIGIL_CARGO_DENY_ROOT:-$HOME/.cache/vigil/cargo-deny}"
BIN="$ROOT/bin/cargo-deny"

. scripts/cargo-tool.sh
install() {
  cargo_tool_install cargo-deny "$VERSION" "$ROOT" --version
}
install
[ "${1:-}" = install ] && exit 0
"$BIN" --offline --locked check licenses bans sources
