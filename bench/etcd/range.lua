-- wrk script: POST /v3/kv/range for one key (a linearizable read, etcd's
-- default). The threads cycle over the 1,000 keys "bench/range/NNNNNN"
-- that run.sh writes before it starts wrk, each from its own offset.
-- run.sh puts this folder on LUA_PATH.
require("common")

local key_space = 1000
local counter = nil
bad_replies = 0

function request()
  counter = counter or ((thread_number or 1) - 1) * 500
  local key = base64(string.format("bench/range/%06d", counter % key_space))
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/range",
    { ["Content-Type"] = "application/json" }, '{"key":"' .. key .. '"}')
end

-- Every key exists, so a reply without "kvs" means the read went wrong.
function response(status, headers, body)
  if status ~= 200 or not body:find('"kvs"', 1, true) then
    bad_replies = bad_replies + 1
  end
end
