#!/usr/bin/env bash
# A Kafka-compatible broker for the tests: tansu 0.6.0 (crates registry),
# SQLite storage, loopback only.
#   scripts/kafka-broker.sh installed        exit 0 when the cached build is there
#   scripts/kafka-broker.sh install          build once, cached (~20 min fresh, 0.1 s cached);
#                                            concurrent installs wait for one build (flock)
#   scripts/kafka-broker.sh start DIR PORT   fresh data dir, waits for the port, writes DIR/tansu.pid
#   scripts/kafka-broker.sh stop DIR         stops it by its saved PID
set -euo pipefail
ROOT="${VIGIL_TANSU_ROOT:-$HOME/.cache/vigil/tansu}"
BIN="$ROOT/bin/tansu"

installed() {
  [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q '0\.6\.0'
}

install() {
  mkdir -p "$ROOT"
  exec 9>"$ROOT/.install.lock"
  flock 9
  if installed; then
    return 0
  fi
  echo "Installing tansu 0.6.0 into $ROOT (first run only; about 20 minutes on 2 cores)..." >&2
  local tmp
  tmp="$(mktemp -d)"
  CARGO_TARGET_DIR="$tmp" cargo install tansu@0.6.0 --locked --features libsql,dynostore --root "$ROOT" >&2
  rm -rf "$tmp"
}

start() {
  local dir="$1" port="$2"
  install
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && exec "$BIN" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "sqlite://tansu.db" >"$dir/tansu.log" 2>&1) &
  echo $! >"$dir/tansu.pid"
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$dir/tansu.pid")" 2>/dev/null; then
      echo "tansu exited; log:" >&2
      cat "$dir/tansu.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "tansu did not open 127.0.0.1:$port" >&2
  return 1
}

stop() {
  local dir="$1"
  if [ -f "$dir/tansu.pid" ]; then
    kill "$(cat "$dir/tansu.pid")" 2>/dev/null || true
    rm -f "$dir/tansu.pid"
  fi
}

case "${1:-}" in
  installed) installed ;;
  install) install ;;
  start) start "$2" "$3" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 installed | install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
