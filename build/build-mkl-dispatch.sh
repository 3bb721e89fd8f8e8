#!/bin/sh
# Rebuilds src/Microsoft.ML.DeepClustering/Native/linux-x64/libDeepClusteringMklDispatch.so from its C source.
# The built file is committed, so that building the library needs no C compiler; run this after changing the source.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
native="$here/src/Microsoft.ML.DeepClustering/Native"
gcc -shared -fPIC -O2 -nostdlib -Wl,-soname,libDeepClusteringMklDispatch.so -Wl,--build-id=none \
    -o "$native/linux-x64/libDeepClusteringMklDispatch.so" "$native/mkl_intel_dispatch.c"
strip --strip-unneeded "$native/linux-x64/libDeepClusteringMklDispatch.so"
nm -D --defined-only "$native/linux-x64/libDeepClusteringMklDispatch.so"
