#!/usr/bin/env bash
# One-time native setup for Pilot.MLNet on Linux. Idempotent: does nothing when nothing is needed.
#
# 1. TorchSharp 0.107's native glue (libLibTorchSharp.so) needs the C++ runtime of GCC 13+
#    (symbol version GLIBCXX_3.4.32). Debian 12 ships GCC 12's. When the loaded libstdc++ lacks
#    it and this is Debian 12, we add Debian's `trixie` suite at a low pin priority (so nothing
#    else is upgraded from it), reusing the URI of the Debian source apt already uses, and install
#    libstdc++6 from it. Ubuntu 24.04+, Debian 13+, Windows and macOS need nothing.
# 2. With --data, also installs the Debian package dataset-fashion-mnist (full FashionMNIST, used by
#    `pilot train` when present and by `pilot bench paper`). Tests do not need it.
#
# Usage: bash eng/setup.sh [--data]
set -euo pipefail

want_data=0
for a in "$@"; do
  case $a in
    --data) want_data=1 ;;
    *) echo "usage: bash eng/setup.sh [--data]" >&2; exit 2 ;;
  esac
done

[ "$(uname -s)" = Linux ] || { echo "setup: nothing to do on $(uname -s)"; exit 0; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

has_glibcxx() {
  local lib
  lib=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
  [ -n "$lib" ] || lib=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6/ {print $NF; exit}')
  [ -n "$lib" ] && grep -q 'GLIBCXX_3\.4\.32' "$lib"
}

apt_updated=0
apt_update() { [ $apt_updated -eq 1 ] || { $SUDO apt-get update -qq; apt_updated=1; }; }

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
  echo "setup: adding Debian trixie (pin 100) from $uri for libstdc++6"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
    | $SUDO tee /etc/apt/sources.list.d/pilot-trixie.sources >/dev/null
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' \
    | $SUDO tee /etc/apt/preferences.d/pilot-trixie >/dev/null
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t trixie libstdc++6 >/dev/null
  ldconfig 2>/dev/null || true
  has_glibcxx || { echo "setup: libstdc++6 from trixie did not provide GLIBCXX_3.4.32" >&2; exit 1; }
  echo "setup: libstdc++6 from trixie installed"
fi

if [ $want_data -eq 1 ]; then
  if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "setup: dataset-fashion-mnist already installed"
  else
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
    echo "setup: dataset-fashion-mnist installed"
  fi
fi
