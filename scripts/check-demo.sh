#!/usr/bin/env bash
# Checks the README's first command as a newcomer uses it: `scripts/demo.sh` cleans up after itself, and
# `scripts/demo.sh --keep` leaves the emulator and the mount up, says how to look around, and its stop
# script ends both. Uses the build tree of scripts/test.sh (PINFS_BUILD_DIR, default build/).
# Prints "N passed, N failed"; exits non-zero if any check failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PINFS_BUILD_DIR=${PINFS_BUILD_DIR:-$ROOT/build}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/pinfs-check-demo.XXXXXX")
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >"$OUT/last" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$OUT/last" | tail -n 20
  fi
}

check "scripts/demo.sh runs" bash "$ROOT/scripts/demo.sh"
cp "$OUT/last" "$OUT/plain"
work=$(sed -n 's/.*removes \(\/[^ ]*pinfs-demo\.[A-Za-z0-9]*\).*/\1/p' "$OUT/plain" | head -n1)
check "it shows the file it copied in" grep -q "hello.txt" "$OUT/plain"
check "it left nothing behind" test -n "$work" -a ! -e "$work"

check "scripts/demo.sh --keep runs" bash "$ROOT/scripts/demo.sh" --keep
cp "$OUT/last" "$OUT/keep"
stop=$(sed -n 's/^To stop: \([^ ]*stop\.sh\).*/\1/p' "$OUT/keep")
mnt=$(sed -n 's/.* the mount at \([^ ]*\) are up.*/\1/p' "$OUT/keep")
pid=$(sed -n 's/.*the emulator (pid \([0-9]*\),.*/\1/p' "$OUT/keep")
check "it prints how to stop" test -n "$stop" -a -x "$stop"
check "it prints how to look around" grep -q "getfattr -d" "$OUT/keep"
check "the mount is up after the script ended" mountpoint -q "$mnt"
check "the emulator is up after the script ended" kill -0 "$pid"
check "the mount lists the demo's file" ls "$mnt/hello.txt"
check "a file copied in afterwards reads back" sh -c "echo later > '$OUT/later.txt' && cp '$OUT/later.txt' '$mnt/' && test \"\$(cat '$mnt/later.txt')\" = later"
check "the stop script stops everything" "$stop"
check "the mount is gone" sh -c "! mountpoint -q '$mnt'"
check "the emulator is gone" sh -c "! kill -0 '$pid' 2>/dev/null"
check "the demo's folder is gone" sh -c "! test -e '$(dirname "$stop")'"

# Whatever failed above, leave nothing running.
if [[ -n $mnt ]] && mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -uz "$mnt"; fi
if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; fi
rm -rf "$OUT"
echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
