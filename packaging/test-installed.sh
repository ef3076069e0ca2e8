#!/usr/bin/env bash
# Smoke test of the installed package (apt-get install ./pinfs_*.deb), with the installed files only: the
# package's contents, then pinfs-emulator on 127.0.0.1, `mount -t fuse.pinfs` through mount(8) and the
# installed /sbin/mount.fuse.pinfs, cp in, cat out, the CID checked, umount; and systemd-analyze verify
# of the installed units. Runs itself in a private mount namespace (unshare -m): nothing it mounts is
# seen outside. Needs root. Prints "N passed, N failed"; exits non-zero if any check failed.
#   packaging/test-installed.sh
set -uo pipefail

if [[ -z ${PINFS_TEST_IN_NAMESPACE:-} ]]; then
  exec unshare --mount --propagation private env PINFS_TEST_IN_NAMESPACE=1 bash "$0" "$@"
fi
[[ -d /run/mount ]] && mount -t tmpfs -o mode=0755 tmpfs /run/mount  # libmount's utab stays private

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PINFS PINFS_JWT PINFS_API_KEY PINFS_API_SECRET XDG_CONFIG_HOME XDG_CACHE_HOME CREDENTIALS_DIRECTORY
WORK=$(mktemp -d /tmp/pinfs-installed.XXXXXX)
MNT=$WORK/mnt
EMULATOR_PID=""
passed=0
failed=0

check() {  # check NAME COMMAND...: runs COMMAND, counts and reports the result
  local name=$1
  shift
  if "$@" >"$WORK/last.out" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$WORK/last.out" | tail -n 20
  fi
}

cleanup() {
  if mountpoint -q "$MNT"; then pinfs unmount --force "$MNT" >/dev/null 2>&1 || umount -l "$MNT"; fi
  if [[ -n $EMULATOR_PID ]]; then
    kill "$EMULATOR_PID" 2>/dev/null
    wait "$EMULATOR_PID" 2>/dev/null
  fi
  mountpoint -q "$MNT" || rm -rf "$WORK"
}
trap cleanup EXIT

echo "== the package's files"
check "pinfs is installed" dpkg-query -W -f='${Status}' pinfs
for f in /usr/bin/pinfs /usr/bin/pinfs-emulator /sbin/mount.fuse.pinfs; do
  check "$f is an installed program" test -x "$f"
done
check "pinfs on PATH is /usr/bin/pinfs" test "$(command -v pinfs)" = /usr/bin/pinfs
for f in /lib/systemd/system/pinfs@.service /usr/lib/systemd/user/pinfs@.service \
  /usr/share/doc/pinfs/examples/config.toml /usr/share/doc/pinfs/copyright; do
  check "$f is installed" test -s "$f"
done
for page in pinfs.1 pinfs-emulator.1 mount.fuse.pinfs.8; do
  check "man ${page%.*}(${page##*.}) is installed" man -w "${page##*.}" "${page%.*}"
done
check "pinfs --version" sh -c 'pinfs --version | grep -q "^pinfs [0-9]"'

echo "== emulator, mount(8), cp, cat, umount"
export PINFS_EMULATOR_JWT="installed-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/data" "$MNT"
pinfs-emulator --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/emulator.out" 2>"$WORK/emulator.log" &
EMULATOR_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/emulator.out" | head -n1)
  [[ -n $URL ]] && break
  sleep 0.1
done
check "pinfs-emulator listens on 127.0.0.1" test -n "$URL"

printf '%s\n' "$PINFS_EMULATOR_JWT" >"$WORK/pinata.jwt"
chmod 600 "$WORK/pinata.jwt"
cat >"$WORK/config.toml" <<TOML
[profiles.emu]
provider = "pinata"
api_url = "$URL"
gateway_url = "$URL"
jwt_file = "$WORK/pinata.jwt"
TOML
head -c 1000000 /dev/urandom >"$WORK/in.bin"
check "mount -t fuse.pinfs emu DIR -o config=…" \
  mount -t fuse.pinfs emu "$MNT" -o "config=$WORK/config.toml,cache_dir=$WORK/cache"
check "the mount is fuse.pinfs" sh -c "grep ' $MNT ' /proc/self/mountinfo | grep -q fuse.pinfs"
check "cp into the mount" cp "$WORK/in.bin" "$MNT/"
check "cat reads back the same bytes" cmp "$WORK/in.bin" "$MNT/in.bin"
check "the pin's CID is pinfs cid's" sh -c \
  "test \"\$(getfattr --only-values -n user.pinfs.cid '$MNT/in.bin')\" = \"\$(pinfs cid '$WORK/in.bin' | cut -d' ' -f1)\""
check "pinfs unmount" pinfs unmount "$MNT"
check "nothing is mounted any more" sh -c "! mountpoint -q '$MNT'"

echo "== systemd-analyze verify of the installed units"
mkdir -p "$WORK/runtime"
check "systemd-analyze verify pinfs@.service" sh -c \
  'out=$(systemd-analyze verify /lib/systemd/system/pinfs@.service 2>&1) && test -z "$out" || { echo "$out"; false; }'
check "systemd-analyze --user verify pinfs@.service" sh -c \
  "out=\$(XDG_RUNTIME_DIR='$WORK/runtime' systemd-analyze --user verify /usr/lib/systemd/user/pinfs@.service 2>&1) && test -z \"\$out\" || { echo \"\$out\"; false; }"

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
