#!/usr/bin/env bash
# Fetches Tux Paint's stamps (about 800 PNG photos and drawings with transparent backgrounds, in one folder per
# category: animals, food, plants, vehicles, town, ...) into data/tuxpaint-stamps/, from Debian's package
# tuxpaint-stamps-default. They are GPL-2: fetched for local experiments and benchmarks, never committed (.gitignore).
# Needs apt-get and dpkg-deb (Debian or Ubuntu); no root: the package is downloaded and unpacked, not installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/data/tuxpaint-stamps}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
. "$root/build/debian-package.sh"
unpack_debian_package tuxpaint-stamps-default "$work"
stamps="$work/x/usr/share/tuxpaint/stamps"
[ -d "$stamps" ] || { echo "tuxpaint-stamps-default has no usr/share/tuxpaint/stamps" >&2; exit 1; }
# Unpacked beside the destination and renamed over it: an interrupted fetch leaves no half-filled folder behind.
rm -rf "$dest.partial"
mkdir -p "$dest.partial"
cp -r "$stamps"/. "$dest.partial"/
rm -rf "$dest"
mv "$dest.partial" "$dest"
for category in "$dest"/*/; do
  printf '%s: %s PNG files\n' "$(basename "$category")" "$(find "$category" -name '*.png' | wc -l)"
done
