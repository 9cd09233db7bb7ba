-- wrk script: the console's search and household pages, signed in with the session cookie in
-- $SESSION. $KIND picks the request:
--   name   /households?q=<a member's name: surname + given name>
--   last4  /households?q=<four digits: the ID number's last four>
--   file   /households/<a random household id up to $HOUSEHOLDS>
local kind = os.getenv("KIND") or "name"
local households = tonumber(os.getenv("HOUSEHOLDS") or "100000")
local headers = { ["Cookie"] = "gc_session=" .. os.getenv("SESSION") }
local surnames = { "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭" }
local given = { "秀兰", "桂英", "玉梅", "淑珍", "建国", "志强", "国华", "德胜", "振华", "永刚", "立新", "卫东" }

local function encode(s)
  return (s:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

math.randomseed(os.time())

request = function()
  local path
  if kind == "file" then
    path = "/households/" .. math.random(1, households)
  elseif kind == "last4" then
    path = "/households?q=" .. string.format("%04d", math.random(0, 9999))
  else
    path = "/households?q=" .. encode(surnames[math.random(#surnames)] .. given[math.random(#given)])
  end
  return wrk.format("GET", path, headers)
end

response = function(status)
  if status ~= 200 then
    error("status " .. status)
  end
end
