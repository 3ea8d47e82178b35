-- wrk: GET /v1/dashboards/{d}?as_of=T for the dashboards of the script argument's file
-- ("dashboard_id admin_token as_of" per line), one after another: each answer is a fold of
-- that dashboard's events up to the instant (and a small summary of it, so that what is
-- measured is the time travel, not the serialization of a long key listing).
local targets = {}
local next_target = 0

function init(args)
  for line in io.lines(args[1]) do
    local dashboard, token, as_of = line:match("^(%S+) (%S+) (%S+)$")
    if dashboard then
      targets[#targets + 1] = {"/v1/dashboards/" .. dashboard .. "?as_of=" .. as_of, "Bearer " .. token}
    end
  end
end

function request()
  next_target = next_target % #targets + 1
  local target = targets[next_target]
  return wrk.format("GET", target[1], {["Authorization"] = target[2]})
end
