-- wrk script: POST pre-built bodies in turn (SOAP requests whose Lenyomat, a SHA-256, Lua
-- cannot compute). BENCH_BODIES is a file of bodies separated by BENCH_SPLIT; every body is
-- sent with Content-Type BENCH_CONTENT_TYPE to BENCH_PATH.
local split = os.getenv("BENCH_SPLIT")
local content_type = os.getenv("BENCH_CONTENT_TYPE")
local path = os.getenv("BENCH_PATH")
local bodies = {}
local counter = 0

function init(args)
  local file = assert(io.open(os.getenv("BENCH_BODIES"), "rb"))
  local data = file:read("*a")
  file:close()
  local start = 1
  while true do
    local first, last = string.find(data, split, start, true)
    if not first then break end
    table.insert(bodies, string.sub(data, start, first - 1))
    start = last + 1
  end
  -- each wrk thread starts at a different place in the list
  counter = math.random(#bodies)
end

function request()
  counter = counter % #bodies + 1
  local headers = {}
  headers["Content-Type"] = content_type
  return wrk.format("POST", path, headers, bodies[counter])
end
