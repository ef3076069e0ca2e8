#!/usr/bin/env bash
# The benchmark of DESIGN.md §7 (issue 10 item 5, issue 11 item 5): every write, read and listing workload
# through pinfs side by side with its reference tool, in one run, against local pinfs-emulators on 127.0.0.1.
#
#   write  small   N1 files of 4 KiB into the root: pinfs async (until all pinned), pinfs sync (cp) vs a curl loop
#          many    N2 files of 4 KiB: pinfs async (until all pinned) vs rclone mount --vfs-cache-mode writes of
#                  rclone serve webdav (until all on the server)
#          tree    cp -r of a tree of N3 small files into a new directory (until the directory pin exists) vs one
#                  curl directory upload (multipart, one part per file); cp -r alone vs cp -r into passthrough_ll
#          big     cp of SIZE MiB, pinfs sync vs curl upload vs rclone mount (until on the server)
#   read   cold    SIZE MiB, fresh mount and empty cache, over loopback vs passthrough_ll (libfuse's example,
#                  first read after mounting) of the same bytes in a local file; curl from the gateway for scale
#          latency the same through an emulator with --latency 40 --bandwidth 200 vs aria2c -x 8 -s 8 and curl
#          cache   after a remount with the page cache dropped, from the disk cache vs passthrough_ll (page cache
#                  dropped too) over the cache file
#   list   list    ls -l of P pins: cold (mount + ls, empty cache) vs the raw paged pinList calls with curl; after
#                  a remount vs ls -l of a local folder of P files; list calls counted by the emulator
#
# Every measurement gets a fresh emulator (own data dir) and a fresh mount; repetitions give median, min and max.
# Each daemon's peak RSS (VmHWM) and CPU seconds (utime+stime) are read from /proc just before it is stopped;
# client tools' CPU seconds come from bash's `time`. Everything started is stopped on exit (trap).
#
#   bench/run.sh [--reps N] [--quick] [--only LIST] [--build DIR] [--timeout S] [--keep] [--out FILE]
#     --reps N      repetitions per measurement (default 3; --quick: 1)
#     --quick       small sizes for a fast pass: 100 / 1,000 / 1,000 files, 64 MiB, 10,000 pins, 1 rep
#     --only LIST   comma-separated workloads: small,many,tree,big,cold,latency,cache,list (default: all)
#     --build DIR   build directory with pinfs and pinfs-emulator (default: $PINFS_BUILD_DIR, else build/)
#     --timeout S   give up one measurement after S seconds (default 900; --quick: 180)
#     --cap-factor F  give up a pinfs measurement after F x its reference's time in that rep, at least 60 s
#                   (default 10); a tool that gave up is skipped in later reps (a clear miss needs no median)
#     --out FILE    also write the table (markdown) to FILE
#     --perf DIR    profile the pinfs daemon of each first-rep measurement, mount to unmount, with
#                   `perf record -F 999 -g`; DIR/<run>.txt gets `perf report --stdio --no-children` (top 60 lines)
#     --keep        keep the scratch directory (default: removed)
#     --report TSV  measure nothing: print the tables for a results.tsv kept (--keep) from an earlier run
#                   (give the same size options)
#   Sizes can be set one by one: BENCH_SMALL, BENCH_MANY, BENCH_TREE, BENCH_MIB, BENCH_PINS.
#   BENCH_PINFS_ARGS: more `pinfs mount` flags for every pinfs mount, e.g. "--transfers 8" (default: none).
#   BENCH_EMU_ARGS: more emulator flags for every emulator, e.g. "--latency 20" to see what parallel uploads
#   buy over a real network's round trips (write workloads only: latency sets its own).
#   Needs root for drop_caches (the cache workload says n/a otherwise), rclone, aria2c, libfuse3-dev
#   (scripts/install-deps.sh installs them).
set -euo pipefail
# The whole script is one brace group, read before anything runs: editing this file during a run is safe.
{
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PINFS_BUILD_DIR:-$ROOT/build}
REPS=""
QUICK=0
ONLY="small,many,tree,big,cold,latency,cache,list"
TIMEOUT=""
CAP_FACTOR=10
PERF_DIR=""
REPORT_FROM=""
OUT=""
KEEP=0
while (($#)); do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --cap-factor) CAP_FACTOR=$2; shift 2 ;;
    --perf) PERF_DIR=$2; shift 2 ;;
    --report) REPORT_FROM=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $BUILD = /* ]] || BUILD=$PWD/$BUILD
if ((QUICK)); then
  : "${REPS:=1}" "${TIMEOUT:=180}"
  SMALL=${BENCH_SMALL:-100} MANY=${BENCH_MANY:-1000} TREE=${BENCH_TREE:-1000} MIB=${BENCH_MIB:-64}
  PINS=${BENCH_PINS:-10000}
else
  : "${REPS:=3}" "${TIMEOUT:=900}"
  SMALL=${BENCH_SMALL:-1000} MANY=${BENCH_MANY:-10000} TREE=${BENCH_TREE:-10000} MIB=${BENCH_MIB:-1024}
  PINS=${BENCH_PINS:-100000}
fi
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --reps needs a positive number" >&2; exit 2; }
for program in pinfs pinfs-emulator; do
  [[ -x $BUILD/$program ]] || { echo "bench/run.sh: $BUILD/$program missing: build it first" >&2; exit 2; }
done
for tool in curl rclone aria2c fusermount3 cc pkg-config; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool missing: run scripts/install-deps.sh" >&2; exit 2; }
done
wants() { [[ ,$ONLY, == *,$1,* ]]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pinfs-bench.XXXXXX")
RESULTS=$WORK/results.tsv  # workload  tool  rep  seconds|timeout|fail  rss_mib  cpu_s  note
NOTES=$WORK/notes.txt
: >"$RESULTS"
: >"$NOTES"
EMU_PID=""
PINFS_PID=""
MOUNTS=()   # every mountpoint we mounted (pinfs, rclone, passthrough_ll)
PIDS=()     # every background daemon we started

# ---------------------------------------------------------------- cleanup
unmount_any() {  # unmount_any MNT: whatever is mounted there, however
  local mnt=$1
  mountpoint -q "$mnt" 2>/dev/null || return 0
  if grep -q " $mnt fuse.pinfs " /proc/mounts 2>/dev/null; then
    timeout 120 "$BUILD/pinfs" unmount --force "$mnt" >/dev/null 2>&1 || true
  fi
  mountpoint -q "$mnt" 2>/dev/null || return 0
  fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
}
stop_pid() {  # stop_pid PID: SIGTERM, up to 30 s, then SIGKILL
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local m p
  for m in "${MOUNTS[@]}"; do unmount_any "$m"; done
  # A pinfs daemon unmounted with --force goes on with its pending uploads: stop it too.
  stop_pid "$PINFS_PID"
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  stop_pid "$EMU_PID"
  local busy=0
  for m in "${MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && busy=1; done
  # Never delete through a live mount (deleting in pinfs unpins, in passthrough_ll deletes the source).
  if ((KEEP || busy)); then echo "bench: scratch kept in $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- small helpers
log() { printf '[%s] %s\n' "$(date -u +%T)" "$*" >&2; }
note() { printf '%s\n' "$*" >>"$NOTES"; log "note: $*"; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
# This machine is a VM: the host's other guests take CPU from it at times (steal time, /proc/stat), and a
# measurement taken then is slower for reasons of its own. Each measurement logs the share of the machine's
# CPU time stolen while it ran (from steal_mark, set where its clock starts), and the run's notes sum it up.
steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }
steal_mark() { STEAL0=$(steal_ticks); STEAL_T0=$EPOCHREALTIME; }
steal_since_mark() {
  awk -v a="${STEAL0:-0}" -v b="$(steal_ticks)" -v t0="${STEAL_T0:-$EPOCHREALTIME}" -v t1="$EPOCHREALTIME" \
    -v hz="$CLK_TCK" -v n="$(nproc)" 'BEGIN { w = (t1 - t0) * n; printf "%.0f", (w > 0 ? 100 * (b - a) / hz / w : 0) }'
}
record() {  # record WORKLOAD TOOL REP SECONDS RSS_MIB CPU_S [NOTE]
  [[ $4 == timeout* ]] && GAVE_UP[$1/$2]=$3
  local steal; steal=$(steal_since_mark)
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$steal" >>"$WORK/steal.tsv"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:--}" "${6:--}" "${7:-}" >>"$RESULTS"
  log "$1 / $2 / rep $3: $4 s (rss ${5:--} MiB, cpu ${6:--} s, steal $steal %) ${7:-}"
}
CLK_TCK=$(getconf CLK_TCK)
proc_usage() {  # proc_usage PID...: "RSS_MIB CPU_S" summed over the live PIDs (peak RSS, CPU since start)
  local rss=0 cpu=0 pid h t
  for pid in "$@"; do
    [[ -r /proc/$pid/status ]] || continue
    h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    # utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so cut after ')'.
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)
    rss=$((rss + ${h:-0}))
    cpu=$((cpu + ${t:-0}))
  done
  awk -v r="$rss" -v c="$cpu" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f %.2f\n", r / 1024, c / hz }'
}
# timed VAR CMD...: runs CMD under `timeout`, sets VAR to "wall" (or "timeout"/"fail") and CLIENT_CPU to
# user+sys seconds of CMD and its children.
timed() {
  local __var=$1 __t0 __rc=0 __u0 __s0 __u1 __s1
  shift
  times >"$WORK/times"  # a builtin redirected in this shell: its children's times, not a subshell's
  read -r __u0 __s0 < <(times_children)
  __t0=$(now)
  steal_mark
  timeout "$CAP" "$@" >/dev/null 2>>"$WORK/client.err" || __rc=$?
  printf -v "$__var" '%s' "$(since "$__t0")"
  times >"$WORK/times"
  read -r __u1 __s1 < <(times_children)
  CLIENT_CPU=$(awk -v a="$__u0" -v b="$__s0" -v c="$__u1" -v d="$__s1" 'BEGIN { printf "%.2f", c - a + d - b }')
  if ((__rc == 124)); then printf -v "$__var" '%s' "timeout@$CAP"; elif ((__rc != 0)); then printf -v "$__var" fail; fi
  return 0
}
times_children() {  # user and system seconds of finished children, from the `times` output saved by timed
  awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%.3f %.3f\n", u[1] * 60 + u[2], s[1] * 60 + s[2] }' "$WORK/times"
}
CAP=${TIMEOUT}
declare -A GAVE_UP=()
# cap_after REF_SECONDS: the pinfs measurements after a reference give up at CAP_FACTOR x its time (>= 60 s).
cap_after() {
  if [[ $1 =~ ^[0-9.]+$ ]]; then
    CAP=$(awk -v r="$1" -v f="$CAP_FACTOR" -v t="$TIMEOUT" 'BEGIN { c = r * f; if (c < 60) c = 60; if (c > t) c = t; printf "%d", c }')
  else
    CAP=$TIMEOUT
  fi
}
left() { awk -v t0="$1" -v n="$EPOCHREALTIME" -v c="$CAP" 'BEGIN { l = c - (n - t0); printf "%.1f", (l > 0 ? l : 0) }'; }
gave_up() {  # gave_up WORKLOAD TOOL REP: true, recording a skip, once TOOL has timed out in an earlier rep
  [[ -n ${GAVE_UP[$1/$2]:-} ]] || return 1
  record "$1" "$2" "$3" skipped "" "" "gave up in rep ${GAVE_UP[$1/$2]}"
}
numeric() { [[ $1 =~ ^[0-9.]+$ ]]; }
# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds; 1 on timeout.
wait_until() {
  local limit=$1 t0
  shift
  t0=$(now)
  until "$@"; do
    awk -v t="$(since "$t0")" -v l="$limit" 'BEGIN { exit !(t > l) }' && return 1
    sleep 0.05
  done
}

# ---------------------------------------------------------------- emulator
export PINFS_EMULATOR_JWT
PINFS_EMULATOR_JWT="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export PINFS_JWT=$PINFS_EMULATOR_JWT  # pinfs reads it from the environment, never argv
AUTH=$WORK/auth-header
printf 'Authorization: Bearer %s\n' "$PINFS_EMULATOR_JWT" >"$AUTH"
chmod 600 "$AUTH"
EMU_HELP=$("$BUILD/pinfs-emulator" --help 2>&1 || true)
EMU_HAS_LATENCY=0
grep -q -- '--latency' <<<"$EMU_HELP" && grep -q -- '--bandwidth' <<<"$EMU_HELP" && EMU_HAS_LATENCY=1
# The bulk-pin startup option (helper B1): the first option in --help that takes a count of pins.
EMU_BULK_OPT=${BENCH_BULK_OPTION:-$(grep -oE -- '--[a-z-]*pins[a-z-]*' <<<"$EMU_HELP" | head -n1 || true)}

# emu_start DATA_DIR [ARGS...]: starts an emulator on a free loopback port; sets URL and EMU_PID.
emu_start() {
  local data=$1 i
  shift
  mkdir -p "$data"
  # shellcheck disable=SC2086  # BENCH_EMU_ARGS is split into flags on purpose
  "$BUILD/pinfs-emulator" --listen 127.0.0.1:0 --data "$data" "$@" ${BENCH_EMU_ARGS:-} >"$data.out" 2>"$data.log" &
  EMU_PID=$!
  URL=""
  for ((i = 0; i < 1200; i++)); do  # up to 120 s: a bulk start with many pins takes a while
    URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$data.out" 2>/dev/null | head -n1 || true)
    [[ -n $URL ]] && break
    kill -0 "$EMU_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $URL ]]; then
    echo "bench: the emulator did not start:" >&2
    tail -n 20 "$data.log" >&2
    exit 1
  fi
  [[ $URL == http://127.0.0.1:* ]] || { echo "bench: emulator not on 127.0.0.1 ($URL)" >&2; exit 1; }
}
emu_stop() { stop_pid "$EMU_PID"; EMU_PID=""; }
emu_stats() { curl -sS --max-time 30 "$URL/_emulator/stats"; }
stat_field() {  # stat_field JSON KEY: a number from the stats object ("GET /data/pinList" style keys too)
  local v
  v=$(grep -oE "\"$2\":[0-9]+" <<<"$1" | head -n1 | cut -d: -f2)
  echo "${v:-0}"
}
gateway_gets() {  # every GET /ipfs/... route in a stats object, summed
  grep -oE '"GET /ipfs/[^"]*":[0-9]+' <<<"$1" | awk -F: '{ n += $NF } END { print n + 0 }'
}
list_calls() { stat_field "$1" 'GET /data/pinList'; }
pinned_count() {  # number of pinned pins (one pinList call)
  curl -sS --max-time 30 -H @"$AUTH" "$URL/data/pinList?status=pinned&pageLimit=1&includeCount=true" |
    grep -oE '"count":[0-9]+' | head -n1 | cut -d: -f2
}
have_pinned() { local c; c=$(pinned_count); [[ -n $c ]] && ((c >= $1)); }
pin_named() {  # pin_named NAME: prints the CID of a pinned pin whose name is exactly NAME
  curl -sS --max-time 30 -H @"$AUTH" -G "$URL/data/pinList" --data-urlencode "metadata[name]=$1" \
    --data-urlencode status=pinned --data-urlencode pageLimit=1000 |
    jq -r --arg n "$1" '[.rows[]? | select(.metadata.name == $n) | .ipfs_pin_hash][0] // empty' 2>/dev/null
}
has_pin_named() { [[ -n $(pin_named "$1") ]]; }
curl_upload() {  # curl_upload FILE [NAME]: one pinFileToIPFS, CIDv1; prints the reply
  # pinataOptions before the file: the emulator then streams the part into its importer (no spool file)
  curl -sS --fail --max-time "$TIMEOUT" -H @"$AUTH" -F 'pinataOptions={"cidVersion":1}' \
    ${2:+-F "pinataMetadata={\"name\":\"$2\"}"} -F "file=@$1" "$URL/pinning/pinFileToIPFS"
}
cid_of_reply() { sed -n 's/.*"IpfsHash":"\([^"]*\)".*/\1/p'; }

