#!/usr/bin/env bash
# deps_ui.sh: what the browser tests of the web UI need (tests/ui, ctest test_ui):
# Debian's chromium, node and npm, and playwright-core from npm (tests/ui/
# package-lock.json). As root it installs the missing Debian packages; otherwise
# it prints the line to run. Without these test_ui is skipped, except in CI (CI
# set, as .ci/run does), where a failure here fails.
set -uo pipefail
cd "$(dirname "$0")/.."

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

if [ ${#packages[@]} -gt 0 ]; then
  line="apt-get install -y --no-install-recommends ${packages[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps_ui: the web UI tests need these Debian packages (test_ui is skipped without them); as root run:" >&2
    echo "  apt-get update && $line" >&2
  else
    echo "deps_ui: installing ${packages[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; } ||
      { echo "deps_ui: apt-get failed: test_ui will be skipped" >&2; [ -z "${CI:-}" ] || exit 1; }
  fi
fi

# playwright-core only: it drives the system chromium and downloads no browser.
if [ ! -d tests/ui/node_modules/playwright-core ] && command -v npm >/dev/null 2>&1; then
  echo "deps_ui: npm ci in tests/ui (playwright-core)" >&2
  (cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) ||
    { echo "deps_ui: npm ci failed: test_ui will be skipped" >&2; [ -z "${CI:-}" ] || exit 1; }
fi
exit 0
