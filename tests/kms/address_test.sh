#!/usr/bin/env bash
# kms-mock-server's --address: its /control/ endpoints take no token, so an
# address that is not loopback is rejected unless --no-control or
# --allow-remote-control allows it.
#
#   address_test.sh KMS_MOCK_SERVER
#
# Nothing listens on an address other than loopback: the accepted
# non-loopback address is 192.0.2.1 (TEST-NET-1, RFC 5737), which no
# interface of a test machine has, so its bind fails after the check.
set -euo pipefail

SERVER=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
printf 'tokens:\n  - token: admin\n    role: Manager\n' >"$WORK/tokens.yaml"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run ARGS...: runs the server with a 10 s limit, sets CODE and OUT.
run() {
  CODE=0
  OUT=$(timeout 10 "$SERVER" --tokens "$WORK/tokens.yaml" --port 0 "$@" \
    </dev/null 2>&1) || CODE=$?
}

expect() { # CODE NEEDLE WHAT
  [[ $CODE == "$1" ]] || fail "$3 exited with $CODE, expected $1: $OUT"
  [[ $OUT == *"$2"* ]] || fail "$3 printed no '$2': $OUT"
}

for address in 0.0.0.0 :: 192.0.2.1 2001:db8::1; do
  run --address "$address"
  expect 2 "--address $address is not a loopback address, and the /control/ endpoints take no token" \
    "--address $address"
  [[ $OUT == *"--allow-remote-control"* ]] || fail "the error names no way out: $OUT"
done

run --address localhost
expect 2 'invalid --address "localhost": expected an IP address such as 127.0.0.1 or ::1, not a host name' \
  "--address localhost"

# Accepted by the check, so the bind is what fails.
run --address 192.0.2.1 --no-control --log-level error
[[ $CODE == 1 ]] || fail "--no-control on 192.0.2.1 exited with $CODE: $OUT"
[[ $OUT != *"not a loopback address"* ]] || fail "--no-control was rejected: $OUT"
run --address 192.0.2.1 --allow-remote-control --log-level error
[[ $CODE == 1 ]] || fail "--allow-remote-control on 192.0.2.1 exited with $CODE: $OUT"
[[ $OUT != *"not a loopback address"* ]] || fail "--allow-remote-control was rejected: $OUT"

# Loopback addresses start; the server prints its URL and stops on SIGTERM.
for address in 127.0.0.1 127.0.0.2 ::1; do
  rm -f "$WORK/fifo"
  mkfifo "$WORK/fifo"
  "$SERVER" --tokens "$WORK/tokens.yaml" --port 0 --address "$address" \
    --log-level error >"$WORK/fifo" &
  pid=$!
  line=
  read -r line <"$WORK/fifo" || true
  kill -TERM "$pid"
  code=0
  wait "$pid" || code=$?
  [[ $code == 0 ]] || fail "the server on $address exited with $code after SIGTERM"
  if [[ $address == *:* ]]; then
    [[ $line == "listening on http://[$address]:"* ]] || fail "on $address it printed: $line"
  else
    [[ $line == "listening on http://$address:"* ]] || fail "on $address it printed: $line"
  fi
done
echo "PASS"
