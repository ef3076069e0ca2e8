#!/usr/bin/env bash
# Mount throughput against plain curl, in one run, against one local pinfs-emulator (DESIGN.md §7):
#   write: cp of a SIZE file into the mount (sync upload: cp returns once pinned and CID-checked)
#          vs curl uploading a same-sized file straight to pinFileToIPFS
#   read:  cat of a pinned file through the mount, cold (empty cache) vs curl from the gateway
#   cache: cat of the same file again (disk cache) vs cat of the cached copy itself
# Prints seconds and ratios (pinfs / reference; for reads the throughput ratio reference-time / pinfs-time).
#   bench/mount.sh [SIZE_MIB]      (default 1024; needs a build: scripts/test.sh or cmake --build build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PINFS_BUILD_DIR:-$ROOT/build}
MIB=${1:-1024}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pinfs-bench.XXXXXX")
MNT=$WORK/mnt
EMULATOR_PID=""

cleanup() {
  set +e
  if mountpoint -q "$MNT" 2>/dev/null; then
    "$BUILD/pinfs" unmount "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT" 2>/dev/null
  fi
  if [[ -n $EMULATOR_PID ]]; then
    kill "$EMULATOR_PID" 2>/dev/null
    wait "$EMULATOR_PID" 2>/dev/null
  fi
  mountpoint -q "$MNT" 2>/dev/null || rm -rf "$WORK"
}
trap cleanup EXIT

for program in pinfs pinfs-emulator; do
  [[ -x $BUILD/$program ]] || { echo "bench: $BUILD/$program missing: build first (scripts/test.sh)" >&2; exit 1; }
done

seconds() {  # seconds COMMAND...: wall time of one run, 3 decimals
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "== $MIB MiB files in $WORK"
for name in a b c; do
  head -c "$((MIB << 20))" /dev/urandom >"$WORK/$name.bin"
done

export PINFS_EMULATOR_JWT
PINFS_EMULATOR_JWT="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/data" "$MNT"
"$BUILD/pinfs-emulator" --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/emulator.out" 2>"$WORK/emulator.log" &
EMULATOR_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/emulator.out" | head -n1)
  [[ -n $URL ]] && break
  sleep 0.1
done
[[ -n $URL ]] || { echo "bench: the emulator did not start" >&2; cat "$WORK/emulator.log" >&2; exit 1; }
printf 'Authorization: Bearer %s\n' "$PINFS_EMULATOR_JWT" >"$WORK/auth-header"
chmod 600 "$WORK/auth-header"

upload_curl() {
  curl -sS --fail -H @"$WORK/auth-header" -F "file=@$1" -F 'pinataOptions={"cidVersion":1}' \
    "$URL/pinning/pinFileToIPFS" >"$WORK/curl-upload.json"
}

# Reference upload first (a different file: the mount's copy must not be deduplicated against it).
t_curl_up=$(seconds upload_curl "$WORK/a.bin")
cid_a=$(sed -n 's/.*"IpfsHash":"\([^"]*\)".*/\1/p' "$WORK/curl-upload.json")

export PINFS_JWT=$PINFS_EMULATOR_JWT
"$BUILD/pinfs" mount "$MNT" --provider pinata --api-url "$URL" --gateway-url "$URL" --cache-dir "$WORK/cache"
t_cp=$(seconds cp "$WORK/b.bin" "$MNT/b.bin")
peak=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$(pgrep -f "pinfs mount $MNT" | head -n1)/status")

# Cold read: c.bin pinned by curl, never read through the mount (its cache is empty for it).
upload_curl "$WORK/c.bin"
cid_c=$(sed -n 's/.*"IpfsHash":"\([^"]*\)".*/\1/p' "$WORK/curl-upload.json")
"$BUILD/pinfs" unmount "$MNT"
rm -rf "$WORK/cache"
"$BUILD/pinfs" mount "$MNT" --provider pinata --api-url "$URL" --gateway-url "$URL" --cache-dir "$WORK/cache"
t_curl_get=$(seconds curl -sS --fail -o /dev/null "$URL/ipfs/$cid_a")
t_cold=$(seconds cat "$MNT/c.bin")
cmp -s "$MNT/c.bin" "$WORK/c.bin" || { echo "bench: c.bin read back differs" >&2; exit 1; }
t_warm=$(seconds cat "$MNT/c.bin")
cached=$(find "$WORK/cache" -type f -size +$((MIB - 1))M | head -n1)
[[ -n $cached ]] || { echo "bench: no cached copy of c.bin under $WORK/cache" >&2; exit 1; }
t_direct=$(seconds cat "$cached")

printf '\n%-48s %9s %9s %7s\n' "$MIB MiB over loopback" pinfs reference ratio
printf '%-48s %9s %9s %7s\n' "write: cp into mount / curl upload (s)" "$t_cp" "$t_curl_up" "$(ratio "$t_cp" "$t_curl_up")"
printf '%-48s %9s %9s %7s\n' "read cold: cat / curl from gateway (s)" "$t_cold" "$t_curl_get" \
  "$(ratio "$t_curl_get" "$t_cold")"
printf '%-48s %9s %9s %7s\n' "read cached: cat / cat of the cache file (s)" "$t_warm" "$t_direct" \
  "$(ratio "$t_direct" "$t_warm")"
echo "daemon peak resident while uploading: ${peak} MiB"
echo "targets (DESIGN.md §7): write ratio <= 1.10; read ratios (throughput) >= 0.9 cold, >= 0.7 cached; peak <= 64 MiB"
echo "(cid of the reference upload $cid_a, of the cold-read file $cid_c)"
