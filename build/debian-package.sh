# Sourced by the fetch scripts: unpack_debian_package PACKAGE DIR downloads Debian's PACKAGE with apt-get and
# unpacks it into DIR/x, without installing it (no root needed).
unpack_debian_package() {
  local package="$1" work="$2"
  (cd "$work" && apt-get download "$package" >/dev/null 2>&1) || {
    echo "apt-get download $package failed: run 'apt-get update' first (as root), or use a Debian/Ubuntu host" >&2; return 1; }
  dpkg-deb -x "$work/${package}"_*.deb "$work/x"
}
