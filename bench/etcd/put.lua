-- wrk script: POST /v3/kv/put with a 256-byte value. Each thread cycles
-- over its own 10,000 keys, so most puts add a revision to an existing
-- key's history.
-- run.sh puts this folder on LUA_PATH.
require("common")

local key_space = 10000
local value = base64(string.rep("v", 256))
local counter = 0
bad_replies = 0

function request()
  local key = bench_key(thread_number, counter % key_space)
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/put",
    { ["Content-Type"] = "application/json" },
    '{"key":"' .. key .. '","value":"' .. value .. '"}')
end

-- A successful put's reply is a header with the new revision.
function response(status, headers, body)
  if status ~= 200 or not body:find('"revision"', 1, true) then
    bad_replies = bad_replies + 1
  end
end
