#!/usr/bin/env bash
# Installs every Debian package pinfs needs to build, test and benchmark.
# Used by .ci/run and by the README; safe to run again (apt skips what is there).
set -euo pipefail

packages=(
  # packaging: man pages (scdoc, man-db renders them in tests), the .deb (dpkg-shlibdeps), lintian, and
  # systemd-analyze verify of the units and systemd-nspawn to run them under systemd
  scdoc man-db dpkg-dev lintian systemd systemd-container
  # build
  build-essential cmake pkg-config clang-format git
  # libraries (DESIGN.md §6)
  libfuse3-dev libcurl4-openssl-dev rapidjson-dev libspdlog-dev libssl-dev
  libsqlite3-dev libcli11-dev libtomlplusplus-dev libcpp-httplib-dev libsystemd-dev
  libgtest-dev libgmock-dev
  # fuzzing (scripts/fuzz.sh): clang with libc++ (std::expected) and the libFuzzer runtime
  clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev
  # runtime and tests: FUSE mounts, xattrs, reference tools
  fuse3 attr curl rsync ipfs-cid openssl
  # the everyday-tools mount suites (tests/mount/everyday_*): vim/vi and python3 run there
  vim python3
  # bench/run.sh: reference tools (rclone mount + serve webdav, aria2c), JSON replies, profiling
  rclone aria2 jq linux-perf
)
# Node.js + npm run the Pinata SDK conformance test. The machine usually brings them (a nodesource build,
# which Debian's npm package conflicts with); only where they are missing do Debian's come in.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
