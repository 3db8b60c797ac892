-- wrk script: GET BENCH_PATH (several paths separated by ";" are taken in turn) with HTTP
-- Basic BENCH_AUTH, counting the answers: 200, a clean shed (503 with Retry-After and the
-- problem code "overloaded") or anything else. With BENCH_HONOUR_RETRY_AFTER=1 a shed client
-- waits Retry-After seconds (2 s at most), as a polite client does (run it with one
-- connection per thread: wrk's delay() is per thread).
local paths = {}
for each in string.gmatch(os.getenv("BENCH_PATH"), "[^;]+") do table.insert(paths, each) end
local turn = 0
local auth = os.getenv("BENCH_AUTH")
local honour = os.getenv("BENCH_HONOUR_RETRY_AFTER") == "1"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, shed, unclean, wait_ms = 0, 0, 0, 0
end

function request()
  local headers = {}
  headers["Authorization"] = "Basic " .. auth
  turn = turn + 1
  return wrk.format("GET", paths[(turn - 1) % #paths + 1], headers)
end

function delay()
  local wait = wait_ms
  wait_ms = 0
  return wait
end

function response(status, headers, body)
  local retry_after = headers["retry-after"] or headers["Retry-After"]
  if status == 200 then
    ok = ok + 1
  elseif status == 503 and retry_after and
         string.find(body, '"code":"overloaded"', 1, true) then
    shed = shed + 1
    if honour then wait_ms = math.min(tonumber(retry_after), 2) * 1000 end
  else
    unclean = unclean + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_shed, total_unclean = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_shed = total_shed + thread:get("shed")
    total_unclean = total_unclean + thread:get("unclean")
  end
  io.write(string.format("KAPU-SHED ok=%d shed=%d unclean=%d\n", total_ok, total_shed,
                         total_unclean))
end
