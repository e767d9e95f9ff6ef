#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages marquee needs to build and test, when
# they are missing. As root it runs apt-get; otherwise it prints the exact line.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libjansson-dev libsqlite3-dev libmicrohttpd-dev
  libpq-dev postgresql
  libopenblas-dev liblapacke-dev
  libxgboost-dev
  libcriterion-dev
  wrk  # the homepage benchmark (scripts/bench_page.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "marquee needs these Debian packages; as root run:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
