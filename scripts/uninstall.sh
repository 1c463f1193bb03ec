#!/usr/bin/env bash
# Removes what scripts/install.sh installed: the service, the binary and the
# unit. The settings (/etc/weaveproxy), the data (/var/lib/weaveproxy), the
# logs (/var/log/weaveproxy) and the system user stay unless --purge is
# given: a database is never deleted by accident.
#
#   scripts/uninstall.sh [--prefix DIR] [--purge]
set -euo pipefail
root="${DESTDIR:-/}"
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) root="$2"; shift 2 ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
root="${root%/}"
staged=1
if [ -z "$root" ]; then staged=0; fi
if [ "$staged" = 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "uninstall.sh: run as root (or give --prefix DIR)" >&2; exit 1
fi

if [ "$staged" = 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now weaveproxy.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/weaveproxy.service" "$root/usr/local/bin/weaveproxy"
if [ "$staged" = 0 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
if [ "$purge" = 1 ]; then
  rm -rf "$root/etc/weaveproxy" "$root/var/lib/weaveproxy" "$root/var/log/weaveproxy"
  if [ "$staged" = 0 ] && getent passwd weaveproxy >/dev/null; then
    userdel weaveproxy
  fi
  echo "weaveproxy removed, with its settings, data and logs"
else
  echo "weaveproxy removed; kept $root/etc/weaveproxy, $root/var/lib/weaveproxy and $root/var/log/weaveproxy (--purge deletes them)"
fi
