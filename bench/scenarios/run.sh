#!/usr/bin/env bash
# Measures scenario replay speed: the whole library with --jobs 1 and 2, a
# 10,000-step soak scenario, and single advances of 30 and 365 virtual days
# with KMS enabled. Needs a built tree (./scripts/replay or
# ./scripts/test) and hyperfine (installed from Debian if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sim="$root/build/bin/sim"
[[ -x "$sim" ]] || { echo "build first: $root/scripts/replay" >&2; exit 1; }
command -v hyperfine > /dev/null || apt-get install -y -qq hyperfine

cd "$root"
steps=$("$sim" replay bench/scenarios/soak-10000-steps.yaml |
  sed -n 's/^PASS .*(\([0-9]*\)\/.*/\1/p')
echo "soak scenario: $steps steps"

hyperfine --warmup 2 --runs 15 --export-json /tmp/replay-bench.json \
  "$sim replay scenarios/ --jobs 2" \
  "$sim replay scenarios/ --jobs 1" \
  "$sim replay bench/scenarios/soak-10000-steps.yaml" \
  "$sim replay bench/scenarios/advance-30d-kms.yaml" \
  "$sim replay bench/scenarios/advance-365d-kms.yaml"

python3 - "$steps" <<'PY'
import json, sys
steps = int(sys.argv[1])
for r in json.load(open("/tmp/replay-bench.json"))["results"]:
    user, system = r["user"] * 1000, r["system"] * 1000
    line = (f"{r['command']}: median {r['median']*1000:.0f} ms, "
            f"mean CPU {user:.0f} ms user + {system:.0f} ms system")
    if "soak" in r["command"]:
        line += f", {steps / r['median']:,.0f} steps/s"
    print(line)
PY
