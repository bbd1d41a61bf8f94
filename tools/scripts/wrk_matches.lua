-- wrk script for the load test of `polmatch serve` (README, "The embedded library and the portal"):
-- GET /api/v1/firms/{code}/matches?as_of=$AS_OF over the credit codes listed in $CODES (one per
-- line), in turn from a random start, so that the server answers for many firms, not one.
-- With $TOKENS instead (lines "CODE TOKEN", e.g. from `polmatch auth token`), each request carries
-- its firm's token as `Authorization: Bearer` (serve --auth).
--   CODES=codes.txt AS_OF=2021-06-30 wrk -t2 -c8 -d30s --latency -s tools/scripts/wrk_matches.lua http://127.0.0.1:8080
local codes, tokens = {}, {}
local tokens_file = os.getenv("TOKENS")
for line in io.lines(tokens_file or os.getenv("CODES")) do
  local code, token = line:match("^(%S+)%s*(%S*)$")
  if code then
    codes[#codes + 1] = code
    tokens[#tokens + 1] = token
  end
end
local as_of = os.getenv("AS_OF") or ""
local i = math.random(#codes)

request = function()
  i = i % #codes + 1
  local path = "/api/v1/firms/" .. codes[i] .. "/matches?as_of=" .. as_of
  if tokens_file then
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[i] })
  end
  return wrk.format("GET", path)
end
