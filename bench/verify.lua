-- wrk: POST /v1/verify with a key drawn at random from the file named by the first script
-- argument (one key per line), as a sending service would. The same script drives nginx
-- for the baseline, so both see byte-identical requests.
local keys = {}
local token = os.getenv("BENCH_SERVICE_TOKEN") or ""

function init(args)
  for line in io.lines(args[1]) do keys[#keys + 1] = line end
  math.randomseed(os.time() + #tostring({}))
end

function request()
  local key = keys[math.random(#keys)]
  return wrk.format("POST", "/v1/verify",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"key":"' .. key .. '","source_ip":"203.0.113.10"}')
end
