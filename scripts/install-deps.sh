#!/usr/bin/env bash
# Installs what punch needs from Debian 12's packages, and only what is missing.
# Run as root. Safe to run again: it does nothing when everything is there.
set -euo pipefail

PACKAGES=(
  # build
  gcc meson ninja-build pkg-config
  libglib2.0-dev libnice-dev libgnutls28-dev libsoup-3.0-dev libjson-glib-dev libhiredis-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev
  # tests: real servers, clients and tools
  coturn gnutls-bin python3-websockets iptables iproute2 procps
  redis-server
  # punch check against a classic RFC 3489 server (stund) and its own client
  stun-server stun-client
  # the data-path benchmark and the hole-hygiene lab test
  tcpdump conntrack python3-scapy
  # quality: sanitizers' runtime, valgrind, libFuzzer, the code style
  valgrind clang libclang-rt-14-dev clang-format
  # lab delay (NFQUEUE)
  libnetfilter-queue-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
