#!/usr/bin/env bash
# Times `sim serve` to ready against a real etcd 3.4 start on the same
# machine, and measures the resident memory of the sandbox with 10,000
# Secrets beside etcd 3.4 containing 10,000 values of the same size.
#
#   bench/serve/run.sh [build dir] [starts]
#   SECRETS=N PARALLEL=N bench/serve/run.sh build 0   # memory only
#
# starts (default 20) of 0 skips the start times. SECRETS (default 10000)
# is the number of objects, PARALLEL (default 16) the requests in flight.
#
# Ready means the "Ready" line: every listener accepts and the kubeconfig is
# written. Each start is timed from just before the process is spawned to
# that line (sim serve) or to the first successful GET /health (etcd, polled
# every 2 ms). Starts alternate between sim serve on a new data directory,
# sim serve on an existing one (a restart) and etcd on a new data directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
starts=${2:-20}
sim=$build/bin/sim
etcd=${ETCD:-/usr/bin/etcd}

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Starts sim serve on $1 and prints the milliseconds until its Ready line.
# Leaves the server running as $pid.
start_sim() {
  rm -f "$work/fifo"
  mkfifo "$work/fifo"
  local begin line
  begin=$(now_ns)
  "$sim" serve --data-dir "$1" --clock simulated >"$work/fifo" 2>>"$work/sim.err" &
  pid=$!
  exec 3<"$work/fifo"
  while IFS= read -r line <&3; do
    [[ $line == Ready* ]] && break
    echo "$line" >>"$work/summary"
  done
  echo $((($(now_ns) - begin) / 1000000))
  cat <&3 >/dev/null &
  exec 3<&-
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

start_etcd() {
  local begin
  begin=$(now_ns)
  "$etcd" --data-dir "$1" --name bench \
    --listen-client-urls http://127.0.0.1:23790 \
    --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 \
    --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster bench=http://127.0.0.1:23800 \
    --log-level error >/dev/null 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:23790/health >/dev/null 2>&1; do sleep 0.002; done
  echo $((($(now_ns) - begin) / 1000000))
}

if ((starts > 0)); then
  : >"$work/fresh"; : >"$work/restart"; : >"$work/etcd"
  "$sim" serve --help >/dev/null # page the binary in before timing
  for i in $(seq "$starts"); do
    start_sim "$work/sim-$i" >>"$work/fresh"; stop
    start_sim "$work/sim-$i" >>"$work/restart"; stop
    start_etcd "$work/etcd-$i" >>"$work/etcd"; stop
  done
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "sim serve, new data directory (ms): $(tr '\n' ' ' <"$work/fresh")"
  echo "sim serve, restart (ms):            $(tr '\n' ' ' <"$work/restart")"
  echo "etcd $("$etcd" --version | head -1 | awk '{print $3}'), new data directory (ms): $(tr '\n' ' ' <"$work/etcd")"
  echo "median: sim serve new $(median <"$work/fresh") ms, restart $(median <"$work/restart") ms, etcd $(median <"$work/etcd") ms"
fi

# Resident memory with 10,000 Secrets on a KMS-encrypted cluster, beside
# etcd containing 10,000 values of the size that the sandbox stores.
secrets=${SECRETS:-10000}
parallel=${PARALLEL:-16}
memory() { # PID: "VmRSS N MiB, VmHWM N MiB"
  awk '/^VmRSS/ {rss = int($2 / 1024)} /^VmHWM/ {hwm = int($2 / 1024)}
       END {printf "VmRSS %d MiB, VmHWM %d MiB", rss, hwm}' "/proc/$1/status"
}
# check_codes FILE EXPECTED: fails unless FILE has $secrets lines, each the
# HTTP status EXPECTED.
check_codes() {
  local bad
  bad=$(grep -cv "^$2\$" "$1" || true)
  if [[ $bad != 0 || $(wc -l <"$1") != "$secrets" ]]; then
    echo "error: $bad of $(wc -l <"$1") requests did not return $2:" >&2
    sort "$1" | uniq -c >&2
    exit 1
  fi
}

: >"$work/summary"
start_sim "$work/memory" >/dev/null
control=$(sed -n 's/^Control API: *//p' "$work/summary")
api=$(sed -n 's/^  API server: *//p' "$work/summary" | head -1)
token=$(sed -n 's/^  token: *//p' "$work/summary" | head -1)
etcd_gateway=$(sed -n 's/^  etcd gateway: *//p' "$work/summary" | head -1)
echo "sim serve after start: $(memory "$pid")"
curl -sf -X POST "$control/v1/kms/instances" -d '{"name":"kp"}' >/dev/null
curl -sf -X POST "$control/v1/kms/instances/kp/keys" -d '{"name":"crk"}' >/dev/null
curl -sf -X POST "$control/v1/clusters/mycluster/kms" -d '{"instance":"kp","key":"crk"}' >/dev/null
curl -sf -X POST "$control/v1/clock" -d '{"advance":"15m"}' >/dev/null
# The creates run on $parallel kept-alive connections, because the sandbox
# syncs each write before it replies and groups concurrent writes.
for i in $(seq "$secrets"); do
  # `next` separates requests; one after the last would start an empty one.
  [[ $i == 1 ]] || echo next
  printf 'url = "%s/api/v1/namespaces/default/secrets"\nrequest = POST\nheader = "content-type: application/json"\nheader = "authorization: Bearer %s"\ndata = "{\\"metadata\\":{\\"name\\":\\"secret-%05d\\"},\\"data\\":{\\"password\\":\\"%s\\"}}"\ninsecure\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\n' \
    "$api" "$token" "$i" "$(printf 'value-%05d-padding-to-64-bytes-of-plaintext-data-xxxxxxxx' "$i" | base64 -w0)"
done >"$work/curl.conf"
begin=$(now_ns)
curl -s --no-progress-meter --parallel --parallel-max "$parallel" -K "$work/curl.conf" >"$work/codes"
elapsed=$((($(now_ns) - begin) / 1000000))
check_codes "$work/codes" 201
echo "sim serve: $secrets creates over HTTPS, $parallel at a time: $elapsed ms"
echo "sim serve after $secrets Secrets: $(memory "$pid")"
count=$(curl -sk -H "authorization: Bearer $token" "$api/api/v1/namespaces/default/secrets" | jq '.items | length')
[[ $count == "$secrets" ]] || { echo "error: listed $count Secrets, expected $secrets" >&2; exit 1; }
echo "sim serve after listing all $count: $(memory "$pid")"
# The stored bytes of one Secret, read through the cluster's etcd gateway.
stored_key=$(printf '/registry/secrets/default/secret-00001' | base64 -w0)
stored_size=$(curl -sf -X POST "$etcd_gateway/v3/kv/range" -d "{\"key\":\"$stored_key\"}" |
  jq -r '.kvs[0].value' | base64 -d | wc -c)
echo "stored Secret size: $stored_size bytes"
du -sh "$work/memory" | awk '{print "sim serve data directory: " $1}'
stop

start_etcd "$work/etcd-memory" >/dev/null
echo "etcd after start: $(memory "$pid")"
value=$(head -c "$stored_size" /dev/urandom | base64 -w0 | head -c "$stored_size" | base64 -w0)
for i in $(seq "$secrets"); do
  [[ $i == 1 ]] || echo next
  printf 'url = "http://127.0.0.1:23790/v3/kv/put"\nrequest = POST\ndata = "{\\"key\\":\\"%s\\",\\"value\\":\\"%s\\"}"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\n' \
    "$(printf '/registry/secrets/default/secret-%05d' "$i" | base64 -w0)" "$value"
done >"$work/etcd.conf"
begin=$(now_ns)
curl -s --no-progress-meter --parallel --parallel-max "$parallel" -K "$work/etcd.conf" >"$work/codes"
elapsed=$((($(now_ns) - begin) / 1000000))
check_codes "$work/codes" 200
echo "etcd: $secrets puts of $stored_size bytes, $parallel at a time: $elapsed ms"
echo "etcd after $secrets values: $(memory "$pid")"
prefix=$(printf '/registry/secrets/' | base64 -w0)
range_end=$(printf '/registry/secrets0' | base64 -w0)
count=$(curl -s -X POST http://127.0.0.1:23790/v3/kv/range \
  -d "{\"key\":\"$prefix\",\"range_end\":\"$range_end\"}" | jq '.kvs | length')
echo "etcd after a range over all $count: $(memory "$pid")"
du -sh "$work/etcd-memory" | awk '{print "etcd data directory: " $1}'
stop
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
