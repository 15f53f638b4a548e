-- Shared by put.lua and range.lua, which wrk runs against the etcd v3 JSON
-- gateway.

local alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Standard base64 with padding, as etcd's JSON mapping of bytes fields.
function base64(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = alphabet:sub(c1 + 1, c1 + 1) .. alphabet:sub(c2 + 1, c2 + 1)
    out[#out + 1] = b and alphabet:sub(c3 + 1, c3 + 1) or "="
    out[#out + 1] = c and alphabet:sub(c4 + 1, c4 + 1) or "="
  end
  return table.concat(out)
end

-- The base64 of key number `n` of wrk thread `thread`: "bench/T/NNNNNN".
function bench_key(thread, n)
  return base64(string.format("bench/%d/%06d", thread, n))
end

local threads = {}
local next_thread = 1

-- Numbers each thread from 1, so that threads can use different keys.
function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

-- Prints one line that run.sh parses. wrk measures latencies in
-- microseconds. `bad` counts replies that the script's response() rejected.
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("bad_replies") or 0)
  end
  local errors = summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout + summary.errors.status
  io.write(string.format(
    "result requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d bad=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors,
    bad))
end
