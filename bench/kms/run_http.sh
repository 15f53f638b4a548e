#!/usr/bin/env bash
# Measures wrap and unwrap over HTTP: starts kms-mock-server on 127.0.0.1,
# runs kms_http_load RUNS times per operation and prints every run and the
# median requests per second.
#
#   bench/kms/run_http.sh [build dir] [runs] [server threads]
#
# Defaults: build-kms, 5 runs, 2 server I/O threads; 16 connections, 2 s of
# warm-up and 10 s measured per run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build-kms}
runs=${2:-5}
server_threads=${3:-2}

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

printf 'tokens:\n  - token: bench\n    role: Manager\n' > "$work/tokens.yaml"
printf 'instances:\n  - id: inst-bench\n    name: bench\n' > "$work/seed.yaml"
mkfifo "$work/stdout"
"$build/bin/kms-mock-server" --tokens "$work/tokens.yaml" \
  --seed "$work/seed.yaml" --port 0 --threads "$server_threads" \
  --log-level warn > "$work/stdout" &
server_pid=$!
# The server prints "listening on http://127.0.0.1:<port>" once it listens.
read -r line < "$work/stdout"
port=${line##*:}

# Prints the server's user + system CPU time so far, in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
ticks_per_second=$(getconf CLK_TCK)

for operation in unwrap wrap; do
  rates=()
  for ((run = 1; run <= runs; run++)); do
    before=$(server_ticks)
    result=$("$build/bin/kms_http_load" --port "$port" --token bench \
      --instance inst-bench --operation "$operation" --connections 16 \
      --duration 10 --warmup 2)
    after=$(server_ticks)
    # The server's CPU time per request, which depends far less than the
    # rate on what else runs on the machine.
    all=$(sed -n 's/.*all_requests=\([0-9]*\).*/\1/p' <<< "$result")
    rate=$(sed -n 's/.*requests_per_second=\([0-9]*\).*/\1/p' <<< "$result")
    cpu_us=$(((after - before) * 1000000 / ticks_per_second / all))
    echo "$result server_cpu_us_per_request=$cpu_us"
    rates+=("$rate")
  done
  median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  echo "median $operation requests_per_second=$median (runs: ${rates[*]})"
done
