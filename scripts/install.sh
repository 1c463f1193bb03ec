#!/usr/bin/env bash
# Installs weaveproxy on Debian (or any systemd Linux) as a service:
#   /usr/local/bin/weaveproxy                the binary
#   /etc/weaveproxy/weaveproxy.yaml          settings (kept if it exists)
#   /etc/weaveproxy/routes.yaml              proxy routes example (kept if it exists)
#   /var/lib/weaveproxy/                     data: the SQLite file, diff store
#   /var/log/weaveproxy/                     cef.log
#   /etc/systemd/system/weaveproxy.service   the unit
# and a system user `weaveproxy`, then creates the schema (`db init`) in the
# database the config names. Running it again upgrades the binary and the
# unit and changes nothing else: it is idempotent.
#
#   scripts/install.sh [--prefix DIR] [--binary PATH] [--start]
#
# --prefix DIR (or DESTDIR=DIR) installs under DIR instead of /, for
# packaging and tests: no user is created, nothing is chowned and systemd
# is not told; the files' contents still name the real paths.
# --binary defaults to the weaveproxy next to this script's folder (the
# release tarball's layout), else one built with `go build` from the repo.
# --start also (re)starts the service.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"

root="${DESTDIR:-/}"
binary=""
start=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) root="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --start) start=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
root="${root%/}"
staged=1
if [ -z "$root" ]; then staged=0; fi
if [ "$staged" = 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (or give --prefix DIR)" >&2; exit 1
fi

user=weaveproxy
bin="$root/usr/local/bin/weaveproxy"
etc="$root/etc/weaveproxy"
lib="$root/var/lib/weaveproxy"
log="$root/var/log/weaveproxy"
unit="$root/etc/systemd/system/weaveproxy.service"

if [ -z "$binary" ]; then
  if [ -x "$here/weaveproxy" ]; then
    binary="$here/weaveproxy"
  elif command -v go >/dev/null 2>&1 && [ -f "$here/go.mod" ]; then
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    echo "building weaveproxy from $here"
    (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$tmp/weaveproxy" ./cmd/weaveproxy)
    binary="$tmp/weaveproxy"
  else
    echo "install.sh: no weaveproxy binary next to this script; give --binary PATH" >&2; exit 1
  fi
fi

if [ "$staged" = 0 ] && ! getent passwd "$user" >/dev/null; then
  echo "creating system user $user"
  useradd --system --user-group --home-dir /var/lib/weaveproxy --no-create-home \
    --shell /usr/sbin/nologin --comment "weaveproxy Sync server" "$user"
fi

install -d -m 0755 "$root/usr/local/bin" "$etc" "$root/etc/systemd/system"
install -d -m 0750 "$lib" "$log"
install -m 0755 "$binary" "$bin"
install -m 0644 "$here/deploy/weaveproxy.service" "$unit"
# The operator's settings are theirs: only a missing file is put in place.
for f in deploy/weaveproxy.yaml routes.yaml; do
  dst="$etc/$(basename "$f")"
  if [ ! -e "$dst" ]; then
    install -m 0640 "$here/$f" "$dst"
    echo "installed $dst"
  else
    echo "kept $dst"
  fi
done

# The schema goes where the config's `db:` points (default: the SQLite
# file under /var/lib/weaveproxy). `db init` never alters a table that
# exists, so a second run is harmless.
db="$(sed -n 's/^db:[[:space:]]*//p' "$etc/weaveproxy.yaml" | sed 's/[[:space:]]\+#.*$//; s/^"\(.*\)"$/\1/; s/^'"'"'\(.*\)'"'"'$/\1/' | tail -n 1)"
[ -n "$db" ] || db="sqlite:/var/lib/weaveproxy/weave.db"
if [ "$staged" = 1 ]; then
  case "$db" in sqlite:/*) db="sqlite:$root${db#sqlite:}" ;; esac
  (cd "$lib" && "$bin" db init --db "$db")
else
  chown root:"$user" "$etc" "$etc/weaveproxy.yaml" "$etc/routes.yaml"
  chown "$user:$user" "$lib" "$log"
  (cd "$lib" && runuser -u "$user" -- "$bin" db init --db "$db")
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable weaveproxy.service
    if [ "$start" = 1 ]; then systemctl restart weaveproxy.service; fi
  fi
fi
echo "weaveproxy installed under ${root:-/}: edit /etc/weaveproxy/weaveproxy.yaml, then systemctl start weaveproxy"
