#!/usr/bin/env bash
# Fetches Fashion-MNIST (70,000 grayscale 28x28 clothing images of 10 classes: the standard 60k training and 10k test
# IDX files) into data/fashion-mnist/, from Debian's package dataset-fashion-mnist. Needs apt-get and dpkg-deb
# (Debian or Ubuntu); no root: the package is downloaded and unpacked, not installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/data/fashion-mnist}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
. "$root/build/debian-package.sh"
unpack_debian_package dataset-fashion-mnist "$work"
mkdir -p "$dest"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  src="$work/x/usr/share/datasets/fashion-mnist/$name.gz"
  [ -s "$src" ] || { echo "dataset-fashion-mnist has no $name.gz" >&2; exit 1; }
  # Written under a temporary name and renamed: an interrupted fetch leaves no truncated file behind.
  cp "$src" "$dest/$name.gz.partial"
  mv "$dest/$name.gz.partial" "$dest/$name.gz"
done
# The IDX headers say how many images each file holds: 60000 + 10000.
. "$root/build/idx-counts.sh"
print_idx_counts "$dest"
