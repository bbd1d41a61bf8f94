-- wrk script for the load test of `polmatch serve` (README, "The embedded library and the portal"):
-- GET /api/v1/firms/{code}/matches?as_of=$AS_OF over the credit codes listed in $CODES (one per
-- line), in turn from a random start, so that the server answers for many firms, not one.
--   CODES=codes.txt AS_OF=2021-06-30 wrk -t2 -c8 -d30s --latency -s tools/scripts/wrk_matches.lua http://127.0.0.1:8080
local codes = {}
for line in io.lines(os.getenv("CODES")) do
  if #line > 0 then codes[#codes + 1] = line end
end
local as_of = os.getenv("AS_OF") or ""
local i = math.random(#codes)

request = function()
  i = i % #codes + 1
  return wrk.format("GET", "/api/v1/firms/" .. codes[i] .. "/matches?as_of=" .. as_of)
end
