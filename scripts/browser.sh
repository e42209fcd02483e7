#!/usr/bin/env bash
# Installs what the web console's browser test (tests/console.rs) needs and
# prints the Chromium path on stdout; progress goes to stderr.
#
#   export VIGIL_TEST_CHROMIUM="$(bash scripts/browser.sh)"
#
# - Chromium: Debian's `chromium` package (apt-get, when root and apt is
#   there), unless one is already on PATH. Playwright's own browser
#   downloads are never used.
# - node and npm: Debian's `nodejs` and `npm` when missing.
# - playwright-core (pinned below) into $VIGIL_BROWSER_CACHE
#   (default ~/.cache/vigil/browser): the test loads it from
#   $VIGIL_BROWSER_CACHE/node_modules/playwright-core.
#
# Exits non-zero, printing nothing on stdout, when something cannot be
# installed; the test then prints SKIP.
set -euo pipefail

PLAYWRIGHT_CORE_VERSION="1.65.1"
cache="${VIGIL_BROWSER_CACHE:-$HOME/.cache/vigil/browser}"

say() { printf 'browser.sh: %s\n' "$*" >&2; }

find_chromium() {
  local c
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

apt_updated=""
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "cannot install $* (not root, or no apt-get)"
    return 1
  fi
  if [ -z "$apt_updated" ]; then
    apt-get update -qq >&2 || true
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ! find_chromium >/dev/null; then
  apt_install chromium || { say "no Chromium could be installed"; exit 1; }
fi
chromium="$(find_chromium)" || { say "no Chromium on PATH after installing"; exit 1; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm || { say "no node/npm could be installed"; exit 1; }
fi

installed="$(node -e "try{console.log(require('$cache/node_modules/playwright-core/package.json').version)}catch(e){}" 2>/dev/null || true)"
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  mkdir -p "$cache"
  say "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION into $cache"
  # playwright-core downloads no browser on install; we use Debian's.
  npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error \
    "playwright-core@$PLAYWRIGHT_CORE_VERSION" >&2 \
    || { say "npm install playwright-core failed"; exit 1; }
fi

say "chromium $("$chromium" --version 2>/dev/null || echo '(version unknown)'), playwright-core $PLAYWRIGHT_CORE_VERSION in $cache"
printf '%s\n' "$chromium"
