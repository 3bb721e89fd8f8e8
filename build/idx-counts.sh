# Sourced by the fetch scripts: print_idx_counts DIR prints how many images each IDX image file in DIR holds, as its
# header says (magic, then the count as a big-endian 32-bit integer).
print_idx_counts() {
  local dest="$1" name header count
  for name in train-images-idx3-ubyte t10k-images-idx3-ubyte; do
    # gzip stops with SIGPIPE once head has its 8 bytes; under pipefail that status is expected, not a failure.
    header=$(gzip -dc "$dest/$name.gz" | head -c 8 | od -An -tu1 || true)
    count=$(echo "$header" | awk '{print $5*16777216+$6*65536+$7*256+$8}')
    echo "$dest/$name.gz: $count images"
  done
}
