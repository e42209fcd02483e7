# Sourced by scripts/deny.sh and scripts/fuzz.sh: installs a cargo
# subcommand once into a cache folder and keeps it between runs.
#   cargo_tool_install CRATE VERSION ROOT VERSION_ARGS...
# installs CRATE@VERSION into ROOT (ROOT/bin/CRATE) unless
# `ROOT/bin/CRATE VERSION_ARGS...` already prints VERSION.
cargo_tool_install() {
  local crate="$1" version="$2" root="$3"
  shift 3
  local bin="$root/bin/$crate"
  if [ -x "$bin" ] && "$bin" "$@" 2>/dev/null | grep -q "$version"; then
    return 0
  fi
  echo "Installing $crate $version into $root (first run only; a few minutes on 2 cores)..." >&2
  local tmp
  tmp="$(mktemp -d)"
  CARGO_TARGET_DIR="$tmp" cargo install "$crate@$version" --locked --root "$root" >&2
  rm -rf "$tmp"
}
