#!/usr/bin/env bash
# The managed service's documented procedures, typed as a person would
# against `sim serve`: `sim ks` commands on the running sandbox, the Key
# Protect REST API with curl, kubectl through the kubeconfig, and the
# control API to move the simulated clock instead of waiting.
#
#   sandbox_test.sh SIM_BINARY CASE
#
# CASE is one of the functions named case_* below. Each starts its own
# sandbox in a temporary directory and stops it with SIGTERM.
set -euo pipefail

SIM=$1
CASE=$2
WORK=$(mktemp -d)
SERVE_PID=
DRAIN_PID=
export HOME=$WORK/home # kubectl's discovery cache
mkdir -p "$HOME"
unset SIM_SANDBOX KUBECONFIG SIM_KS_STATE SIM_KS_USER

cleanup() {
  if [[ -n $SERVE_PID ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  # KEEP_WORK=1 keeps the data directory and logs for a post-mortem.
  if [[ -n ${KEEP_WORK:-} ]]; then
    echo "kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL ($CASE): $*" >&2
  if [[ -f $WORK/serve.err ]]; then
    echo "--- sim serve stderr:" >&2
    tail -20 "$WORK/serve.err" >&2
  fi
  exit 1
}

# expect_contains TEXT NEEDLE [WHAT]
expect_contains() {
  [[ $1 == *"$2"* ]] || fail "${3:-output} does not contain '$2'; it was:
$1"
}
expect_not_contains() {
  [[ $1 != *"$2"* ]] || fail "${3:-output} contains '$2'; it was:
$1"
}

# Starts `sim serve` on $WORK/data with the given flags and waits for its
# "Ready" line, reading its output through a FIFO (no polling).
start_sandbox() {
  rm -f "$WORK/fifo"
  mkfifo "$WORK/fifo"
  "$SIM" serve --data-dir "$WORK/data" "$@" >"$WORK/fifo" 2>>"$WORK/serve.err" &
  SERVE_PID=$!
  exec 3<"$WORK/fifo"
  : >"$WORK/summary"
  local line=
  while IFS= read -r line <&3; do
    echo "$line" >>"$WORK/summary"
    [[ $line == Ready* ]] && break
  done
  [[ $line == Ready* ]] || fail "sim serve did not start: $(cat "$WORK/serve.err")"
  cat <&3 >>"$WORK/summary" &
  DRAIN_PID=$!
  exec 3<&-
  CONTROL=$(sed -n 's/^Control API: *//p' "$WORK/summary")
  KMS=$(sed -n 's/^Key Protect API: *//p' "$WORK/summary")
  KMS_TOKEN=$(sed -n 's/^  bearer token: *//p' "$WORK/summary")
  export SIM_SANDBOX=$CONTROL
  [[ -n $CONTROL && -n $KMS && -n $KMS_TOKEN ]] || fail "summary incomplete: $(cat "$WORK/summary")"
}

# Stops the sandbox with SIGTERM and checks that it exits cleanly.
stop_sandbox() {
  kill -TERM "$SERVE_PID"
  local code=0
  wait "$SERVE_PID" || code=$?
  wait "$DRAIN_PID" || true
  SERVE_PID=
  [[ $code == 0 ]] || fail "sim serve exited with $code after SIGTERM"
  expect_contains "$(cat "$WORK/summary")" "Stopped" "sim serve output"
}

# ctl METHOD PATH [JSON]: the control API; prints the body, then the HTTP
# status on the last line.
ctl() {
  curl -sS -X "$1" "$CONTROL$2" -H 'content-type: application/json' \
    ${3:+--data "$3"} -w '\n%{http_code}'
}
ctl_ok() {
  local out
  out=$(ctl "$@")
  [[ ${out##*$'\n'} == 2* ]] || fail "$1 $2 failed: $out"
  echo "${out%$'\n'*}"
}
advance() { ctl_ok POST /v1/clock "{\"advance\": \"$1\"}" >/dev/null; }

# kp METHOD PATH INSTANCE [JSON]: the Key Protect REST API, as its users
# call it.
kp() {
  curl -sS -X "$1" "$KMS$2" -H "authorization: Bearer $KMS_TOKEN" \
    -H "bluemix-instance: $3" -H 'content-type: application/json' \
    ${4:+--data "$4"}
}
create_root_key() { # INSTANCE NAME -> key id
  kp POST /api/v2/keys "$1" "{\"metadata\":{\"collectionType\":\"application/vnd.ibm.kms.key+json\",\"collectionTotal\":1},\"resources\":[{\"type\":\"application/vnd.ibm.kms.key+json\",\"name\":\"$2\",\"extractable\":false}]}" |
    jq -r '.resources[0].id'
}

# The stored bytes of a Secret, read through the cluster's etcd gateway.
stored_secret() { # CLUSTER NAMESPACE NAME
  local etcd key
  etcd=$(ctl_ok GET "/v1/clusters/$1" | jq -r .etcdURL)
  key=$(printf '/registry/secrets/%s/%s' "$2" "$3" | base64 -w0)
  curl -sS -X POST "$etcd/v3/kv/range" --data "{\"key\": \"$key\"}" |
    jq -r '.kvs[0].value' | base64 -d | head -c 80
}

create_instance() { # NAME -> instance id
  "$SIM" ks kms instance create --name "$1" --output json | jq -r .id
}

# Enables KMS on CLUSTER with a new root key and waits (in virtual time)
# for Ready. Sets INSTANCE and ROOT_KEY.
enable_kms() { # CLUSTER KEY_NAME
  [[ -n ${INSTANCE:-} ]] || INSTANCE=$(create_instance kp)
  ROOT_KEY=$(create_root_key "$INSTANCE" "$2")
  "$SIM" ks kms enable -c "$1" --instance-id "$INSTANCE" --crk "$ROOT_KEY" >/dev/null
  advance 15m
  expect_contains "$("$SIM" ks cluster get -c "$1")" "Master Status: Ready"
}

use_cluster() { # CLUSTER: `ks cluster config` and export its KUBECONFIG
  local out
  out=$("$SIM" ks cluster config -c "$1")
  expect_contains "$out" "export KUBECONFIG="
  export KUBECONFIG=${out##*export KUBECONFIG=}
}

# --- The CLI enable flow -------------------------------------------------

case_enable_flow() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  INSTANCE=$(create_instance kp)
  expect_contains "$("$SIM" ks kms instance ls)" "$INSTANCE"
  ROOT_KEY=$(create_root_key "$INSTANCE" root-key-1)
  expect_contains "$("$SIM" ks kms crk ls --instance-id "$INSTANCE")" "root-key-1"

  out=$("$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$ROOT_KEY")
  expect_contains "$out" "OK"
  out=$("$SIM" ks cluster get -c prod)
  expect_contains "$out" "Master Status: Key management service feature enablement in progress."
  expect_contains "$out" "Key Management Service: disabled"

  advance 15m
  out=$("$SIM" ks cluster get -c prod)
  expect_contains "$out" "Master Status: Ready"
  expect_contains "$out" "Key Management Service: enabled"
  expect_contains "$out" "Root Key ID: $ROOT_KEY"

  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  expect_contains "$(stored_secret prod default db)" "k8s:enc:kms:v2:ibm-kms-$ROOT_KEY:"
  stop_sandbox
}

# --- Verifying encryption by disabling the root key ----------------------

case_verify_disable() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  enable_kms prod root-key-1
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  expect_contains "$(kubectl get secrets --all-namespaces)" "db"

  kp POST "/api/v2/keys/$ROOT_KEY/actions/disable" "$INSTANCE" >/dev/null
  advance 10m # the 1.19 cluster notices within minutes
  local code=0
  out=$(kubectl get secrets --all-namespaces --request-timeout=1s 2>&1) || code=$?
  [[ $code != 0 ]] || fail "kubectl get secrets succeeded on an unusable master"
  expect_contains "$out" "Unable to connect to the server: "
  # Go's HTTP client words a request timeout while dialling either way.
  [[ $out =~ (Client\.Timeout\ exceeded|context\ deadline\ exceeded) ]] ||
    fail "kubectl did not time out: $out"
  code=0
  out=$("$SIM" ks cluster config -c prod 2>&1) || code=$?
  [[ $code == 1 ]] || fail "ks cluster config exited with $code, expected 1"
  expect_contains "$out" "FAILED"
  expect_contains "$out" "does not respond"
  out=$("$SIM" ks cluster get -c prod)
  expect_contains "$out" "Master Health: warning"

  kp POST "/api/v2/keys/$ROOT_KEY/actions/enable" "$INSTANCE" >/dev/null
  advance 10m
  expect_contains "$("$SIM" ks cluster get -c prod)" "Master Health: normal"
  use_cluster prod
  expect_contains "$(kubectl get secret db -o jsonpath='{.data.password}' | base64 -d)" "s3cret"
  stop_sandbox
}

# Without a request timeout kubectl waits for its 30 s dial timeout and
# prints the managed service's exact message.
case_dial_timeout_message() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  enable_kms prod root-key-1
  use_cluster prod
  kubectl get secrets --all-namespaces >/dev/null # fills the discovery cache
  api=$(ctl_ok GET /v1/clusters/prod | jq -r .apiURL)
  kp POST "/api/v2/keys/$ROOT_KEY/actions/disable" "$INSTANCE" >/dev/null
  advance 10m
  local code=0
  out=$(kubectl get secrets --all-namespaces 2>&1) || code=$?
  [[ $code != 0 ]] || fail "kubectl get secrets succeeded on an unusable master"
  expect_contains "$out" "Unable to connect to the server: dial tcp ${api#https://}: i/o timeout"
  stop_sandbox
}

# The other behaviours of an unusable master that the sandbox offers.
case_unusable_modes() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  enable_kms prod root-key-1
  use_cluster prod
  kp POST "/api/v2/keys/$ROOT_KEY/actions/disable" "$INSTANCE" >/dev/null
  advance 10m
  ctl_ok PUT /v1/clusters/prod/unusable-master '{"mode": "refuse"}' >/dev/null
  out=$(kubectl get secrets --request-timeout=2s 2>&1) || true
  expect_contains "$out" "connection refused"
  ctl_ok PUT /v1/clusters/prod/unusable-master '{"mode": "unavailable"}' >/dev/null
  out=$(kubectl get secrets --request-timeout=2s 2>&1) || true
  expect_contains "$out" "ServiceUnavailable"
  ctl_ok PUT /v1/clusters/prod/unusable-master '{"mode": "hang"}' >/dev/null
  out=$(kubectl get secrets --request-timeout=1s 2>&1) || true
  expect_contains "$out" "Unable to connect to the server"
  kp POST "/api/v2/keys/$ROOT_KEY/actions/enable" "$INSTANCE" >/dev/null
  advance 10m
  expect_contains "$(kubectl get secrets --all-namespaces --request-timeout=5s)" "NAME"
  stop_sandbox
}

# --- Rotation: enable a new root key, then rewrite the Secrets -----------

case_rotation() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  enable_kms prod root-key-1
  first=$ROOT_KEY
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  expect_contains "$(stored_secret prod default db)" "ibm-kms-$first:"

  second=$(create_root_key "$INSTANCE" root-key-2)
  "$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$second" >/dev/null
  expect_contains "$("$SIM" ks cluster get -c prod)" "enablement in progress"
  advance 15m
  out=$("$SIM" ks cluster get -c prod)
  expect_contains "$out" "Master Status: Ready"
  expect_contains "$out" "Root Key ID: $second"

  kubectl get secrets --all-namespaces -o json | kubectl replace -f - >/dev/null
  expect_contains "$(stored_secret prod default db)" "ibm-kms-$second:"
  expect_contains "$(kubectl get secret db -o jsonpath='{.data.password}' | base64 -d)" "s3cret"

  # A previous root key cannot be used again on the same cluster.
  local code=0
  out=$("$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$first" 2>&1) || code=$?
  [[ $code == 1 ]] || fail "reusing a root key exited with $code, expected 1"
  expect_contains "$out" "$first"
  expect_contains "$("$SIM" ks cluster get -c prod)" "Root Key ID: $second"
  stop_sandbox
}

# --- The manual rewrite on a 1.17 cluster --------------------------------

case_rewrite_117() {
  start_sandbox --clock simulated --cluster legacy@1.17.17_1579
  use_cluster legacy
  kubectl create secret generic before --from-literal=token=t0 >/dev/null
  enable_kms legacy root-key-1
  use_cluster legacy
  kubectl create secret generic after --from-literal=token=t1 >/dev/null
  expect_contains "$(stored_secret legacy default after)" "k8s:enc:kms:v2:"
  expect_not_contains "$(stored_secret legacy default before)" "k8s:enc:" "stored 'before'"

  kubectl get secrets --all-namespaces -o json | kubectl replace -f - >/dev/null
  expect_contains "$(stored_secret legacy default before)" "k8s:enc:kms:v2:ibm-kms-$ROOT_KEY:"
  expect_contains "$(kubectl get secret before -o jsonpath='{.data.token}' | base64 -d)" "t0"
  stop_sandbox
}

# --- Restart: SIGTERM, then every key, Secret and cluster is back --------

case_restart() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 --cluster legacy@1.17.17_1579
  enable_kms prod root-key-1
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  spare=$(create_root_key "$INSTANCE" spare)
  kp POST "/api/v2/keys/$spare/actions/disable" "$INSTANCE" >/dev/null
  before_clock=$(ctl_ok GET /v1/clock | jq -r .now)
  api=$(ctl_ok GET /v1/clusters/prod | jq -r .apiURL)
  stop_sandbox

  start_sandbox
  expect_contains "$(cat "$WORK/summary")" "Clock:           simulated, now $before_clock"
  out=$("$SIM" ks cluster get -c prod)
  expect_contains "$out" "Key Management Service: enabled"
  expect_contains "$out" "Root Key ID: $ROOT_KEY"
  expect_contains "$("$SIM" ks cluster ls)" "legacy"
  [[ $(ctl_ok GET /v1/clusters/prod | jq -r .apiURL) == "$api" ]] || fail "the API server moved"
  expect_contains "$(kp GET "/api/v2/keys/$spare" "$INSTANCE" | jq -r '.resources[0].state')" "2"
  use_cluster prod
  expect_contains "$(kubectl get secret db -o jsonpath='{.data.password}' | base64 -d)" "s3cret"
  stop_sandbox
}

