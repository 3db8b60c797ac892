-- wrk script: GET BENCH_PATH with the browser session's cookies BENCH_COOKIE.
local path = os.getenv("BENCH_PATH")
local cookie = os.getenv("BENCH_COOKIE")

function request()
  local headers = {}
  headers["Cookie"] = cookie
  return wrk.format("GET", path, headers)
end
