#!/usr/bin/env bash
# The README's first command: builds pinfs, starts pinfs-emulator in a temp dir, mounts the emulated Pinata
# account, copies a file in, shows it with ls -l and getfattr -d, unmounts and stops the emulator.
# Nothing outside the temp dir is touched; the trap cleans up however the script ends.
#   scripts/demo.sh            (PINFS_BUILD_DIR=… to use another build directory)
#   scripts/demo.sh --keep     leaves the emulator and the mount up to try things, and prints how to look
#                              around and how to stop (WORK/stop.sh)
set -euo pipefail

KEEP=0
case ${1:-} in
  --keep) KEEP=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PINFS_BUILD_DIR:-$ROOT/build}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pinfs-demo.XXXXXX")
MNT=$WORK/mnt
EMULATOR_PID=""

cleanup() {
  local status=$?
  set +e
  if [[ $KEEP = 1 && $status = 0 ]]; then exit 0; fi  # --keep: left up on purpose, WORK/stop.sh ends it
  if mountpoint -q "$MNT" 2>/dev/null; then
    "$BUILD/pinfs" unmount --force "$MNT" >/dev/null 2>&1 || fusermount3 -u "$MNT" 2>/dev/null ||
      fusermount3 -uz "$MNT" 2>/dev/null
  fi
  if [[ -n $EMULATOR_PID ]] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill "$EMULATOR_PID"
    wait "$EMULATOR_PID" 2>/dev/null
  fi
  # Never delete through a live mount: that would unpin.
  if ! mountpoint -q "$MNT" 2>/dev/null; then rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show() {
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  "$@"
}

echo "== installing Debian packages (scripts/install-deps.sh)"
bash "$ROOT/scripts/install-deps.sh" >/dev/null

echo "== building pinfs and pinfs-emulator in $BUILD"
cmake -S "$ROOT" -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target pinfs pinfs-emulator >/dev/null

echo "== starting the emulator (data in $WORK/data)"
export PINFS_EMULATOR_JWT
PINFS_EMULATOR_JWT="demo-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/data" "$MNT"
# setsid: with --keep the emulator outlives this script and the terminal it runs in.
setsid "$BUILD/pinfs-emulator" --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/emulator.out" 2>"$WORK/emulator.log" &
EMULATOR_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/emulator.out" | head -n1)
  [[ -n $URL ]] && break
  kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$WORK/emulator.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $URL ]] || { echo "the emulator did not start" >&2; exit 1; }
echo "   emulator at $URL"

# Credentials travel in the environment, never on the command line.
export PINFS_JWT=$PINFS_EMULATOR_JWT
show "$BUILD/pinfs" mount "$MNT" --provider pinata --api-url "$URL" --gateway-url "$URL" --cache-dir "$WORK/cache"

printf 'Hello from pinfs! %s\n' "$(date -u +%FT%TZ)" >"$WORK/hello.txt"
show cp "$WORK/hello.txt" "$MNT/"
show ls -l "$MNT"
show cat "$MNT/hello.txt"
show getfattr -d --absolute-names "$MNT/hello.txt"
show "$BUILD/pinfs" cid "$WORK/hello.txt"
show "$BUILD/pinfs" status "$MNT"

if [[ $KEEP = 1 ]]; then
  cat >"$WORK/stop.sh" <<STOP
#!/bin/sh
# Written by scripts/demo.sh --keep: unmounts (after pending uploads), stops the emulator, removes $WORK.
"$BUILD/pinfs" unmount "$MNT" || exit 1
kill $EMULATOR_PID 2>/dev/null
while kill -0 $EMULATOR_PID 2>/dev/null; do sleep 0.1; done
rm -rf "$WORK"
echo "pinfs demo stopped"
STOP
  chmod +x "$WORK/stop.sh"
  cat <<EOF

== kept: the emulator (pid $EMULATOR_PID, $URL) and the mount at $MNT are up.
Look around, in another shell too (cd $MNT):
   ls -l                                      the account's pins
   cp ~/some-file .                           pins it (cp returns once it is pinned)
   getfattr -d hello.txt                      its CID, pin id and status
   setfattr -n user.meta.color -v blue hello.txt   sets a metadata key of the pin
   mv hello.txt hi.txt; rm hi.txt             renames the pin, then unpins it
   cat .pinfs/status                          figures as JSON; $BUILD/pinfs status $MNT sums them up
   $BUILD/pinfs cid FILE                      the CID FILE will get, computed offline
Logs: $WORK/emulator.log (emulator), $WORK/cache/pinfs.log (pinfs).
To stop: $WORK/stop.sh   (unmounts once uploads are done, stops the emulator, removes $WORK)
EOF
  exit 0
fi

show "$BUILD/pinfs" unmount "$MNT"
echo
echo "== done: unmounted; the trap stops the emulator and removes $WORK"
