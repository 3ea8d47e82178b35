-- wrk: POST /v1/dashboards/{d}/email/keys (GenerateEmailKey) round-robin over the dashboards
-- of the file named by the first script argument ("dashboard_id admin_token" per line).
local targets = {}
local next_target = 0

function init(args)
  for line in io.lines(args[1]) do
    local dashboard, token = line:match("^(%S+) (%S+)$")
    targets[#targets + 1] = {"/v1/dashboards/" .. dashboard .. "/email/keys", "Bearer " .. token}
  end
  math.randomseed(os.time() + #tostring({}))
  next_target = math.random(#targets)
end

function request()
  next_target = next_target % #targets + 1
  local t = targets[next_target]
  return wrk.format("POST", t[1], {["Content-Type"] = "application/json", ["Authorization"] = t[2]},
    '{"name":"bench key"}')
end