# --- Snapshots of the whole control plane --------------------------------

case_snapshot_restore() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  enable_kms prod root-key-1
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  saved_at=$(ctl_ok GET /v1/clock | jq -r .now)
  ctl_ok POST /v1/snapshots '{"name": "healthy"}' >/dev/null

  kubectl delete secret db >/dev/null
  kp POST "/api/v2/keys/$ROOT_KEY/actions/disable" "$INSTANCE" >/dev/null
  advance 1h
  expect_contains "$("$SIM" ks cluster get -c prod)" "Master Health: warning"

  out=$(ctl_ok POST /v1/snapshots/healthy/restore)
  expect_contains "$out" "\"clock\": \"$saved_at\""
  expect_contains "$("$SIM" ks cluster get -c prod)" "Master Health: normal"
  expect_contains "$(kp GET "/api/v2/keys/$ROOT_KEY" "$INSTANCE" | jq -r '.resources[0].state')" "1"
  expect_contains "$(kubectl get secret db -o jsonpath='{.data.password}' | base64 -d)" "s3cret"
  expect_contains "$(ctl_ok GET /v1/snapshots)" "healthy"
  expect_contains "$(ctl_ok GET /v1/events)" "\"type\": \"key\""
  stop_sandbox
}

# --- Recording a session and replaying it --------------------------------

