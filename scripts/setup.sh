#!/usr/bin/env bash
# Installs the Debian packages this project needs (only those missing) and
# builds it into build/. Sourced by scripts/replay and scripts/test.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build ccache pkg-config
  libboost-dev libboost-system-dev libssl-dev librocksdb-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libprotobuf-dev protobuf-compiler libgtest-dev libsodium-dev
  etcd-server nodejs wrk
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# Node.js builds from other sources bundle npm and conflict with Debian's.
if ! command -v npm > /dev/null; then
  missing+=(npm)
fi
# The apiserver tests drive a real kubectl; any installed one will do,
# else Debian's.
if ! command -v kubectl > /dev/null; then
  missing+=(kubernetes-client)
fi
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Test clients from the npm registry, pinned by committed lockfiles.
if [[ "${SIM_SETUP_NPM:-1}" == 1 ]]; then
  while IFS= read -r lock; do
    dir=$(dirname "$lock")
    if [[ ! -d "$dir/node_modules" || "$lock" -nt "$dir/node_modules" ]]; then
      echo "setup: npm ci in ${dir#"$root"/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
      touch "$dir/node_modules"
    fi
  done < <(find "$root/tests" -name package-lock.json -not -path "*/node_modules/*")
fi

cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  > "$root/build-configure.log" || { cat "$root/build-configure.log"; exit 1; }
# Arguments name the targets to build; none builds everything.
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$root/build" -j"$(nproc)" "${targets[@]}"
