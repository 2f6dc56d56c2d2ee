#!/bin/sh
# docs/operations.md "Running it as a service", as one script: the wopack user, its folders, the systemd units
# (pointed at this machine's wopack), the log rotation and a starter config. Run as root:
#   sudo sh deploy/install.sh
# then enable the service you want (the script says how). Nothing is enabled or started for you.
# ROOT=<dir> installs into a tree there instead, without creating a user or calling systemctl: the
# tests run it that way. WOPACK_BIN=<path> names the wopack to run (default: the one on the PATH).
set -eu
ROOT=${ROOT:-/}
HERE=$(cd "$(dirname "$0")" && pwd)
WOPACK=${WOPACK_BIN:-$(command -v wopack || true)}
if [ -z "$WOPACK" ]; then
  echo "install.sh: no wopack on the PATH; install it first (README: Install) or give WOPACK_BIN=<path>" >&2
  exit 2
fi
if [ "$ROOT" = / ] && ! id wopack >/dev/null 2>&1; then
  useradd --system --home-dir /srv/wopack --no-create-home --shell /usr/sbin/nologin wopack
fi
# the folders, owned by wopack (staging group-writable for the people who drop work orders there)
install -D -m 0644 "$HERE/wopack.tmpfiles.conf" "$ROOT/etc/tmpfiles.d/wopack.conf"
systemd-tmpfiles --create --root="$ROOT" "$ROOT/etc/tmpfiles.d/wopack.conf"
# the units, calling this machine's wopack
for unit in wopack-alert@.service wopack-watch.service wopack-watch-upload.service wopack-pack.service wopack-pack.timer; do
  mkdir -p "$ROOT/etc/systemd/system"
  sed "s#/usr/bin/wopack#$WOPACK#g" "$HERE/$unit" > "$ROOT/etc/systemd/system/$unit"
  chmod 0644 "$ROOT/etc/systemd/system/$unit"
done
install -D -m 0644 "$HERE/wopack.logrotate" "$ROOT/etc/logrotate.d/wopack"
# a starter config where the units run (WorkingDirectory=/srv/wopack); one already there is kept
if [ ! -e "$ROOT/srv/wopack/wopack.config.json" ]; then
  "$WOPACK" init "$ROOT/srv/wopack" --quiet
  chown --reference="$ROOT/srv/wopack" "$ROOT/srv/wopack/wopack.config.json" "$ROOT/srv/wopack/wopack.config.schema.json"
fi
if [ "$ROOT" = / ]; then
  systemctl daemon-reload
  echo "installed. Edit /srv/wopack/wopack.config.json and /etc/systemd/system/wopack-alert@.service, then:"
  echo "  systemctl enable --now wopack-watch         # the hot folder (status page on 127.0.0.1:9464)"
  echo "  systemctl enable --now wopack-pack.timer    # or a nightly pack"
fi
