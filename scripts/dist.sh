#!/usr/bin/env bash
# Builds the release tarballs ("Weave Minimal"):
#   dist/weaveproxy-<version>-linux-<arch>.tar.gz  (+ .sha256)
# each holding one top folder with a static binary (CGO_ENABLED=0: the
# SQLite driver is pure Go), README.md, LICENSE, routes.yaml, deploy/ (the
# example weaveproxy.yaml, the systemd unit, the Grafana dashboard and the
# Prometheus alert rules) and scripts/install.sh + uninstall.sh.
#
#   scripts/dist.sh [--version V] [--arch amd64,arm64] [--out DIR]
#
# The version defaults to $VERSION, else `git describe`; the commit is
# HEAD's. Both are stamped into the binary (`weaveproxy version`).
set -euo pipefail
cd "$(dirname "$0")/.."

version="${VERSION:-}"
arches="amd64 arm64"
out="dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --arch) arches="${2//,/ }"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "dist.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$version" ]; then
  version="$(git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)"
fi
version="${version#v}"
case "$version" in
  */*|*' '*|'') echo "dist.sh: bad version '$version'" >&2; exit 2 ;;
esac
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg=github.com/weaveproxy/weaveproxy/internal/buildinfo
for arch in $arches; do
  name="weaveproxy-$version-linux-$arch"
  dir="$stage/$name"
  mkdir -p "$dir/deploy" "$dir/scripts"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath \
    -ldflags "-s -w -X $pkg.version=$version -X $pkg.commit=$commit" \
    -o "$dir/weaveproxy" ./cmd/weaveproxy
  cp README.md LICENSE routes.yaml "$dir/"
  cp deploy/* "$dir/deploy/"
  cp scripts/install.sh scripts/uninstall.sh "$dir/scripts/"
  chmod 0755 "$dir/weaveproxy" "$dir/scripts/"*.sh
  # Reproducible enough: fixed owner and order, no local user names.
  tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name \
    -czf "$out/$name.tar.gz" "$name"
  (cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
  echo "$out/$name.tar.gz"
done