case_record_replay() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 --workers 0 \
    --record "$WORK/session.yaml"
  INSTANCE=$(ctl_ok POST /v1/kms/instances '{"name": "kp"}' | jq -r .id)
  ctl_ok POST "/v1/kms/instances/kp/keys" '{"name": "crk"}' >/dev/null
  ROOT_KEY=$(ctl_ok GET /v1/kms/instances/kp/keys/crk | jq -r .id)
  ctl_ok POST /v1/clusters/prod/kms '{"instance": "kp", "key": "crk"}' >/dev/null
  advance 15m
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\nstringData:\n  token: t1\n' \
    >"$WORK/applied.yaml"
  expect_contains "$(kubectl apply --server-side -f "$WORK/applied.yaml")" \
    "secret/applied serverside-applied" "server-side apply"
  "$SIM" ks kms key disable --instance-id "$INSTANCE" --key "$ROOT_KEY" >/dev/null
  advance 10m
  code=0
  "$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$ROOT_KEY" >/dev/null 2>&1 || code=$?
  [[ $code == 1 ]] || fail "enable with a disabled key exited with $code"
  stop_sandbox

  recorded=$(cat "$WORK/session.yaml")
  expect_contains "$recorded" '"kms_enable"' "recording"
  expect_contains "$recorded" '"create_secret"' "recording"
  # A server-side apply that created its Secret is a create_secret step.
  grep -q '"create_secret".*"name":"applied"' <<<"$recorded" ||
    fail "the applied Secret was not recorded as created: $recorded"
  expect_contains "$recorded" '"disable_key"' "recording"
  expect_contains "$recorded" '"ok":false' "recording"
  expect_contains "$recorded" '"expect_key"' "recording"
  "$SIM" replay "$WORK/session.yaml" >"$WORK/replay.out" 2>&1 ||
    fail "sim replay of the recording failed: $(cat "$WORK/replay.out")
$recorded"
  expect_contains "$(cat "$WORK/replay.out")" "1 passed"
}

