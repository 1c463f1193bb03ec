#!/usr/bin/env bash
# Measures the original PHP server against weaveproxy in one run: starts
# MariaDB, the PHP server of ../shared/legacy-php under php-fpm (8 workers)
# and nginx, and on the same database weaveproxy native, weaveproxy
# forwarding everything to PHP (proxied) and weaveproxy shadowing
# everything (shadow); seeds the data; runs every workload of
# `weaveproxy bench` against the four; prints the machine and the tables,
# ratios to PHP. Takes about 7 minutes with the defaults. Flags go to
# e2e/benchstack (e.g. --duration 5s --workload info,history).
#
# It is not part of e2e/test.sh: timings on a shared CI machine prove
# nothing, and the run is long. docs/performance.md holds a run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/go/bin"
if [ ! -f ../shared/legacy-php/router.php ]; then
  echo "bench.sh: the original PHP server is not at ../shared/legacy-php (router.php, schema.sql, server/):" >&2
  echo "put the shared legacy-php folder beside the repository, or name a copy with WEAVE_LEGACY_PHP=DIR" >&2
  [ -n "${WEAVE_LEGACY_PHP:-}" ] || exit 2
fi
bin=$(mktemp -d)/weaveproxy
trap 'rm -rf "$(dirname "$bin")"' EXIT
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
go build -ldflags "-X github.com/weaveproxy/weaveproxy/internal/buildinfo.version=bench -X github.com/weaveproxy/weaveproxy/internal/buildinfo.commit=$commit" \
  -o "$bin" ./cmd/weaveproxy
go run ./e2e/benchstack --bin "$bin" "$@"
