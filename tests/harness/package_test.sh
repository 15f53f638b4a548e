#!/usr/bin/env bash
# Checks the ManagedClusterSim package the way another project uses it.
#
#   package_test.sh install BUILD_DIR EXAMPLE_DIR WORK_DIR
#     installs BUILD_DIR into WORK_DIR/prefix, checks that every header the
#     installed headers include is installed too, then configures, builds
#     and tests EXAMPLE_DIR against the prefix with find_package.
#   package_test.sh subdirectory SOURCE_DIR EXAMPLE_DIR WORK_DIR
#     configures EXAMPLE_DIR with SOURCE_DIR added by add_subdirectory, which
#     fails unless every ManagedClusterSim:: target the example links exists.
#
# The environment names the tools: CMAKE, CTEST, GENERATOR, CXX and
# LAUNCHER (a compiler launcher such as ccache; may be empty). WORK_DIR is
# emptied first and removed after a passing install run. Its path stays the
# same so that ccache, which hashes the working directory of compilations
# with debug information, can reuse the example's objects from earlier runs.
set -euo pipefail

mode=$1
tree=$2
example=$3
work=$4

rm -rf "$work"
mkdir -p "$work"

configure_example() {
  "$CMAKE" -S "$example" -B "$work/build" -G "$GENERATOR" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$LAUNCHER" "$@"
}

check_installed_includes() {
  local include=$1 missing=0 header name
  while IFS= read -r header; do
    while IFS= read -r name; do
      if [[ ! -f "$include/$name" ]]; then
        echo "package_test: ${header#"$include"/} includes $name," \
          "which is not installed" >&2
        missing=1
      fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$header")
  done < <(find "$include" -name '*.h')
  return "$missing"
}

case "$mode" in
  install)
    "$CMAKE" --install "$tree" --prefix "$work/prefix" > "$work/install.log"
    check_installed_includes "$work/prefix/include/managed_cluster_sim"
    configure_example -DCMAKE_PREFIX_PATH="$work/prefix"
    "$CMAKE" --build "$work/build" -j2
    "$CTEST" --test-dir "$work/build" --output-on-failure
    # The prefix takes hundreds of MB; a failed run keeps it for a look.
    rm -rf "$work"
    ;;
  subdirectory)
    configure_example -DMANAGED_CLUSTER_SIM_SOURCE_DIR="$tree"
    ;;
  *)
    echo "package_test: unknown mode $mode; use install or subdirectory" >&2
    exit 2
    ;;
esac
