-- wrk: GET /transactions?limit=50 from many connections at once, counting every status it is answered.
local token = os.getenv("BENCH_TOKEN")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function request()
  return wrk.format("GET", "/transactions?limit=50", {["Authorization"] = "Bearer " .. token})
end

function response(status, headers, body)
  local key = tostring(status)
  if status == 503 then
    -- uvicorn sends header names in lower case; wrk keeps them as sent.
    local retry = headers["retry-after"] or headers["Retry-After"]
    local kind = string.find(body, "busy", 1, true) and "busy" or "other"
    key = key .. " " .. kind .. ", Retry-After " .. tostring(retry)
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local parts = {}
  local seen = {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do seen[key] = (seen[key] or 0) + count end
  end
  for key, count in pairs(seen) do table.insert(parts, string.format('"%s":%d', key, count)) end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ",")))
end
