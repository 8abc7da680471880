#!/usr/bin/env bash
# Native setup for Pilot.MLNet on Linux. Idempotent: does nothing when nothing is needed. The build runs it by itself
# when the C++ runtime is missing (eng/NativeRuntime.targets); run it by hand if you prefer, or for --data.
#
# 1. TorchSharp 0.107's native glue (libLibTorchSharp.so) needs the C++ runtime of GCC 13+
#    (symbol version GLIBCXX_3.4.32). Debian 12 ships GCC 12's. When the loaded libstdc++ lacks
#    it and this is Debian 12, we add Debian's `trixie` suite at a low pin priority (so only
#    libstdc++6 and what it needs, such as libc6, come from it), reusing the URI of the Debian source
#    apt already uses, and install libstdc++6 from it. Ubuntu 24.04+, Debian 13+, Windows and macOS need nothing.
# 2. With --data, also installs the Debian package dataset-fashion-mnist (full FashionMNIST, used by
#    `pilot train` when present, by `pilot bench paper` and by three tests that CI runs).
#
# Usage: bash eng/setup.sh [--data] [--check] [--dry-run]
#   --check    only report: exit 0 when the C++ runtime is present, 3 when it is missing (nothing installed)
#   --dry-run  print what would be installed and written, change nothing
# Environment: PILOT_LIBSTDCXX=/path/libstdc++.so.6 probes that file instead of the one the dynamic loader finds;
#   PILOT_SETUP_NONINTERACTIVE=1 makes sudo fail instead of asking for a password (how the build runs it).
set -euo pipefail

want_data=0 check_only=0 dry_run=0
for a in "$@"; do
  case $a in
    --data) want_data=1 ;;
    --check) check_only=1 ;;
    --dry-run) dry_run=1 ;;
    *) echo "usage: bash eng/setup.sh [--data] [--check] [--dry-run]" >&2; exit 2 ;;
  esac
done

[ "$(uname -s)" = Linux ] || { echo "setup: nothing to do on $(uname -s)"; exit 0; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if [ "${PILOT_SETUP_NONINTERACTIVE:-0}" = 1 ]; then SUDO="sudo -n"; else SUDO="sudo"; fi
fi

# The libstdc++ the dynamic loader picks (x86-64 first), or PILOT_LIBSTDCXX.
libstdcxx() {
  local lib=${PILOT_LIBSTDCXX:-}
  [ -n "$lib" ] || lib=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
  [ -n "$lib" ] || lib=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6/ {print $NF; exit}')
  echo "$lib"
}

has_glibcxx() {
  local lib
  lib=$(libstdcxx)
  [ -n "$lib" ] && [ -f "$lib" ] && grep -q 'GLIBCXX_3\.4\.32' "$lib"
}

# Runs a command, or prints it under --dry-run.
run() { if [ $dry_run -eq 1 ]; then echo "setup (dry run): $*"; else "$@"; fi; }
# Writes stdin to a root-owned file, or prints it under --dry-run.
write_root_file() {
  if [ $dry_run -eq 1 ]; then echo "setup (dry run): write $1:"; sed 's/^/    /'; else $SUDO tee "$1" >/dev/null; fi
}

if [ $check_only -eq 1 ]; then
  if has_glibcxx; then
    echo "setup: $(libstdcxx) provides GLIBCXX_3.4.32"; exit 0
  fi
  echo "setup: ${PILOT_LIBSTDCXX:-$(libstdcxx)} lacks GLIBCXX_3.4.32 (or no libstdc++.so.6 was found)"; exit 3
fi

apt_updated=0
apt_update() { [ $apt_updated -eq 1 ] || { run $SUDO apt-get update -qq; apt_updated=1; }; }

if has_glibcxx; then
  echo "setup: libstdc++ already provides GLIBCXX_3.4.32"
else
  . /etc/os-release
  if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
    echo "setup: libstdc++ lacks GLIBCXX_3.4.32 and this is ${PRETTY_NAME:-an unknown system};" >&2
    echo "       install the C++ runtime of GCC 13 or newer (libstdc++6) with your package manager." >&2
    exit 1
  fi
  # The URI of the Debian archive apt already uses (deb822 or one-line format); never a fixed host.
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || { echo "setup: no Debian source found in apt's configuration" >&2; exit 1; }
  echo "setup: TorchSharp needs libstdc++ with GLIBCXX_3.4.32 (GCC 13+); Debian 12 has GCC 12's."
  echo "setup: installing libstdc++6 from Debian trixie, added from $uri at pin priority 100 (only it and its dependencies, e.g. libc6, come from trixie)"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
    | write_root_file /etc/apt/sources.list.d/pilot-trixie.sources
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' \
    | write_root_file /etc/apt/preferences.d/pilot-trixie
  apt_update
  run env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t trixie libstdc++6
  [ $dry_run -eq 1 ] && exit 0
  ldconfig 2>/dev/null || true
  has_glibcxx || { echo "setup: libstdc++6 from trixie did not provide GLIBCXX_3.4.32" >&2; exit 1; }
  echo "setup: libstdc++6 from trixie installed"
fi

if [ $want_data -eq 1 ]; then
  if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "setup: dataset-fashion-mnist already installed"
  else
    apt_update
    run env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist
    echo "setup: dataset-fashion-mnist installed"
  fi
fi
