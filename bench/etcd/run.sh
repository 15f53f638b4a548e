#!/usr/bin/env bash
# Puts and ranges over the etcd v3 JSON gateway, our gateway on RocksDB
# beside a real etcd 3.4, in one run. Starts both on free loopback ports
# with data in a temporary folder. Both sync every acknowledged put: our
# store syncs each group commit and etcd fsyncs its WAL. wrk drives each with
# 16 connections: put.lua (256-byte values), then range.lua (one key).
# Every round measures both servers, alternating which goes first, and the
# script prints each result and the medians. Then it runs the in-process
# PutBatch benchmark (etcd_bench_store) ROUNDS times.
#
#   bench/etcd/run.sh [build dir] [rounds] [seconds per measurement]
#
# Defaults: build, 5 rounds, 10 s. Needs wrk (scripts/setup.sh installs
# it) and etcd 3.4 at $ETCD_BIN, /usr/bin/etcd by default.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
rounds=${2:-5}
seconds=${3:-10}
etcd_bin=${ETCD_BIN:-/usr/bin/etcd}
gateway_bin=$build/bin/etcd_bench_gateway
store_bin=$build/bin/etcd_bench_store

for tool in wrk curl "$etcd_bin" "$gateway_bin" "$store_bin"; do
  if ! command -v "$tool" > /dev/null; then
    echo "run.sh: $tool not found; run scripts/setup.sh first" >&2
    exit 1
  fi
done
export LUA_PATH="$here/?.lua;;"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Prints a loopback port that nothing listens on.
used_ports=" "
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    [[ "$used_ports" == *" $port "* ]] && continue
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      used_ports+="$port "
      echo "$port"
      return
    fi
  done
}

# Waits until the server on `port` returns HTTP 200 for a range.
wait_serving() {
  local port=$1
  for ((try = 0; try < 100; try++)); do
    if curl -sf -o /dev/null -X POST -d '{"key":"AA=="}' \
        "http://127.0.0.1:$port/v3/kv/range"; then
      return
    fi
    sleep 0.1
  done
  echo "run.sh: nothing serves on port $port" >&2
  exit 1
}

ours_port=$(free_port)
"$gateway_bin" "$work/ours" "$ours_port" > "$work/ours.log" 2>&1 &
pids+=($!)
ours_pid=$!

etcd_port=$(free_port)
peer_port=$(free_port)
"$etcd_bin" --name bench --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "bench=http://127.0.0.1:$peer_port" \
  --log-level error > "$work/etcd.log" 2>&1 &
pids+=($!)
etcd_pid=$!

wait_serving "$ours_port"
wait_serving "$etcd_port"
declare -A port=([ours]=$ours_port [etcd]=$etcd_port)
declare -A pid=([ours]=$ours_pid [etcd]=$etcd_pid)

# Prints a server's user + system CPU time so far, in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

# Runs wrk with script $2 against server $1 for $3 seconds and prints its
# result line plus the server's CPU time per request.
measure() {
  local server=$1 script=$2 duration=$3 before after out requests
  before=$(server_ticks "${pid[$server]}")
  out=$(wrk -t2 -c16 -d"${duration}s" --timeout 10s -s "$here/$script" \
    "http://127.0.0.1:${port[$server]}")
  after=$(server_ticks "${pid[$server]}")
  out=$(grep '^result ' <<< "$out")
  requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<< "$out")
  if ! grep -q ' errors=0 bad=0$' <<< "$out"; then
    echo "run.sh: $server $script had failed requests: $out" >&2
    exit 1
  fi
  echo "$out server_cpu_us=$(((after - before) * 1000000 / \
ticks_per_second / requests))"
}

# Writes the keys that range.lua reads, "bench/range/000000" to
# "bench/range/000999" with 256-byte values, in transactions of 100 puts,
# and checks that all 1,000 are there.
preload_range_keys() {
  local port=$1 value ops start end count i key
  value=$(head -c 256 /dev/zero | tr '\0' v | base64 -w0)
  for ((start = 0; start < 1000; start += 100)); do
    ops=""
    for ((i = start; i < start + 100; i++)); do
      key=$(printf 'bench/range/%06d' "$i" | base64 -w0)
      ops+="${ops:+,}{\"request_put\":{\"key\":\"$key\",\"value\":\"$value\"}}"
    done
    curl -sf -o /dev/null -X POST -d "{\"success\":[$ops]}" \
      "http://127.0.0.1:$port/v3/kv/txn"
  done
  start=$(printf 'bench/range/' | base64 -w0)
  end=$(printf 'bench/range0' | base64 -w0)
  count=$(curl -sf -X POST "http://127.0.0.1:$port/v3/kv/range" \
    -d "{\"key\":\"$start\",\"range_end\":\"$end\",\"count_only\":true}")
  if [[ "$count" != *'"count":"1000"'* ]]; then
    echo "run.sh: preloading range keys on port $port failed: $count" >&2
    exit 1
  fi
}

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< "$2"; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for server in ours etcd; do
  preload_range_keys "${port[$server]}"
  measure "$server" put.lua 3 > /dev/null  # warm-up
done

declare -A rps p99
for ((round = 1; round <= rounds; round++)); do
  order=(ours etcd)
  ((round % 2 == 0)) && order=(etcd ours)
  for script in put.lua range.lua; do
    for server in "${order[@]}"; do
      line=$(measure "$server" "$script" "$seconds")
      echo "round $round ${script%.lua} $server load=$(cut -d' ' -f1 \
/proc/loadavg) ${line#result }"
      rps[$server.$script]+="$(field rps "$line") "
      p99[$server.$script]+="$(field p99_ms "$line") "
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

for script in put.lua range.lua; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  {
    ours_rps=$(median ${rps[ours.$script]})
    etcd_rps=$(median ${rps[etcd.$script]})
    ours_p99=$(median ${p99[ours.$script]})
    etcd_p99=$(median ${p99[etcd.$script]})
  }
  echo "median ${script%.lua}: ours ${ours_rps} req/s p99 ${ours_p99} ms," \
    "etcd ${etcd_rps} req/s p99 ${etcd_p99} ms," \
    "throughput ratio $(awk "BEGIN {printf \"%.2f\", $ours_rps / $etcd_rps}")"
done

# In process: 16 writers, 256 puts per PutBatch call, each put synced.
batch_rates=()
for ((round = 1; round <= rounds; round++)); do
  rm -rf "$work/batch"
  line=$("$store_bin" "$work/batch" 16 5 256)
  echo "putbatch round $round load=$(cut -d' ' -f1 /proc/loadavg) $line"
  batch_rates+=("$(sed -n 's/.*puts_per_s \([0-9]*\).*/\1/p' <<< "$line")")
done
echo "median putbatch: $(median "${batch_rates[@]}") puts/s"
