#!/usr/bin/env bash
# Runs every test of weaveproxy on a fresh Debian machine: installs the real
# servers the tests start (MariaDB, memcached, PHP, php-fpm, nginx, Chromium,
# OpenLDAP) when they are missing, then vets, tests, and runs each fuzz target
# briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/go/bin"

need=()
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
command -v php >/dev/null 2>&1 || need+=(php-cli)
php -m 2>/dev/null | grep -qi '^mysqli$' || need+=(php-mysql)
# The original PHP server (../shared/legacy-php) needs mbstring, and runs
# under php-fpm behind nginx for the tests and benchmarks that use it.
php -m 2>/dev/null | grep -qi '^mbstring$' || need+=(php-mbstring)
command -v php-fpm8.2 >/dev/null 2>&1 || command -v php-fpm >/dev/null 2>&1 || need+=(php-fpm)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
# Its memcache path (coll:<userid>) uses the old Memcache extension.
php -m 2>/dev/null | grep -qi '^memcache$' || need+=(php-memcache)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v slapd >/dev/null 2>&1 || need+=(slapd)
command -v ldapadd >/dev/null 2>&1 || need+=(ldap-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's slapd package starts a system directory on port 389 of every
  # interface; the tests run their own on loopback, so stop that one.
  case " ${need[*]} " in *" slapd "*) $SUDO service slapd stop >/dev/null 2>&1 || true ;; esac
fi

go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi

# Fuzz targets run briefly: long enough to shake out panics on the seed
# corpus and a little beyond, short enough for CI.
if [ -z "${SKIP_FUZZ:-}" ]; then
  grep -rlE '^func Fuzz' --include='*_test.go' . | while read -r file; do
    for f in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/func //'); do
      go test -run='^$' -fuzz="^$f\$" -fuzztime="${FUZZTIME:-8s}" "./$(dirname "$file")"
    done
  done
fi

go test -count=1 -timeout 25m -p 2 ./...
