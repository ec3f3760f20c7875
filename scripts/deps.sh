#!/usr/bin/env bash
# Installs the Debian 12 packages Troupe needs, only those missing (through
# sudo when not root). Extra package names may be given as arguments.
set -euo pipefail
packages=(build-essential cmake pkg-config libcaf-dev librdkafka-dev libpqxx-dev
  libmicrohttpd-dev libcpp-httplib-dev nlohmann-json3-dev libspdlog-dev libcli11-dev prometheus-cpp-dev postgresql-15
  postgresql-client-15 kcat python3 curl procps chromium
  clang libfuzzer-14-dev libclang-rt-14-dev libjemalloc-dev "$@")
# jemalloc: troupe-sim's allocator (apps/troupe-sim/CMakeLists.txt).
# libmicrohttpd serves the node's HTTP API; cpp-httplib is troupe-load's client.
# prometheus-cpp: only its core library is linked (the registry behind /metrics).
# clang + libFuzzer build the fuzz targets (fuzz/); the sanitizer and fuzzer
# runtimes (libclang-rt-14-dev) are only recommended by clang, so named here.
# The web UI's browser test drives Chromium from Node.js (playwright-core).
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
