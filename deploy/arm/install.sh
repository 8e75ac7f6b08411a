#!/usr/bin/env bash
# Installs (or upgrades) the Cleave edge as a systemd service on a Linux arm64 gateway
# (docs/deploy.md, "ARM gateway"). Run as root from a checkout or an unpacked release:
#
#   sudo deploy/arm/install.sh              # install to /opt/cleave, enable and start cleave-edge
#   sudo deploy/arm/install.sh --no-start   # install and enable, start later
#
# What it does: checks the machine (aarch64, systemd, Node >= 20.6 with npm), creates the
# system user `cleave`, copies the code to /opt/cleave (root-owned, read-only to the service),
# installs the production dependencies from package-lock.json (onnxruntime-node ships its
# linux/arm64 CPU binary in the npm package; nothing is downloaded from elsewhere), generates
# the model zoo, writes /etc/cleave/edge.env from edge.env.example unless it exists, and
# installs cleave-edge.service. Re-running upgrades in place and keeps edge.env and the models
# that are still current.
set -euo pipefail

PREFIX=/opt/cleave
SERVICE_USER=cleave
ENV_DIR=/etc/cleave
ENV_FILE="$ENV_DIR/edge.env"
UNIT_NAME=cleave-edge.service
UNIT_DIR=/etc/systemd/system
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=6
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

die() { echo "install.sh: $*" >&2; exit 1; }

START=1
for arg in "$@"; do
  case "$arg" in
    --no-start) START=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown option \"$arg\"; expected --no-start or --help" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (it creates a user, writes $PREFIX and $UNIT_DIR); try: sudo $0"
arch="$(uname -m)"
[ "$arch" = aarch64 ] || die "machine is $arch, expected aarch64 (a linux-arm64 gateway); on other hosts run the edge with docker (deploy/Dockerfile --target edge) or \`npx cleave edge\`"
command -v systemctl >/dev/null || die "systemctl not found; this installer needs systemd"
NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || die "node not found on PATH; install Node >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR for linux-arm64 first"
command -v npm >/dev/null || die "npm not found on PATH; it comes with Node's official linux-arm64 build"
node_version="$("$NODE_BIN" --version)"
if [[ ! "$node_version" =~ ^v([0-9]+)\.([0-9]+)\. ]]; then die "node --version printed \"$node_version\", expected vMAJOR.MINOR.PATCH"; fi
major="${BASH_REMATCH[1]}"; minor="${BASH_REMATCH[2]}"
if (( major < NODE_MIN_MAJOR || (major == NODE_MIN_MAJOR && minor < NODE_MIN_MINOR) )); then
  die "node is $node_version at $NODE_BIN, expected >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR"
fi
case "$NODE_BIN" in
  /root/*|/home/*) die "node is at $NODE_BIN, which the service cannot read (ProtectHome=yes); install Node system-wide, e.g. under /usr/local" ;;
esac
[ -f "$SRC/bin/cleave.mjs" ] && [ -f "$SRC/package-lock.json" ] || die "$SRC does not look like a Cleave checkout (no bin/cleave.mjs or package-lock.json)"

echo "== user $SERVICE_USER"
if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/cleave --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

echo "== code -> $PREFIX"
staging="$PREFIX.new"
rm -rf "$staging"
install -d -m 0755 "$staging"
for item in package.json package-lock.json .npmrc tsconfig.json README.md bin cli shared cloud edge wasm bench dashboard docs; do
  cp -a "$SRC/$item" "$staging/"
done
# Current zoo files are reused by `cleave models` (it checks each file's SHA-256).
if [ -d "$PREFIX/models" ]; then cp -a "$PREFIX/models" "$staging/models"; fi
# The service's node_modules/ must match this machine: never copy the checkout's own.
(cd "$staging" && npm ci --omit=dev --no-audit --no-fund)

echo "== model zoo"
(cd "$staging" && "$NODE_BIN" bin/cleave.mjs models)
chown -R root:root "$staging"
chown -R "$SERVICE_USER:$SERVICE_USER" "$staging/models"

echo "== settings $ENV_FILE"
install -d -m 0750 -o root -g "$SERVICE_USER" "$ENV_DIR"
if [ ! -e "$ENV_FILE" ]; then
  install -m 0640 -o root -g "$SERVICE_USER" "$SRC/deploy/arm/edge.env.example" "$ENV_FILE"
else
  echo "   keeping the existing $ENV_FILE"
fi

echo "== unit $UNIT_DIR/$UNIT_NAME"
install -m 0644 "$SRC/deploy/arm/$UNIT_NAME" "$UNIT_DIR/$UNIT_NAME"
dropin="$UNIT_DIR/$UNIT_NAME.d/10-node-path.conf"
if [ "$NODE_BIN" != /usr/bin/node ]; then
  install -d -m 0755 "$UNIT_DIR/$UNIT_NAME.d"
  printf '[Service]\nExecStart=\nExecStart=%s %s/bin/cleave.mjs edge\n' "$NODE_BIN" "$PREFIX" > "$dropin"
else
  rm -f "$dropin"
fi

was_active=0
systemctl is-active --quiet "$UNIT_NAME" && was_active=1
if [ -d "$PREFIX" ]; then
  [ "$was_active" -eq 1 ] && systemctl stop "$UNIT_NAME"
  rm -rf "$PREFIX.old"
  mv "$PREFIX" "$PREFIX.old"
fi
mv "$staging" "$PREFIX"
rm -rf "$PREFIX.old"

systemctl daemon-reload
systemctl enable "$UNIT_NAME"
if [ "$START" -eq 1 ] || [ "$was_active" -eq 1 ]; then
  systemctl restart "$UNIT_NAME"
  echo "started; check with: systemctl status cleave-edge && curl -s http://127.0.0.1:8787/v2/health/ready"
else
  echo "installed; start with: systemctl start cleave-edge"
fi
