-- wrk script: 10 KiB multipart uploads, each with unique content (so the content-addressed
-- store cannot deduplicate them). Credentials and addressee come from the environment.
local boundary = "kapubenchboundary"
-- Each run's own prefix: wrk starts the counter afresh in every run, and a later run's uploads
-- would otherwise repeat an earlier run's content (the store then drops the copy instead of
-- placing new bytes: not the path a real client's upload takes).
local urandom = assert(io.open("/dev/urandom", "rb"))
local run = urandom:read(4):gsub(".", function(c) return string.format("%02x", c:byte()) end)
urandom:close()
-- BENCH_KRIDS (comma-separated) spreads the uploads over several addressees in turn.
local krids = {}
for krid in string.gmatch(os.getenv("BENCH_KRIDS") or os.getenv("BENCH_KRID"), "[^,]+") do
  table.insert(krids, krid)
end
local auth = os.getenv("BENCH_AUTH")
local filler = string.rep("x", 10240 - 32)
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

local function field(name, value)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name ..
         "\"\r\n\r\n" .. value .. "\r\n"
end

function request()
  counter = counter + 1
  local body = field("recipient_krid", krids[counter % #krids + 1]) .. field("doc_type_office", "BENCH") ..
    field("doc_type_id", "LEVEL") .. field("doc_type_description", "Benchmark") ..
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"file\"; " ..
    "filename=\"bench.txt\"\r\nContent-Type: text/plain\r\n\r\n" ..
    string.format("%8s %8d %14d", run, tid or 0, counter) .. filler .. "\r\n--" .. boundary .. "--\r\n"
  local headers = {}
  headers["Authorization"] = "Basic " .. auth
  headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  return wrk.format("POST", "/api/v1/documents", headers, body)
end
