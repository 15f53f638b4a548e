#!/usr/bin/env bash
# Times `sim serve` to ready against a real etcd 3.4 start on the same
# machine, and measures the sandbox's resident memory with 10,000 Secrets.
#
#   bench/serve/run.sh [build dir] [starts]
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

# Resident memory with 10,000 Secrets, on a KMS-encrypted cluster.
: >"$work/summary"
start_sim "$work/memory" >/dev/null
control=$(sed -n 's/^Control API: *//p' "$work/summary")
api=$(sed -n 's/^  API server: *//p' "$work/summary" | head -1)
token=$(sed -n 's/^  token: *//p' "$work/summary" | head -1)
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status"; }
echo "RSS after start: $(rss) MB"
curl -sf -X POST "$control/v1/kms/instances" -d '{"name":"kp"}' >/dev/null
curl -sf -X POST "$control/v1/kms/instances/kp/keys" -d '{"name":"crk"}' >/dev/null
curl -sf -X POST "$control/v1/clusters/mycluster/kms" -d '{"instance":"kp","key":"crk"}' >/dev/null
curl -sf -X POST "$control/v1/clock" -d '{"advance":"15m"}' >/dev/null
# One curl process sends every request over one kept-alive connection.
for i in $(seq 10000); do
  # `next` separates requests; one after the last would start an empty one.
  [[ $i == 1 ]] || echo next
  printf 'url = "%s/api/v1/namespaces/default/secrets"\nrequest = POST\nheader = "content-type: application/json"\nheader = "authorization: Bearer %s"\ndata = "{\\"metadata\\":{\\"name\\":\\"secret-%05d\\"},\\"data\\":{\\"password\\":\\"%s\\"}}"\noutput = /dev/null\n' \
    "$api" "$token" "$i" "$(printf 'value-%05d-padding-to-64-bytes-of-plaintext-data-xxxxxxxx' "$i" | base64 -w0)"
done >"$work/curl.conf"
begin=$(now_ns)
curl -sk -K "$work/curl.conf"
echo "10,000 creates over HTTPS: $((($(now_ns) - begin) / 1000000)) ms"
echo "RSS after 10,000 Secrets: $(rss) MB"
count=$(curl -sk -H "authorization: Bearer $token" "$api/api/v1/secrets" | jq '.items | length')
echo "listed $count Secrets; RSS after the list: $(rss) MB"
stop
