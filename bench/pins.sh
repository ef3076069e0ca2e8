#!/usr/bin/env bash
# A large account through pinfs (issue 9 item 7): an emulator holding N pins (--bulk-pins), then `ls -l` of the
# mount cold (empty cache dir) and again after a remount (the SQLite index kept), against the raw paged
# pinList calls with curl. Prints times, each daemon's peak and current RSS and its CPU seconds.
#   bench/pins.sh [N]     default 1000000; PINFS_BUILD_DIR (default build/) has pinfs and pinfs-emulator
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BUILD=$(realpath "${PINFS_BUILD_DIR:-build}")
WORK=$(mktemp -d /tmp/pinfs-bench-pins-XXXXXX)
PORT=$((20000 + RANDOM % 20000))
export PINFS_EMULATOR_JWT=bench-jwt PINFS_JWT=bench-jwt
emu=""
cleanup() {
  mountpoint -q "$WORK/mnt" && fusermount3 -uz "$WORK/mnt"
  [[ -n $emu ]] && kill "$emu" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/mnt"
since() { echo "$(date +%s.%N) - $1" | bc; }

t0=$(date +%s.%N)
"$BUILD/pinfs-emulator" --listen "127.0.0.1:$PORT" --data "$WORK/data" --bulk-pins "$N" >"$WORK/emu.out" 2>"$WORK/emu.err" &
emu=$!
for _ in $(seq 1 1200); do grep -q listening "$WORK/emu.out" 2>/dev/null && break; sleep 0.5; done
echo "emulator up with $N pins after $(since "$t0") s"

t0=$(date +%s.%N)
for ((p = 0; p * 1000 < N; p++)); do
  curl -sf -H "Authorization: Bearer $PINFS_JWT" \
    "http://127.0.0.1:$PORT/data/pinList?status=pinned&pageLimit=1000&pageOffset=$((p * 1000))" >/dev/null
done
echo "curl: $p pinList pages in $(since "$t0") s"

for run in cold remount; do
  "$BUILD/pinfs" mount "$WORK/mnt" --foreground --provider pinata --api-url "http://127.0.0.1:$PORT" \
    --gateway-url "http://127.0.0.1:$PORT" --cache-dir "$WORK/cache" >"$WORK/pinfs-$run.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do mountpoint -q "$WORK/mnt" && break; sleep 0.1; done
  t0=$(date +%s.%N)
  lines=$(ls -l "$WORK/mnt" | wc -l)
  echo "$run: ls -l, $lines lines, in $(since "$t0") s;" \
    "$(grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr -s ' \t\n' ' ')cpu $(awk '{print ($14+$15)/100}' "/proc/$pid/stat") s"
  fusermount3 -u "$WORK/mnt"
  wait "$pid" || true
done
