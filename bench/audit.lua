-- wrk: GET /v1/dashboards/{d}/audit?limit=100 of the dashboard named by the first script
-- argument's file ("dashboard_id admin_token", first line), cycling through the first page,
-- the second page and the newest-first page, so every page of a 200-key trail is read.
local pages = {}
local token = ""
local next_page = 0

function init(args)
  for line in io.lines(args[1]) do
    local dashboard, t = line:match("^(%S+) (%S+)$")
    local base = "/v1/dashboards/" .. dashboard .. "/audit?limit=100"
    pages = {base, base .. "&cursor=101", base .. "&order=desc"}
    token = "Bearer " .. t
    break
  end
end

function request()
  next_page = next_page % #pages + 1
  return wrk.format("GET", pages[next_page], {["Authorization"] = token})
end