# Access changes, a Secret replaced, KMS faults, a key made through the Key
# Protect API, and a snapshot and restore, all recorded as steps.
case_record_replay_actions() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 --workers 0 \
    --record "$WORK/session.yaml"
  INSTANCE=$(create_instance kp)
  enable_kms prod root-key-1
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null

  "$SIM" ks iam user add --email dev@example.com --name Dev >/dev/null
  "$SIM" ks iam policy set --email dev@example.com --all-clusters \
    --platform-role Administrator --service-role Manager >/dev/null
  "$SIM" ks iam policy set --email dev@example.com --kms-instance "$INSTANCE" \
    --platform-role Editor --service-role Writer >/dev/null
  "$SIM" ks --user dev@example.com api-key reset --region us-south >/dev/null
  expect_contains "$("$SIM" ks api-key info -c prod)" "dev@example.com"
  second=$(create_root_key "$INSTANCE" root-key-2)
  "$SIM" ks --user dev@example.com kms enable -c prod --instance-id "$INSTANCE" \
    --crk "$second" >/dev/null
  advance 15m
  kubectl get secrets --all-namespaces -o json | kubectl replace -f - >/dev/null

  latency=$(ctl_ok POST /v1/kms/faults \
    '{"kind": "latency", "operation": "wrap", "latency": "2s"}' | jq -r .id)
  ctl_ok POST /v1/kms/faults '{"kind": "error", "operation": "rotate",
    "status": 500, "reason": "KEY_ROTATION_NOT_PERMITTED", "message": "no",
    "nth": 2, "max_hits": 1, "seed": 7, "duration": "5m"}' >/dev/null
  ctl_ok DELETE "/v1/kms/faults/$latency" >/dev/null
  ctl_ok POST /v1/snapshots '{"name": "rotated"}' >/dev/null
  # The snapshot restarts the KMS, which ends its faults.
  [[ $(ctl_ok GET /v1/kms/faults | jq '.faults | length') == 0 ]] ||
    fail "faults survived a snapshot: $(ctl_ok GET /v1/kms/faults)"
  "$SIM" ks kms key disable --instance-id "$INSTANCE" --key "$second" >/dev/null
  advance 10m
  expect_contains "$("$SIM" ks cluster get -c prod)" "Master Health: warning"
  ctl_ok POST /v1/snapshots/rotated/restore >/dev/null
  use_cluster prod
  kubectl create secret generic db --from-literal=password=changed \
    --dry-run=client -o yaml | kubectl replace -f - >/dev/null
  ctl_ok POST /v1/kms/faults '{"kind": "outage", "operation": "rotate", "mode": "hang"}' >/dev/null
  stop_sandbox

  recorded=$(cat "$WORK/session.yaml")
  expect_contains "$recorded" '{"add_user":{"cluster":"prod","email":"dev@example.com"}}' "recording"
  expect_contains "$recorded" '{"ks":{"command":"iam policy set --email dev@example.com --kms-instance kp ' "recording"
  expect_contains "$recorded" '{"ks":{"as":"dev@example.com","command":"api-key reset --region us-south"}}' "recording"
  expect_contains "$recorded" '{"create_key":{"instance":"kp","name":"root-key-2","root":true}}' "recording"
  expect_contains "$recorded" '"as":"dev@example.com","cluster":"prod","instance":"kp","key":"root-key-2"' "recording"
  expect_contains "$recorded" '{"kms_fault":{"kind":"latency","latency":"2s","name":"fault-1","operation":"wrap","seed":1}}' "recording"
  expect_contains "$recorded" '"lasts":"5m","max_hits":1,"message":"no","name":"fault-2","nth":2,"operation":"rotate","reason":"KEY_ROTATION_NOT_PERMITTED","seed":7,"status":500' "recording"
  expect_contains "$recorded" '{"clear_kms_fault":"fault-1"}' "recording"
  expect_contains "$recorded" '{"snapshot":"rotated"}' "recording"
  expect_contains "$recorded" '{"restore":"rotated"}' "recording"
  expect_contains "$recorded" '"outage":"hang"' "recording"
  expect_contains "$recorded" '{"replace_secret":{"cluster":"prod","data":{"password":"changed"},"name":"db","namespace":"default"}}' "recording"
  expect_contains "$recorded" '"expect":{"data":{"password":"changed"}}' "recording"
  # Every action above has a step, so the recording has no comment for one.
  expect_not_contains "$recorded" "no step" "recording"
  expect_not_contains "$recorded" "not recorded" "recording"
  "$SIM" replay "$WORK/session.yaml" >"$WORK/replay.out" 2>&1 ||
    fail "sim replay of the recording failed: $(cat "$WORK/replay.out")
$recorded"
  expect_contains "$(cat "$WORK/replay.out")" "1 passed"
}

# Text that reads like a scenario variable, `${...}`, in an instance name
# and in Secret data: the recording escapes it as `$${...}`, so the replay
# takes it literally. A replay uses key names as key ids, so a key name
# that is not a valid id is recorded with '-' for its other characters.
case_record_replay_literal_dollar() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 --workers 0 \
    --record "$WORK/session.yaml"
  INSTANCE=$(create_instance 'kp-${x}')
  enable_kms prod 'crk ${env}'
  use_cluster prod
  kubectl create secret generic db --from-literal='password=${HOME}$${x}' \
    >/dev/null
  stop_sandbox

  recorded=$(cat "$WORK/session.yaml")
  expect_contains "$recorded" '"password":"$${HOME}$$${x}"' "recording"
  expect_contains "$recorded" '"instance":"kp-$${x}"' "recording"
  expect_contains "$recorded" '"key":"crk---env-"' "recording"
  "$SIM" replay "$WORK/session.yaml" >"$WORK/replay.out" 2>&1 ||
    fail "sim replay of the recording failed: $(cat "$WORK/replay.out")
$recorded"
  expect_contains "$(cat "$WORK/replay.out")" "1 passed"
}

# Server-side dry runs (kubectl --dry-run=server) store nothing, so the
# recording notes them instead of writing steps that the replay would run.
case_record_replay_dry_run() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 --workers 0 \
    --record "$WORK/session.yaml"
  use_cluster prod
  kubectl create secret generic keep --from-literal=a=b >/dev/null
  kubectl create secret generic ghost --from-literal=a=b --dry-run=server \
    >/dev/null
  kubectl patch secret keep -p '{"stringData":{"a":"zzz"}}' \
    --dry-run=server >/dev/null
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: drya\nstringData:\n  t: x\n' \
    >"$WORK/drya.yaml"
  kubectl apply --server-side --dry-run=server -f "$WORK/drya.yaml" >/dev/null
  kubectl replace --dry-run=server -f <(kubectl get secret keep -o json) \
    >/dev/null
  kubectl delete secret keep --dry-run=server >/dev/null
  # The DeleteOptions body, as client libraries send it.
  local api token
  api=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  token=$(kubectl config view --minify --raw -o jsonpath='{.users[0].user.token}')
  curl -sSk -X DELETE -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' \
    --data '{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}' \
    "$api/api/v1/namespaces/default/secrets/keep" >/dev/null
  expect_contains "$(kubectl get secret keep -o jsonpath='{.data.a}' | base64 -d)" "b"
  stop_sandbox

  recorded=$(cat "$WORK/session.yaml")
  expect_contains "$recorded" '"create_secret":{"cluster":"prod","data":{"a":"b"},"name":"keep"' "recording"
  expect_not_contains "$recorded" '"ghost"' "recording"
  expect_not_contains "$recorded" '"drya"' "recording"
  expect_not_contains "$recorded" '"update_secret"' "recording"
  expect_not_contains "$recorded" '"replace_secret"' "recording"
  expect_not_contains "$recorded" '"delete_secret"' "recording"
  [[ $(grep -c '# dry run: ' <<<"$recorded") == 6 ]] ||
    fail "expected 6 dry-run comments in the recording: $recorded"
  "$SIM" replay "$WORK/session.yaml" >"$WORK/replay.out" 2>&1 ||
    fail "sim replay of the recording failed: $(cat "$WORK/replay.out")
