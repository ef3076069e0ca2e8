#!/usr/bin/env bash
# Times `pinfs cid` (CIDv0 and CIDv1) against `openssl dgst -sha256` and Debian's `ipfs_cid`
# on the same 1 GiB random file with a warm page cache. Fails when pinfs/openssl > 1.3
# (DESIGN.md performance target).
#
# usage: bench/cid.sh [BUILD_DIR]     (default: build/; BENCH_RUNS=N best-of-N timing, default 3)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-build}
[[ -d $build_dir ]] || build_dir=$repo/$build_dir
pinfs=$build_dir/pinfs
runs=${BENCH_RUNS:-3}
limit=1.3

[[ -x $pinfs ]] || { echo "bench/cid.sh: $pinfs not found; build the pinfs target first" >&2; exit 2; }
command -v openssl >/dev/null || { echo "bench/cid.sh: openssl not found" >&2; exit 2; }
ipfs_cid=$(command -v ipfs_cid || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pinfs-bench-cid.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
file=$tmp/random-1GiB
head -c $((1 << 30)) /dev/urandom >"$file"
cat "$file" >/dev/null  # warm the page cache so every tool reads from memory

# Best wall-clock seconds of $runs runs; the command's output is kept for a sanity check.
best_of() {
  local best="" start end elapsed
  for ((i = 0; i < runs; i++)); do
    start=$EPOCHREALTIME
    "$@" >"$tmp/out" 2>/dev/null
    end=$EPOCHREALTIME
    elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
    if [[ -z $best ]] || awk -v a="$elapsed" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$elapsed; fi
  done
  echo "$best"
}

t_v1=$(best_of "$pinfs" cid --cid-version 1 "$file")
cid_v1=$(cut -d' ' -f1 "$tmp/out")
t_v0=$(best_of "$pinfs" cid --cid-version 0 "$file")
cid_v0=$(cut -d' ' -f1 "$tmp/out")
t_ssl=$(best_of openssl dgst -sha256 "$file")
t_ipfs=""
if [[ -n $ipfs_cid ]]; then
  t_ipfs=$(runs=1 best_of "$ipfs_cid" "$file")
  peer_v0=$(sed -n 's/.*"CIDv0":"\([^"]*\)".*/\1/p' "$tmp/out")
  if [[ $peer_v0 != "$cid_v0" ]]; then
    echo "bench/cid.sh: CIDv0 mismatch: pinfs $cid_v0, ipfs_cid $peer_v0" >&2
    exit 1
  fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-28s %8s\n' "1 GiB, warm cache (best of $runs)" seconds
printf '%-28s %8s\n' "pinfs cid --cid-version 1" "$t_v1"
printf '%-28s %8s\n' "pinfs cid --cid-version 0" "$t_v0"
printf '%-28s %8s\n' "openssl dgst -sha256" "$t_ssl"
if [[ -n $t_ipfs ]]; then printf '%-28s %8s\n' "ipfs_cid (1 run)" "$t_ipfs"; fi
echo
worst=$(awk -v a="$t_v1" -v b="$t_v0" 'BEGIN { print (a > b ? a : b) }')
printf 'pinfs/openssl   v1 %s  v0 %s  (limit %s)\n' "$(ratio "$t_v1" "$t_ssl")" "$(ratio "$t_v0" "$t_ssl")" "$limit"
if [[ -n $t_ipfs ]]; then
  printf 'ipfs_cid/pinfs  v1 %s  v0 %s\n' "$(ratio "$t_ipfs" "$t_v1")" "$(ratio "$t_ipfs" "$t_v0")"
fi
echo "CIDv1 $cid_v1"
echo "CIDv0 $cid_v0${t_ipfs:+ (equals ipfs_cid)}"
if awk -v w="$worst" -v s="$t_ssl" -v l="$limit" 'BEGIN { exit !(w / s > l) }'; then
  echo "FAIL: pinfs cid is more than ${limit}x slower than openssl dgst -sha256" >&2
  exit 1
fi
