-- wrk script: GET BENCH_PATH with HTTP Basic BENCH_AUTH.
local path = os.getenv("BENCH_PATH")
local auth = os.getenv("BENCH_AUTH")

function request()
  local headers = {}
  headers["Authorization"] = "Basic " .. auth
  return wrk.format("GET", path, headers)
end