# ---------------------------------------------------------------- pinfs
PINFS_PID=""
# pinfs_mount MNT CACHE [ARGS...]: mounts (detached) against $URL; sets PINFS_PID.
pinfs_mount() {
  local mnt=$1 cache=$2
  shift 2
  mkdir -p "$mnt"
  MOUNTS+=("$mnt")
  # shellcheck disable=SC2086  # BENCH_PINFS_ARGS is split into flags on purpose
  timeout 120 "$BUILD/pinfs" mount "$mnt" --provider pinata --api-url "$URL" --gateway-url "$URL" \
    --cache-dir "$cache" --log-file "$cache.log" "$@" ${BENCH_PINFS_ARGS:-} >/dev/null
  PINFS_PID=$(pgrep -f -- "pinfs mount $mnt( |\$)" | head -n1 || true)
  [[ -n $PINFS_PID ]] || { echo "bench: no pinfs daemon for $mnt" >&2; exit 1; }
  perf_start "$mnt"
}
PERF_PID=""
PERF_N=0
perf_start() {  # perf_start MNT: with --perf, samples the daemon of a first-rep measurement
  [[ -n $PERF_DIR && $1 == */run/*-1/mnt ]] || return 0
  command -v perf >/dev/null || { note "perf missing: no profile"; PERF_DIR=""; return 0; }
  mkdir -p "$PERF_DIR"
  PERF_N=$((PERF_N + 1))
  PERF_NAME=$(printf '%02d-%s' "$PERF_N" "$(basename "$(dirname "$1")")")
  perf record -F 999 -g -p "$PINFS_PID" -o "$WORK/$PERF_NAME.data" >/dev/null 2>"$WORK/perf.log" &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
  sleep 0.2
}
perf_stop() {
  [[ -n $PERF_PID ]] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
  perf report -i "$WORK/$PERF_NAME.data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null |
    grep -v '^$' | head -n 60 >"$PERF_DIR/$PERF_NAME.txt" || true
  rm -f "$WORK/$PERF_NAME.data"
}
# pinfs_unmount MNT [force]: waits for pending uploads (bounded), then for the daemon to exit. After a
# measurement that timed out, `force` leaves the uploads to the daemon, which is then stopped.
pinfs_unmount() {
  local mnt=$1 i wait_s=600
  perf_stop
  if [[ ${2:-} == force ]]; then
    timeout 60 "$BUILD/pinfs" unmount --force "$mnt" >/dev/null 2>&1 || unmount_any "$mnt"
    wait_s=20
  else
    timeout "$TIMEOUT" "$BUILD/pinfs" unmount "$mnt" >/dev/null 2>&1 || unmount_any "$mnt"
  fi
  for ((i = 0; i < wait_s; i++)); do kill -0 "$PINFS_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$PINFS_PID"
  PINFS_PID=""
}
done_or_force() { [[ $1 =~ ^[0-9.]+$ ]] || echo force; }

# timed_read VAR FILE: timed `cat FILE`; GW_NOTE says what the emulator sent meanwhile (bytes, gateway calls).
timed_read() {
  local s0 s1 b r
  s0=$(emu_stats)
  timed "$1" cat "$2"
  s1=$(emu_stats)
  b=$(($(stat_field "$s1" bytes_out) - $(stat_field "$s0" bytes_out)))
  r=$(($(gateway_gets "$s1") - $(gateway_gets "$s0")))
  GW_NOTE="emulator sent $(awk -v b="$b" 'BEGIN { printf "%.1f", b / 1048576 }') MiB, $r gateway GETs"
}

# ---------------------------------------------------------------- references
PT_BIN=$WORK/passthrough_ll
PT_PID=""
PT_TRIED=0
build_passthrough() {  # builds libfuse's passthrough_ll example (libfuse3-dev ships its source) once
  [[ -x $PT_BIN ]] && return 0
  ((PT_TRIED)) && return 1
  PT_TRIED=1
  local src dir
  src=$(find /usr/share/doc/libfuse3-dev /usr/share/doc/fuse3 -name 'passthrough_ll.c*' 2>/dev/null | head -n1 || true)
  [[ -n $src ]] || { note "passthrough_ll.c not found (libfuse3-dev examples): no FUSE ceiling"; return 1; }
  dir=$WORK/passthrough-src
  mkdir -p "$dir"
  cp "$(dirname "$src")"/*passthrough* "$dir/"  # with passthrough_helpers.h
  gunzip -f "$dir"/*.gz 2>/dev/null || true
  # shellcheck disable=SC2046
  if ! cc -O2 -D_GNU_SOURCE -o "$PT_BIN" "$dir/passthrough_ll.c" $(pkg-config --cflags --libs fuse3) \
    2>"$WORK/passthrough_ll.build.log"; then
    note "passthrough_ll did not build: $(grep -m1 error "$WORK/passthrough_ll.build.log" | tr -s ' ')"
    return 1
  fi
}
pt_mount() {  # pt_mount SOURCE_DIR MNT: libfuse's passthrough_ll with its defaults, foreground in background
  local src=$1 mnt=$2
  mkdir -p "$mnt"
  MOUNTS+=("$mnt")
  "$PT_BIN" -f -o "source=$src" "$mnt" 2>"$WORK/passthrough_ll.log" &
  PT_PID=$!
  PIDS+=("$PT_PID")
  wait_until 30 mountpoint -q "$mnt" || { echo "bench: passthrough_ll did not mount" >&2; exit 1; }
}
pt_unmount() { fusermount3 -u "$1" 2>/dev/null || unmount_any "$1"; stop_pid "$PT_PID"; PT_PID=""; }

RC_PIDS=()
RC_SERVED=""
# rclone_up DIR: rclone serve webdav of a fresh folder on loopback, rclone mount of it on DIR/mnt with
# --vfs-cache-mode writes (its other settings left at their defaults, as a user would run it).
rclone_up() {
  local dir=$1 port i
  RC_SERVED=$dir/served
  mkdir -p "$RC_SERVED" "$dir/mnt" "$dir/cache"
  : >"$dir/rclone.conf"
  RCLONE_CONFIG=$dir/rclone.conf rclone serve webdav "$RC_SERVED" --addr 127.0.0.1:0 \
    --log-file "$dir/serve.log" -v &
  RC_PIDS=($!)
  PIDS+=("${RC_PIDS[0]}")
  port=""
  for ((i = 0; i < 300; i++)); do
    port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$dir/serve.log" 2>/dev/null | grep -v ':0$' | head -n1 | cut -d: -f2 || true)
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "bench: rclone serve webdav did not start" >&2; tail "$dir/serve.log" >&2; exit 1; }
  MOUNTS+=("$dir/mnt")
  RCLONE_CONFIG=$dir/rclone.conf RCLONE_WEBDAV_URL=http://127.0.0.1:$port rclone mount :webdav: "$dir/mnt" \
    --vfs-cache-mode writes --cache-dir "$dir/cache" --log-file "$dir/mount.log" &
  RC_PIDS+=($!)
  PIDS+=("${RC_PIDS[1]}")
  wait_until 30 mountpoint -q "$dir/mnt" || { echo "bench: rclone mount did not come up" >&2; exit 1; }
}
rclone_down() {
  local dir=$1
  fusermount3 -u "$dir/mnt" 2>/dev/null || unmount_any "$dir/mnt"
  stop_pid "${RC_PIDS[1]}"
  stop_pid "${RC_PIDS[0]}"
  RC_PIDS=()
}
served_count() { find "$RC_SERVED" -type f -size "$1"c 2>/dev/null | wc -l; }
served_has() { (($(served_count "$2") >= $1)); }

drop_page_cache() {
  sync
  if [[ -w /proc/sys/vm/drop_caches ]]; then echo 3 >/proc/sys/vm/drop_caches; return 0; fi
  return 1
}

# ---------------------------------------------------------------- input data
make_small_files() {  # make_small_files DIR N: N distinct random 4 KiB files f000001…
  local dir=$1 n=$2
  [[ -d $dir ]] && return 0
  mkdir -p "$dir"
  head -c $((n * 4096)) /dev/urandom | (cd "$dir" && split -a 6 -d -b 4096 - f)
}
make_tree() {  # make_tree DIR N: N random 4 KiB files, 100 per leaf directory, 10 leaves per top directory
  local dir=$1 n=$2 i k leaf
  [[ -d $dir ]] && return 0
  for ((i = 0; i < n; i += 100)); do
    leaf=$(printf '%s/d%02d/s%03d' "$dir" $((i / 1000)) $((i / 100)))
    mkdir -p "$leaf"
    k=$((n - i < 100 ? n - i : 100))
    head -c $((k * 4096)) /dev/urandom | (cd "$leaf" && split -a 3 -d -b 4096 - f)
  done
}
BIG=$WORK/in/big.bin
make_big() { [[ -f $BIG ]] || { mkdir -p "$WORK/in"; head -c $((MIB << 20)) /dev/urandom >"$BIG"; }; }

# ---------------------------------------------------------------- workloads
run_dir() { local d=$WORK/run/$1-$2; rm -rf "$d"; mkdir -p "$d"; echo "$d"; }
clean_run() {  # never deletes through a mount that is still up
  if grep -q " $1/" /proc/mounts; then note "left $1 in place: still mounted"; return 0; fi
  rm -rf "$1"
}

wl_small() {
  local src=$WORK/in/small rep d t rss
  make_small_files "$src" "$SMALL"
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    # curl loop: one curl per file, one after another
    d=$(run_dir small-curl "$rep"); emu_start "$d/emu"
    timed t bash -c 'for f in "$1"/f*; do curl -sS --fail -o /dev/null -H @"$2" \
      -F "pinataOptions={\"cidVersion\":1}" -F "file=@$f" "$3/pinning/pinFileToIPFS" || exit 1; done' _ "$src" "$AUTH" "$URL"
    have_pinned "$SMALL" || t=fail
    record small curl-loop "$rep" "$t" "" "$CLIENT_CPU" "$(proc_usage "$EMU_PID" | awk '{print "emulator rss " $1 " MiB cpu " $2 " s"}')"
    emu_stop; clean_run "$d"
    cap_after "$t"

    # pinfs async: cp, then until every file is pinned
    if ! gave_up small pinfs-async "$rep"; then
    d=$(run_dir small-async "$rep"); emu_start "$d/emu"
    pinfs_mount "$d/mnt" "$d/cache" --upload async
    local t0 tcp; t0=$(now)
    steal_mark
    timed tcp cp -r "$src"/. "$d/mnt/"
    if wait_until "$(left "$t0")" have_pinned "$SMALL"; then t=$(since "$t0"); else t=timeout@$CAP; fi
    [[ $tcp == fail ]] && t=fail
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    record small pinfs-async "$rep" "$t" "$rss" "$cpu" "cp returned after ${tcp} s; pinned $(pinned_count)"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; clean_run "$d"
    fi

    # pinfs sync: cp returns once each file is pinned
    if ! gave_up small pinfs-sync "$rep"; then
    d=$(run_dir small-sync "$rep"); emu_start "$d/emu"
    pinfs_mount "$d/mnt" "$d/cache" --upload sync
    timed t cp -r "$src"/. "$d/mnt/"
    numeric "$t" && ! have_pinned "$SMALL" && t=fail
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    record small pinfs-sync "$rep" "$t" "$rss" "$cpu" "pinned $(pinned_count)"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; clean_run "$d"
    fi
  done
}

wl_many() {
  local src=$WORK/in/many rep d t t0 tcp rss cpu
  make_small_files "$src" "$MANY"
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    d=$(run_dir many-rclone "$rep")
    rclone_up "$d"
    t0=$(now)
    steal_mark
    timed tcp cp -r "$src"/. "$d/mnt/"
    if wait_until "$(left "$t0")" served_has "$MANY" 4096; then t=$(since "$t0"); else t=timeout@$CAP; fi
    [[ $tcp == fail ]] && t=fail
    read -r rss cpu < <(proc_usage "${RC_PIDS[@]}")
    record many rclone-mount "$rep" "$t" "$rss" "$cpu" "cp returned after ${tcp} s; on server $(served_count 4096)"
    rclone_down "$d"; clean_run "$d"
    cap_after "$t"

    gave_up many pinfs-async "$rep" && continue
    d=$(run_dir many-async "$rep"); emu_start "$d/emu"
    pinfs_mount "$d/mnt" "$d/cache" --upload async
    t0=$(now)
    steal_mark
    timed tcp cp -r "$src"/. "$d/mnt/"
    if wait_until "$(left "$t0")" have_pinned "$MANY"; then t=$(since "$t0"); else t=timeout@$CAP; fi
    [[ $tcp == fail ]] && t=fail
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    record many pinfs-async "$rep" "$t" "$rss" "$cpu" "cp returned after ${tcp} s; pinned $(pinned_count)"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; clean_run "$d"
  done
}

wl_tree() {
  local src=$WORK/in/photos rep d t t0 tcp rss cpu cfg cid_ref="" cid later=()
  make_tree "$src" "$TREE"
  cfg=$WORK/in/tree-upload.curl
  if [[ ! -f $cfg ]]; then
    # One directory upload: a `file` part per file, its filename the path below (and including) photos/.
    printf 'form = "pinataOptions={\\"cidVersion\\":1}"\nform = "pinataMetadata={\\"name\\":\\"photos\\"}"\n' >"$cfg"
    (cd "$WORK/in" && find photos -type f | sort | while read -r f; do
      printf 'form = "file=@%s;filename=%s"\n' "$WORK/in/$f" "$f"
    done) >>"$cfg"
  fi
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    d=$(run_dir tree-curl "$rep"); emu_start "$d/emu"
    timed t curl -sS --fail -o "$d/reply.json" -H @"$AUTH" -K "$cfg" "$URL/pinning/pinFileToIPFS"
    cid_ref=$(cid_of_reply <"$d/reply.json" 2>/dev/null || true)
    record tree curl-dir-upload "$rep" "$t" "" "$CLIENT_CPU" "root $cid_ref"
    emu_stop; clean_run "$d"
    cap_after "$t"
    # The FUSE ceiling for creating that many files: the same cp -r into libfuse's passthrough_ll (each
    # file a LOOKUP, CREATE, WRITE, FLUSH and RELEASE through the kernel), onto the local disk.
    if build_passthrough; then
      d=$(run_dir tree-pt "$rep"); mkdir -p "$d/dst"
      pt_mount "$d/dst" "$d/ptmnt"
      timed t cp -r "$src" "$d/ptmnt/photos"
      record tree passthrough_ll "$rep" "$t" "" "$CLIENT_CPU" "cp -r onto the local disk through FUSE"
      pt_unmount "$d/ptmnt"; later+=("$d")
    fi
    gave_up tree pinfs-sync "$rep" && continue

    d=$(run_dir tree-sync "$rep"); emu_start "$d/emu"
    pinfs_mount "$d/mnt" "$d/cache" --upload sync
    t0=$(now)
    steal_mark
    timed tcp cp -r "$src" "$d/mnt/photos"
    if wait_until "$(left "$t0")" has_pin_named photos; then t=$(since "$t0"); else t=timeout@$CAP; fi
    [[ $tcp == fail ]] && t=fail
    cid=$(pin_named photos || true)
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    record tree pinfs-sync "$rep" "$t" "$rss" "$cpu" "cp returned after ${tcp} s; pins $(pinned_count); root ${cid:-none}$([[ -n $cid && $cid == "$cid_ref" ]] && echo ' = curl root')"
    numeric "$tcp" && record tree pinfs-cp "$rep" "$tcp" "" "" "cp -r alone (the pin follows after the 2 s quiet delay)"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; later+=("$d")
  done
  # Removed only now: ext4 skips inodes deleted in the last minutes when it allocates new ones
  # (find_inode_bit -> recently_deleted), so 10,000 files removed just before a copy slow its creates down
  # (29 % of pinfs's samples in open(O_CREAT) of the staged files when passthrough_ll's copy had just been
  # removed).
  for d in "${later[@]}"; do clean_run "$d"; done
}

wl_big() {
  local rep d t t0 tcp rss cpu
  make_big
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    d=$(run_dir big-curl "$rep"); emu_start "$d/emu"
    timed t curl -sS --fail -o /dev/null -H @"$AUTH" -F 'pinataOptions={"cidVersion":1}' -F "file=@$BIG" \
      "$URL/pinning/pinFileToIPFS"
    have_pinned 1 || t=fail
    record big curl "$rep" "$t" "" "$CLIENT_CPU"
    emu_stop; clean_run "$d"
    cap_after "$t"

    if ! gave_up big pinfs-sync "$rep"; then
    d=$(run_dir big-sync "$rep"); emu_start "$d/emu"
    pinfs_mount "$d/mnt" "$d/cache" --upload sync
    timed t cp "$BIG" "$d/mnt/big.bin"
    numeric "$t" && ! have_pinned 1 && t=fail
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    record big pinfs-sync "$rep" "$t" "$rss" "$cpu"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; clean_run "$d"
    fi
    CAP=$TIMEOUT

    d=$(run_dir big-rclone "$rep")
    rclone_up "$d"
    t0=$(now)
    steal_mark
    timed tcp cp "$BIG" "$d/mnt/big.bin"
    if wait_until "$(left "$t0")" served_has 1 $((MIB << 20)); then t=$(since "$t0"); else t=timeout@$CAP; fi
    [[ $tcp == fail ]] && t=fail
    read -r rss cpu < <(proc_usage "${RC_PIDS[@]}")
    record big rclone-mount "$rep" "$t" "$rss" "$cpu" "cp returned after ${tcp} s"
    rclone_down "$d"; clean_run "$d"
  done
}

# A data dir holding the big file pinned, made once and copied per measurement (the emulator keeps its state
# across restarts, so a latency emulator can start on it without uploading through the bandwidth cap).
SEED=$WORK/seed-big
BIG_CID=""
make_seed() {
  [[ -d $SEED/emu ]] && return 0
  make_big
  mkdir -p "$SEED"
  emu_start "$SEED/emu"
  BIG_CID=$(curl_upload "$BIG" big.bin | cid_of_reply)
  [[ -n $BIG_CID ]] || { echo "bench: seeding the big file failed" >&2; exit 1; }
  emu_stop
}
emu_from_seed() {  # emu_from_seed DIR [ARGS...]
  local d=$1
  shift
  cp -a "$SEED/emu" "$d/emu"
  emu_start "$d/emu" "$@"
}

wl_cold() {
  local rep d t rss cpu
  make_seed
  build_passthrough || true
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    if [[ -x $PT_BIN ]]; then
      d=$(run_dir cold-pt "$rep")
      cat "$BIG" >/dev/null  # the local file warm: what is measured is FUSE passing bytes
      pt_mount "$WORK/in" "$d/mnt"
      timed t cat "$d/mnt/big.bin"
      read -r rss cpu < <(proc_usage "$PT_PID")
      record cold passthrough_ll "$rep" "$t" "$rss" "$cpu" "local file in page cache"
      pt_unmount "$d/mnt"; clean_run "$d"
    fi

    d=$(run_dir cold-pinfs "$rep"); emu_from_seed "$d"
    timed t curl -sS --fail -o /dev/null "$URL/ipfs/$BIG_CID"
    record cold curl-gateway "$rep" "$t" "" "$CLIENT_CPU"
    cap_after 6  # a read of the size FUSE passes in a few seconds: give up after a minute
    pinfs_mount "$d/mnt" "$d/cache"
    timed_read t "$d/mnt/big.bin"
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    cmp -s "$d/mnt/big.bin" "$BIG" || t=fail
    record cold pinfs "$rep" "$t" "$rss" "$cpu" "$GW_NOTE"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; clean_run "$d"
  done
}

wl_latency() {
  local rep d t rss cpu lat=(--latency 40 --bandwidth 200)
  if ((!EMU_HAS_LATENCY)); then
    record latency pinfs 1 n/a "" "" "n/a: emulator lacks --latency"
    note "latency: n/a: emulator lacks --latency"
    return 0
  fi
  make_seed
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    d=$(run_dir latency "$rep"); emu_from_seed "$d" "${lat[@]}"
    timed t curl -sS --fail -o /dev/null "$URL/ipfs/$BIG_CID"
    record latency curl "$rep" "$t" "" "$CLIENT_CPU"
    mkdir -p /dev/shm/pinfs-bench.$$ 2>/dev/null && local adir=/dev/shm/pinfs-bench.$$ || adir=$d
    timed t aria2c -q -x 8 -s 8 --file-allocation=none --allow-overwrite=true -d "$adir" -o big.bin \
      "$URL/ipfs/$BIG_CID"
    rm -rf "$adir"
    record latency aria2c-x8 "$rep" "$t" "" "$CLIENT_CPU"
    pinfs_mount "$d/mnt" "$d/cache"
    timed_read t "$d/mnt/big.bin"
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    numeric "$t" && ! cmp -s "$d/mnt/big.bin" "$BIG" && t=fail
    record latency pinfs "$rep" "$t" "$rss" "$cpu" "$GW_NOTE"
    pinfs_unmount "$d/mnt" "$(done_or_force "$t")"; emu_stop; clean_run "$d"
  done
}

wl_cache() {
  local rep d t rss cpu cached src_dir ptfile
  make_seed
  build_passthrough || true
  if ! [[ -w /proc/sys/vm/drop_caches ]]; then
    note "cache: n/a: /proc/sys/vm/drop_caches not writable (run as root)"
    return 0
  fi
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    d=$(run_dir cache "$rep"); emu_from_seed "$d"
    pinfs_mount "$d/mnt" "$d/cache"
    cat "$d/mnt/big.bin" >/dev/null  # fills the disk cache
    pinfs_unmount "$d/mnt"
    pinfs_mount "$d/mnt" "$d/cache"
    drop_page_cache
    timed_read t "$d/mnt/big.bin"
    read -r rss cpu < <(proc_usage "$PINFS_PID")
    numeric "$t" && ! cmp -s "$d/mnt/big.bin" "$BIG" && t=fail
    record cache pinfs "$rep" "$t" "$rss" "$cpu" "$GW_NOTE"
    pinfs_unmount "$d/mnt"
    # The ceiling: passthrough_ll over the cache file itself if the cache holds the content as one file,
    # else over the original file; page cache dropped, first read after mounting.
    cached=$(find "$d/cache" -type f -size +$(((MIB << 20) - 1))c 2>/dev/null | head -n1 || true)
    if [[ -n $cached ]]; then src_dir=$(dirname "$cached"); ptfile=$(basename "$cached")
    else src_dir=$WORK/in; ptfile=big.bin; note "cache: no single cache file of $MIB MiB; passthrough_ll read the source file"; fi
    if [[ -x $PT_BIN ]]; then
      pt_mount "$src_dir" "$d/ptmnt"
      drop_page_cache
      timed t cat "$d/ptmnt/$ptfile"
      read -r rss cpu < <(proc_usage "$PT_PID")
      record cache passthrough_ll "$rep" "$t" "$rss" "$cpu" "page cache dropped"
      pt_unmount "$d/ptmnt"
    fi
    emu_stop; clean_run "$d"
  done
}

# An emulator data dir holding $PINS pins, made once and copied per measurement: with the emulator's bulk-pin
# startup option when it has one, else by pinJSONToIPFS calls (4 curl processes reusing their connections).
LIST_SEED=$WORK/seed-list
LIST_HOW=""
make_list_seed() {
  [[ -d $LIST_SEED/emu ]] && return 0
  mkdir -p "$LIST_SEED"
  if [[ -n $EMU_BULK_OPT ]]; then
    emu_start "$LIST_SEED/emu" "$EMU_BULK_OPT" "$PINS"
    LIST_HOW="emulator $EMU_BULK_OPT $PINS"
  else
    emu_start "$LIST_SEED/emu"
    local j t0
    t0=$(now)
    steal_mark
    for ((j = 0; j < 4; j++)); do
      awk -v j="$j" -v n="$PINS" -v url="$URL" -v auth="$(cat "$AUTH")" 'BEGIN {
        for (i = j + 1; i <= n; i += 4) {
          printf "url = \"%s/pinning/pinJSONToIPFS\"\nheader = \"%s\"\nheader = \"Content-Type: application/json\"\n", url, auth
          printf "data = \"{\\\"pinataContent\\\":{\\\"n\\\":%d},\\\"pinataMetadata\\\":{\\\"name\\\":\\\"pin-%06d.json\\\"},\\\"pinataOptions\\\":{\\\"cidVersion\\\":1}}\"\n", i, i
          printf "output = \"/dev/null\"\nfail\n"
          if (i + 4 <= n) print "next"
        } }' >"$LIST_SEED/seed-$j.curl"
      chmod 600 "$LIST_SEED/seed-$j.curl"
      timeout "$TIMEOUT" curl -sS -K "$LIST_SEED/seed-$j.curl" 2>>"$WORK/client.err" &
      PIDS+=($!)
    done
    wait "${PIDS[@]: -4}" || true
    rm -f "$LIST_SEED"/seed-*.curl
    LIST_HOW="$PINS pinJSONToIPFS calls in $(since "$t0") s (the emulator has no bulk-pin option)"
  fi
  have_pinned "$PINS" || note "list: the seeded emulator holds $(pinned_count) pinned pins, not $PINS"
  emu_stop
  note "list: pins made by $LIST_HOW"
}

wl_list() {
  local rep d t rss cpu s0 s1 calls local_dir=$WORK/in/local-$PINS pages i
  make_list_seed
  if [[ ! -d $local_dir ]]; then
    mkdir -p "$local_dir"
    (cd "$local_dir" && seq -f 'pin-%06g.json' 1 "$PINS" | xargs touch)
  fi
  pages=$(((PINS + 999) / 1000))
  for ((rep = 1; rep <= REPS; rep++)); do
    CAP=$TIMEOUT
    d=$(run_dir list "$rep")
    cp -a "$LIST_SEED/emu" "$d/emu"
    emu_start "$d/emu"

    # The raw paged calls, one after another, as a client without an index would make them.
    timed t bash -c 'for ((i = 0; i < $1; i++)); do curl -sS --fail -o /dev/null -H @"$2" \
      "$3/data/pinList?status=pinned&pageLimit=1000&pageOffset=$((i * 1000))" || exit 1; done' _ "$pages" "$AUTH" "$URL"
    record list curl-pages "$rep" "$t" "" "$CLIENT_CPU" "$pages calls"
    cap_after "$t"

    if ! gave_up list pinfs-cold "$rep"; then
      s0=$(emu_stats)
      local t0 tls entries=-
      t0=$(now)
      steal_mark
      pinfs_mount "$d/mnt" "$d/cache"
      timed t ls -l "$d/mnt"
      tls=$t
      numeric "$t" && t=$(since "$t0")
      s1=$(emu_stats)
      calls=$(($(list_calls "$s1") - $(list_calls "$s0")))
      read -r rss cpu < <(proc_usage "$PINFS_PID")
      numeric "$t" && entries=$(timeout 60 ls "$d/mnt" | wc -l)
      record list pinfs-cold "$rep" "$t" "$rss" "$cpu" "mount+ls; ls alone ${tls} s; $calls list calls; $entries entries"
      pinfs_unmount "$d/mnt" "$(done_or_force "$t")"
    fi

    CAP=$TIMEOUT
    ls -l "$local_dir" >/dev/null  # warm, as pinfs's index is after a remount
    timed t ls -l "$local_dir"
    record list local-ls "$rep" "$t" "" "$CLIENT_CPU"
    cap_after "$t"

    if ! gave_up list pinfs-remount "$rep"; then
      s0=$(emu_stats)
      pinfs_mount "$d/mnt" "$d/cache"
      s1=$(emu_stats)
      timed t ls -l "$d/mnt"
      local s2
      s2=$(emu_stats)
      read -r rss cpu < <(proc_usage "$PINFS_PID")
      record list pinfs-remount "$rep" "$t" "$rss" "$cpu" \
        "list calls: $(($(list_calls "$s1") - $(list_calls "$s0"))) by mount, $(($(list_calls "$s2") - $(list_calls "$s1"))) during ls"
      pinfs_unmount "$d/mnt" "$(done_or_force "$t")"
    fi
    emu_stop; clean_run "$d"
  done
}

# ---------------------------------------------------------------- run
log "bench: reps $REPS; small $SMALL, many $MANY, tree $TREE files; $MIB MiB; $PINS pins; scratch $WORK"
log "bench: emulator --latency: $([[ $EMU_HAS_LATENCY == 1 ]] && echo yes || echo no); bulk pins: ${EMU_BULK_OPT:-none}"
if [[ -n $REPORT_FROM ]]; then
  cp "$REPORT_FROM" "$RESULTS"
else
  for w in small many tree big cold latency cache list; do
    wants "$w" || continue
    log "== $w"
    "wl_$w"
  done
  if [[ -s $WORK/steal.tsv ]]; then
    note "$(sort -t$'\t' -k4,4n "$WORK/steal.tsv" | awk -F'\t' '{ v[++n] = $4; if ($4 >= 10) hi = hi " " $1 "/" $2 "/" $3 }
      END { printf "host steal time during the measurements: median %s %%, max %s %%%s", v[int((n + 1) / 2)], v[n],
            hi != "" ? "; 10 % or more in" hi " (those figures are slowed by other guests)" : "" }')"
  fi
fi

# ---------------------------------------------------------------- report
# summary: workload tool -> median min max (of numeric reps), reps ok/total, median rss, median cpu
summarize() {
  awk -F'\t' '
    function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                                       return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    { k = $1 SUBSEP $2; if (!(k in seen)) { seen[k] = 1; order[++nk] = k } total[k]++
      if ($4 ~ /^[0-9.]+$/) { n[k]++; v[k, n[k]] = $4; if ($5 ~ /^[0-9.]+$/) { nr[k]++; r[k, nr[k]] = $5 }
                              if ($6 ~ /^[0-9.]+$/) { nc[k]++; c[k, nc[k]] = $6 } }
      else if (!(k in bad)) bad[k] = $4
      if ($7 != "") lastnote[k] = $7 }
    END { for (i = 1; i <= nk; i++) { k = order[i]; split(k, p, SUBSEP)
            m = "-"; lo = "-"; hi = "-"; rr = "-"; cc = "-"
            if (n[k] > 0) { delete a; lo = 1e99; hi = 0
              for (j = 1; j <= n[k]; j++) { a[j] = v[k, j]; if (a[j] < lo) lo = a[j]; if (a[j] > hi) hi = a[j] }
              m = sprintf("%.3f", median(a, n[k])); lo = sprintf("%.3f", lo); hi = sprintf("%.3f", hi) }
            if (nr[k] > 0) { delete a; for (j = 1; j <= nr[k]; j++) a[j] = r[k, j]; rr = sprintf("%.1f", median(a, nr[k])) }
            if (nc[k] > 0) { delete a; for (j = 1; j <= nc[k]; j++) a[j] = c[k, j]; cc = sprintf("%.2f", median(a, nc[k])) }
            printf "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", p[1], p[2], m, lo, hi, n[k], total[k], rr, cc, (k in bad ? bad[k] : ""), lastnote[k] } }
  ' "$RESULTS"
}
SUMMARY=$WORK/summary.tsv
summarize >"$SUMMARY"
med() { awk -F'\t' -v w="$1" -v t="$2" '$1 == w && $2 == t { print $3 }' "$SUMMARY"; }

# Comparisons: label | workload | pinfs tool | reference tool | kind | target.
#   time:  pinfs time / reference time, target is a maximum; speed: reference time / pinfs time, a minimum.
COMPARISONS=(
  "$SMALL x 4 KiB, async until pinned / curl loop|small|pinfs-async|curl-loop|time|1.5"
  "$SMALL x 4 KiB, sync cp / curl loop|small|pinfs-sync|curl-loop|time|2"
  "$MANY x 4 KiB, async until pinned / rclone mount until on server|many|pinfs-async|rclone-mount|time|1"
  "tree of $TREE, cp -r until dir pin / curl dir upload|tree|pinfs-sync|curl-dir-upload|time|1.5"
  "tree of $TREE, cp -r alone / cp -r into passthrough_ll|tree|pinfs-cp|passthrough_ll|time|-"
  "$MIB MiB, sync cp / curl upload|big|pinfs-sync|curl|time|1.05"
  "$MIB MiB, sync cp / rclone mount until on server|big|pinfs-sync|rclone-mount|time|-"
  "read $MIB MiB cold, speed vs passthrough_ll|cold|pinfs|passthrough_ll|speed|1.0"
  "read $MIB MiB cold, speed vs curl (loopback)|cold|pinfs|curl-gateway|speed|-"
  "read $MIB MiB 40 ms/200 Mbit, speed vs aria2c -x 8|latency|pinfs|aria2c-x8|speed|0.9"
  "read $MIB MiB 40 ms/200 Mbit, speed vs curl|latency|pinfs|curl|speed|3"
  "read $MIB MiB from disk cache, speed vs passthrough_ll|cache|pinfs|passthrough_ll|speed|1.0"
  "ls -l $PINS pins cold / curl pages|list|pinfs-cold|curl-pages|time|1.2"
  "ls -l $PINS pins after remount / local ls -l|list|pinfs-remount|local-ls|time|2"
)
report() {
  local measured
  measured=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  echo "pinfs bench/run.sh: commit $measured$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ local changes)'), $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "build: $BUILD ($(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null | grep . || echo 'RelWithDebInfo, the default'))"
  echo "reps $REPS; median (min-max) seconds; ratio of medians; RSS = peak resident MiB of the daemon(s), CPU = seconds"
  echo
  echo "| comparison | pinfs s | reference s | ratio | target | met |"
  echo "|---|---|---|---|---|---|"
  local line label w a b kind target ma mb ratio met la lb
  for line in "${COMPARISONS[@]}"; do
    IFS='|' read -r label w a b kind target <<<"$line"
    wants "$w" || continue
    ma=$(med "$w" "$a"); mb=$(med "$w" "$b")
    la=$(awk -F'\t' -v w="$w" -v t="$a" '$1 == w && $2 == t { print ($3 == "-" ? ($9 != "" ? $9 : "-") : $3 " (" $4 "-" $5 ")") }' "$SUMMARY")
    lb=$(awk -F'\t' -v w="$w" -v t="$b" '$1 == w && $2 == t { print ($3 == "-" ? ($9 != "" ? $9 : "-") : $3 " (" $4 "-" $5 ")") }' "$SUMMARY")
    ratio="-"; met="-"
    if [[ $ma == - && $la == timeout@* && $mb =~ ^[0-9.]+$ ]]; then  # pinfs gave up (at the cap after @)
      local cap=${la#timeout@}
      la="gave up at $cap"
      if [[ $kind == time ]]; then ratio="> $(awk -v a="$cap" -v b="$mb" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')x time"
      else ratio="< $(awk -v a="$cap" -v b="$mb" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')x speed"; fi
      [[ $target != - ]] && met=no && target="$([[ $kind == time ]] && echo '<=' || echo '>=') $target"
    elif [[ $ma =~ ^[0-9.]+$ && $mb =~ ^[0-9.]+$ ]]; then
      if [[ $kind == time ]]; then
        ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        [[ $target != - ]] && met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r <= t ? "yes" : "no") }')
        [[ $target != - ]] && target="<= $target"
      else
        ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
        [[ $target != - ]] && met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r >= t ? "yes" : "no") }')
        [[ $target != - ]] && target=">= $target"
      fi
      [[ $kind == time ]] && ratio="${ratio}x time" || ratio="${ratio}x speed"
    fi
    echo "| $label | ${la:--} | ${lb:--} | $ratio | $target | $met |"
  done
  echo
  echo "| workload | tool | median s | min | max | ok/reps | RSS MiB | CPU s | note (last rep) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s%s |\n", $1, $2, $3, $4, $5, $6, $7, $8, ($9 != "" ? $9 "; " : ""), $10 }' "$SUMMARY"
  if [[ -s $NOTES ]]; then echo; sed 's/^/- /' "$NOTES"; fi
}
report | tee "$WORK/report.md"
if [[ -n $OUT ]]; then cp "$WORK/report.md" "$OUT"; fi
exit 0
}