$recorded"
  expect_contains "$(cat "$WORK/replay.out")" "1 passed"
}

# --- A real clock, sped up: the enablement finishes on its own -----------

case_real_clock_speed() {
  start_sandbox --clock-speed 3600 --cluster prod@1.19.16_1540
  expect_contains "$(ctl_ok GET /v1/clock)" '"mode": "real"'
  INSTANCE=$(create_instance kp)
  ROOT_KEY=$(create_root_key "$INSTANCE" root-key-1)
  # Watch the event stream first, so that the event cannot be missed.
  curl -sSN "$CONTROL/v1/events?watch=true" >"$WORK/events" &
  local watcher=$!
  "$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$ROOT_KEY" >/dev/null
  # An hour of virtual time passes each real second: wait for the event.
  timeout 30 grep -q "KMS enablement finished" <(tail -f "$WORK/events") ||
    fail "no enablement event within 30 s: $(cat "$WORK/events")"
  kill "$watcher" 2>/dev/null || true
  expect_contains "$("$SIM" ks cluster get -c prod)" "Key Management Service: enabled"
  stop_sandbox
}

# Speeds that are not finite, not above 0 or too large are rejected with
# a short message, before anything is created.
case_clock_speed_input() {
  local speed code out
  for speed in nan NaN inf -inf 0 -1 abc 1e308 86401 '' 60x; do
    code=0
    # A speed that is accepted starts a sandbox: `timeout` ends it.
    out=$(timeout 10 "$SIM" serve --data-dir "$WORK/data" --clock-speed "$speed" 2>&1) ||
      code=$?
    [[ $code == 2 ]] || fail "--clock-speed '$speed' exited with $code: $out"
    expect_contains "$out" "--clock-speed: invalid clock speed" "--clock-speed '$speed'"
    expect_contains "$out" "greater than 0 and at most 86400" "--clock-speed '$speed'"
    ((${#out} < 300)) || fail "the error for --clock-speed '$speed' is ${#out} bytes long: $out"
    [[ ! -e $WORK/data ]] || fail "--clock-speed '$speed' created $WORK/data"
  done
  out=$(timeout 10 "$SIM" serve --data-dir "$WORK/data" --clock-speed 1e308 2>&1) || true
  expect_contains "$out" "invalid clock speed 1e+308:"
  start_sandbox --clock-speed 86400
  expect_contains "$(ctl_ok GET /v1/clock)" '"speed": 86400'
  stop_sandbox
}

# --- A long clock advance: other requests and SIGTERM still work --------

case_advance_stop() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 \
    --cluster a@1.19.16_1540 --cluster b@1.19.16_1540 --cluster c@1.19.16_1540
  INSTANCE=$(create_instance kp)
  # Every KMS-enabled cluster adds a KMS poll per virtual minute, so that
  # the year below takes seconds.
  for cluster in prod a b c; do
    key=$(create_root_key "$INSTANCE" "crk-$cluster")
    "$SIM" ks kms enable -c "$cluster" --instance-id "$INSTANCE" --crk "$key" >/dev/null
  done
  advance 15m
  ctl_ok POST /v1/snapshots '{"name": "before"}' >/dev/null
  start=$(ctl_ok GET /v1/clock | jq -r .now)
  expect_error 400 "the maximum per request is 366d" POST /v1/clock '{"advance": "367d"}'
  expect_error 400 "the maximum per request is 366d" POST /v1/clock '{"to": "2030-01-01T00:00:00Z"}'

  ctl POST /v1/clock '{"advance": "366d"}' >"$WORK/advance.out" 2>&1 &
  local advancing=$!
  # Wait until the advance has moved the clock, reading it as a client would.
  local now=$start tries=0
  while [[ $now == "$start" ]] && ((tries++ < 10000)); do
    now=$(curl -sS --max-time 5 "$CONTROL/v1/clock" | jq -r .now)
  done
  [[ $now != "$start" ]] || fail "the clock did not move: $(cat "$WORK/advance.out")"

  # While it runs: reads respond, and requests that would wait for it are
  # rejected at once.
  expect_error 409 "a clock advance is running" POST /v1/snapshots/before/restore
  expect_error 409 "another clock advance is running" POST /v1/clock '{"advance": "1m"}'
  expect_contains "$(curl -sS --max-time 5 "$CONTROL/v1/clock")" '"now"'
  expect_contains "$("$SIM" ks --request-timeout 5s cluster ls)" "prod"

  kill -TERM "$SERVE_PID"
  local code=0
  wait "$SERVE_PID" || code=$?
  wait "$DRAIN_PID" || true
  wait "$advancing" || true
  SERVE_PID=
  [[ $code == 0 ]] || fail "sim serve exited with $code after SIGTERM"
  expect_contains "$(cat "$WORK/summary")" "Stopped" "sim serve output"
  # The client of the advance got its 503 before the server closed.
  out=$(cat "$WORK/advance.out")
  [[ ${out##*$'\n'} == 503 ]] || fail "the stopped advance returned: $out"
  expect_contains "$out" "the sandbox is stopping, so the clock advance stopped at" "advance response"

  # The advance stopped part of the way, and the state is consistent.
  start_sandbox
  now=$(ctl_ok GET /v1/clock | jq -r .now)
  [[ $now > $start && $now < "2027-01-02T00:15:00Z" ]] ||
    fail "after SIGTERM during the advance the clock is $now, expected between $start and 2027-01-02T00:15:00Z"
  for cluster in prod a b c; do
    out=$("$SIM" ks cluster get -c "$cluster")
    expect_contains "$out" "Master Status: Ready"
    expect_contains "$out" "Key Management Service: enabled"
  done
  advance 1h
  stop_sandbox
}

# --- A crash keeps the clock with the state ------------------------------

# kill -9 after advances: the restart starts at the time the clusters and
# keys had reached, not at the last clean stop.
case_crash_clock() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  enable_kms prod root-key-1
  advance 2h
  [[ $(ctl_ok GET /v1/clock | jq -r .now) == 2026-01-01T02:15:00Z ]] ||
    fail "the clock is $(ctl_ok GET /v1/clock | jq -r .now), expected 2026-01-01T02:15:00Z"
  kill -KILL "$SERVE_PID"
  wait "$SERVE_PID" || true
  wait "$DRAIN_PID" || true
  SERVE_PID=

  start_sandbox
  expect_contains "$(cat "$WORK/summary")" "Clock:           simulated, now 2026-01-01T02:15:00Z"
  out=$("$SIM" ks cluster get -c prod)
  expect_contains "$out" "Master Status: Ready (2 hours ago)"
  expect_contains "$out" "Key Management Service: enabled"
  stop_sandbox
}

# --- Starts that fail, IPv6 loopback and a directory in use --------------

case_start_checks() {
  # A failed first start removes what it created, so the next start finds
  # the directory new, whether it existed before or not.
  mkdir "$WORK/data"
  local code=0
  out=$("$SIM" serve --data-dir "$WORK/data" --clock simulated \
    --cluster ok@1.19.16_1540 --cluster bad@9.9.9 2>&1) || code=$?
  [[ $code == 1 ]] || fail "a start with version 9.9.9 exited with $code: $out"
  expect_contains "$out" "unsupported cluster version 9.9.9"
  [[ -z $(ls -A "$WORK/data") ]] || fail "the failed start left $(ls -A "$WORK/data")"
  code=0
  out=$("$SIM" serve --data-dir "$WORK/new" --cluster bad@9.9.9 2>&1) || code=$?
  [[ $code == 1 ]] || fail "a start with version 9.9.9 exited with $code: $out"
  [[ ! -e $WORK/new ]] || fail "the failed start left $WORK/new"
  code=0
  out=$("$SIM" serve --data-dir "$WORK/new" --address localhost 2>&1) || code=$?
  [[ $code == 2 ]] || fail "--address localhost exited with $code: $out"
  expect_contains "$out" "expected a loopback IP address such as 127.0.0.1 or ::1, not a host name"
  [[ ! -e $WORK/new ]] || fail "a rejected --address created $WORK/new"

  # On ::1 every URL has the address in brackets; the default cluster gets
  # the workers asked for.
  start_sandbox --clock simulated --address ::1 --workers 2
  expect_contains "$CONTROL" "http://[::1]:"
  expect_contains "$(cat "$WORK/summary")" "SIM_SANDBOX=http://[::1]:"
  expect_contains "$(cat "$WORK/summary")" "API server:    https://[::1]:"
  expect_contains "$(cat "$WORK/data/kubeconfig")" "server: https://[::1]:"
  expect_contains "$("$SIM" ks cluster ls)" "mycluster"
  [[ $(ctl_ok GET /v1/clusters | jq -r '[.clusters[].name] | join(" ")') == mycluster ]] ||
    fail "the clusters are $(ctl_ok GET /v1/clusters | jq -r '[.clusters[].name] | join(" ")'), expected mycluster"
  [[ $(ctl_ok GET /v1/clusters/mycluster | jq .workerCount) == 2 ]] ||
    fail "the default cluster has $(ctl_ok GET /v1/clusters/mycluster | jq .workerCount) workers, expected 2"
  expect_contains "$(KUBECONFIG=$WORK/data/kubeconfig kubectl get namespaces --request-timeout=5s)" "kube-system"

  # A second sandbox on the directory names the process that uses it.
  code=0
  out=$("$SIM" serve --data-dir "$WORK/data" --clock simulated 2>&1) || code=$?
  [[ $code == 1 ]] || fail "a second sim serve exited with $code: $out"
  expect_contains "$out" "data directory $WORK/data is in use by another sim serve (PID $SERVE_PID)"
  stop_sandbox

  # On a restart --workers changes no existing cluster and prints a note. The
  # restart is on the default address, 127.0.0.1, so every URL moves there.
  start_sandbox --workers 3
  expect_contains "$(cat "$WORK/summary")" "API server:    https://127.0.0.1:"
  expect_not_contains "$(cat "$WORK/summary")" "[::1]" "sim serve output"
  expect_contains "$(cat "$WORK/data/kubeconfig")" "server: https://127.0.0.1:"
  expect_contains "$(ctl_ok GET /v1 | jq -r '.clusters[0].api_url')" "https://127.0.0.1:"
  expect_contains "$(ctl_ok GET /v1/clusters/mycluster | jq -r .apiURL)" "https://127.0.0.1:"
  expect_contains "$(KUBECONFIG=$WORK/data/kubeconfig kubectl get namespaces --request-timeout=5s)" "kube-system"
  expect_contains "$("$SIM" ks cluster get -c mycluster)" "Master URL: https://127.0.0.1:"
  [[ $(ctl_ok GET /v1/clusters/mycluster | jq .workerCount) == 2 ]] ||
    fail "a restart with --workers 3 changed the workers to $(ctl_ok GET /v1/clusters/mycluster | jq .workerCount)"
  expect_contains "$(cat "$WORK/serve.err")" \
    "Note: --workers applies only to clusters that this start creates" "sim serve stderr"
  stop_sandbox
}

# --- Files with tokens, keys and Secrets are private ---------------------

case_file_modes() {
  # A directory that an earlier version left open to others.
  mkdir -m 0755 "$WORK/data"
  start_sandbox --clock simulated --cluster prod@1.19.16_1540 \
    --record "$WORK/session.yaml"
  enable_kms prod root-key-1
  use_cluster prod
  kubectl create secret generic db --from-literal=password=s3cret >/dev/null
  ctl_ok POST /v1/snapshots '{"name": "saved"}' >/dev/null
  stop_sandbox

  [[ -f $KUBECONFIG ]] || fail "no kubeconfig at $KUBECONFIG"
  expect_contains "$(find "$WORK/data/state" -name cluster.json)" "cluster.json"
  expect_contains "$(find "$WORK/data/state/kms" -type f)" "CURRENT"
  local open
  open=$(find "$WORK/data" "$WORK/session.yaml" -perm /077 -printf '%m %p\n')
  [[ -z $open ]] || fail "files open to group or others:
$open"
}

# --- Bad input: a clear error and nothing changed ------------------------

# The cluster as the control API shows it, without its "N min ago".
cluster_state() {
  ctl_ok GET "/v1/clusters/$1" | jq -S 'del(.masterStatus)'
}

# raw_request TEXT: sends TEXT to the control API as it is and prints the
# reply until the server closes the connection.
raw_request() {
  local authority=${CONTROL#http://}
  exec 4<>"/dev/tcp/${authority%:*}/${authority##*:}"
  printf '%s' "$1" >&4
  timeout 10 cat <&4 || true
  exec 4<&-
}

expect_error() { # STATUS NEEDLE METHOD PATH [JSON]
  local want=$1 needle=$2 out
  shift 2
  out=$(ctl "$@")
  [[ ${out##*$'\n'} == "$want" ]] || fail "$1 $2 returned ${out##*$'\n'}, expected $want: $out"
  expect_contains "$out" "$needle" "$1 $2"
  expect_contains "$out" '"message"' "$1 $2"
}

case_bad_input() {
  start_sandbox --clock simulated --cluster prod@1.19.16_1540
  INSTANCE=$(create_instance kp)
  other=$(create_instance other)
  key=$(create_root_key "$INSTANCE" crk)
  foreign=$(create_root_key "$other" foreign)
  before=$(cluster_state prod)
  clock=$(ctl_ok GET /v1/clock | jq -r .now)

  expect_error 404 "cluster nope not found" POST /v1/clusters/nope/kms \
    "{\"instance\": \"kp\", \"key\": \"crk\"}"
  expect_error 400 'missing field \"key\"' POST /v1/clusters/prod/kms \
    '{"instance": "kp"}'
  expect_error 400 'unknown field \"crk\"' POST /v1/clusters/prod/kms \
    '{"instance": "kp", "crk": "x"}'
  expect_error 400 "invalid request body" POST /v1/clusters/prod/kms '{"instance"'
  # Bytes that are not UTF-8 and documents too deep to walk get errors, and
  # the sandbox stays up.
  expect_error 404 "not found" GET /v1/clusters/%FF
  expect_error 400 "invalid request body" POST /v1/clock \
    "{\"advance\": $(head -c 20000 /dev/zero | tr '\0' '[')}"
  [[ $(kp GET /api/v2/keys/%FF "$INSTANCE") == *INVALID_FIELD_ERR* ]] ||
    fail "Key Protect did not answer a key id that is not UTF-8"
  kill -0 "$SERVE_PID" || fail "sim serve died on bad bytes"
  expect_error 404 "$other" POST /v1/clusters/prod/kms \
    "{\"instance\": \"kp\", \"key\": \"$foreign\"}"
  expect_error 400 "is not a duration" POST /v1/clock '{"advance": "soon"}'
  expect_error 400 "only moves forward" POST /v1/clock '{"to": "2020-01-01T00:00:00Z"}'
  expect_error 404 "snapshot missing not found" POST /v1/snapshots/missing/restore
  expect_error 400 "invalid snapshot name" POST /v1/snapshots '{"name": "../x"}'
  expect_error 400 "expected timeout" PUT /v1/clusters/prod/unusable-master '{"mode": "serve"}'
  expect_error 400 "invalid percent-encoding in the path" GET /v1/clusters/pr%zzod
  [[ $(cluster_state prod) == "$before" ]] || fail "bad control input changed the cluster"
  [[ $(ctl_ok GET /v1/clock | jq -r .now) == "$clock" ]] || fail "bad input moved the clock"

  # Values out of range, unknown to the model, or with control characters.
  clusters=$(ctl_ok GET /v1/clusters)
  instances=$(ctl_ok GET /v1/kms/instances)
  for workers in 4294967296 4294967297 20000 101 -1 1.5 '"2"'; do
    expect_error 400 "is not a worker count from 0 to 100" POST /v1/clusters \
      "{\"name\": \"big\", \"version\": \"1.19.16_1540\", \"workers\": $workers}"
  done
  expect_error 400 "unsupported cluster version 9.9.9: the simulated service offers Kubernetes 1.17, 1.18, 1.19, 1.20 and 1.21" \
    POST /v1/clusters '{"name": "new", "version": "9.9.9"}'
  expect_error 400 'unknown region \"mars-1\"' POST /v1/clusters \
    '{"name": "new", "version": "1.19.16_1540", "region": "mars-1"}'
  expect_error 400 "control character" POST /v1/clusters \
    '{"name": "new", "version": "1.19.16_1540", "zone": "dal10\nx"}'
  expect_error 400 "use 2 to 90 characters" POST /v1/kms/instances/kp/keys '{"name": "k"}'
  expect_error 400 "use 2 to 90 characters" POST /v1/kms/instances/kp/keys \
    "{\"name\": \"$(printf 'k%.0s' {1..91})\"}"
  expect_error 400 "control character" POST /v1/kms/instances/kp/keys '{"name": "crk\nx"}'
  expect_error 400 "control character" POST /v1/kms/instances '{"name": "kp\u0000"}'
  printf '{"name": "%s"}' "$(head -c 2097152 /dev/zero | tr '\0' k)" >"$WORK/huge.json"
  out=$(curl -sS -X POST "$CONTROL/v1/kms/instances" --data-binary "@$WORK/huge.json" -w '\n%{http_code}')
  [[ ${out##*$'\n'} == 400 ]] || fail "a 2 MiB instance name returned ${out##*$'\n'}"
  expect_contains "$out" "(2097152 characters): use 1 to 90 characters"
  ((${#out} < 1000)) || fail "the error for a 2 MiB name is ${#out} bytes long"
  expect_error 400 "invalid query parameter since=" GET '/v1/events?since=abc'
  expect_error 400 "invalid query parameter since=" GET '/v1/events?since=-1'
  expect_error 400 'unknown field \"bogus\"' POST /v1/snapshots/none/restore '{"bogus": 1}'
  head -c 3145729 /dev/zero | tr '\0' ' ' >"$WORK/body"
  out=$(curl -sS -X POST "$CONTROL/v1/clusters" --data-binary "@$WORK/body" -w '\n%{http_code}')
  [[ ${out##*$'\n'} == 413 ]] || fail "a body over 3 MiB returned ${out##*$'\n'}"
  expect_contains "$(jq -r .error.message <<<"${out%$'\n'*}")" "request body too large: the limit is 3145728 bytes"
  out=$(curl -sS -i -X DELETE "$CONTROL/v1/clock")
  expect_contains "$out" "HTTP/1.1 405 Method Not Allowed"
  expect_contains "$out" "Allow: GET, POST"
  expect_contains "$out" '"message": "method DELETE is not allowed on /v1/clock; use GET or POST"'
  expect_error 405 "use POST" GET /v1/clusters/prod/kms

  # The KMS mock's fault errors come in the control API's shape.
  out=$(ctl POST /v1/kms/faults 'garbage')
  [[ ${out##*$'\n'} == 400 ]] || fail "a garbage fault body returned: $out"
  [[ $(jq -r .error.reason <<<"${out%$'\n'*}") == BAD_BODY_ERR ]] ||
    fail "a garbage fault body has no reason BAD_BODY_ERR: $out"
  expect_contains "$(jq -r .error.message <<<"${out%$'\n'*}")" "the body is not valid JSON"
  expect_error 400 "kind must be latency, error or outage" POST /v1/kms/faults '{"kind": "nope"}'
  expect_error 404 "no fault with id 999" DELETE /v1/kms/faults/999
  [[ $(ctl_ok GET /v1/kms/faults | jq '.faults | length') == 0 ]] ||
    fail "a rejected fault was added: $(ctl_ok GET /v1/kms/faults)"

  # Requests that cannot be parsed get Go's plain-text replies.
  local go_400=$'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request'
  [[ $(raw_request $'GARBAGE\r\n\r\n') == "$go_400" ]] ||
    fail "a malformed request line got: $(raw_request $'GARBAGE\r\n\r\n')"
  [[ $(raw_request $'GET /v1 HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n') == "$go_400" ]] ||
    fail "a malformed header got: $(raw_request $'GET /v1 HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n')"
  out=$(curl -sS -i "$CONTROL/v1" -H "X-Long: $(head -c 9000 /dev/zero | tr '\0' a)")
  expect_contains "$out" "HTTP/1.1 431 Request Header Fields Too Large"
  expect_contains "$out" "Connection: close"
  [[ $(ctl_ok GET /v1/clusters) == "$clusters" ]] || fail "bad input created a cluster"
  [[ $(ctl_ok GET /v1/kms/instances) == "$instances" ]] || fail "bad input created an instance"

  local code=0
  out=$("$SIM" ks kms enable -c nope --instance-id "$INSTANCE" --crk "$key" 2>&1) || code=$?
  [[ $code == 1 ]] || fail "unknown cluster exited with $code"
  expect_contains "$out" "cluster nope not found"
  code=0
  out=$("$SIM" ks kms enable -c prod --instance-id "$INSTANCE" 2>&1) || code=$?
  [[ $code == 2 ]] || fail "missing --crk exited with $code"
  expect_contains "$out" "--crk"
  code=0
  out=$("$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$foreign" 2>&1) || code=$?
  [[ $code == 1 ]] || fail "a root key of another instance exited with $code"
  expect_contains "$out" "$other"
  code=0
  out=$("$SIM" ks kms enable -c prod --instance-id "$(printf 'kp\nx')" --crk "$key" 2>&1) || code=$?
  [[ $code == 2 ]] || fail "a line break in --instance-id exited with $code"
  expect_contains "$out" 'invalid argument "kp\x0Ax": it contains a control character'
  # A 2 MB root key id, sent as the sandbox client sends it: the error
  # quotes it cut short.
  printf '{"args": ["kms", "enable", "-c", "prod", "--instance-id", "%s", "--crk", "%s"]}' \
    "$INSTANCE" "$(head -c 2000000 /dev/zero | tr '\0' k)" >"$WORK/big-ks.json"
  out=$(curl -sS -X POST "$CONTROL/v1/ks" --data-binary "@$WORK/big-ks.json")
  [[ $(jq .exit_code <<<"$out") == 1 ]] || fail "a 2 MB --crk got: ${out:0:400}"
  expect_contains "$(jq -r .stderr <<<"$out")" "(2000000 characters) not found in KMS instance"
  ((${#out} < 1000)) || fail "the error for a 2 MB --crk is ${#out} bytes long"
  # $SIM_KS_USER acts on the sandbox as it does on a state directory.
  code=0
  out=$(SIM_KS_USER=nobody@example.com "$SIM" ks kms enable -c prod \
    --instance-id "$INSTANCE" --crk "$key" 2>&1) || code=$?
  [[ $code == 1 ]] || fail "enable as an unknown \$SIM_KS_USER exited with $code: $out"
  expect_contains "$out" "user nobody@example.com is not a member of the account"
  [[ $(cluster_state prod) == "$before" ]] || fail "bad CLI input changed the cluster"

  # Enable while busy: the second KMS action fails, the first goes on.
  "$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$key" >/dev/null
  busy=$(cluster_state prod)
  second=$(create_root_key "$INSTANCE" second)
  expect_error 409 "busy" POST /v1/clusters/prod/kms \
    "{\"instance\": \"kp\", \"key\": \"$second\"}"
  code=0
  out=$("$SIM" ks kms enable -c prod --instance-id "$INSTANCE" --crk "$second" 2>&1) || code=$?
  [[ $code == 1 ]] || fail "enable while busy exited with $code"
  [[ $(cluster_state prod) == "$busy" ]] || fail "enable while busy changed the cluster"

  # A reused root key is rejected once the cluster moved on from it.
  advance 15m
  ctl_ok POST /v1/clusters/prod/kms "{\"instance\": \"kp\", \"key\": \"$second\"}" >/dev/null
  advance 15m
  rotated=$(cluster_state prod)
  expect_error 409 "$key" POST /v1/clusters/prod/kms \
    "{\"instance\": \"kp\", \"key\": \"$key\"}"
  [[ $(cluster_state prod) == "$rotated" ]] || fail "a reused root key changed the cluster"

  # A name that several keys or instances have is rejected, not guessed.
  ctl_ok POST /v1/kms/instances/kp/keys '{"name": "twin"}' >/dev/null
  ctl_ok POST /v1/kms/instances/kp/keys '{"name": "twin"}' >/dev/null
  keys=$(ctl_ok GET "/v1/kms/instances/$INSTANCE/keys")
  expect_error 400 'key name \"twin\" is ambiguous in KMS instance kp: 2 keys have it' \
    POST /v1/kms/instances/kp/keys/twin/disable
  expect_error 400 'key name \"twin\" is ambiguous in KMS instance kp: 2 keys have it' \
    POST /v1/clusters/prod/kms '{"instance": "kp", "key": "twin"}'
  [[ $(ctl_ok GET "/v1/kms/instances/$INSTANCE/keys") == "$keys" ]] ||
    fail "an ambiguous key name changed a key"
  create_instance kp >/dev/null
  expect_error 400 'KMS instance name \"kp\" is ambiguous: 2 KMS instances have it' \
    GET /v1/kms/instances/kp/keys
  expect_error 400 'KMS instance name \"kp\" is ambiguous: 2 KMS instances have it' \
    POST /v1/clusters/prod/kms "{\"instance\": \"kp\", \"key\": \"$second\"}"
  expect_contains "$(ctl_ok GET "/v1/kms/instances/$INSTANCE/keys")" '"name": "twin"'
  [[ $(cluster_state prod) == "$rotated" ]] || fail "an ambiguous name changed the cluster"
  stop_sandbox
}

"case_$CASE"
